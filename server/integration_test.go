package server_test

import (
	"net/http"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/activities/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/workflows"
)

// TestDeployThroughTheRealAPI drives the deploy workflow end to end: the real router
// starts it on a real Temporal dev server, a real worker runs it against the simulated
// cloud and the store, and the API reports READY and the workflow's progress.
func TestDeployThroughTheRealAPI(t *testing.T) {
	dev := testtemporal.Start(t)
	tc := dev.Client()
	e := newEnv(t, tc)

	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	sim := sim.New(0)
	workflows.Register(w, workflows.Dependencies{Cluster: &activities.Cluster{Store: e.store,
		Providers: map[string]activities.Provider{"aws": sim, "gcp": sim, "azure": sim}}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	if a := e.do(http.MethodGet, "/readyz", "", nil); a.Status != http.StatusOK {
		t.Fatalf("readyz: %d %s", a.Status, a.Body)
	}

	a := e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("prod"), "Idempotency-Key", "deploy-prod-1")
	if a.Status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", a.Status, a.Body)
	}
	accepted := a.Envelope(t).Data.(map[string]any)
	opID := accepted["operationId"].(string)
	if opID == "" || accepted["clusterId"] == "" {
		t.Fatalf("deploy answer %s", a.Body)
	}

	// The same request with the same key is the same operation, not a second one.
	again := e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("prod"), "Idempotency-Key", "deploy-prod-1")
	if again.Status != http.StatusAccepted || again.Envelope(t).Data.(map[string]any)["operationId"] != opID {
		t.Fatalf("repeated deploy: %d %s", again.Status, again.Body)
	}
	// Another body under the same key is refused.
	if other := e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("other"), "Idempotency-Key", "deploy-prod-1"); other.Status != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other body: %d %s", other.Status, other.Body)
	}
	// A second cluster of the same name is a conflict.
	if dup := e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("prod")); dup.Status != http.StatusConflict {
		t.Fatalf("duplicate name: %d %s", dup.Status, dup.Body)
	}

	cluster := waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		a := e.do(http.MethodGet, "/api/v1/clusters/prod", e.key, nil)
		c := a.Envelope(t).Data.(map[string]any)
		return c, c["status"] == "READY" || c["status"] == "FAILED"
	})
	if cluster["status"] != "READY" || cluster["lastOperationId"] != opID {
		t.Fatalf("cluster after deploy: %v", cluster)
	}

	a = e.do(http.MethodGet, "/api/v1/clusters/prod/progress?operationId="+opID, e.key, nil)
	progress := a.Envelope(t).Data.(map[string]any)
	if a.Status != http.StatusOK || progress["status"] != "SUCCEEDED" || progress["percent"] != float64(100) {
		t.Fatalf("progress: %d %s", a.Status, a.Body)
	}
	if steps := progress["steps"].([]any); len(steps) != len(workflows.DeploySteps) {
		t.Fatalf("steps: %v", steps)
	}

	// The operation ID is the workflow ID an operator pastes into the Web UI.
	desc, err := tc.DescribeWorkflowExecution(t.Context(), opID, "")
	if err != nil {
		t.Fatalf("describe workflow %s: %v", opID, err)
	}
	if got := desc.WorkflowExecutionInfo.Type.Name; got != "DeployCluster" {
		t.Fatalf("workflow type %q", got)
	}
}

// waitFor polls check until it reports done or the deadline passes.
func waitFor[T any](t *testing.T, timeout time.Duration, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, done := check()
		if done {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in %s; last value %v", timeout, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
