package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A ratio row of the report: what it compares, its spread, and the bound issue 11
// sets for it (empty: none).
type ratioRow struct {
	name, target string
	s            spread
}

func (r *storeResults) ratioRows() []ratioRow {
	return []ratioRow{
		{"(a) start p50, API/SDK", "≤ 1.15", r.StartRatios.P50},
		{"(a) start p99, API/SDK", "", r.StartRatios.P99},
		{"(a) starts/s, API/SDK", "≥ 0.90", r.StartRatios.Throughput},
		{"(b) progress p50, API/query", "", r.ProgressRatios.QueryP50},
		{"(b) progress p99, API/query", "≤ 1.20", r.ProgressRatios.QueryP99},
		{"(b) progress p50, API/describe", "", r.ProgressRatios.DescribeP50},
		{"(b) progress p99, API/describe", "", r.ProgressRatios.DescribeP99},
	}
}

func (r *storeResults) statRows() []struct {
	name string
	s    stats
} {
	return []struct {
		name string
		s    stats
	}{
		{"(a) deploy through the REST API", r.Starts.API.Pooled},
		{"(a) the same StartWorkflow through the Go SDK", r.Starts.SDK.Pooled},
		{"(b) progress GET through the REST API", r.Progress.API.Pooled},
		{"(b) raw workflow query (Go SDK)", r.Progress.Query.Pooled},
		{"(b) raw DescribeWorkflowExecution (Go SDK)", r.Progress.Describe.Pooled},
	}
}

// markdown writes the report: per store, the pooled figures of every path and the
// per-round ratios with their spread. The terminal and results.md show the same.
func markdown(w io.Writer, res results) {
	fmt.Fprintf(w, "# make bench, %s\n\n", res.Date)
	dirty := ""
	if res.Dirty {
		dirty = " (with uncommitted changes)"
	}
	fmt.Fprintf(w, "Commit %s%s; %s; %s. %d rounds (after %d warm-up calls per path): (a) %d starts per path and round, "+
		"(b) %d reads per path and round with %d operations in flight; client concurrency %d.\n\n",
		res.Commit, dirty, res.Machine, res.GoVersion, res.Settings.Rounds, res.Settings.Warmup, res.Settings.Starts,
		res.Settings.Gets, res.Settings.InFlight, res.Settings.Parallel)
	fmt.Fprintf(w, "Temporal dev server as %s starts it: `temporal %s`\n\n", res.Settings.RunScript, strings.Join(res.Settings.TemporalArgs, " "))
	if res.Settings.Postgres != "" {
		fmt.Fprintf(w, "PostgreSQL: %s.\n\n", res.Settings.Postgres)
	}
	for _, sr := range res.Stores {
		fmt.Fprintf(w, "## API store: %s\n\n", sr.Store)
		fmt.Fprintln(w, "| measurement (all rounds pooled)                 |     N | per second | p50 ms | p99 ms |")
		fmt.Fprintln(w, "|-------------------------------------------------|------:|-----------:|-------:|-------:|")
		for _, row := range sr.statRows() {
			fmt.Fprintf(w, "| %-47s | %5d | %10.1f | %6.2f | %6.2f |\n", row.name, row.s.N, row.s.PerSecond, row.s.P50ms, row.s.P99ms)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| ratio (one per round)            | median | IQR         | min–max     | target | rounds")
		fmt.Fprintln(w, "|----------------------------------|-------:|-------------|-------------|--------|-------")
		for _, row := range sr.ratioRows() {
			var each []string
			for _, v := range row.s.Rounds {
				each = append(each, fmt.Sprintf("%.2f", v))
			}
			fmt.Fprintf(w, "| %-32s | %6.2f | %4.2f–%-6.2f | %4.2f–%-6.2f | %-6s | %s\n",
				row.name, row.s.Median, row.s.Q1, row.s.Q3, row.s.Min, row.s.Max, row.target, strings.Join(each, " "))
		}
		cpuTable(w, sr)
		if c := sr.Concurrent; c.Deploys > 0 {
			fmt.Fprintf(w, "\n(c) %d concurrent deploys (zero step delay): %.1f s wall, %.1f deploys/s, worker peak RSS %.0f MB\n",
				c.Deploys, c.WallSeconds, c.PerSecond, c.WorkerRSSMB)
		}
		if d := sr.Streams; d.Streams > 0 {
			streamTable(w, d)
		}
		fmt.Fprintln(w)
	}
}

// cpuTable writes (a)'s CPU per start by process, and the API's cost over the SDK's.
func cpuTable(w io.Writer, sr *storeResults) {
	api, sdk := sr.StartCPU.API, sr.StartCPU.SDK
	if sdk.Total == 0 {
		return
	}
	pg := func(c cpuCost) string {
		switch {
		case sr.Store != "postgres":
			return "–"
		case !sr.StartCPU.PostgresMeasured:
			return "not measured"
		}
		return fmt.Sprintf("%.2f", c.Postgres)
	}
	fmt.Fprintln(w, "\n(a) CPU per start, all rounds, in ms (this process runs the API, its store driver and both paths' clients):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| path | this process | Temporal | PostgreSQL | total |")
	fmt.Fprintln(w, "|------|-------------:|---------:|-----------:|------:|")
	for _, row := range []struct {
		name string
		c    cpuCost
	}{{"API", api}, {"SDK", sdk}} {
		fmt.Fprintf(w, "| %s  | %12.2f | %8.2f | %10s | %5.2f |\n", row.name, row.c.Process, row.c.Temporal, pg(row.c), row.c.Total)
	}
	fmt.Fprintf(w, "\nCPU per start, API/SDK: %.2f (the API costs %.2f ms more per start).\n", api.Total/sdk.Total, api.Total-sdk.Total)
}

// historyHeader names the columns of the history file; each ratio cell is
// "median [min-max]" over the rounds of that run.
const historyHeader = "# make bench results, one line per run and API store (newest last); ratios are API over raw SDK, median [min-max] of the per-round ratios; see bench/out/results.json of a run for everything else.\n" +
	"date\tcommit\tstore\trounds\tstart_p50\tstart_p99\tstart_throughput\tprogress_p50_query\tprogress_p99_query\tc_deploys_per_s\tc_worker_rss_mb\n"

func historyLines(res results) string {
	var b strings.Builder
	commit := res.Commit
	if res.Dirty {
		commit += "+dirty"
	}
	cell := func(s spread) string { return fmt.Sprintf("%.2f [%.2f-%.2f]", s.Median, s.Min, s.Max) }
	for _, sr := range res.Stores {
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%.1f\t%.0f\n", res.Date, commit, sr.Store, res.Settings.Rounds,
			cell(sr.StartRatios.P50), cell(sr.StartRatios.P99), cell(sr.StartRatios.Throughput),
			cell(sr.ProgressRatios.QueryP50), cell(sr.ProgressRatios.QueryP99),
			sr.Concurrent.PerSecond, sr.Concurrent.WorkerRSSMB)
	}
	return b.String()
}

