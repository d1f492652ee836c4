package server_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// lossyStarts is a Temporal client whose workflow starts can be told to start and
// then answer an error (the answer lost on the way back), or to answer an error
// without starting; it notes whether any start was given a context a client's
// disconnect could cancel.
type lossyStarts struct {
	client.Client
	mu          sync.Mutex
	mode        string // "", "lose-answer", "fail"
	cancellable bool
}

func (l *lossyStarts) set(mode string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mode = mode
}

func (l *lossyStarts) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	l.mu.Lock()
	mode := l.mode
	if ctx.Done() != nil {
		if _, deadline := ctx.Deadline(); !deadline {
			l.cancellable = true
		}
	}
	l.mu.Unlock()
	switch mode {
	case "fail":
		return nil, errors.New("connection reset by peer (simulated)")
	case "lose-answer":
		if _, err := l.Client.ExecuteWorkflow(ctx, opts, wf, args...); err != nil {
			return nil, err
		}
		return nil, errors.New("connection reset by peer (simulated, after the start)")
	}
	return l.Client.ExecuteWorkflow(ctx, opts, wf, args...)
}

// A start whose answer is lost still answers 202 and its operation runs to the end
// (Temporal is asked whether it started before anything is marked failed); a start
// that really failed records the operation FAILED and changes nothing; no start can be
// cancelled by the client's disconnect (its context carries only the start's own
// deadline).
func TestStartAndStoreStayConsistent(t *testing.T) {
	dev := testtemporal.Start(t)
	lossy := &lossyStarts{Client: dev.Client()}
	e := newEnv(t, lossy)
	e.startWorker(dev.Client(), sim.Registry(sim.New(0)), worker.Options{})

	lossy.set("lose-answer")
	a := e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("lossy"))
	if a.Status != http.StatusAccepted {
		t.Fatalf("deploy whose start answer was lost: %d %s", a.Status, a.Body)
	}
	opID, clusterID := e.data(a)["operationId"].(string), e.data(a)["clusterId"].(string)
	if c := e.waitStatus(t, "lossy", "READY", "FAILED"); c["status"] != "READY" {
		t.Fatalf("deploy whose start answer was lost: %v", c)
	}
	if op, err := e.store.GetOperation(t.Context(), e.orgID, opID); err != nil || op.Status != store.OperationSucceeded {
		t.Fatalf("operation %s: %s %v", opID, op.Status, err)
	}

	lossy.set("lose-answer")
	upd := map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{"tags": map[string]any{"team": "a"}}}
	a = e.do(http.MethodPut, "/api/v1/clusters/lossy", e.key, upd)
	if a.Status != http.StatusAccepted {
		t.Fatalf("update whose start answer was lost: %d %s", a.Status, a.Body)
	}
	updateID := bareResult(t, a)["operationId"].(string)
	waitFor(t, 30*time.Second, func() (string, bool) {
		op, err := e.store.GetOperation(t.Context(), e.orgID, updateID)
		return op.Status, err == nil && op.Status == store.OperationSucceeded
	})

	lossy.set("fail")
	upd["spec"] = map[string]any{"tags": map[string]any{"team": "b"}}
	a = e.do(http.MethodPut, "/api/v1/clusters/lossy", e.key, upd)
	if a.Status < 500 {
		t.Fatalf("update whose start failed: %d %s", a.Status, a.Body)
	}
	ops, _, err := e.store.ListOperations(t.Context(), e.orgID, clusterID, "", 100)
	must(t, err)
	var failed int
	for _, op := range ops {
		if op.Type == workflows.OpUpdate && op.Status == store.OperationFailed && op.EndedAt != nil {
			failed++
		}
		if op.EndedAt == nil {
			t.Fatalf("operation %s left running after a start that failed", op.ID)
		}
	}
	if failed != 1 {
		t.Fatalf("%d failed updates recorded, want 1: %+v", failed, ops)
	}
	lossy.set("")
	if c := e.waitStatus(t, "lossy", "READY"); c["status"] != "READY" {
		t.Fatalf("cluster after a start that failed: %v", c)
	}
	lossy.mu.Lock()
	defer lossy.mu.Unlock()
	if lossy.cancellable {
		t.Fatal("a workflow was started with a context the client's disconnect could cancel")
	}
}
