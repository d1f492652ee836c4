package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testpg"
	"github.com/astropulse/astroplane/internal/teststack"
	"github.com/astropulse/astroplane/internal/testtemporal"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	teststack.Clean()
	os.Exit(code)
}

// size is how big a run is and how often it breaks things.
type size struct {
	name string
	// mix is how many clusters run each script.
	mix map[string]int
	// stepDelay is the simulated cloud's delay per call.
	stepDelay time.Duration
	// stagger spreads the clusters' first requests over this long.
	stagger time.Duration
	// workerKillEvery is the period of the worker's SIGKILLs.
	workerKillEvery time.Duration
	// killDuringCreates times each worker SIGKILL, within its period, for a moment
	// an operation is in a step that creates cloud resources, so that even a short
	// run kills creates in flight (what duplicates resources without idempotency).
	killDuringCreates bool
	// faultEvery is the period of the other faults, which take turns: the API
	// SIGKILLed and started again, the Temporal server restarted, PostgreSQL
	// crashed and started again.
	faultEvery time.Duration
	// faultRounds bounds how many times each of the other faults is dealt; zero:
	// as long as operations run.
	faultRounds int
	// deadline bounds the whole run; an operation not ended by then is lost.
	deadline time.Duration
}

// The sizes: full is issue 11's (100 operations, a worker SIGKILL every 10 s, the
// other faults in turn every 20 s), ci the variant make test runs in about a minute
// (18 operations, no cluster's script longer than three, a worker SIGKILL every 15 s
// timed for a create in flight, each other fault once).
var (
	fullSize = size{name: "full", mix: map[string]int{"lifecycle": 13, "failing": 8, "flaky": 8},
		stepDelay: time.Second, stagger: 30 * time.Second, workerKillEvery: 10 * time.Second, faultEvery: 20 * time.Second,
		deadline: 15 * time.Minute}
	ciSize = size{name: "ci", mix: map[string]int{"upgrade": 2, "failing": 2, "flaky": 2},
		stepDelay: 500 * time.Millisecond, stagger: 3 * time.Second, workerKillEvery: 15 * time.Second, killDuringCreates: true, faultEvery: 6 * time.Second,
		faultRounds: 1, deadline: 3 * time.Minute}
)

// Terminal statuses of an operation's progress.
var terminal = map[string]bool{"SUCCEEDED": true, "FAILED": true, "CANCELLED": true, "REJECTED": true, "EXPIRED": true}

// Transitional statuses of a cluster: an operation is under way.
var transitional = map[string]bool{"PENDING": true, "PROVISIONING": true, "UPDATING": true, "DELETING": true}

// TestChaos runs operations while the processes under them are killed and
// restarted, and fails on any operation lost or run twice, any cluster left in a
// transitional state and any duplicate or leftover resource in the simulated cloud.
func TestChaos(t *testing.T) {
	sz := ciSize
	if os.Getenv("ASTRO_CHAOS") == "full" {
		sz = fullSize
	}
	began := time.Now()
	r := newRun(t, sz)
	r.start()
	started := time.Now()
	r.operate()
	operated := time.Since(started)
	r.stopFaults()
	f := r.check()
	f.setup, f.operated = started.Sub(began), operated
	t.Logf("chaos run (%s): %d operations on %d clusters, step delay %s, a worker SIGKILL every %s, other faults every %s\n%s",
		sz.name, f.planned, len(r.clusters), sz.stepDelay, sz.workerKillEvery, sz.faultEvery, f)
	if problems := f.problems(); len(problems) > 0 {
		r.dumpLogs()
		t.Fatalf("chaos found:\n  %s", strings.Join(problems, "\n  "))
	}
}

