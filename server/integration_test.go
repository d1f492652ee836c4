package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// liveEnv is env on a real Temporal dev server with a real worker on the simulated
// cloud, whose calls each take stepDelay.
func liveEnv(t *testing.T, stepDelay time.Duration) *env {
	t.Helper()
	dev := testtemporal.Start(t)
	tc := dev.Client()
	e := newEnv(t, tc)
	e.startWorker(tc, sim.Registry(sim.New(stepDelay)), worker.Options{})
	return e
}

// startWorker runs a worker of every workflow on tc's task queue against e's store
// and clouds (no keys: no integrations, nothing to send), until the test ends or
// stop is called.
func (e *env) startWorker(tc client.Client, clouds *cloud.Registry, opts worker.Options) (stop func()) {
	e.t.Helper()
	w := worker.New(tc, workflows.TaskQueue, opts)
	workflows.Register(w, workflows.Dependencies{
		Cluster:  &activities.Cluster{Store: e.store, Clouds: clouds, PollInterval: 20 * time.Millisecond, Box: e.box},
		Notifier: &activities.Notifier{Store: e.store}})
	must(e.t, w.Start())
	stop = sync.OnceFunc(w.Stop) // a worker stopped twice panics
	e.t.Cleanup(stop)
	return stop
}

func (e *env) data(a answer) map[string]any {
	e.t.Helper()
	d, ok := a.Envelope(e.t).Data.(map[string]any)
	if !ok {
		e.t.Fatalf("answer has no object data: %s", a.Body)
	}
	return d
}

// waitStatus waits until the cluster's status is one of want and returns the cluster.
func (e *env) waitStatus(t *testing.T, name string, want ...string) map[string]any {
	t.Helper()
	return waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		a := e.do(http.MethodGet, "/api/v1/clusters/"+name, e.key, nil)
		if a.Status != http.StatusOK {
			return map[string]any{"answer": string(a.Body)}, false
		}
		c := e.data(a)
		for _, w := range want {
			if c["status"] == w {
				return c, true
			}
		}
		return c, false
	})
}

func (e *env) progress(t *testing.T, name, opID string) map[string]any {
	t.Helper()
	a := e.do(http.MethodGet, "/api/v1/clusters/"+name+"/progress?operationId="+opID, e.key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("progress: %d %s", a.Status, a.Body)
	}
	return e.data(a)
}

// settledProgress waits until the operation's workflow has ended and returns its
// progress. A cluster's status changes in the operation's record step, a moment
// before the workflow ends: a test that saw the status must not expect the progress
// to have ended too.
func (e *env) settledProgress(t *testing.T, name, opID string) map[string]any {
	t.Helper()
	return waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, name, opID)
		return p, p["status"] != "RUNNING"
	})
}

func gkeManifest(name string) map[string]any {
	return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sCluster", "spec": map[string]any{
		"clusterName": name, "provider": "gcp", "region": "us-central1",
		"provisioner": map[string]any{"type": "gke", "gke": map[string]any{"projectId": "my-project-123456", "credentials": map[string]any{"type": "dynamic"}}},
		"clusterSpec": map[string]any{"dataPlane": map[string]any{"nodeGroups": []any{map[string]any{
			"name": "default-pool", "minNode": 1, "maxNode": 5, "instanceType": "ondemand", "machineTypes": []any{"e2-standard-2"},
			"labels": map[string]any{"environment": "dev"}}}}},
	}}
}

func aksManifest(name string) map[string]any {
	return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sCluster", "spec": map[string]any{
		"clusterName": name, "provider": "azure", "region": "eastus",
		"provisioner": map[string]any{"type": "aks", "aks": map[string]any{
			"subscriptionId": "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "resourceGroup": "rg-astro", "credentials": map[string]any{"type": "dynamic"}}},
		"clusterSpec": map[string]any{"dataPlane": map[string]any{"nodeGroups": []any{map[string]any{
			"name": "systempool", "minNode": 2, "maxNode": 5, "instanceType": "ondemand", "machineTypes": []any{"Standard_D2s_v7"},
			"labels": map[string]any{"environment": "dev"}}}}},
	}}
}

func withTags(m map[string]any, tags map[string]any) map[string]any {
	m["spec"].(map[string]any)["tags"] = tags
	return m
}

