package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/astropulse/astroplane/cloud/sim"
)

// results are the figures of one run.
type results struct {
	Ops, Updates, Deletes   int
	APIs, Workers, Parallel int
	Accounts                int
	StepDelay               time.Duration

	Accepted   int            // operations some API answered 202
	Refused    int            // operations no API accepted
	FailedOver int            // operations sent again to another API (same Idempotency-Key)
	Outcomes   map[string]int // accepted operations by final status (progress endpoint)
	Open       int            // accepted operations not terminal by the deadline
	Lost       int            // accepted operations that did not end, or that no workflow ran
	Duplicated int            // clusters with more than one deploy workflow
	Workflows  int            // deploy workflows in Temporal's visibility

	// What the simulated cloud's ledger shows at the end: resources made, alive,
	// made twice (of one kind, owner and name alive at once), in-place changes applied
	// twice, and resources still alive of the clusters the run deleted.
	CloudResources, CloudLive, CloudDuplicates, CloudRepeated, CloudLeftBehind int

	// Bootstrapped counts the organizations, users and API keys the store holds after
	// every API started at once on it: 1, 1, 1 (one bootstrap, the preset key adopted
	// by no other).
	Bootstrapped []int

	KilledAfter, SentIn, Wall time.Duration
	WorkerMem                 []workerMem
	Crashed                   []string // processes that died without being killed
	RefusedSample             string
	LogDir                    string
}

type workerMem struct {
	Name   string
	Killed bool
	memStats
}

// count fills the operation figures from the client's record and the deploy
// workflows per cluster name.
func (r *results) count(ops []*operation, workflows map[string]int) {
	r.Outcomes = map[string]int{}
	for _, op := range ops {
		if op.failovers > 0 {
			r.FailedOver++
		}
		if op.operationID == "" {
			r.Refused++
			if r.RefusedSample == "" && op.refused != nil {
				r.RefusedSample = op.refused.Error()
			}
			continue
		}
		r.Accepted++
		r.Outcomes[op.kind+" "+op.status]++
		n := workflows[op.kind+"/"+op.cluster]
		switch {
		case n == 0:
			r.Lost++ // accepted, but no workflow ever ran it
		case !terminalOperation[op.status]:
			r.Lost++
		}
		if n > 1 {
			r.Duplicated++
		}
	}
	for _, n := range workflows {
		r.Workflows += n
	}
}

// auditCloud fills the cloud figures from the simulated cloud's ledger.
func (r *results) auditCloud(a sim.Audit, ops []*operation) {
	deleted := map[string]bool{}
	for _, op := range ops {
		if op.kind == kindDelete && op.status == "SUCCEEDED" {
			deleted[op.cluster] = true
		}
	}
	live := a.Live()
	r.CloudResources, r.CloudLive, r.CloudLeftBehind = len(a.Resources), len(live), 0
	r.CloudDuplicates, r.CloudRepeated = len(a.Duplicates), len(a.Repeated)
	for _, res := range live {
		if res.Kind != sim.KindNodeGroup && deleted[res.Name] {
			r.CloudLeftBehind++
		}
	}
}

// terminalOperation: statuses an operation ends in.
var terminalOperation = map[string]bool{"SUCCEEDED": true, "FAILED": true, "CANCELLED": true, "REJECTED": true, "EXPIRED": true}