// run is one chaos run: the processes, the clusters and their operations, and the
// faults dealt so far.
type run struct {
	t      *testing.T
	sz     size
	ctx    context.Context
	cancel context.CancelFunc
	pg     *testpg.Server
	tmp    *testtemporal.FileServer
	stack  *teststack.Stack
	ledger string
	api    *supervisor
	worker *supervisor

	clusters []*cluster
	// advanced is when the driver last saw an operation's progress change
	// (UnixNano): the sign that the system is doing work.
	advanced atomic.Int64

	faultsDone chan struct{}
	faultsStop context.CancelFunc
	measuring  sync.WaitGroup
	mu         sync.Mutex
	faults     []fault
}

// fault is one fault dealt and how long the system took to recover from it.
type fault struct {
	kind      string
	at        time.Time
	recovered time.Duration // -1: not recovered
}

func newRun(t *testing.T, sz size) *run {
	bin, err := teststack.Build()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &run{t: t, sz: sz, ledger: filepath.Join(dir, "sim-ledger.jsonl")}
	r.ctx, r.cancel = context.WithTimeout(context.Background(), sz.deadline)
	t.Cleanup(r.cancel)
	r.pg = testpg.StartOwn(t)
	r.tmp = testtemporal.StartFile(t, filepath.Join(dir, "temporal.db"))
	r.stack = teststack.New(bin, r.tmp.Address(), r.pg.NewDatabase(t),
		"ASTRO_SIM_STEP_DELAY="+sz.stepDelay.String(),
		"ASTRO_SIM_LEDGER="+r.ledger,
		// The driver is one client polling many operations; the limits are not
		// what is under test.
		"ASTRO_RATE_LIMIT_IP_RPS=10000", "ASTRO_RATE_LIMIT_IP_BURST=10000",
		"ASTRO_RATE_LIMIT_KEY_RPS=10000", "ASTRO_RATE_LIMIT_KEY_BURST=10000",
	)
	r.api = &supervisor{name: "api", stack: r.stack}
	r.worker = &supervisor{name: "worker", stack: r.stack}
	n := 0
	for _, script := range []string{"lifecycle", "upgrade", "failing", "flaky"} {
		for range sz.mix[script] {
			r.clusters = append(r.clusters, newCluster(fmt.Sprintf("chaos-%s-%02d", script, n), script, n))
			n++
		}
	}
	return r
}

// start starts the worker and the API under supervisors, and the faults.
func (r *run) start() {
	for _, v := range []*supervisor{r.worker, r.api} {
		err := v.start()
		r.t.Cleanup(v.shutdown)
		if err != nil {
			r.t.Fatal(err)
		}
	}
	if err := r.stack.WaitReady(r.ctx, time.Minute); err != nil {
		r.t.Fatal(err)
	}
	ctx, stop := context.WithCancel(r.ctx)
	r.faultsStop = stop
	r.faultsDone = make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.every(ctx, r.sz.workerKillEvery, []string{"worker SIGKILL"}, 0) }()
	go func() {
		defer wg.Done()
		r.every(ctx, r.sz.faultEvery, []string{"api SIGKILL", "temporal restart", "postgres restart"}, r.sz.faultRounds)
	}()
	go func() { wg.Wait(); close(r.faultsDone) }()
}

// every deals the faults of kinds in turn, one each period, until ctx ends or each
// was dealt rounds times (0: no limit); each kind is dealt at least once even when
// the operations end sooner.
func (r *run) every(ctx context.Context, period time.Duration, kinds []string, rounds int) {
	for i := 0; rounds == 0 || i < rounds*len(kinds); i++ {
		kind := kinds[i%len(kinds)]
		wait := period
		if kind == "worker SIGKILL" && r.sz.killDuringCreates {
			wait = period / 2
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			if i >= len(kinds) || r.ctx.Err() != nil {
				return
			}
		}
		if wait != period {
			r.awaitCreate(ctx, period-wait)
		}
		r.deal(kind)
	}
}

// Deploy steps that create cloud resources.
var createSteps = map[string]bool{"network": true, "control-plane": true, "node-groups": true}

