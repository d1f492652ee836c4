package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/pgserver"
	"github.com/astropulse/astroplane/internal/testreq"
)

func TestParseMem(t *testing.T) {
	status := "Name:\tworker\nVmPeak:\t 2000000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t12\n"
	rss, hwm, ok := parseMem(status)
	if !ok || rss != 100 || hwm != 200 {
		t.Fatalf("parseMem = %v MB, %v MB, %v; want 100, 200, true", rss, hwm, ok)
	}
	// A zombie's status has no memory lines: no sample, rather than a zero one.
	if _, _, ok := parseMem("Name:\tworker\nState:\tZ (zombie)\n"); ok {
		t.Fatal("parseMem of a status without VmRSS and VmHWM is ok")
	}
}

func TestPlanSpreadsUpdatesAndDeletes(t *testing.T) {
	cfg := config{ops: 1000, updates: 50, deletes: 50}
	ops := plan(cfg, "tag")
	kinds := map[string][]int{}
	clusters, keys := map[string]bool{}, map[string]bool{}
	for i, op := range ops {
		if op.index != i {
			t.Fatalf("ops[%d].index = %d", i, op.index)
		}
		kinds[op.kind] = append(kinds[op.kind], i)
		if clusters[op.kind+op.cluster] || keys[op.key] {
			t.Fatalf("ops[%d] repeats a cluster or key: %+v", i, op)
		}
		clusters[op.kind+op.cluster], keys[op.key] = true, true
	}
	if len(kinds[kindDeploy]) != 900 || len(kinds[kindUpdate]) != 50 || len(kinds[kindDelete]) != 50 {
		t.Fatalf("kinds: %d deploys, %d updates, %d deletes; want 900, 50, 50",
			len(kinds[kindDeploy]), len(kinds[kindUpdate]), len(kinds[kindDelete]))
	}
	// Spread over the whole run, so some are in flight when the kill comes and some
	// are sent after it.
	for _, k := range []string{kindUpdate, kindDelete} {
		idx := kinds[k]
		if idx[0] > 100 || idx[len(idx)-1] < 900 {
			t.Errorf("%ss from %d to %d: not spread over the run", k, idx[0], idx[len(idx)-1])
		}
	}
	// Updates and deletes act on distinct clusters.
	targets := map[string]bool{}
	for _, op := range ops {
		if op.kind != kindDeploy {
			if targets[op.cluster] {
				t.Fatalf("%s is updated or deleted twice", op.cluster)
			}
			targets[op.cluster] = true
		}
	}
}

