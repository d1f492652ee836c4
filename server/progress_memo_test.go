package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// TestProgressComesFromTheMemo: with every worker gone, a deploy's progress still
// names its steps and the running one — the workflow keeps it in its memo, read with
// one Describe that the Temporal server answers alone — and answers at once, not
// after a query's timeout.
func TestProgressComesFromTheMemo(t *testing.T) {
	dev := testtemporal.Start(t)
	tc := dev.Client()
	e := newEnv(t, tc)
	stopWorker := e.startWorker(tc, sim.Registry(sim.New(time.Hour)), worker.Options{})
	opID := deploy(t, e, eksManifest("remembered"))

	running := func() (map[string]any, bool) {
		a := e.do(http.MethodGet, "/api/v1/clusters/remembered/progress?operationId="+opID, e.key, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("progress: %d %s", a.Status, a.Body)
		}
		p := e.data(a)
		// The network step's simulated call takes an hour: the workflow stays there.
		for _, s := range p["steps"].([]any) {
			if s.(map[string]any)["status"] == workflows.StepRunning && s.(map[string]any)["name"] == "network" {
				return p, true
			}
		}
		return p, false
	}
	deadline := time.Now().Add(30 * time.Second)
	var before map[string]any
	for {
		p, ok := running()
		if ok {
			before = p
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the network step never started: %v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopWorker() // no worker can answer a query now

	start := time.Now()
	after, ok := running()
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("progress took %v without a worker: it waited on a query", took)
	}
	if !ok || after["phase"] != before["phase"] || after["message"] != nil {
		t.Fatalf("progress without a worker = %v, want the running step %v from the memo", after, before["phase"])
	}
	if len(after["steps"].([]any)) != len(before["steps"].([]any)) || after["percent"] != before["percent"] {
		t.Fatalf("steps differ without a worker: %v vs %v", after["steps"], before["steps"])
	}
}

// TestProgressOfAWorkflowWithoutMemo: an operation whose workflow started before
// workflows kept their progress in the memo is still answered, by its query.
func TestProgressOfAWorkflowWithoutMemo(t *testing.T) {
	dev := testtemporal.Start(t)
	tc := dev.Client()
	e := newEnv(t, tc)
	const queue = "earlier-release"
	w := worker.New(tc, queue, worker.Options{})
	// The earlier release's workflows answered the query only.
	queryOnly := func(ctx workflow.Context) error {
		p := workflows.Progress{OperationType: workflows.OpDeploy, Phase: "create-network", Status: workflows.StatusRunning,
			Percent: 20, Steps: []workflows.Step{{Name: "create-network", Status: workflows.StepRunning}}}
		if err := workflow.SetQueryHandler(ctx, workflows.QueryProgress, func() (workflows.Progress, error) { return p, nil }); err != nil {
			return err
		}
		return workflow.Await(ctx, func() bool { return false })
	}
	w.RegisterWorkflowWithOptions(queryOnly, workflow.RegisterOptions{Name: "EarlierDeploy"})
	must(t, w.Start())
	t.Cleanup(w.Stop)

	ctx := context.Background()
	cl := store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: "earlier", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending}
	op := store.Operation{ID: store.NewID(), Type: workflows.OpDeploy, Status: store.OperationRunning}
	op.WorkflowID = "earlier-" + op.ID
	cl.LastOperationID = op.ID
	must(t, e.store.CreateClusterWithOperation(ctx, &cl, &op))
	if _, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: op.WorkflowID, TaskQueue: queue}, "EarlierDeploy"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := e.do(http.MethodGet, "/api/v1/clusters/earlier/progress", e.key, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("progress: %d %s", a.Status, a.Body)
		}
		p := e.data(a)
		if p["phase"] == "create-network" && p["percent"] == float64(20) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress of a workflow without memo = %v, want its query's answer", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestProgressOfAnOperationWithoutWorkflow: an operation recorded whose workflow
// never started (its start failed, then the record was closed) is answered from its
// record, not with a 500.
func TestProgressOfAnOperationWithoutWorkflow(t *testing.T) {
	dev := testtemporal.Start(t)
	e := newEnv(t, dev.Client())
	ctx := context.Background()
	for _, tc := range []struct{ name, status, message string }{
		{"closed", store.OperationFailed, "the workflow never started"},
		{"unstarted", store.OperationRunning, ""},
	} {
		cl := store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: tc.name, Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending}
		op := store.Operation{ID: store.NewID(), Type: workflows.OpDeploy, Status: tc.status, Message: tc.message}
		op.WorkflowID = "never-started-" + op.ID
		cl.LastOperationID = op.ID
		must(t, e.store.CreateClusterWithOperation(ctx, &cl, &op))
		a := e.do(http.MethodGet, "/api/v1/clusters/"+tc.name+"/progress", e.key, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("%s: progress %d %s", tc.name, a.Status, a.Body)
		}
		p := e.data(a)
		if p["status"] != tc.status || p["operationId"] != op.ID || p["message"] == nil || p["message"] == "" {
			t.Fatalf("%s: progress %v, want status %s from the record with a message", tc.name, p, tc.status)
		}
	}
}