// problems lists what makes the run fail: any operation lost, refused, duplicated or
// not succeeded, a process that died unasked, a worker over budget.
func (r *results) problems(rssBudgetMB float64) []string {
	var p []string
	if r.Lost > 0 {
		p = append(p, fmt.Sprintf("%d accepted operations lost (never ended, or no workflow ran them)", r.Lost))
	}
	if r.Refused > 0 {
		p = append(p, fmt.Sprintf("%d operations accepted by no API (e.g. %s)", r.Refused, r.RefusedSample))
	}
	if r.Duplicated > 0 {
		p = append(p, fmt.Sprintf("%d operations run by more than one workflow", r.Duplicated))
	}
	if ok := r.Outcomes[kindDeploy+" SUCCEEDED"] + r.Outcomes[kindUpdate+" SUCCEEDED"] + r.Outcomes[kindDelete+" SUCCEEDED"]; ok != r.Accepted {
		p = append(p, fmt.Sprintf("%d of %d accepted operations did not succeed: %v", r.Accepted-ok, r.Accepted, r.Outcomes))
	}
	if r.CloudDuplicates > 0 || r.CloudRepeated > 0 {
		p = append(p, fmt.Sprintf("the simulated cloud made %d resources twice and applied %d changes twice", r.CloudDuplicates, r.CloudRepeated))
	}
	if r.CloudLeftBehind > 0 {
		p = append(p, fmt.Sprintf("%d networks or control planes of deleted clusters are still alive in the cloud", r.CloudLeftBehind))
	}
	if !slices.Equal(r.Bootstrapped, []int{1, 1, 1}) {
		p = append(p, fmt.Sprintf("after the APIs started at once the store holds %v organizations, users and API keys, not one of each", r.Bootstrapped))
	}
	for _, c := range r.Crashed {
		p = append(p, c+" died without being killed")
	}
	for _, w := range r.WorkerMem {
		if peak := max(w.PeakRSSMB, w.HWMMB); peak >= rssBudgetMB {
			p = append(p, fmt.Sprintf("%s peaked at %.0f MB resident, over the %.0f MB budget", w.Name, peak, rssBudgetMB))
		}
		if w.Samples == 0 {
			p = append(p, w.Name+": no memory sample")
		}
	}
	return p
}

// table renders the figures as a Markdown table.
func (r *results) table() string {
	var b strings.Builder
	row := func(k string, v any) { fmt.Fprintf(&b, "| %s | %v |\n", k, v) }
	fmt.Fprintf(&b, "\n| scale-out run | |\n|---|---|\n")
	row("processes", fmt.Sprintf("%d APIs, %d workers, 1 Temporal server, 1 PostgreSQL", r.APIs, r.Workers))
	row("operations sent", fmt.Sprintf("%d (%d deploys, %d updates, %d deletes), %d requests in flight, sim step delay %s",
		r.Ops, r.Ops-r.Updates-r.Deletes, r.Updates, r.Deletes, r.Parallel, r.StepDelay))
	accounts := "one per deploy"
	if r.Accounts > 0 {
		accounts = fmt.Sprint(r.Accounts)
	}
	row("cloud accounts", accounts)
	row("killed (SIGKILL)", fmt.Sprintf("1 API and 1 worker, %s after the first request", r.KilledAfter.Round(time.Millisecond)))
	row("bootstrapped by the APIs started at once (organizations, users, API keys)", fmt.Sprint(r.Bootstrapped))
	row("accepted", r.Accepted)
	row("re-sent to another API (same Idempotency-Key)", r.FailedOver)
	row("refused by every API", r.Refused)
	for _, s := range slices.Sorted(maps.Keys(r.Outcomes)) {
		row("completed: "+s, r.Outcomes[s])
	}
	row("lost", r.Lost)
	row("duplicated", r.Duplicated)
	row("workflows in Temporal", r.Workflows)
	row("cloud resources made / alive at the end", fmt.Sprintf("%d / %d", r.CloudResources, r.CloudLive))
	row("cloud resources made twice, changes applied twice", fmt.Sprintf("%d, %d", r.CloudDuplicates, r.CloudRepeated))
	row("cloud resources left behind by deletes", r.CloudLeftBehind)
	row("all sent in", r.SentIn.Round(time.Millisecond))
	row("wall time (first request to last operation ended)", r.Wall.Round(time.Second))
	if r.Wall > 0 {
		row("throughput", fmt.Sprintf("%.1f operations/s", float64(r.Accepted)/r.Wall.Seconds()))
	}
	for _, w := range r.WorkerMem {
		name := w.Name
		if w.Killed {
			name += " (killed midway)"
		}
		row("peak RSS "+name, fmt.Sprintf("%.0f MB (VmHWM %.0f MB, %d samples)", w.PeakRSSMB, w.HWMMB, w.Samples))
	}
	b.WriteString("\n")
	return b.String()
}