// awaitCreate waits up to d for an operation to be seen in a step that creates cloud
// resources.
func (r *run) awaitCreate(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, c := range r.clusters {
			for _, op := range c.ops {
				op.mu.Lock()
				creating := createSteps[op.phase] && !terminal[op.status]
				op.mu.Unlock()
				if creating {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deal deals one fault and has its recovery measured.
func (r *run) deal(kind string) {
	at := time.Now()
	switch kind {
	case "worker SIGKILL":
		r.worker.kill()
	case "api SIGKILL":
		r.api.kill()
	case "temporal restart":
		if err := r.tmp.Restart(r.ctx); err != nil {
			r.t.Errorf("restart temporal: %v", err)
		}
	case "postgres restart":
		if err := r.pg.Down(); err != nil {
			r.t.Errorf("stop postgres: %v", err)
		}
		time.Sleep(time.Second) // down long enough for requests and activities to meet it
		if err := r.pg.Up(r.ctx); err != nil {
			r.t.Errorf("start postgres: %v", err)
		}
	}
	r.measuring.Add(1)
	go r.measure(kind, at)
}

// measure records how long the system took to recover from the fault dealt at at:
// until the API is ready and an operation has advanced since (or none is left).
func (r *run) measure(kind string, at time.Time) {
	defer r.measuring.Done()
	recovered := time.Duration(-1)
	if r.stack.WaitReady(r.ctx, 2*time.Minute) == nil {
		for r.ctx.Err() == nil {
			if time.Unix(0, r.advanced.Load()).After(at) || r.allEnded() {
				recovered = time.Since(at)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	r.mu.Lock()
	r.faults = append(r.faults, fault{kind: kind, at: at, recovered: recovered})
	r.mu.Unlock()
}

func (r *run) stopFaults() {
	r.faultsStop()
	<-r.faultsDone
	r.measuring.Wait()
	if err := r.stack.WaitReady(context.Background(), time.Minute); err != nil {
		r.t.Errorf("after the faults: %v", err)
	}
}

// operate runs every cluster's script and returns when all have ended (or the
// deadline passed).
func (r *run) operate() {
	var wg sync.WaitGroup
	for i, c := range r.clusters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-time.After(time.Duration(i) * r.sz.stagger / time.Duration(len(r.clusters))):
			case <-r.ctx.Done():
				return
			}
			r.runScript(c)
		}()
	}
	wg.Wait()
}

func (r *run) allEnded() bool {
	for _, c := range r.clusters {
		if !c.done.Load() {
			return false
		}
	}
	return true
}

// supervisor keeps one process running, starting it again whenever it exits, as
// systemd or Kubernetes would.
type supervisor struct {
	name  string
	stack *teststack.Stack

	mu       sync.Mutex
	cur      *teststack.Process
	logs     []*teststack.Log
	stopping bool
	done     chan struct{}
	starts   int
}

// start keeps the process running from now on, and returns once it first started.
func (v *supervisor) start() error {
	v.done = make(chan struct{})
	go func() {
		defer close(v.done)
		for {
			v.mu.Lock()
			if v.stopping {
				v.mu.Unlock()
				return
			}
			v.mu.Unlock()
			p, err := v.stack.Start(v.name)
			v.mu.Lock()
			v.starts++
			if err != nil {
				v.mu.Unlock()
				time.Sleep(300 * time.Millisecond)
				continue
			}
			v.cur = p
			v.logs = append(v.logs, p.Log)
			stopping := v.stopping
			v.mu.Unlock()
			if stopping {
				p.Stop()
				return
			}
			<-p.Done()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		v.mu.Lock()
		up := v.cur != nil
		v.mu.Unlock()
		if up {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	return fmt.Errorf("%s did not start in 2 minutes (%d attempts)", v.name, v.starts)
}

// kill SIGKILLs the running process; the supervisor starts another.
func (v *supervisor) kill() {
	v.mu.Lock()
	p := v.cur
	v.mu.Unlock()
	if p != nil {
		p.Kill()
	}
}

func (v *supervisor) shutdown() {
	v.mu.Lock()
	v.stopping = true
	p := v.cur
	v.mu.Unlock()
	if p != nil {
		p.Stop()
	}
	<-v.done
}

// dumpLogs shows the end of each process's last output.
func (r *run) dumpLogs() {
	for _, v := range []*supervisor{r.api, r.worker} {
		v.mu.Lock()
		logs := v.logs
		v.mu.Unlock()
		for i := max(0, len(logs)-2); i < len(logs); i++ {
			out := logs[i].String()
			r.t.Logf("%s process %d of %d, last of its output:\n%s", v.name, i+1, len(logs), out[max(0, len(out)-6000):])
		}
	}
}

// cluster is one cluster's script and the operations sent for it.
type cluster struct {
	name    string
	script  string
	project string
	ops     []*operation
	done    atomic.Bool
}

// operation is one request of a script and what became of it.
type operation struct {
	label  string // deploy, deploy-failing, deploy-flaky, scale, upgrade, delete
	method string
	path   string
	body   map[string]any
	want   string // the terminal status it should reach
	key    string // Idempotency-Key, the same on every attempt

	mu       sync.Mutex
	id       string          // the operation the first 202 named
	ids      map[string]bool // every operation a 202 for the key named
	attempts int
	refused  string // the answer that refused it for good
	status   string // the last progress status seen
	phase    string // and its phase
}

func newCluster(name, script string, n int) *cluster {
	c := &cluster{name: name, script: script, project: fmt.Sprintf("chaos-project-%03d", n)}
	op := func(label, method, path string, body map[string]any, want string) {
		c.ops = append(c.ops, &operation{label: label, method: method, path: path, body: body, want: want,
			key: fmt.Sprintf("%s-%d-%s", name, len(c.ops), label), ids: map[string]bool{}})
	}
	self := "/api/v1/clusters/" + name
	switch script {
	case "lifecycle": // deploy, scale a node group, upgrade, delete
		op("deploy", http.MethodPost, "/api/v1/clusters", c.manifest(nil), "SUCCEEDED")
		op("scale", http.MethodPut, self, update(map[string]any{"nodeGroups": []any{
			map[string]any{"name": "default-pool", "minNode": 2, "maxNode": 6}}}), "SUCCEEDED")
		op("upgrade", http.MethodPut, self, update(map[string]any{"kubernetesVersion": "1.32"}), "SUCCEEDED")
		op("delete", http.MethodDelete, self, nil, "SUCCEEDED")
	case "upgrade": // deploy, upgrade, delete
		op("deploy", http.MethodPost, "/api/v1/clusters", c.manifest(nil), "SUCCEEDED")
		op("upgrade", http.MethodPut, self, update(map[string]any{"kubernetesVersion": "1.32"}), "SUCCEEDED")
		op("delete", http.MethodDelete, self, nil, "SUCCEEDED")
	case "failing": // a deploy that fails at its node groups and rolls back, the name deployed again, deleted
		op("deploy-failing", http.MethodPost, "/api/v1/clusters", c.manifest(map[string]any{sim.TagFailStep: "node-groups"}), "FAILED")
		op("deploy", http.MethodPost, "/api/v1/clusters", c.manifest(nil), "SUCCEEDED")
		op("delete", http.MethodDelete, self, nil, "SUCCEEDED")
	case "flaky": // a deploy whose control plane fails twice before it succeeds, a scale-up, a delete
		op("deploy-flaky", http.MethodPost, "/api/v1/clusters", c.manifest(map[string]any{sim.TagFlakyStep: "control-plane"}), "SUCCEEDED")
		op("scale", http.MethodPut, self, update(map[string]any{"nodeGroups": []any{
			map[string]any{"name": "default-pool", "minNode": 3, "maxNode": 8}}}), "SUCCEEDED")
		op("delete", http.MethodDelete, self, nil, "SUCCEEDED")
	}
	return c
}

// manifest is the cluster's K8sCluster manifest: GKE in a project of its own (the
// simulated cloud paces calls per account, as real ones do), with tags.
func (c *cluster) manifest(tags map[string]any) map[string]any {
	spec := map[string]any{
		"clusterName": c.name, "provider": "gcp", "region": "us-central1",
		"provisioner": map[string]any{"type": "gke", "gke": map[string]any{
			"projectId": c.project, "credentials": map[string]any{"type": "dynamic"}}},
		"clusterSpec": map[string]any{"dataPlane": map[string]any{"nodeGroups": []any{
			map[string]any{"name": "default-pool", "minNode": 1, "maxNode": 5, "instanceType": "ondemand",
				"machineTypes": []any{"e2-standard-2"}}}}},
	}
	if tags != nil {
		spec["tags"] = tags
	}
	return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sCluster", "spec": spec}
}

func update(spec map[string]any) map[string]any {
	return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": spec}
}

// runScript sends the cluster's operations one after the other, each once it is
// accepted and has ended; it stops at an operation refused or not ended in time.
func (r *run) runScript(c *cluster) {
	defer c.done.Store(true)
	for _, op := range c.ops {
		if !r.send(op) {
			return
		}
		if !r.await(c, op) {
			return
		}
	}
}

// send sends op until an answer accepts it (202) or refuses it for good (a 4xx but
// 409 and 429), with the same Idempotency-Key every time. No answer, a 5xx, a 429
// or a 409 (an operation still being recorded as ended) are tried again.
func (r *run) send(op *operation) bool {
	backoff := 100 * time.Millisecond
	for r.ctx.Err() == nil {
		op.mu.Lock()
		op.attempts++
		op.mu.Unlock()
		ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
		var reqBody any // a delete sends no body, not JSON null
		if op.body != nil {
			reqBody = op.body
		}
		code, body, err := r.stack.Do(ctx, op.method, op.path, reqBody, http.Header{"Idempotency-Key": {op.key}})
		cancel()
		if err == nil && code == http.StatusAccepted {
			id := operationID(body)
			op.mu.Lock()
			if op.id == "" {
				op.id = id
			}
			op.ids[id] = true
			op.mu.Unlock()
			return true
		}
		if err == nil && code < 500 && code != http.StatusConflict && code != http.StatusTooManyRequests {
			op.mu.Lock()
			op.refused = fmt.Sprintf("%d %v", code, body)
			op.mu.Unlock()
			return false
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 2*time.Second)
	}
	return false
}

// operationID is the operation a 202 names: in the envelope (deploy, delete) or
// bare (update).
func operationID(body map[string]any) string {
	if data, ok := body["data"].(map[string]any); ok {
		if id, ok := data["operationId"].(string); ok {
			return id
		}
	}
	id, _ := body["operationId"].(string)
	return id
}

// await polls op's progress until it is terminal; progress changes mark the
// system as advancing.
func (r *run) await(c *cluster, op *operation) bool {
	last := ""
	for r.ctx.Err() == nil {
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		code, body, err := r.stack.Do(ctx, http.MethodGet, "/api/v1/clusters/"+c.name+"/progress?operationId="+op.id, nil, nil)
		cancel()
		if err == nil && code == http.StatusOK {
			p, _ := body["data"].(map[string]any)
			status, _ := p["status"].(string)
			seen := fmt.Sprint(status, p["phase"], p["percent"])
			if seen != last {
				last = seen
				r.advanced.Store(time.Now().UnixNano())
			}
			op.mu.Lock()
			op.status, op.phase = status, fmt.Sprint(p["phase"])
			op.mu.Unlock()
			if terminal[status] {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// figures are a run's results.
type figures struct {
	planned, accepted int
	outcomes          map[string]int // terminal status → operations
	unexpected        []string       // operations that ended otherwise than their script expects
	refused           []string
	lost              []string
	runTwice          []string
	duplicated        []string
	leftBehind        []string
	transitional      []string
	retried           int // requests sent again (no answer, 5xx, 409, 429)
	faults            []fault
	resources         int
	// setup is how long building and starting everything took, operated how long
	// the operations took from the first request to the end of the last.
	setup, operated time.Duration
}

// problems are the findings that fail the run.
func (f figures) problems() []string {
	var out []string
	for _, g := range []struct {
		what  string
		items []string
	}{{"lost", f.lost}, {"run twice", f.runTwice}, {"duplicated in the cloud", f.duplicated},
		{"left behind in the cloud", f.leftBehind}, {"left in a transitional state", f.transitional},
		{"refused", f.refused}, {"ended unexpectedly", f.unexpected}} {
		for _, it := range g.items {
			out = append(out, g.what+": "+it)
		}
	}
	for _, ft := range f.faults {
		if ft.recovered < 0 {
			out = append(out, fmt.Sprintf("no recovery after the %s at %s", ft.kind, ft.at.Format(time.TimeOnly)))
		}
	}
	return out
}

func (f figures) String() string {
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-34s %v\n", k, v) }
	row("setup (build, start)", f.setup.Round(100*time.Millisecond))
	row("operations ran for", f.operated.Round(100*time.Millisecond))
	row("operations planned", f.planned)
	row("accepted (202)", f.accepted)
	var outs []string
	for _, s := range []string{"SUCCEEDED", "FAILED", "CANCELLED", "REJECTED", "EXPIRED"} {
		if f.outcomes[s] > 0 {
			outs = append(outs, fmt.Sprintf("%d %s", f.outcomes[s], strings.ToLower(s)))
		}
	}
	row("completed", fmt.Sprintf("%d (%s)", sum(f.outcomes), strings.Join(outs, ", ")))
	row("ended otherwise than expected", len(f.unexpected))
	row("refused", len(f.refused))
	row("requests retried, same key", f.retried)
	row("lost", len(f.lost))
	row("run twice", len(f.runTwice))
	row("duplicated cloud resources", len(f.duplicated))
	row("left behind in the cloud", len(f.leftBehind))
	row("clusters in a transitional state", len(f.transitional))
	row("cloud resources made", f.resources)
	byKind := map[string][]time.Duration{}
	var kinds []string
	for _, ft := range f.faults {
		if byKind[ft.kind] == nil {
			kinds = append(kinds, ft.kind)
		}
		byKind[ft.kind] = append(byKind[ft.kind], ft.recovered)
	}
	sort.Strings(kinds)
	fmt.Fprintf(&b, "  time to recover (API ready and an operation advanced since), by fault:\n")
	for _, k := range kinds {
		ds := byKind[k]
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Fprintf(&b, "    %-20s %3d×  min %-7s median %-7s max %s\n", k, len(ds),
			round(ds[0]), round(ds[len(ds)/2]), round(ds[len(ds)-1]))
	}
	return b.String()
}

func round(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.Round(100 * time.Millisecond).String()
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// check reads what became of every operation — from the API, Temporal's
// visibility and the simulated cloud's ledger — into the figures.
func (r *run) check() figures {
	f := figures{outcomes: map[string]int{}}
	r.mu.Lock()
	f.faults = append(f.faults, r.faults...)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	accepted := map[string]*operation{} // by operation ID
	for _, c := range r.clusters {
		for _, op := range c.ops {
			f.planned++
			op.mu.Lock()
			f.retried += op.attempts - 1
			switch {
			case op.refused != "":
				f.refused = append(f.refused, fmt.Sprintf("%s %s: %s", c.name, op.label, op.refused))
			case op.id != "":
				f.accepted++
				accepted[op.id] = op
				if len(op.ids) > 1 {
					f.runTwice = append(f.runTwice, fmt.Sprintf("%s %s: retries of one request (key %s) started %d operations", c.name, op.label, op.key, len(op.ids)))
				}
			}
			op.mu.Unlock()
		}
	}

	// Every accepted operation is known to the API and ended as its script expects.
	for _, c := range r.clusters {
		for _, op := range c.ops {
			if op.id == "" {
				continue
			}
			code, body, err := r.stack.Do(ctx, http.MethodGet, "/api/v1/clusters/"+c.name+"/progress?operationId="+op.id, nil, nil)
			if err != nil || code != http.StatusOK {
				f.lost = append(f.lost, fmt.Sprintf("%s (%s %s): the API has no progress for it: %d %v %v", op.id, c.name, op.label, code, body, err))
				continue
			}
			status, _ := body["data"].(map[string]any)["status"].(string)
			if !terminal[status] {
				f.lost = append(f.lost, fmt.Sprintf("%s (%s %s): still %s at the deadline", op.id, c.name, op.label, status))
				continue
			}
			f.outcomes[status]++
			if status != op.want {
				f.unexpected = append(f.unexpected, fmt.Sprintf("%s (%s %s): %s, expected %s: %v", op.id, c.name, op.label, status, op.want,
					body["data"].(map[string]any)["message"]))
			}
		}
	}

	// One workflow run per accepted operation, and no workflow nobody asked for.
	tc, err := client.Dial(client.Options{HostPort: r.tmp.Address(), Namespace: "default"})
	if err != nil {
		r.t.Fatalf("dial temporal: %v", err)
	}
	defer tc.Close()
	runs := map[string]int{}
	var token []byte
	for {
		page, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default",
			Query: "AstroOrgID IS NOT NULL", NextPageToken: token, PageSize: 1000})
		if err != nil {
			r.t.Fatalf("list workflows: %v", err)
		}
		for _, e := range page.Executions {
			runs[e.Execution.WorkflowId]++
		}
		if token = page.NextPageToken; len(token) == 0 {
			break
		}
	}
	for id, op := range accepted {
		switch n := runs[id]; {
		case n == 0:
			f.lost = append(f.lost, fmt.Sprintf("%s (%s): no workflow ever ran it", id, op.label))
		case n > 1:
			f.runTwice = append(f.runTwice, fmt.Sprintf("%s (%s): %d workflow runs", id, op.label, n))
		}
	}
	for id := range runs {
		if accepted[id] == nil {
			f.runTwice = append(f.runTwice, fmt.Sprintf("%s: a workflow no accepted request asked for", id))
		}
	}

	// No cluster is left mid-operation.
	code, body, err := r.stack.Do(ctx, http.MethodGet, "/api/v1/clusters", nil, nil)
	if err != nil || code != http.StatusOK {
		r.t.Fatalf("list clusters: %d %v %v", code, body, err)
	}
	ready := map[string]bool{}
	for _, it := range body["data"].([]any) {
		cl := it.(map[string]any)
		name, status := cl["name"].(string), cl["status"].(string)
		if transitional[status] {
			f.transitional = append(f.transitional, fmt.Sprintf("%s is %s (%v)", name, status, cl["statusMessage"]))
		}
		if status == "READY" {
			ready[name] = true
		}
	}

	// The simulated cloud holds no duplicate, nothing changed twice, and nothing but
	// the resources of READY clusters.
	audit, err := sim.AuditLedger(r.ledger)
	if err != nil {
		r.t.Fatalf("audit the simulated cloud: %v", err)
	}
	f.resources = len(audit.Resources)
	for _, d := range audit.Duplicates {
		var ids []string
		for _, res := range d {
			ids = append(ids, res.ID)
		}
		f.duplicated = append(f.duplicated, fmt.Sprintf("%d %ss %s of %s: %s", len(d), d[0].Kind, d[0].Name, d[0].Owner, strings.Join(ids, ", ")))
	}
	for tok, n := range audit.Repeated {
		f.runTwice = append(f.runTwice, fmt.Sprintf("change %s applied %d times in the cloud", tok, n))
	}
	clusterOf := map[string]string{} // control plane ID → cluster name
	for _, res := range audit.Resources {
		if res.Kind == sim.KindControlPlane {
			clusterOf[res.ID] = res.Name
		}
	}
	for _, res := range audit.Live() {
		name := res.Name
		if res.Kind == sim.KindNodeGroup {
			name = clusterOf[res.Owner]
		}
		if !ready[name] {
			f.leftBehind = append(f.leftBehind, fmt.Sprintf("%s %s of %s (token %s)", res.Kind, res.ID, name, res.Token))
		}
	}
	return f
}
