// Command bench measures Astro Plane against the raw Temporal Go SDK on the same dev
// server (make bench):
//
//	(a) N cluster deploys through the REST API vs N raw StartWorkflow calls:
//	    starts/s and p50/p99 latency of both, and their ratios;
//	(b) progress GET p50/p99 with 500 operations in flight, vs a raw workflow
//	    query and vs DescribeWorkflowExecution;
//	(c) 500 concurrent deploys on the simulated cloud with zero step delay, run by a
//	    worker process: wall time and the worker's peak RSS.
//
// It prints one table and writes the numbers as JSON.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/bootstrap"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

type config struct {
	starts, inFlight, gets, concurrent, parallel int
	temporalCLI, workerBin, out                  string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.starts, "starts", 200, "deploys started in (a), through each path")
	flag.IntVar(&cfg.inFlight, "in-flight", 500, "operations in flight during (b)")
	flag.IntVar(&cfg.gets, "gets", 1000, "progress reads per path in (b)")
	flag.IntVar(&cfg.concurrent, "concurrent", 500, "concurrent deploys in (c)")
	flag.IntVar(&cfg.parallel, "parallel", 8, "client concurrency")
	flag.StringVar(&cfg.temporalCLI, "temporal", "bin/temporal", "Temporal CLI binary")
	flag.StringVar(&cfg.workerBin, "worker", "bin/worker", "worker binary for (c)")
	flag.StringVar(&cfg.out, "out", "bench/out/results.json", "where to write the JSON results")
	flag.Parse()
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// stats summarises latencies.
type stats struct {
	N         int     `json:"n"`
	PerSecond float64 `json:"perSecond"`
	P50ms     float64 `json:"p50Ms"`
	P99ms     float64 `json:"p99Ms"`
}

func summarise(lat []time.Duration, wall time.Duration) stats {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	return stats{N: len(lat), PerSecond: float64(len(lat)) / wall.Seconds(), P50ms: pct(0.50), P99ms: pct(0.99)}
}

// measure runs n calls of fn at the given concurrency and summarises them.
func measure(n, parallel int, fn func(i int) error) (stats, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	return summarise(lat, time.Since(start)), firstErr
}

type results struct {
	Machine     string             `json:"machine"`
	Starts      map[string]stats   `json:"a_starts"`
	StartRatios map[string]float64 `json:"a_ratios"`
	Progress    map[string]stats   `json:"b_progress"`
	Concurrent  struct {
		Deploys     int     `json:"deploys"`
		WallSeconds float64 `json:"wallSeconds"`
		PerSecond   float64 `json:"deploysPerSecond"`
		WorkerRSSMB float64 `json:"workerPeakRssMb"`
	} `json:"c_concurrent"`
}

// plane is one API server on its own store and task queue, with a bootstrap key.
type plane struct {
	url, key, dbURL, queue string
	st                     *store.Store
	tc                     client.Client
}

func newPlane(ctx context.Context, tc client.Client, dir, queue string) (*plane, func(), error) {
	dbURL := "sqlite://" + filepath.Join(dir, queue+".db")
	st, err := store.Open(ctx, dbURL, nil)
	if err != nil {
		return nil, nil, err
	}
	key := apikey.Generate()
	if _, err := bootstrap.Run(ctx, st, bootstrap.Options{OrgName: "bench", AdminEmail: "bench@localhost", APIKey: key}); err != nil {
		return nil, nil, err
	}
	srv, err := server.New(server.Options{Store: st, Temporal: tc, TaskQueue: queue, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, nil, err
	}
	hs := httptest.NewServer(srv)
	return &plane{url: hs.URL, key: key, dbURL: dbURL, queue: queue, st: st, tc: tc}, func() { hs.Close(); st.Close() }, nil
}

var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: time.Minute}

func (p *plane) call(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequestWithContext(ctx, method, p.url+path, r)
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
	status, raw, err := p.call(ctx, http.MethodPost, "/api/v1/clusters", manifest(name))
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

func manifest(name string) map[string]any {
	return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sCluster", "spec": map[string]any{
		"clusterName": name, "provider": "aws", "region": "us-east-1",
		"provisioner": map[string]any{"type": "eks", "eks": map[string]any{"accountId": "123456789012", "credentials": map[string]any{"type": "dynamic"}}},
		"clusterSpec": map[string]any{"dataPlane": map[string]any{"nodeGroups": []any{map[string]any{
			"name": "default-pool", "minNode": 1, "maxNode": 3, "instanceType": "ondemand", "machineTypes": []any{"t3.medium"}}}}},
	}}
}

