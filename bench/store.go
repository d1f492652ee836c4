package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/bootstrap"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// storeBench measures everything with the API on one store.
type storeBench struct {
	cfg  config
	kind string // sqlite or postgres
	dir  string
	pg   *postgres
	res  storeResults
}

func (b *storeBench) run(ctx context.Context) (*storeResults, []string, error) {
	b.res.Store = b.kind
	// (a) and (b) share one dev server; (c) gets a fresh one, away from (b)'s
	// operations, which are left in flight.
	dev, args, err := startDevServer(ctx, b.cfg.temporalCLI, b.cfg.runScript, filepath.Join(b.dir, "temporal-ab"))
	if err != nil {
		return nil, nil, err
	}
	err = b.starts(ctx, dev)
	if err == nil {
		err = b.progress(ctx, dev)
	}
	dev.stop()
	if err == nil && b.cfg.concurrent > 0 {
		err = b.concurrentDeploys(ctx)
	}
	if err == nil && b.cfg.streams > 0 {
		err = b.streams(ctx)
	}
	return &b.res, args, err
}

// storeURL returns a fresh, empty database for one plane.
func (b *storeBench) storeURL(ctx context.Context, name string) (string, error) {
	if b.kind == "postgres" {
		return b.pg.newDatabase(ctx, name)
	}
	return "sqlite://" + filepath.Join(b.dir, name+".db"), nil
}

// recordingClient is the API's Temporal client: it passes every call on, and keeps
// the first workflow start it sees, so the raw baseline can make the very same
// request (options, search attributes, workflow, input).
type recordingClient struct {
	client.Client
	mu    sync.Mutex
	start *recordedStart
}

type recordedStart struct {
	opts client.StartWorkflowOptions
	wf   any
	args []any
}

func (r *recordingClient) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	r.mu.Lock()
	if r.start == nil {
		r.start = &recordedStart{opts: opts, wf: wf, args: args}
	}
	r.mu.Unlock()
	return r.Client.ExecuteWorkflow(ctx, opts, wf, args...)
}

// startAsAPI starts a workflow with the API's recorded request under another ID,
// straight through the SDK.
func (r *recordingClient) startAsAPI(ctx context.Context, id string) error {
	r.mu.Lock()
	rec := r.start
	r.mu.Unlock()
	if rec == nil {
		return errors.New("no API start recorded to replay")
	}
	opts := rec.opts
	opts.ID = id
	_, err := r.Client.ExecuteWorkflow(ctx, opts, rec.wf, rec.args...)
	return err
}

// (a) deploys through the API vs the same starts through the SDK, in rounds.
func (b *storeBench) starts(ctx context.Context, dev *devServer) error {
	rec := &recordingClient{Client: dev.tc}
	pa, closeA, err := b.newPlane(ctx, rec, "bench-a")
	if err != nil {
		return err
	}
	defer closeA()
	apiBatch := func(tag string, n int) (batch, error) {
		return measure(n, b.cfg.parallel, func(i int) error { _, err := pa.deploy(ctx, fmt.Sprintf("a-%s-%d", tag, i)); return err })
	}
	sdkBatch := func(tag string, n int) (batch, error) {
		return measure(n, b.cfg.parallel, func(i int) error { return rec.startAsAPI(ctx, fmt.Sprintf("raw-a-%s-%d", tag, i)) })
	}
	fmt.Fprintf(os.Stderr, "[%s] (a) %d rounds of %d starts through the API and through the SDK…\n", b.kind, b.cfg.rounds, b.cfg.starts)
	if _, err := apiBatch("w", b.cfg.warmup); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if _, err := sdkBatch("w", b.cfg.warmup); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	meter := cpuMeter{temporalPID: dev.cmd.Process.Pid}
	if b.kind == "postgres" {
		meter.postgresPID = b.pg.pid
		b.res.StartCPU.PostgresMeasured = b.pg.pid != 0
	}
	var apiCPU, sdkCPU cpuTally
	for r := range b.cfg.rounds {
		tag := fmt.Sprint(r)
		steps := []func() error{
			func() error {
				return apiCPU.during(meter, b.cfg.starts, func() error {
					x, err := apiBatch(tag, b.cfg.starts)
					b.res.Starts.API.add(x)
					return err
				})
			},
			func() error {
				return sdkCPU.during(meter, b.cfg.starts, func() error {
					x, err := sdkBatch(tag, b.cfg.starts)
					b.res.Starts.SDK.add(x)
					return err
				})
			},
		}
		if err := inTurn(steps, r); err != nil {
			return err
		}
	}
	api, sdk := &b.res.Starts.API, &b.res.Starts.SDK
	b.res.StartRatios.P50 = ratios(api, sdk, p50)
	b.res.StartRatios.P99 = ratios(api, sdk, p99)
	b.res.StartRatios.Throughput = ratios(api, sdk, throughput)
	b.res.StartCPU.API, b.res.StartCPU.SDK = apiCPU.perStart(), sdkCPU.perStart()
	return nil
}

