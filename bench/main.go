// Command bench measures Astro Plane against the raw Temporal Go SDK (make bench).
//
// Both sides talk to the same Temporal dev server, started with the arguments of the
// `bin/temporal server start-dev` command in scripts/run.sh (make run's server: file
// store with its SQLite pragmas, log level, search attributes; read from the script
// at run time, so the two cannot drift apart), through the same client connection.
// Everything is measured once per API store: SQLite (a file, as make run runs it) and
// PostgreSQL (a server started from the machine's binaries with PostgreSQL's default,
// durable settings, as production runs it; or -postgres URL), each on a fresh dev
// server:
//
//	(a) deploys through the REST API vs raw StartWorkflow calls making the very
//	    request the API makes (options, search attributes and input recorded from
//	    an API deploy of the warm-up, only the workflow ID changed), and the CPU
//	    each path costs per start in this process, the dev server and PostgreSQL
//	    (cpuMeter): on two CPUs shared by all three, throughput follows it;
//	(b) progress GETs with operations in flight vs a raw workflow query and vs
//	    DescribeWorkflowExecution;
//	(c) concurrent deploys on the simulated cloud with zero step delay, run by a
//	    worker process: wall time and the worker's peak RSS;
//	(d) progress streams: operations in flight on a worker whose simulated calls
//	    report progress every second, a WebSocket stream open on each, and the
//	    delay of every change they deliver (arrival minus when it happened), p50,
//	    p99 and max, against issue 11's 100 ms p99; every report counted.
//
// (a) and (b) run in rounds, alternating which path goes first; each round gives one
// ratio (API over SDK for latency and for throughput), and the report gives their
// median, quartiles and range. Results go to <out>/results.json and <out>/results.md,
// and one line per store is appended to the history file (bench/history.tsv, kept
// in git) keyed by commit, so runs can be compared across commits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

type config struct {
	rounds, warmup, starts, inFlight, gets, concurrent, parallel int
	stores                                                       []string
	temporalCLI, workerBin, runScript, outDir, history           string
	postgresURL, pgBin, commit                                   string
	streams                                                      int
	streamWindow                                                 time.Duration
	cpuProfile                                                   string
	pgSettings                                                   []string // over PostgreSQL's defaults: diagnosis only
}

func main() {
	var cfg config
	var stores string
	flag.IntVar(&cfg.rounds, "rounds", 5, "rounds of (a) and (b); each gives one ratio per measurement")
	flag.IntVar(&cfg.warmup, "warmup", 20, "calls per path before the rounds, not counted (at least 1)")
	flag.IntVar(&cfg.starts, "starts", 200, "deploys started per path and round in (a)")
	flag.IntVar(&cfg.inFlight, "in-flight", 500, "operations in flight during (b)")
	flag.IntVar(&cfg.gets, "gets", 500, "progress reads per path and round in (b)")
	flag.IntVar(&cfg.concurrent, "concurrent", 500, "concurrent deploys in (c); 0 skips (c)")
	flag.IntVar(&cfg.parallel, "parallel", 8, "client concurrency of (a) and (b)")
	flag.IntVar(&cfg.streams, "streams", 200, "operations in flight with a progress stream open on each in (d); 0 skips (d)")
	flag.DurationVar(&cfg.streamWindow, "stream-window", 20*time.Second, "how long (d) measures the streams' deliveries")
	flag.StringVar(&stores, "stores", "sqlite,postgres", "API stores to measure on, in order")
	flag.StringVar(&cfg.temporalCLI, "temporal", "bin/temporal", "Temporal CLI binary")
	flag.StringVar(&cfg.workerBin, "worker", "bin/worker", "worker binary for (c)")
	flag.StringVar(&cfg.runScript, "run-script", "scripts/run.sh", "make run's script, whose start-dev arguments the dev server gets")
	flag.StringVar(&cfg.postgresURL, "postgres", "", "an existing PostgreSQL server (any database on it) instead of starting one")
	flag.StringVar(&cfg.pgBin, "pg-bin", "", "directory of PostgreSQL's initdb and pg_ctl (default: the newest under /usr/lib/postgresql)")
	flag.StringVar(&cfg.outDir, "out", "bench/out", "directory for results.json and results.md")
	flag.StringVar(&cfg.history, "history", "bench/history.tsv", "file to append one line per store to; empty: none")
	flag.StringVar(&cfg.commit, "commit", "", "the commit measured, for a copy outside git (default: git's HEAD, +dirty with uncommitted changes)")
	flag.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (the API runs in this process) to this file")
	flag.Func("pg-setting", "a server setting over PostgreSQL's defaults for the server the benchmark starts, name=value (e.g. fsync=off), repeatable: to diagnose where the time goes; such a run is not comparable and adds no history line", cfg.addPGSetting)
	flag.Parse()
	if len(cfg.pgSettings) > 0 {
		if cfg.postgresURL != "" {
			fmt.Fprintln(os.Stderr, "bench: -pg-setting is for the server the benchmark starts; set an existing server's settings on it")
			os.Exit(2)
		}
		cfg.history = "" // not the durable defaults every history line is measured on
	}
	cfg.stores = strings.Split(stores, ",")
	cfg.warmup = max(cfg.warmup, 1) // the baseline replays a request recorded in the warm-up
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile, err := startCPUProfile(cfg.cpuProfile)
	if err == nil {
		err = run(ctx, cfg)
		stopProfile()
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// addPGSetting takes one -pg-setting: name=value, passed to the server as -c
// name=value on pg_ctl's option line, which splits on spaces.
func (c *config) addPGSetting(v string) error {
	name, _, ok := strings.Cut(v, "=")
	if !ok || name == "" || strings.ContainsAny(v, " \t'\"") {
		return errors.New("want name=value, without spaces or quotes")
	}
	c.pgSettings = append(c.pgSettings, v)
	return nil
}

// startCPUProfile profiles the process into path until the returned func is called;
// with no path it does nothing.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path) //nolint:gosec // the file named by -cpuprofile
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }, nil
}