func deploy(t *testing.T, e *env, manifest map[string]any, headers ...string) string {
	t.Helper()
	a := e.do(http.MethodPost, "/api/v1/clusters", e.key, manifest, headers...)
	if a.Status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", a.Status, a.Body)
	}
	return e.data(a)["operationId"].(string)
}

// TestClusterLifecycleThroughTheRealAPI drives the three example manifests through
// deploy, progress, history, list, spec, update and delete on a real dev server.
func TestClusterLifecycleThroughTheRealAPI(t *testing.T) {
	e := liveEnv(t, 0)
	if a := e.do(http.MethodGet, "/readyz", "", nil); a.Status != http.StatusOK {
		t.Fatalf("readyz: %d %s", a.Status, a.Body)
	}
	static := eksManifest("prod")
	static["spec"].(map[string]any)["provisioner"].(map[string]any)["eks"].(map[string]any)["credentials"] =
		map[string]any{"type": "static", "data": map[string]any{"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "s3cr3t-value"}}
	ops := map[string]string{
		"prod":      deploy(t, e, static, "Idempotency-Key", "deploy-prod-1"),
		"analytics": deploy(t, e, gkeManifest("analytics")),
		"payments":  deploy(t, e, aksManifest("payments")),
	}
	for name, opID := range ops {
		if !strings.HasPrefix(opID, "acme."+name+".deploy.") {
			t.Fatalf("operation ID %q does not name org, cluster and type", opID)
		}
	}

	// Idempotency: the same request is the same operation; another body is a 422;
	// the same name without a key is a 409.
	if again := e.do(http.MethodPost, "/api/v1/clusters", e.key, static, "Idempotency-Key", "deploy-prod-1"); again.Status != http.StatusAccepted || e.data(again)["operationId"] != ops["prod"] {
		t.Fatalf("repeated deploy: %d %s", again.Status, again.Body)
	}
	if other := e.do(http.MethodPost, "/api/v1/clusters", e.key, gkeManifest("other"), "Idempotency-Key", "deploy-prod-1"); other.Status != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other body: %d %s", other.Status, other.Body)
	}
	if dup := e.do(http.MethodPost, "/api/v1/clusters", e.key, gkeManifest("analytics")); dup.Status != http.StatusConflict {
		t.Fatalf("duplicate name: %d %s", dup.Status, dup.Body)
	}

	for name, opID := range ops {
		c := e.waitStatus(t, name, "READY", "FAILED")
		if c["status"] != "READY" || c["lastOperationId"] != opID {
			t.Fatalf("%s after deploy: %v", name, c)
		}
		p := e.settledProgress(t, name, opID)
		if p["status"] != "SUCCEEDED" || p["percent"] != float64(100) || len(p["steps"].([]any)) != len(workflows.DeploySteps) {
			t.Fatalf("%s progress: %v", name, p)
		}
	}

	// No secret reaches a workflow's input or history.
	for name, opID := range ops {
		scanHistory(t, e, opID, "s3cr3t", "AKIAEXAMPLE")
		recordHistory(t, e.tc, opID, "deploy-"+name)
	}

	// The spec comes back without the static credentials.
	a := e.do(http.MethodGet, "/api/v1/clusters/prod/spec", e.key, nil)
	if a.Status != http.StatusOK || strings.Contains(string(a.Body), "s3cr3t") || strings.Contains(string(a.Body), "AKIAEXAMPLE") {
		t.Fatalf("spec leaks credentials or fails: %d %s", a.Status, a.Body)
	}
	if strings.Contains(e.logs.String(), "s3cr3t") {
		t.Fatal("credentials in the logs")
	}

	// List progress comes from visibility, which is eventually consistent.
	waitFor(t, 10*time.Second, func() (string, bool) {
		a := e.do(http.MethodGet, "/api/v1/cluster-progress?operationType=deploy&status=SUCCEEDED", e.key, nil)
		items := e.data(a)["items"].([]any)
		return string(a.Body), len(items) == 3
	})
	for _, it := range e.data(e.do(http.MethodGet, "/api/v1/cluster-progress?operationType=deploy", e.key, nil))["items"].([]any) {
		item := it.(map[string]any)
		if item["phase"] != "done" || item["percent"] != float64(100) || len(item["steps"].([]any)) < 5 || item["clusterId"] == nil {
			t.Fatalf("listed operation without its progress (phase, percent, steps, cluster): %v", item)
		}
	}
	page := e.data(e.do(http.MethodGet, "/api/v1/cluster-progress?limit=2", e.key, nil))
	if len(page["items"].([]any)) != 2 || page["nextPageToken"] == nil {
		t.Fatalf("first page: %v", page)
	}
	page = e.data(e.do(http.MethodGet, "/api/v1/cluster-progress?limit=2&pageToken="+page["nextPageToken"].(string), e.key, nil))
	if len(page["items"].([]any)) != 1 {
		t.Fatalf("second page: %v", page)
	}

	// Update: the dry run answers the plan; the real one upgrades one minor.
	update := map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{
		"kubernetesVersion": "1.32",
		"nodeGroups":        []any{map[string]any{"name": "default-pool", "minNode": 2, "maxNode": 10, "labels": map[string]any{"environment": "production"}}},
		"updateConfig":      map[string]any{"maxUnavailable": "1", "maxSurge": "1", "dryRun": true},
		"tags":              map[string]any{"team": "platform"},
	}}
	dry := e.do(http.MethodPut, "/api/v1/clusters/prod", e.key, update)
	var plan map[string]any
	must(t, json.Unmarshal(dry.Body, &plan))
	if dry.Status != http.StatusOK || plan["validationPassed"] != true || plan["operationId"] != nil {
		t.Fatalf("dry-run update: %d %s", dry.Status, dry.Body)
	}
	if steps := plan["upgradePlan"].(map[string]any)["steps"].([]any); len(steps) < 4 {
		t.Fatalf("plan steps: %v", steps)
	}
	update["spec"].(map[string]any)["updateConfig"].(map[string]any)["dryRun"] = false
	real := e.do(http.MethodPut, "/api/v1/clusters/prod", e.key, update)
	plan = nil
	must(t, json.Unmarshal(real.Body, &plan))
	if real.Status != http.StatusAccepted || plan["operationId"] == nil {
		t.Fatalf("update: %d %s", real.Status, real.Body)
	}
	updateOp := plan["operationId"].(string)
	waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, "prod", updateOp)
		return p, p["status"] == "SUCCEEDED"
	})
	c := e.waitStatus(t, "prod", "READY")
	if c["kubernetesVersion"] != "1.32" {
		t.Fatalf("after update: %v", c)
	}
	recordHistory(t, e.tc, updateOp, "update-prod")
	// A blocked (non-dry-run) update is a 400 naming why.
	downgrade := map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{"kubernetesVersion": "1.30"}}
	if a := e.do(http.MethodPut, "/api/v1/clusters/prod", e.key, downgrade); a.Status != http.StatusBadRequest {
		t.Fatalf("downgrade without allowDowngrade: %d %s", a.Status, a.Body)
	}

	// Delete: DELETED, kept for history, name free again.
	a = e.do(http.MethodDelete, "/api/v1/clusters/analytics", e.key, nil)
	if a.Status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	deleteOp, analyticsID := e.data(a)["operationId"].(string), e.data(a)["clusterId"].(string)
	waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, analyticsID, deleteOp)
		return p, p["status"] == "SUCCEEDED"
	})
	recordHistory(t, e.tc, deleteOp, "delete-analytics")
	a = e.do(http.MethodGet, "/api/v1/clusters/analytics", e.key, nil)
	if a.Status != http.StatusNotFound {
		t.Fatalf("deleted cluster by name: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/clusters/analytics/history?provider=gcp&provisionerType=gke&accountId=my-project-123456&region=us-central1", e.key, nil)
	if a.Status != http.StatusOK || len(e.data(a)["operations"].([]any)) != 2 {
		t.Fatalf("history of the deleted cluster: %d %s", a.Status, a.Body)
	}
	redeploy := deploy(t, e, gkeManifest("analytics"))
	if c := e.waitStatus(t, "analytics", "READY"); c["lastOperationId"] != redeploy {
		t.Fatalf("redeployed: %v", c)
	}

	// History pages through the cluster's operations, newest first.
	h := e.data(e.do(http.MethodGet, "/api/v1/clusters/prod/history?limit=1", e.key, nil))
	first := h["operations"].([]any)
	if len(first) != 1 || first[0].(map[string]any)["operationId"] != updateOp || h["nextPageToken"] == nil {
		t.Fatalf("history page 1: %v", h)
	}
	h = e.data(e.do(http.MethodGet, "/api/v1/clusters/prod/history?limit=1&pageToken="+h["nextPageToken"].(string), e.key, nil))
	if ops := h["operations"].([]any); len(ops) != 1 || ops[0].(map[string]any)["operationId"] != ops0(ops, "prod", "deploy") {
		t.Fatalf("history page 2: %v", h)
	}
}

