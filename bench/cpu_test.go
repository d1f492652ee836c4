package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A server's CPU counts with its descendants': a grandchild that burns CPU counts
// under the shell that started it, and under this process.
func TestProcessTreeCountsDescendants(t *testing.T) {
	if os.Getenv("BENCH_BURN_CPU") != "" {
		burn(0.5)
		time.Sleep(30 * time.Second)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", `"$0" -test.run='^TestProcessTreeCountsDescendants$' & wait`, os.Args[0])
	cmd.Env = append(os.Environ(), "BENCH_BURN_CPU=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the grandchild goes with the shell
	require.NoError(t, cmd.Start())
	defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() }()
	require.Eventually(t, func() bool {
		return readProcessTable().cpu(cmd.Process.Pid) >= 0.3
	}, 20*time.Second, 50*time.Millisecond, "the grandchild's CPU is counted under the shell")

	table := readProcessTable()
	require.GreaterOrEqual(t, table.cpu(os.Getpid()), table.cpu(cmd.Process.Pid), "and under this process, its ancestor")
	require.Less(t, table.cpu(cmd.Process.Pid), 5.0, "not the whole machine's")
	require.Zero(t, table.cpu(0), "no server, no CPU")
}

// burn keeps a CPU busy until this process has spent secs more CPU seconds: counted
// in CPU, not wall time, so a loaded machine cannot make it burn less.
func burn(secs float64) {
	for start := selfCPU(); selfCPU()-start < secs; { //nolint:revive // burning CPU is the point
	}
}

// A tally is per start and in milliseconds, each process apart and in total.
func TestCPUTallyPerStart(t *testing.T) {
	var c cpuTally
	require.Equal(t, cpuCost{}, c.perStart(), "no batch yet: nothing, not NaN")
	require.NoError(t, c.during(cpuMeter{}, 100, func() error { burn(0.2); return nil }))
	cost := c.perStart()
	// ms per start: at least the 200 ms burnt over 100 starts, and not much more
	require.GreaterOrEqual(t, cost.Process, 2.0)
	require.Less(t, cost.Process, 3.0)
	require.Zero(t, cost.Temporal)
	require.Zero(t, cost.Postgres)
	require.InDelta(t, cost.Process, cost.Total, 1e-9)
}

func TestCPUTableExplainsTheRatio(t *testing.T) {
	sr := &storeResults{Store: "postgres"}
	sr.StartCPU.API = cpuCost{Process: 1.4, Temporal: 5.5, Postgres: 0.5, Total: 7.4}
	sr.StartCPU.SDK = cpuCost{Process: 0.6, Temporal: 5.4, Total: 6.0}
	var out strings.Builder
	cpuTable(&out, sr)
	require.Contains(t, out.String(), "| API  |         1.40 |     5.50 | not measured |  7.40 |")
	sr.StartCPU.PostgresMeasured = true
	out.Reset()
	cpuTable(&out, sr)
	require.Contains(t, out.String(), "| API  |         1.40 |     5.50 |       0.50 |  7.40 |")
	require.Contains(t, out.String(), "CPU per start, API/SDK: 1.23 (the API costs 1.40 ms more per start)")
}

// A tree that lost an exited process's time between two readings spent nothing.
func TestSpentIsNeverNegative(t *testing.T) {
	require.InDelta(t, 0.25, spent(1.0, 1.25), 1e-9)
	require.Zero(t, spent(1.25, 1.0))
}