func startDev(ctx context.Context, cli string) (*testsuite.DevServer, error) {
	// Stopping the worker of (b) cancels its hour-long activities; that noise is expected.
	quiet := tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	return testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath: cli, ClientOptions: &client.Options{Namespace: "default", Logger: quiet}, LogLevel: "error",
		SearchAttributes: testtemporal.SearchAttributes, ExtraArgs: []string{"--headless"},
		Stdout: io.Discard, Stderr: io.Discard,
	})
}

func run(cfg config) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "astro-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var res results
	res.Machine = machine()
	res.Starts, res.Progress, res.StartRatios = map[string]stats{}, map[string]stats{}, map[string]float64{}

	// (a) and (b) share one dev server.
	dev, err := startDev(ctx, cfg.temporalCLI)
	if err != nil {
		return fmt.Errorf("start dev server: %w", err)
	}
	tc := dev.Client()
	pa, closeA, err := newPlane(ctx, tc, dir, "bench-a")
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "(a) %d starts through the API and through the SDK…\n", cfg.starts)
	api, err := measure(cfg.starts, cfg.parallel, func(i int) error { _, err := pa.deploy(ctx, fmt.Sprintf("a-%d", i)); return err })
	if err != nil {
		return err
	}
	raw, err := measure(cfg.starts, cfg.parallel, func(i int) error {
		id := fmt.Sprintf("raw.a-%d.deploy", i)
		_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "bench-a"}, workflows.DeployCluster,
			workflows.DeployClusterInput{Op: workflows.Operation{OrgID: "o", ClusterID: id, OperationID: id}})
		return err
	})
	if err != nil {
		return err
	}
	res.Starts["api"], res.Starts["sdk"] = api, raw
	res.StartRatios["throughput sdk/api"] = raw.PerSecond / api.PerSecond
	res.StartRatios["p50 api/sdk"] = api.P50ms / raw.P50ms
	res.StartRatios["p99 api/sdk"] = api.P99ms / raw.P99ms
	closeA()

	// (b) operations in flight: a worker whose simulated calls take an hour.
	pb, closeB, err := newPlane(ctx, tc, dir, "bench-b")
	if err != nil {
		return err
	}
	w := worker.New(tc, "bench-b", worker.Options{MaxConcurrentActivityExecutionSize: cfg.inFlight + 50})
	slow := sim.New(time.Hour)
	workflows.Register(w, workflows.Dependencies{Cluster: &activities.Cluster{Store: pb.st,
		Clouds: sim.Registry(slow)},
		Notifier: &activities.Notifier{Store: pb.st}})
	if err := w.Start(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "(b) %d operations in flight, %d progress reads per path…\n", cfg.inFlight, cfg.gets)
	ops := make([]string, cfg.inFlight)
	if _, err := measure(cfg.inFlight, 16, func(i int) error {
		var err error
		ops[i], err = pb.deploy(ctx, fmt.Sprintf("b-%d", i))
		return err
	}); err != nil {
		return err
	}
	if err := waitInFlight(ctx, pb, ops); err != nil {
		return err
	}
	name := func(i int) string { return fmt.Sprintf("b-%d", i%cfg.inFlight) }
	if res.Progress["api"], err = measure(cfg.gets, cfg.parallel, func(i int) error {
		status, body, err := pb.call(ctx, http.MethodGet, "/api/v1/clusters/"+name(i)+"/progress", nil)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("progress: %d %s", status, body)
		}
		return err
	}); err != nil {
		return err
	}
	if res.Progress["sdk query"], err = measure(cfg.gets, cfg.parallel, func(i int) error {
		v, err := tc.QueryWorkflow(ctx, ops[i%cfg.inFlight], "", workflows.QueryProgress)
		if err == nil {
			var p workflows.Progress
			err = v.Get(&p)
		}
		return err
	}); err != nil {
		return err
	}
	if res.Progress["sdk describe"], err = measure(cfg.gets, cfg.parallel, func(i int) error {
		_, err := tc.DescribeWorkflow(ctx, ops[i%cfg.inFlight], "")
		return err
	}); err != nil {
		return err
	}
	w.Stop()
	closeB()
	_ = dev.Stop()

	// (c) a fresh dev server and the worker binary, zero step delay.
	if err := concurrentDeploys(ctx, cfg, dir, &res); err != nil {
		return err
	}
	report(res)
	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil { //nolint:gosec // results are for anyone on the machine to read
		return err
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Printf("\nJSON: %s\n", cfg.out)
	return os.WriteFile(cfg.out, out, 0o644) //nolint:gosec // results are for anyone on the machine to read
}