func TestEnded(t *testing.T) {
	deploy := &operation{kind: kindDeploy, cluster: "a", operationID: "op-a"}
	del := &operation{kind: kindDelete, cluster: "b", operationID: "op-b"}
	for _, tc := range []struct {
		name   string
		op     *operation
		listed map[string]clusterView
		want   bool
	}{
		{"deploy ready", deploy, map[string]clusterView{"a": {Status: "READY", LastOperationID: "op-a"}}, true},
		{"deploy provisioning", deploy, map[string]clusterView{"a": {Status: "PROVISIONING", LastOperationID: "op-a"}}, false},
		{"ready by another operation", deploy, map[string]clusterView{"a": {Status: "READY", LastOperationID: "op-x"}}, false},
		{"deploy not listed", deploy, map[string]clusterView{}, false},
		{"delete gone", del, map[string]clusterView{}, true},
		{"delete running", del, map[string]clusterView{"b": {Status: "DELETING", LastOperationID: "op-b"}}, false},
	} {
		if got := ended(tc.op, tc.listed); got != tc.want {
			t.Errorf("%s: ended = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestCountAndProblems(t *testing.T) {
	ok := func(i int, kind string) *operation {
		return &operation{index: i, kind: kind, cluster: fmt.Sprint("c", i), operationID: fmt.Sprint("op", i), status: "SUCCEEDED"}
	}
	clean := []*operation{ok(0, kindDeploy), ok(1, kindUpdate), ok(2, kindDelete)}
	workflows := map[string]int{"deploy/c0": 1, "update/c1": 1, "delete/c2": 1, "deploy/c1": 1, "deploy/c2": 1}
	mem := []workerMem{{Name: "worker-1", memStats: memStats{PeakRSSMB: 120, HWMMB: 125, Samples: 10}}}

	r := &results{WorkerMem: mem, Bootstrapped: []int{1, 1, 1}}
	r.count(clean, workflows)
	if p := r.problems(300); len(p) != 0 || r.Accepted != 3 || r.Workflows != 5 {
		t.Fatalf("a clean run: accepted %d, workflows %d, problems %v", r.Accepted, r.Workflows, p)
	}

	for _, tc := range []struct {
		name   string
		mutate func(ops []*operation, wf map[string]int, r *results)
		budget float64
		want   string
	}{
		{"no workflow ran it", func(_ []*operation, wf map[string]int, _ *results) { delete(wf, "update/c1") }, 300, "1 accepted operations lost"},
		{"never ended", func(ops []*operation, _ map[string]int, _ *results) { ops[0].status = "RUNNING" }, 300, "1 accepted operations lost"},
		{"two workflows", func(_ []*operation, wf map[string]int, _ *results) { wf["deploy/c0"] = 2 }, 300, "1 operations run by more than one workflow"},
		{"refused", func(ops []*operation, _ map[string]int, _ *results) {
			ops[2].operationID, ops[2].refused = "", errors.New("409 taken")
		}, 300, "accepted by no API (e.g. 409 taken)"},
		{"failed", func(ops []*operation, _ map[string]int, _ *results) { ops[1].status = "FAILED" }, 300, "did not succeed"},
		{"over budget", func([]*operation, map[string]int, *results) {}, 125, "worker-1 peaked at 125 MB"},
		{"crashed", func(_ []*operation, _ map[string]int, r *results) { r.Crashed = []string{"api-1"} }, 300, "api-1 died without being killed"},
		{"bootstrapped twice", func(_ []*operation, _ map[string]int, r *results) { r.Bootstrapped = []int{2, 2, 2} }, 300, "[2 2 2] organizations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := []*operation{ok(0, kindDeploy), ok(1, kindUpdate), ok(2, kindDelete)}
			wf := map[string]int{}
			for k, v := range workflows {
				wf[k] = v
			}
			r := &results{WorkerMem: mem, Bootstrapped: []int{1, 1, 1}}
			tc.mutate(ops, wf, r)
			r.count(ops, wf)
			p := strings.Join(r.problems(tc.budget), "\n")
			if !strings.Contains(p, tc.want) {
				t.Fatalf("problems %q do not say %q", p, tc.want)
			}
		})
	}
}

func TestAuditCloud(t *testing.T) {
	gone := time.Now()
	ops := []*operation{
		{kind: kindDeploy, cluster: "a", status: "SUCCEEDED"},
		{kind: kindDelete, cluster: "b", status: "SUCCEEDED"},
		{kind: kindDelete, cluster: "c", status: "SUCCEEDED"},
	}
	a := sim.Audit{Resources: []sim.Resource{
		{Kind: sim.KindNetwork, Name: "a"}, {Kind: sim.KindControlPlane, Name: "a"}, {Kind: sim.KindNodeGroup, Name: "pool"},
		{Kind: sim.KindNetwork, Name: "b", DeletedAt: &gone}, {Kind: sim.KindControlPlane, Name: "b", DeletedAt: &gone},
		{Kind: sim.KindNetwork, Name: "c", DeletedAt: &gone}, {Kind: sim.KindControlPlane, Name: "c"}, // c's control plane outlived its delete
	}}
	r := &results{Bootstrapped: []int{1, 1, 1}}
	r.auditCloud(a, ops)
	if r.CloudResources != 7 || r.CloudLive != 4 || r.CloudLeftBehind != 1 {
		t.Fatalf("made %d, alive %d, left behind %d; want 7, 4, 1", r.CloudResources, r.CloudLive, r.CloudLeftBehind)
	}
	a.Duplicates = [][]sim.Resource{{a.Resources[0], a.Resources[0]}}
	a.Repeated = map[string]int{"tok": 2}
	r.auditCloud(a, ops)
	p := strings.Join(r.problems(300), "\n")
	for _, want := range []string{"made 1 resources twice and applied 1 changes twice", "1 networks or control planes of deleted clusters"} {
		if !strings.Contains(p, want) {
			t.Errorf("problems %q do not say %q", p, want)
		}
	}
}

func TestTableNamesTheFigures(t *testing.T) {
	r := &results{Ops: 1000, Updates: 50, Deletes: 50, APIs: 2, Workers: 3, Parallel: 64, StepDelay: time.Second,
		Accepted: 1000, Wall: 100 * time.Second, Outcomes: map[string]int{"deploy SUCCEEDED": 900},
		WorkerMem: []workerMem{{Name: "worker-3", Killed: true, memStats: memStats{PeakRSSMB: 80, HWMMB: 81, Samples: 3}}}}
	table := r.table()
	for _, want := range []string{"| accepted | 1000 |", "| lost | 0 |", "| duplicated | 0 |", "10.0 operations/s",
		"| completed: deploy SUCCEEDED | 900 |", "peak RSS worker-3 (killed midway) | 80 MB (VmHWM 81 MB"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

// TestScaleOutSmoke is make scaleout in small (12 operations, 100 ms steps): the real
// Temporal server on PostgreSQL, two APIs and three workers built from this tree, one
// of each SIGKILLed midway; every operation must succeed exactly once and no worker
// pass the budget. 20–40 s on 2 shared cores (up to about 50 s under a load average
// of 18): starting the processes, and the 15 s heartbeat timeout after which the
// killed worker's activities move.
func TestScaleOutSmoke(t *testing.T) {
	server, tool := temporalServerBins(t)
	if _, err := pgserver.FindBin(""); err != nil {
		testreq.Missing(t, "PostgreSQL not available: "+err.Error(), "install its server binaries (`make postgres`)")
	}
	bins := t.TempDir()
	for _, cmd := range []string{"api", "worker"} {
		if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", filepath.Join(bins, cmd), "../cmd/"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	cfg := config{ops: 12, updates: 1, deletes: 1, apis: 2, workers: 3, parallel: 6,
		stepDelay: 100 * time.Millisecond, timeout: 2 * time.Minute, rssBudgetMB: 300,
		apiBin: filepath.Join(bins, "api"), workerBin: filepath.Join(bins, "worker"), temporalServer: server, sqlTool: tool}
	res, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.table())
	if res.CloudResources == 0 {
		t.Fatal("the simulated cloud's ledger shows nothing made: the workers did not share it")
	}
	if p := res.problems(cfg.rssBudgetMB); len(p) > 0 {
		t.Fatalf("scale-out run failed:\n%s", strings.Join(p, "\n"))
	}
	if res.Accepted != cfg.ops || res.Outcomes["deploy SUCCEEDED"] != 10 || res.Outcomes["update SUCCEEDED"] != 1 ||
		res.Outcomes["delete SUCCEEDED"] != 1 || res.KilledAfter == 0 {
		t.Fatalf("want 10 deploys, an update and a delete accepted and succeeded after a kill: %+v", res)
	}
	for _, w := range res.WorkerMem {
		if w.Samples == 0 || w.PeakRSSMB <= 0 {
			t.Fatalf("%s: no memory figures: %+v", w.Name, w)
		}
	}
}

// temporalServerBins finds bin/temporal-server and bin/temporal-sql-tool in the
// repository (make builds them from hack/temporal).
func temporalServerBins(t *testing.T) (server, tool string) {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	server, tool = filepath.Join(dir, "bin", "temporal-server"), filepath.Join(dir, "bin", "temporal-sql-tool")
	for _, p := range []string{server, tool} {
		if _, err := os.Stat(p); err != nil {
			testreq.Missing(t, "the Temporal server's binaries are not built ("+err.Error()+")",
				"run `make bin/temporal-server bin/temporal-sql-tool`")
		}
	}
	return server, tool
}
