// Command scaleout runs Astro Plane scaled out, as users who outgrow one machine run
// it, and kills part of it under load (make scaleout).
//
// It starts one PostgreSQL server (the API store, database astroplane, and the
// Temporal server's persistence and visibility, databases temporal and
// temporal_visibility), one Temporal server (the server's own temporal-server binary
// on PostgreSQL, schemas set up by temporal-sql-tool, the default namespace
// registered and the control plane's search attributes added), -apis API processes
// and -workers worker processes (bin/api and bin/worker, configured only by their
// ASTRO_* environment, all on the PostgreSQL store). It then sends -ops concurrent
// simulated deploys, round robin across the APIs, each with its own Idempotency-Key
// and in its own cloud account; when half of them have been accepted it SIGKILLs the
// last API and the last worker. A request that fails on an API (transport error or
// 5xx) is sent again to the next one with the same Idempotency-Key, as a client
// behind a load balancer would. It waits until every accepted operation is terminal
// (the list endpoint), reads each one's outcome (the progress endpoint), counts the
// deploy workflows per cluster in Temporal's visibility (duplicates), samples each
// worker's VmRSS and VmHWM throughout, prints a table of the figures, and exits
// non-zero when an operation was lost, refused, duplicated or did not succeed, or a
// worker's peak resident set passed -rss-budget.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type config struct {
	ops, updates, deletes   int
	apis, workers, parallel int
	accounts                int
	stepDelay, timeout      time.Duration
	rssBudgetMB             float64
	apiBin, workerBin       string
	temporalServer, sqlTool string
	pgBin, dir, out         string
	keep                    bool
}

func main() {
	var cfg config
	flag.IntVar(&cfg.ops, "ops", 1000, "concurrent simulated operations: deploys, and -updates and -deletes among them")
	flag.IntVar(&cfg.updates, "updates", 50, "of -ops, updates of clusters deployed before the measured phase")
	flag.IntVar(&cfg.deletes, "deletes", 50, "of -ops, deletes of clusters deployed before the measured phase")
	flag.IntVar(&cfg.accounts, "accounts", 0, "cloud accounts the deploys are spread over (0: one each); the registry paces each account to 10 calls a second")
	flag.IntVar(&cfg.apis, "apis", 2, "API processes (the last is killed midway)")
	flag.IntVar(&cfg.workers, "workers", 3, "worker processes (the last is killed midway)")
	flag.IntVar(&cfg.parallel, "parallel", 64, "client requests in flight at once")
	flag.DurationVar(&cfg.stepDelay, "step-delay", time.Second, "the simulated cloud's delay per call (ASTRO_SIM_STEP_DELAY)")
	flag.DurationVar(&cfg.timeout, "timeout", 15*time.Minute, "how long accepted operations may take to end, after the last was sent")
	flag.Float64Var(&cfg.rssBudgetMB, "rss-budget", 300, "the most resident memory a worker may reach, in MB")
	flag.StringVar(&cfg.apiBin, "api", "bin/api", "API binary")
	flag.StringVar(&cfg.workerBin, "worker", "bin/worker", "worker binary")
	flag.StringVar(&cfg.temporalServer, "temporal-server", "bin/temporal-server", "Temporal server binary (make bin/temporal-server)")
	flag.StringVar(&cfg.sqlTool, "sql-tool", "bin/temporal-sql-tool", "Temporal's SQL schema tool (make bin/temporal-sql-tool)")
	flag.StringVar(&cfg.pgBin, "pg-bin", "", "directory of PostgreSQL's initdb and pg_ctl (default: the newest under /usr/lib/postgresql)")
	flag.StringVar(&cfg.dir, "dir", "", "directory for the run's databases and logs (default: a new temporary one)")
	flag.StringVar(&cfg.out, "out", "", "also write the figures as Markdown to this file")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the run's directory (logs) after the run")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	res, err := run(ctx, cfg)
	stop()
	if res != nil {
		table := res.table()
		fmt.Print(table)
		if cfg.out != "" {
			if werr := os.WriteFile(cfg.out, []byte(table), 0o600); werr != nil {
				fmt.Fprintln(os.Stderr, "scaleout:", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
	if problems := res.problems(cfg.rssBudgetMB); len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, "scaleout: FAIL:", p)
		}
		os.Exit(1)
	}
	fmt.Println("scaleout: PASS")
}