// writeResults prints the report and writes results.json, results.md and the
// history line.
func writeResults(cfg config, res results) error {
	fmt.Println()
	markdown(os.Stdout, res)
	if err := os.MkdirAll(cfg.outDir, 0o755); err != nil { //nolint:gosec // results are for anyone on the machine to read
		return err
	}
	out, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	jsonPath, mdPath := filepath.Join(cfg.outDir, "results.json"), filepath.Join(cfg.outDir, "results.md")
	if err := os.WriteFile(jsonPath, append(out, '\n'), 0o644); err != nil { //nolint:gosec // results are for anyone on the machine to read
		return err
	}
	var md strings.Builder
	markdown(&md, res)
	if err := os.WriteFile(mdPath, []byte(md.String()), 0o644); err != nil { //nolint:gosec // results are for anyone on the machine to read
		return err
	}
	fmt.Printf("Written: %s, %s", jsonPath, mdPath)
	if cfg.history != "" {
		if err := appendHistory(cfg.history, historyLines(res)); err != nil {
			return err
		}
		fmt.Printf("; appended to %s (commit it to keep the run)", cfg.history)
	}
	fmt.Println()
	return nil
}

func appendHistory(path, lines string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644) //nolint:gosec // the history file named by -history, kept in git
	if err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		lines = historyHeader + lines
	}
	if _, err := f.WriteString(lines); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// gitCommit names the commit measured, and whether the work tree differs from it
// (the history file aside, which every run changes).
func gitCommit(ctx context.Context, history string) (string, bool) {
	out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown", false
	}
	args := []string{"status", "--porcelain", "--untracked-files=no", "--", "."}
	if history != "" {
		args = append(args, ":(exclude)"+history)
	}
	status, err := exec.CommandContext(ctx, "git", args...).Output()
	return strings.TrimSpace(string(out)), err != nil || len(strings.TrimSpace(string(status))) > 0
}