func ops0(ops []any, _ string, opType string) any {
	if len(ops) == 0 {
		return nil
	}
	o := ops[0].(map[string]any)
	if o["operationType"] != opType {
		return nil
	}
	return o["operationId"]
}

// TestOneOperationPerCluster: while an operation runs, another is a 409 naming it;
// a stale record (its workflow never started, long ago) does not block for good.
func TestOneOperationPerCluster(t *testing.T) {
	e := liveEnv(t, 0)
	for _, name := range []string{"prod", "stale"} {
		deploy(t, e, eksManifest(name))
		e.waitStatus(t, name, "READY")
	}
	running := func(name string, age time.Duration) {
		cl, err := e.store.GetCluster(t.Context(), e.orgID, name)
		must(t, err)
		must(t, e.store.StartOperation(t.Context(), &store.Operation{ID: "acme." + name + ".update.running", OrgID: e.orgID,
			ClusterID: cl.ID, ClusterName: name, Type: "update", Status: store.OperationRunning,
			WorkflowID: "acme." + name + ".update.running", CreatedAt: time.Now().Add(-age)}))
	}
	running("prod", 0)
	for _, req := range []struct{ method, path string }{{http.MethodDelete, "/api/v1/clusters/prod"}, {http.MethodPut, "/api/v1/clusters/prod"}} {
		var body any
		if req.method == http.MethodPut {
			body = map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{"tags": map[string]any{"a": "b"}}}
		}
		a := e.do(req.method, req.path, e.key, body)
		if req.method == http.MethodPut && a.Status == http.StatusConflict {
			continue // an update is refused while the cluster is not READY or busy
		}
		if a.Status != http.StatusConflict || a.Error(t).Details["runningOperationId"] != "acme.prod.update.running" {
			t.Fatalf("%s during an update: %d %s", req.method, a.Status, a.Body)
		}
	}
	running("stale", 2*time.Minute)
	if a := e.do(http.MethodDelete, "/api/v1/clusters/stale", e.key, nil); a.Status != http.StatusAccepted {
		t.Fatalf("delete behind a stale operation: %d %s", a.Status, a.Body)
	}
}

