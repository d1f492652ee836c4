package server_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/store"
)

// goneTemporal is a Temporal client whose server can go away: while down, starts and
// describes fail as against a server being restarted, so the API cannot tell whether
// a start happened.
type goneTemporal struct {
	client.Client
	down atomic.Bool
}

func (g *goneTemporal) ExecuteWorkflow(ctx context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	if g.down.Load() {
		return nil, serviceerror.NewUnavailable("connection refused (simulated restart)")
	}
	return g.Client.ExecuteWorkflow(ctx, opts, wf, args...)
}

func (g *goneTemporal) DescribeWorkflow(ctx context.Context, id, runID string) (*client.WorkflowExecutionDescription, error) {
	if g.down.Load() {
		return nil, serviceerror.NewUnavailable("connection refused (simulated restart)")
	}
	return g.Client.DescribeWorkflow(ctx, id, runID)
}

// A deploy, an update and a delete recorded while Temporal went away (their start
// failed and whether it happened could not be told, so the records stay and the
// client gets a 5xx) run when the client repeats them with their Idempotency-Key:
// the repeat starts the recorded operation rather than answering 202 for an
// operation that never runs (found by the chaos suite: a deploy accepted on the
// repeat, never run, its cluster PENDING for good). While Temporal is still away the
// repeat is a 5xx too, never a 202.
func TestRepeatStartsAnOperationWhoseStartNeverHappened(t *testing.T) {
	dev := testtemporal.Start(t)
	gone := &goneTemporal{Client: dev.Client()}
	e := newEnv(t, gone)
	e.startWorker(dev.Client(), sim.Registry(sim.New(0)), worker.Options{})

	// send sends the request while Temporal is away (5xx, twice), then once it is
	// back, and returns the operation the 202 names.
	send := func(method, path, key string, body any) string {
		t.Helper()
		gone.down.Store(true)
		for range 2 {
			if a := e.do(method, path, e.key, body, "Idempotency-Key", key); a.Status < 500 {
				t.Fatalf("%s %s while Temporal is away: %d %s", method, path, a.Status, a.Body)
			}
		}
		gone.down.Store(false)
		a := e.do(method, path, e.key, body, "Idempotency-Key", key)
		if a.Status != http.StatusAccepted {
			t.Fatalf("%s %s repeated once Temporal is back: %d %s", method, path, a.Status, a.Body)
		}
		if method == http.MethodPut {
			return bareResult(t, a)["operationId"].(string)
		}
		return e.data(a)["operationId"].(string)
	}
	succeeds := func(opID string) {
		t.Helper()
		waitFor(t, 30*time.Second, func() (string, bool) {
			op, err := e.store.GetOperation(t.Context(), e.orgID, opID)
			return op.Status, err == nil && op.Status == store.OperationSucceeded
		})
	}

	deploy := send(http.MethodPost, "/api/v1/clusters", "deploy-1", eksManifest("resumed"))
	succeeds(deploy)
	if c := e.waitStatus(t, "resumed", "READY"); c["lastOperationId"] != deploy {
		t.Fatalf("cluster after the resumed deploy: %v", c)
	}
	upd := map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{"tags": map[string]any{"team": "a"}}}
	succeeds(send(http.MethodPut, "/api/v1/clusters/resumed", "update-1", upd))
	del := send(http.MethodDelete, "/api/v1/clusters/resumed", "delete-1", nil)
	succeeds(del)

	// One operation per request: the repeats made no other.
	cl, err := e.store.GetCluster(t.Context(), e.orgID, e.clusterID(t, deploy))
	must(t, err)
	ops, _, err := e.store.ListOperations(t.Context(), e.orgID, cl.ID, "", 100)
	must(t, err)
	if len(ops) != 3 || cl.Status != store.ClusterDeleted {
		t.Fatalf("cluster %s after the repeats: %d operations %+v", cl.Status, len(ops), ops)
	}
	// A repeat once the operation has run answers it as before.
	if a := e.do(http.MethodDelete, "/api/v1/clusters/resumed", e.key, nil, "Idempotency-Key", "delete-1"); a.Status != http.StatusAccepted || e.data(a)["operationId"] != del {
		t.Fatalf("repeat of an operation that ran: %d %s", a.Status, a.Body)
	}
}

// clusterID is the cluster of operation opID.
func (e *env) clusterID(t *testing.T, opID string) string {
	t.Helper()
	op, err := e.store.GetOperation(t.Context(), e.orgID, opID)
	must(t, err)
	return op.ClusterID
}
