package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/apikey"
)

// run runs the whole scale-out scenario and returns its figures; an error means the
// run itself could not be carried out (a process did not start, say).
func run(ctx context.Context, cfg config) (*results, error) {
	if cfg.ops < 2 || cfg.apis < 2 || cfg.workers < 2 || cfg.parallel < 1 {
		return nil, errors.New("-ops, -apis and -workers must be at least 2 (one of each is killed), -parallel at least 1")
	}
	for _, bin := range []string{cfg.apiBin, cfg.workerBin, cfg.temporalServer, cfg.sqlTool} {
		if _, err := os.Stat(bin); err != nil {
			return nil, fmt.Errorf("%w (make build bin/temporal-server builds them)", err)
		}
	}
	dir := cfg.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "astro-scaleout-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	} else {
		defer fmt.Fprintln(os.Stderr, "scaleout: logs and databases kept in", dir)
	}
	// The postgres user must reach the data directory's parent.
	if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // see above
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	say := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "[%s] "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}

	say("starting PostgreSQL…")
	pg, err := startPostgres(ctx, dir, cfg.pgBin)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	defer pg.stop()
	say("setting up Temporal's schemas and starting the Temporal server on PostgreSQL…")
	ts, err := startTemporal(ctx, cfg, dir, pg, log)
	if err != nil {
		return nil, err
	}
	defer ts.close()

	key := apikey.Generate()
	ledger := filepath.Join(dir, "sim-ledger.jsonl")
	env := []string{
		"ASTRO_DATABASE_URL=" + pg.url("astroplane"),
		"ASTRO_TEMPORAL_ADDRESS=" + ts.addr,
		"ASTRO_TEMPORAL_NAMESPACE=default",
		"ASTRO_BOOTSTRAP_API_KEY=" + key,
		"ASTRO_LOG_FORMAT=json",
		"ASTRO_LOG_LEVEL=info",
		"ASTRO_HTTP_ADDR=127.0.0.1:0",
		"ASTRO_SIM_STEP_DELAY=" + cfg.stepDelay.String(),
		// Every client request comes from one address with one key: the edge's
		// limits (20 and 50 requests a second by default) would make this a test of
		// the rate limiter.
		"ASTRO_RATE_LIMIT_IP_RPS=100000", "ASTRO_RATE_LIMIT_IP_BURST=100000",
		"ASTRO_RATE_LIMIT_KEY_RPS=100000", "ASTRO_RATE_LIMIT_KEY_BURST=100000",
		// One simulated cloud for all workers, as a real cloud is: what it makes is
		// recorded in one file (survives a SIGKILL), idempotent on each call's token
		// whichever worker retries it, and audited for duplicates at the end.
		"ASTRO_SIM_LEDGER=" + ledger,
	}
	var (
		apis    []*apiEndpoint
		workers []*proc
		all     []*proc
	)
	defer func() { // all at once: each may take its shutdown timeout
		var wg sync.WaitGroup
		for _, p := range all {
			wg.Go(p.stop)
		}
		wg.Wait()
	}()
	say("starting %d workers and %d APIs at once on one fresh store…", cfg.workers, cfg.apis)
	for i := range cfg.workers {
		w, err := startProc(fmt.Sprintf("worker-%d", i+1), cfg.workerBin, dir, env)
		if err != nil {
			return nil, err
		}
		workers, all = append(workers, w), append(all, w)
	}
	for i := range cfg.apis {
		a, err := startProc(fmt.Sprintf("api-%d", i+1), cfg.apiBin, dir, env)
		if err != nil {
			return nil, err
		}
		apis, all = append(apis, &apiEndpoint{proc: a}), append(all, a)
	}
	for _, a := range apis {
		select {
		case addr := <-a.proc.listening:
			a.url = "http://" + addr
		case <-a.proc.exited:
			return nil, fmt.Errorf("%s exited at start (log %s)", a.proc.name, a.proc.logPath)
		case <-time.After(90 * time.Second):
			return nil, fmt.Errorf("%s did not log its address in 90s (log %s)", a.proc.name, a.proc.logPath)
		}
	}
	c := &client{apis: apis, key: key, http: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.parallel}, Timeout: time.Minute,
	}}
	if err := waitReady(ctx, c); err != nil {
		return nil, err
	}
	for _, w := range workers {
		if !w.alive() {
			return nil, fmt.Errorf("%s exited at start (log %s)", w.name, w.logPath)
		}
	}
	bootstrapped, err := pg.count(ctx, "astroplane", "organizations", "users", "api_keys")
	if err != nil {
		return nil, err
	}

	sampleCtx, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	sampled := make(chan struct{})
	go func() { sampleMemory(sampleCtx, 250*time.Millisecond, workers); close(sampled) }()

	res := &results{Ops: cfg.ops, APIs: cfg.apis, Workers: cfg.workers, StepDelay: cfg.stepDelay, Parallel: cfg.parallel,
		Updates: cfg.updates, Deletes: cfg.deletes, Accounts: cfg.accounts, Bootstrapped: bootstrapped}
	ops := plan(cfg, key[len(key)-8:])
	if cfg.updates+cfg.deletes > 0 {
		say("deploying the %d clusters the run will update or delete…", cfg.updates+cfg.deletes)
		if err := deployTargets(ctx, c, ops, cfg.parallel, cfg.timeout); err != nil {
			return nil, err
		}
	}
	killedAPI, killedWorker := apis[len(apis)-1].proc, workers[len(workers)-1]
	say("sending %d operations (%d deploys, %d updates, %d deletes) round robin across %d APIs (%d in flight); SIGKILL of %s and %s when half are accepted…",
		cfg.ops, cfg.ops-cfg.updates-cfg.deletes, cfg.updates, cfg.deletes, cfg.apis, cfg.parallel, killedAPI.name, killedWorker.name)
	start := time.Now()
	c.sendAll(ctx, ops, cfg.parallel, func() {
		killedWorker.sample()
		killedAPI.kill()
		killedWorker.kill()
		res.KilledAfter = time.Since(start)
		say("killed %s (pid %d) and %s (pid %d) after %s", killedAPI.name, killedAPI.pid(), killedWorker.name, killedWorker.pid(),
			res.KilledAfter.Round(time.Millisecond))
	})
	res.SentIn = time.Since(start)
	say("all operations sent in %s; waiting for every accepted operation to end…", res.SentIn.Round(time.Millisecond))
	lastSaid := time.Now()
	open, err := c.waitTerminal(ctx, ops, cfg.timeout, func(open int) {
		if time.Since(lastSaid) > 10*time.Second {
			say("%d operations still running", open)
			lastSaid = time.Now()
		}
	})
	res.Wall = time.Since(start)
	stopSampling()
	<-sampled
	if err != nil {
		return nil, err
	}
	res.Open = open
	say("reading the outcome of every operation not known to have ended, and counting workflows per cluster and type…")
	var unknown []*operation
	for _, op := range ops {
		if !terminalOperation[op.status] {
			unknown = append(unknown, op)
		}
	}
	c.readOutcomes(ctx, unknown, 16, 3)
	workflows, err := countWorkflows(ctx, ts.tc)
	if err != nil {
		return nil, err
	}
	res.count(ops, workflows)
	audit, err := sim.AuditLedger(ledger)
	if err != nil {
		return nil, fmt.Errorf("the simulated cloud's ledger: %w", err)
	}
	res.auditCloud(audit, ops)
	for _, w := range workers {
		res.WorkerMem = append(res.WorkerMem, workerMem{Name: w.name, Killed: w == killedWorker, memStats: w.memory()})
	}
	for _, a := range apis {
		if a.proc != killedAPI && !a.proc.alive() {
			res.Crashed = append(res.Crashed, a.proc.name)
		}
	}
	for _, w := range workers {
		if w != killedWorker && !w.alive() {
			res.Crashed = append(res.Crashed, w.name)
		}
	}
	res.LogDir = filepath.Clean(dir)
	return res, nil
}