// TestCancelAndFailureRollBack: a cancel mid-deploy and an injected failure both
// remove what was half-created, shown as compensation steps.
func TestCancelAndFailureRollBack(t *testing.T) {
	e := liveEnv(t, 0)

	// The node groups step is held until the cancel: it lands there however slow the
	// machine, after the network and the control plane were created.
	opID := deploy(t, e, withTags(eksManifest("cancelme"), map[string]any{sim.TagHoldStep: workflows.StepNodeGroups}))
	waitFor(t, 20*time.Second, func() (any, bool) {
		p := e.progress(t, "cancelme", opID)
		return p["phase"], p["phase"] == workflows.StepNodeGroups
	})
	a := e.do(http.MethodPost, "/api/v1/clusters/cancelme/cancel", e.key, nil)
	if a.Status != http.StatusOK || e.data(a)["operationId"] != opID {
		t.Fatalf("cancel: %d %s", a.Status, a.Body)
	}
	c := e.waitStatus(t, "cancelme", "CANCELLED", "READY", "FAILED")
	if c["status"] != "CANCELLED" {
		t.Fatalf("after cancel: %v", c)
	}
	p := waitFor(t, 10*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, "cancelme", opID)
		return p, p["status"] == "CANCELLED"
	})
	if n := compensations(p); n != 3 {
		t.Fatalf("cancel rolled back %d steps: %v", n, p)
	}
	recordHistory(t, e.tc, opID, "deploy-cancelled")
	if a := e.do(http.MethodPost, "/api/v1/clusters/cancelme/cancel", e.key, nil); a.Status != http.StatusConflict {
		t.Fatalf("cancel with nothing running: %d %s", a.Status, a.Body)
	}

	failOp := deploy(t, e, withTags(eksManifest("broken"), map[string]any{sim.TagFailStep: workflows.StepNodeGroups}))
	if c := e.waitStatus(t, "broken", "FAILED", "READY"); c["status"] != "FAILED" {
		t.Fatalf("injected failure: %v", c)
	}
	p = e.settledProgress(t, "broken", failOp)
	if p["status"] != "FAILED" || compensations(p) != 3 {
		t.Fatalf("failure rollback: %v", p)
	}
	recordHistory(t, e.tc, failOp, "deploy-failed")
	// A failed cluster can be deleted, which frees its name.
	a = e.do(http.MethodDelete, "/api/v1/clusters/broken", e.key, nil)
	if a.Status != http.StatusAccepted {
		t.Fatalf("delete failed cluster: %d %s", a.Status, a.Body)
	}
	waitFor(t, 20*time.Second, func() (int, bool) {
		a := e.do(http.MethodGet, "/api/v1/clusters/broken", e.key, nil)
		return a.Status, a.Status == http.StatusNotFound
	})
	recordHistory(t, e.tc, e.data(a)["operationId"].(string), "delete-after-failed-deploy")

	// A flaky step is retried and the deploy still succeeds.
	flakyOp := deploy(t, e, withTags(eksManifest("flaky"), map[string]any{sim.TagFlakyStep: workflows.StepNetwork}))
	if c := e.waitStatus(t, "flaky", "READY", "FAILED"); c["status"] != "READY" {
		t.Fatalf("flaky step: %v", c)
	}
	recordHistory(t, e.tc, flakyOp, "deploy-flaky-retried")
}