// inTurn runs the steps starting with step r mod len, so that across rounds every
// path goes first as often as the others (warmer caches, a bigger history file).
func inTurn(steps []func() error, r int) error {
	for k := range steps {
		if err := steps[(r+k)%len(steps)](); err != nil {
			return err
		}
	}
	return nil
}

// (b) progress reads with operations in flight: a worker whose simulated calls take
// an hour.
func (b *storeBench) progress(ctx context.Context, dev *devServer) error {
	tc := dev.tc
	pb, closeB, err := b.newPlane(ctx, tc, "bench-b")
	if err != nil {
		return err
	}
	defer closeB()
	w := worker.New(tc, "bench-b", worker.Options{MaxConcurrentActivityExecutionSize: b.cfg.inFlight + 50})
	workflows.Register(w, workflows.Dependencies{
		Cluster:  &activities.Cluster{Store: pb.st, Clouds: sim.Registry(sim.New(time.Hour))},
		Notifier: &activities.Notifier{Store: pb.st},
	})
	if err := w.Start(); err != nil {
		return err
	}
	defer w.Stop()
	fmt.Fprintf(os.Stderr, "[%s] (b) %d operations in flight, %d rounds of %d progress reads per path…\n", b.kind, b.cfg.inFlight, b.cfg.rounds, b.cfg.gets)
	ops := make([]string, b.cfg.inFlight)
	if _, err := measure(b.cfg.inFlight, 16, func(i int) error {
		var err error
		ops[i], err = pb.deploy(ctx, fmt.Sprintf("b-%d", i))
		return err
	}); err != nil {
		return err
	}
	if err := waitInFlight(ctx, tc, ops); err != nil {
		return err
	}
	name := func(i int) string { return fmt.Sprintf("b-%d", i%b.cfg.inFlight) }
	apiGet := func(n int) (batch, error) {
		return measure(n, b.cfg.parallel, func(i int) error {
			status, body, err := pb.call(ctx, http.MethodGet, "/api/v1/clusters/"+name(i)+"/progress", nil)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("progress: %d %s", status, body)
			}
			return err
		})
	}
	query := func(n int) (batch, error) {
		return measure(n, b.cfg.parallel, func(i int) error {
			v, err := tc.QueryWorkflow(ctx, ops[i%b.cfg.inFlight], "", workflows.QueryProgress)
			if err == nil {
				var p workflows.Progress
				err = v.Get(&p)
			}
			return err
		})
	}
	describe := func(n int) (batch, error) {
		return measure(n, b.cfg.parallel, func(i int) error {
			_, err := tc.DescribeWorkflow(ctx, ops[i%b.cfg.inFlight], "")
			return err
		})
	}
	for _, f := range []func(int) (batch, error){apiGet, query, describe} {
		if _, err := f(b.cfg.warmup); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	pr := &b.res.Progress
	for r := range b.cfg.rounds {
		steps := []func() error{
			func() error { x, err := apiGet(b.cfg.gets); pr.API.add(x); return err },
			func() error { x, err := query(b.cfg.gets); pr.Query.add(x); return err },
			func() error { x, err := describe(b.cfg.gets); pr.Describe.add(x); return err },
		}
		if err := inTurn(steps, r); err != nil {
			return err
		}
	}
	b.res.ProgressRatios.QueryP50 = ratios(&pr.API, &pr.Query, p50)
	b.res.ProgressRatios.QueryP99 = ratios(&pr.API, &pr.Query, p99)
	b.res.ProgressRatios.DescribeP50 = ratios(&pr.API, &pr.Describe, p50)
	b.res.ProgressRatios.DescribeP99 = ratios(&pr.API, &pr.Describe, p99)
	return nil
}