// waitReady waits until every API answers /readyz.
func waitReady(ctx context.Context, c *client) error {
	for _, a := range c.apis {
		deadline := time.Now().Add(60 * time.Second)
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url+"/readyz", nil)
			if err != nil {
				return err
			}
			resp, err := c.http.Do(req)
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) || !a.proc.alive() {
				return fmt.Errorf("%s not ready (log %s)", a.proc.name, a.proc.logPath)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// plan lays out the run's operations: deploys of new clusters, with the updates and
// deletes (of clusters deployed before, see deployTargets) spread evenly among them.
func plan(cfg config, tag string) []*operation {
	ops := make([]*operation, cfg.ops)
	for j := range cfg.updates {
		i := (4*j + 1) * cfg.ops / (4 * cfg.updates)
		ops[i] = &operation{kind: kindUpdate, cluster: fmt.Sprintf("base-%04d", j)}
	}
	for j := range cfg.deletes {
		i := (4*j + 3) * cfg.ops / (4 * cfg.deletes)
		for ops[i] != nil {
			i = (i + 1) % cfg.ops
		}
		ops[i] = &operation{kind: kindDelete, cluster: fmt.Sprintf("base-%04d", cfg.updates+j)}
	}
	for i := range ops {
		if ops[i] == nil {
			ops[i] = &operation{kind: kindDeploy, cluster: fmt.Sprintf("so-%04d", i)}
		}
		ops[i].index = i
		ops[i].account = fmt.Sprintf("%012d", 200000000000+i)
		if cfg.accounts > 0 {
			ops[i].account = fmt.Sprintf("%012d", 200000000000+i%cfg.accounts)
		}
		ops[i].key = fmt.Sprintf("scaleout-%s-%d", tag, i)
	}
	return ops
}

// deployTargets deploys the clusters the updates and deletes of ops act on, waits
// until they are READY and notes their IDs in ops. Nothing is killed meanwhile.
func deployTargets(ctx context.Context, c *client, ops []*operation, parallel int, timeout time.Duration) error {
	var targets, deploys []*operation
	for _, op := range ops {
		if op.kind == kindDeploy {
			continue
		}
		targets = append(targets, op)
		deploys = append(deploys, &operation{index: len(deploys), kind: kindDeploy, cluster: op.cluster,
			account: fmt.Sprintf("%012d", 300000000000+len(deploys)), key: op.key + "-target"})
	}
	c.sendAll(ctx, deploys, parallel, func() {})
	for _, d := range deploys {
		if d.operationID == "" {
			return fmt.Errorf("deploy of %s (to update or delete later) not accepted: %w", d.cluster, d.refused)
		}
	}
	if open, err := c.waitTerminal(ctx, deploys, timeout, func(int) {}); err != nil {
		return fmt.Errorf("deploys to update or delete later: %w", err)
	} else if open > 0 {
		return fmt.Errorf("%d deploys to update or delete later did not end in %s", open, timeout)
	}
	listed, err := c.listClusters(ctx)
	if err != nil {
		return err
	}
	for _, op := range targets {
		cl := listed[op.cluster]
		if cl.Status != "READY" {
			return fmt.Errorf("cluster %s to update or delete later is %q, not READY", op.cluster, cl.Status)
		}
		op.id = cl.ID
	}
	return nil
}

// countWorkflows counts the workflows of each operation type and cluster name in
// Temporal's visibility ("deploy/so-0001"): more than one is a duplicated operation,
// none a lost one.
func countWorkflows(ctx context.Context, tc sdkclient.Client) (map[string]int, error) {
	counts := map[string]int{}
	var token []byte
	for {
		// Small pages, each tried a few times: on a loaded machine a page of 1,000
		// can outlast the SDK's per-call deadline.
		var resp *workflowservice.ListWorkflowExecutionsResponse
		var err error
		for attempt := range 5 {
			resp, err = tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: "default", Query: "AstroOperationType IN ('deploy', 'update', 'delete')", PageSize: 200, NextPageToken: token,
			})
			if err == nil || ctx.Err() != nil {
				break
			}
			time.Sleep(time.Duration(attempt+1) * time.Second)
		}
		if err != nil {
			return nil, fmt.Errorf("list workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			var name, typ string
			fields := e.GetSearchAttributes().GetIndexedFields()
			for attr, dst := range map[string]*string{"AstroClusterName": &name, "AstroOperationType": &typ} {
				if f, ok := fields[attr]; ok {
					if err := converter.GetDefaultDataConverter().FromPayload(f, dst); err != nil {
						return nil, fmt.Errorf("search attribute %s: %w", attr, err)
					}
				}
			}
			counts[typ+"/"+name]++
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return counts, nil
		}
	}
}