// waitInFlight waits until every operation has a running provider step.
func waitInFlight(ctx context.Context, p *plane, ops []string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for _, op := range ops {
		for {
			desc, err := p.tc.DescribeWorkflow(ctx, op, "")
			if err == nil && len(desc.RawResponse.PendingActivities) > 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("operation %s never got in flight", op)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func concurrentDeploys(ctx context.Context, cfg config, dir string, res *results) error {
	dev, err := startDev(ctx, cfg.temporalCLI)
	if err != nil {
		return err
	}
	defer func() { _ = dev.Stop() }()
	pc, closeC, err := newPlane(ctx, dev.Client(), dir, "bench-c")
	if err != nil {
		return err
	}
	defer closeC()
	wcmd := exec.CommandContext(ctx, cfg.workerBin) //nolint:gosec // running the worker binary named by -worker is the point
	wcmd.Env = append(os.Environ(), "ASTRO_DATABASE_URL="+pc.dbURL, "ASTRO_TEMPORAL_ADDRESS="+dev.FrontendHostPort(),
		"ASTRO_TASK_QUEUE=bench-c", "ASTRO_SIM_STEP_DELAY=0s", "ASTRO_LOG_LEVEL=error",
		fmt.Sprintf("ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES=%d", cfg.concurrent))
	wcmd.Stderr = os.Stderr
	if err := wcmd.Start(); err != nil {
		return fmt.Errorf("start worker %s: %w", cfg.workerBin, err)
	}
	defer func() { _ = wcmd.Process.Signal(os.Interrupt); _ = wcmd.Wait() }()

	fmt.Fprintf(os.Stderr, "(c) %d concurrent deploys on a worker process…\n", cfg.concurrent)
	start := time.Now()
	if _, err := measure(cfg.concurrent, 32, func(i int) error { _, err := pc.deploy(ctx, fmt.Sprintf("c-%d", i)); return err }); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		clusters, err := pc.st.ListClusters(ctx, orgOf(ctx, pc), store.ClusterFilter{})
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
		if ready == cfg.concurrent {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d deploys finished", ready, cfg.concurrent)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wall := time.Since(start)
	res.Concurrent.Deploys = cfg.concurrent
	res.Concurrent.WallSeconds = wall.Seconds()
	res.Concurrent.PerSecond = float64(cfg.concurrent) / wall.Seconds()
	res.Concurrent.WorkerRSSMB = peakRSSMB(wcmd.Process.Pid)
	return nil
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
	for _, line := range strings.Split(string(raw), "\n") {
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

func machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPUs", host, runtime.NumCPU())
}

func report(r results) {
	fmt.Println()
	fmt.Println("| measurement                                   | N     | per second | p50 ms | p99 ms |")
	fmt.Println("|-----------------------------------------------|-------|------------|--------|--------|")
	row := func(name string, s stats) {
		fmt.Printf("| %-45s | %5d | %10.1f | %6.2f | %6.2f |\n", name, s.N, s.PerSecond, s.P50ms, s.P99ms)
	}
	row("(a) deploy through the REST API", r.Starts["api"])
	row("(a) raw StartWorkflow (Go SDK)", r.Starts["sdk"])
	row("(b) progress GET through the REST API", r.Progress["api"])
	row("(b) raw workflow query (Go SDK)", r.Progress["sdk query"])
	row("(b) raw DescribeWorkflowExecution (Go SDK)", r.Progress["sdk describe"])
	fmt.Println()
	fmt.Printf("(a) ratios: SDK/API starts per second %.2f; API/SDK p50 %.2f, p99 %.2f\n",
		r.StartRatios["throughput sdk/api"], r.StartRatios["p50 api/sdk"], r.StartRatios["p99 api/sdk"])
	fmt.Printf("(b) ratios: API/query p50 %.2f, p99 %.2f; API/describe p50 %.2f, p99 %.2f\n",
		r.Progress["api"].P50ms/r.Progress["sdk query"].P50ms, r.Progress["api"].P99ms/r.Progress["sdk query"].P99ms,
		r.Progress["api"].P50ms/r.Progress["sdk describe"].P50ms, r.Progress["api"].P99ms/r.Progress["sdk describe"].P99ms)
	fmt.Printf("(c) %d concurrent deploys (zero step delay): %.1f s wall, %.1f deploys/s, worker peak RSS %.0f MB\n",
		r.Concurrent.Deploys, r.Concurrent.WallSeconds, r.Concurrent.PerSecond, r.Concurrent.WorkerRSSMB)
}