// results is what results.json holds.
type results struct {
	Date      string          `json:"date"`
	Commit    string          `json:"commit"`
	Dirty     bool            `json:"dirty"` // uncommitted changes beside the commit
	Machine   string          `json:"machine"`
	GoVersion string          `json:"goVersion"`
	Settings  settings        `json:"settings"`
	Stores    []*storeResults `json:"stores"`
}

type settings struct {
	Rounds     int `json:"rounds"`
	Warmup     int `json:"warmup"`
	Starts     int `json:"startsPerRound"`
	InFlight   int `json:"inFlight"`
	Gets       int `json:"getsPerRound"`
	Concurrent int `json:"concurrent"`
	Parallel   int `json:"parallel"`
	Streams    int `json:"streams"`
	// TemporalArgs are the dev server's arguments as run (from RunScript, with this
	// run's directory and ports).
	TemporalArgs []string `json:"temporalArgs"`
	RunScript    string   `json:"runScript"`
	Postgres     string   `json:"postgres"`
}

// storeResults are the measurements with the API on one store. Ratios are API over
// SDK: latency ratios above 1 and throughput ratios below 1 are the API's cost.
type storeResults struct {
	Store  string `json:"store"`
	Starts struct {
		API path `json:"api"`
		SDK path `json:"sdk"`
	} `json:"a_starts"`
	StartRatios struct {
		P50        spread `json:"p50"`
		P99        spread `json:"p99"`
		Throughput spread `json:"throughput"`
	} `json:"a_ratios"`
	// StartCPU is each path's CPU per start over all rounds (cpuMeter).
	StartCPU struct {
		API cpuCost `json:"api"`
		SDK cpuCost `json:"sdk"`
		// PostgresMeasured: the benchmark started the PostgreSQL server, so its CPU
		// counts (not for -postgres's server, which may run elsewhere).
		PostgresMeasured bool `json:"postgresMeasured"`
	} `json:"a_cpu"`
	Progress struct {
		API      path `json:"api"`
		Query    path `json:"sdkQuery"`
		Describe path `json:"sdkDescribe"`
	} `json:"b_progress"`
	ProgressRatios struct {
		QueryP50    spread `json:"queryP50"`
		QueryP99    spread `json:"queryP99"`
		DescribeP50 spread `json:"describeP50"`
		DescribeP99 spread `json:"describeP99"`
	} `json:"b_ratios"`
	Concurrent struct {
		Deploys     int     `json:"deploys"`
		WallSeconds float64 `json:"wallSeconds"`
		PerSecond   float64 `json:"deploysPerSecond"`
		WorkerRSSMB float64 `json:"workerPeakRssMb"`
	} `json:"c_concurrent"`
	Streams streamResults `json:"d_streams"`
}

func run(ctx context.Context, cfg config) error {
	for _, s := range cfg.stores {
		if s != "sqlite" && s != "postgres" {
			return fmt.Errorf("-stores: %q is neither sqlite nor postgres", s)
		}
	}
	if cfg.rounds < 1 || cfg.starts < 1 || cfg.gets < 1 || cfg.inFlight < 1 || cfg.parallel < 1 {
		return fmt.Errorf("-rounds, -starts, -gets, -in-flight and -parallel must be at least 1")
	}
	dir, err := os.MkdirTemp("", "astro-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	res := results{
		Date: time.Now().UTC().Format(time.RFC3339), Machine: machine(), GoVersion: runtime.Version(),
		Settings: settings{Rounds: cfg.rounds, Warmup: cfg.warmup, Starts: cfg.starts, InFlight: cfg.inFlight,
			Gets: cfg.gets, Concurrent: cfg.concurrent, Parallel: cfg.parallel, Streams: cfg.streams, RunScript: cfg.runScript},
	}
	res.Commit, res.Dirty = gitCommit(ctx, cfg.history)
	if cfg.commit != "" {
		res.Commit, res.Dirty = cfg.commit, false
	}

	var pg *postgres
	if slices.Contains(cfg.stores, "postgres") {
		if cfg.postgresURL != "" {
			pg, err = existingPostgres(ctx, cfg.postgresURL)
			res.Settings.Postgres = "an existing server (-postgres)"
		} else {
			starting := "starting PostgreSQL (default settings: fsync and synchronous_commit on)…"
			res.Settings.Postgres = "started by the benchmark from the machine's binaries, PostgreSQL's default settings (fsync, synchronous_commit, full_page_writes on)"
			if set := strings.Join(cfg.pgSettings, " "); set != "" {
				starting = "starting PostgreSQL with " + set + " over its defaults (a diagnostic run: no history line)…"
				res.Settings.Postgres = "started by the benchmark from the machine's binaries with " + set + " over PostgreSQL's defaults: a diagnostic run, not comparable with the default-settings runs"
			}
			fmt.Fprintln(os.Stderr, starting)
			pg, err = startPostgres(ctx, cfg.pgBin, cfg.pgSettings)
		}
		if err != nil {
			return fmt.Errorf("postgres: %w", err)
		}
		defer pg.close(context.WithoutCancel(ctx))
	}

	for _, kind := range cfg.stores {
		b := &storeBench{cfg: cfg, kind: kind, dir: filepath.Join(dir, kind), pg: pg}
		sr, args, err := b.run(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		res.Stores = append(res.Stores, sr)
		res.Settings.TemporalArgs = args
	}
	return writeResults(cfg, res)
}

func machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPUs", host, runtime.NumCPU())
}