// scanHistory fails the test when any of secrets appears in the workflow's history.
func scanHistory(t *testing.T, e *env, workflowID string, secrets ...string) {
	t.Helper()
	it := e.tc.GetWorkflowHistory(t.Context(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		raw := ev.String()
		for _, s := range secrets {
			if strings.Contains(raw, s) {
				t.Fatalf("secret %q in the history of %s (event %s)", s, workflowID, ev.EventType)
			}
		}
	}
}

func compensations(p map[string]any) int {
	n := 0
	for _, s := range p["steps"].([]any) {
		st := s.(map[string]any)
		if d, ok := st["detail"].(map[string]any); ok && d["compensation"] == true && st["status"] == "SUCCEEDED" {
			n++
		}
	}
	return n
}

// TestProgressStream follows a deploy over the WebSocket: several progress events as
// steps advance, then the terminal state; without a key the upgrade is refused.
func TestProgressStream(t *testing.T) {
	// Steps slow enough (a deploy takes seconds) that a loaded machine still connects
	// before most of them are done.
	e := liveEnv(t, 400*time.Millisecond)
	srv := httptest.NewServer(e.srv)
	t.Cleanup(srv.Close)
	opID := deploy(t, e, eksManifest("streamed"))
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/clusters/streamed/progress/stream?operationId=" + opID

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, resp, err := websocket.Dial(ctx, url, nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unauthenticated stream: err=%v resp=%v", err, resp)
	}
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{httpx.HeaderAPIKey: {e.key}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	var phases []string
	for {
		var ev struct {
			Type     string         `json:"type"`
			Progress map[string]any `json:"progress"`
			Error    string         `json:"error"`
		}
		if err := wsjson.Read(ctx, conn, &ev); err != nil {
			t.Fatalf("read after %v: %v", phases, err)
		}
		if ev.Type == "error" {
			t.Fatalf("stream error: %s", ev.Error)
		}
		phases = append(phases, ev.Progress["phase"].(string))
		if ev.Type == "completed" {
			if ev.Progress["status"] != "SUCCEEDED" {
				t.Fatalf("terminal event %v", ev.Progress)
			}
			break
		}
	}
	if len(phases) < 5 {
		t.Fatalf("only %d events (%v): changes were not pushed as they happened", len(phases), phases)
	}
}