// waitInFlight waits until every operation has a running provider step.
func waitInFlight(ctx context.Context, tc client.Client, ops []string) error {
	deadline := time.Now().Add(5 * time.Minute)
	for _, op := range ops {
		for {
			desc, err := tc.DescribeWorkflow(ctx, op, "")
			if err == nil && len(desc.RawResponse.PendingActivities) > 0 {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("operation %s never got in flight", op)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// (c) concurrent deploys on a fresh dev server and the worker binary, zero step delay.
func (b *storeBench) concurrentDeploys(ctx context.Context) error {
	dev, _, err := startDevServer(ctx, b.cfg.temporalCLI, b.cfg.runScript, filepath.Join(b.dir, "temporal-c"))
	if err != nil {
		return err
	}
	defer dev.stop()
	pc, closeC, err := b.newPlane(ctx, dev.tc, "bench-c")
	if err != nil {
		return err
	}
	defer closeC()
	wcmd := exec.CommandContext(ctx, b.cfg.workerBin) //nolint:gosec // running the worker binary named by -worker is the point
	wcmd.Env = append(os.Environ(), "ASTRO_DATABASE_URL="+pc.dbURL, "ASTRO_TEMPORAL_ADDRESS="+dev.addr,
		"ASTRO_TASK_QUEUE=bench-c", "ASTRO_SIM_STEP_DELAY=0s", "ASTRO_LOG_LEVEL=error",
		fmt.Sprintf("ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES=%d", b.cfg.concurrent))
	wcmd.Stderr = os.Stderr
	if err := wcmd.Start(); err != nil {
		return fmt.Errorf("start worker %s: %w", b.cfg.workerBin, err)
	}
	defer func() { _ = wcmd.Process.Signal(os.Interrupt); _ = wcmd.Wait() }()

	fmt.Fprintf(os.Stderr, "[%s] (c) %d concurrent deploys on a worker process…\n", b.kind, b.cfg.concurrent)
	start := time.Now()
	// Each in its own account: the cloud registry paces calls per account (10/s), and
	// (c) measures the worker, not that pacing.
	if _, err := measure(b.cfg.concurrent, 32, func(i int) error {
		_, err := pc.deployIn(ctx, fmt.Sprintf("c-%d", i), fmt.Sprintf("%012d", 100000000000+i))
		return err
	}); err != nil {
		return err
	}
	org := orgOf(ctx, pc)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		clusters, err := pc.st.ListClusters(ctx, org, store.ClusterFilter{})
		if err != nil {
			return err
		}
		ready := 0
		for _, c := range clusters {
			switch c.Status {
			case store.ClusterReady:
				ready++
			case store.ClusterFailed:
				return fmt.Errorf("cluster %s failed: %s", c.Name, c.StatusMessage)
			}
		}
		if ready == b.cfg.concurrent {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("only %d of %d deploys finished", ready, b.cfg.concurrent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wall := time.Since(start)
	c := &b.res.Concurrent
	c.Deploys, c.WallSeconds = b.cfg.concurrent, wall.Seconds()
	c.PerSecond = float64(b.cfg.concurrent) / wall.Seconds()
	c.WorkerRSSMB = peakRSSMB(wcmd.Process.Pid)
	return nil
}

// plane is one API server on its own store and task queue, with a bootstrap key.
type plane struct {
	url, key, dbURL, queue string
	st                     *store.Store
}

func (b *storeBench) newPlane(ctx context.Context, tc client.Client, queue string) (*plane, func(), error) {
	dbURL, err := b.storeURL(ctx, queue)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, dbURL, nil)
	if err != nil {
		return nil, nil, err
	}
	st.CacheKeyLookups(time.Second) // as cmd/api does (ASTRO_KEY_CACHE_TTL's default)
	key := apikey.Generate()
	if _, err := bootstrap.Run(ctx, st, bootstrap.Options{OrgName: "bench", AdminEmail: "bench@localhost", APIKey: key}); err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	srv, err := server.New(server.Options{Store: st, Temporal: tc, TaskQueue: queue, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	hs := httptest.NewServer(srv)
	return &plane{url: hs.URL, key: key, dbURL: dbURL, queue: queue, st: st}, func() { hs.Close(); _ = st.Close() }, nil
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}

func (p *plane) call(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.url+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Astro-API-Key", p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

func (p *plane) deploy(ctx context.Context, name string) (string, error) {
	return p.deployIn(ctx, name, "123456789012")
}

// deployIn deploys a cluster in the given AWS account.
func (p *plane) deployIn(ctx context.Context, name, account string) (string, error) {
	status, raw, err := p.call(ctx, http.MethodPost, "/api/v1/clusters", manifest(name, account))
	if err != nil {
		return "", err
	}
	if status != http.StatusAccepted {
		return "", fmt.Errorf("deploy %s: %d %s", name, status, raw)
	}
	var env struct {
		Data struct {
			OperationID string `json:"operationId"`
		} `json:"data"`
	}
	err = json.Unmarshal(raw, &env)
	return env.Data.OperationID, err
}

func manifest(name, account string) map[string]any {
	return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sCluster", "spec": map[string]any{
		"clusterName": name, "provider": "aws", "region": "us-east-1",
		"provisioner": map[string]any{"type": "eks", "eks": map[string]any{"accountId": account, "credentials": map[string]any{"type": "dynamic"}}},
		"clusterSpec": map[string]any{"dataPlane": map[string]any{"nodeGroups": []any{map[string]any{
			"name": "default-pool", "minNode": 1, "maxNode": 3, "instanceType": "ondemand", "machineTypes": []any{"t3.medium"}}}}},
	}}
}

func orgOf(ctx context.Context, p *plane) string {
	owner, err := p.st.LookupAPIKey(ctx, apikey.Hash(p.key))
	if err != nil {
		return ""
	}
	return owner.Key.OrgID
}

// peakRSSMB reads the process's peak resident set (VmHWM) from /proc.
func peakRSSMB(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%f", &kb); err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}
