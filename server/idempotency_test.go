package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// opField reads a field of a change's answer: the envelope's data (deploy, delete)
// or the update result itself.
func opField(t *testing.T, a answer, name string) string {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(a.Body, &body); err != nil {
		t.Fatalf("decode %s: %v", a.Body, err)
	}
	if d, ok := body["data"].(map[string]any); ok {
		body = d
	}
	v, _ := body[name].(string)
	return v
}

func tagsUpdate(tags map[string]any) map[string]any {
	return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{"tags": tags}}
}

// TestSecondChangeWhileAWorkflowRuns: while a real workflow runs on the cluster (an
// update held at its approval gate on the dev server, not a row in the store), a
// delete and another update are each a 409 naming it; once it has ended, the cluster
// takes changes again.
func TestSecondChangeWhileAWorkflowRuns(t *testing.T) {
	e := liveEnv(t, 0)
	deploy(t, e, eksManifest("busy"))
	e.waitStatus(t, "busy", "READY")
	if a := e.do(http.MethodPut, "/api/v1/approval-policy", e.key, map[string]any{"operations": []any{"update", "delete"}, "expiresIn": "1h"}); a.Status != http.StatusOK {
		t.Fatalf("policy: %d %s", a.Status, a.Body)
	}
	a := e.do(http.MethodPut, "/api/v1/clusters/busy", e.key, tagsUpdate(map[string]any{"team": "one"}))
	if a.Status != http.StatusAccepted {
		t.Fatalf("update: %d %s", a.Status, a.Body)
	}
	running, clusterID := opField(t, a, "operationId"), opField(t, a, "clusterId")
	waitFor(t, 30*time.Second, func() (any, bool) {
		p := e.progress(t, "busy", running)
		return p["status"], p["status"] == workflows.StatusWaitingForApproval
	})
	desc, err := e.tc.DescribeWorkflow(t.Context(), running, "")
	must(t, err)
	if st := desc.RawResponse.WorkflowExecutionInfo.Status.String(); st != "Running" {
		t.Fatalf("the update's workflow is %s, want Running", st)
	}

	for _, req := range []struct {
		method string
		body   any
	}{
		{http.MethodDelete, nil},
		{http.MethodPut, tagsUpdate(map[string]any{"team": "two"})},
		{http.MethodDelete, nil}, // again: the first 409 closed nothing
	} {
		a := e.do(req.method, "/api/v1/clusters/busy", e.key, req.body)
		if a.Status != http.StatusConflict {
			t.Fatalf("%s while %s runs: %d %s", req.method, running, a.Status, a.Body)
		}
		env := a.Error(t)
		if env.Details["runningOperationId"] != running || env.Details["runningOperationType"] != workflows.OpUpdate {
			t.Fatalf("%s while %s runs: the 409 does not name it: %s", req.method, running, a.Body)
		}
	}
	ops, _, err := e.store.ListOperations(t.Context(), e.orgID, clusterID, "", 100)
	must(t, err)
	if len(ops) != 2 {
		t.Fatalf("operations recorded: %d, want the deploy and the update", len(ops))
	}

	// Once it has ended (cancelled at the gate), the cluster takes a change again.
	if a := e.do(http.MethodPost, "/api/v1/clusters/busy/cancel", e.key, nil); a.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", a.Status, a.Body)
	}
	waitFor(t, 30*time.Second, func() (any, bool) {
		_, err := e.store.RunningOperation(t.Context(), e.orgID, clusterID)
		return err, err != nil
	})
	if a := e.do(http.MethodDelete, "/api/v1/clusters/busy", e.key, nil); a.Status != http.StatusAccepted {
		t.Fatalf("delete after the update ended: %d %s", a.Status, a.Body)
	}
}

// concurrently sends n copies of one request at once through the real router, runs
// inFlight (when not nil) while they are, and returns the answers, each checked
// against the contract.
func (e *env) concurrently(t *testing.T, n int, method, path string, body any, inFlight func(), headers ...string) []answer {
	t.Helper()
	raw, err := json.Marshal(body)
	must(t, err)
	reqs, answers := make([]*http.Request, n), make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		req := httptest.NewRequest(method, path, bytes.NewReader(raw))
		if body == nil {
			req = httptest.NewRequest(method, path, nil)
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set(httpx.HeaderAPIKey, e.key)
		for j := 0; j+1 < len(headers); j += 2 {
			req.Header.Set(headers[j], headers[j+1])
		}
		reqs[i] = req
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, req)
			answers[i] = answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		}()
	}
	close(start)
	if inFlight != nil {
		inFlight()
	}
	wg.Wait()
	for i := range answers {
		checkAnswer(t, reqs[i], answers[i])
	}
	return answers
}

// sameOperation fails unless every answer is a 202 naming one operation, and returns it.
func sameOperation(t *testing.T, e *env, what string, answers []answer) string {
	t.Helper()
	ids := map[string]int{}
	for _, a := range answers {
		if a.Status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", what, a.Status, a.Body)
		}
		ids[opField(t, a, "operationId")]++
	}
	if len(ids) != 1 {
		t.Fatalf("%s: %d answers named %d operations: %v", what, len(answers), len(ids), ids)
	}
	for id := range ids {
		return id
	}
	return ""
}

// workflowsOf lists the workflows Temporal visibility holds for one cluster of org.
func workflowsOf(t *testing.T, e *env, orgID, cluster string) []string {
	t.Helper()
	resp, err := e.tc.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("%s = '%s' AND %s = '%s'", workflows.AttrOrgID.GetName(), orgID, workflows.AttrClusterName.GetName(), cluster)})
	must(t, err)
	var ids []string
	for _, ex := range resp.Executions {
		ids = append(ids, ex.Execution.GetWorkflowId())
	}
	return ids
}

// TestConcurrentRequestsWithOneIdempotencyKey: ten deploys, then ten updates, then ten
// deletes, sent at once with one Idempotency-Key each and all held at the insert (so
// each found the key unused), start one workflow each, and all ten answers name it.
func TestConcurrentRequestsWithOneIdempotencyKey(t *testing.T) {
	e, dbPath := liveEnvAt(t)
	const n = 10
	deployOp := sameOperation(t, e, "concurrent deploys", e.raceAtTheInsert(t, dbPath, n,
		[]string{"(*Server).DeployCluster(", "(*Store).InTx("}, http.MethodPost, "/api/v1/clusters", eksManifest("twin"), "Idempotency-Key", "twin-deploy"))
	c := e.waitStatus(t, "twin", "READY", "FAILED")
	if c["status"] != "READY" || c["lastOperationId"] != deployOp {
		t.Fatalf("after the deploys: %v", c)
	}
	clusterID := c["id"].(string)
	updateOp := sameOperation(t, e, "concurrent updates", e.raceAtTheInsert(t, dbPath, n,
		[]string{"(*Server).UpdateCluster(", "(*Store).StartOperation("}, http.MethodPut, "/api/v1/clusters/twin", tagsUpdate(map[string]any{"team": "twins"}), "Idempotency-Key", "twin-update"))
	waitFor(t, 30*time.Second, func() (any, bool) {
		p := e.progress(t, clusterID, updateOp)
		return p["status"], p["status"] == workflows.StatusSucceeded
	})
	e.waitStatus(t, "twin", "READY")
	deleteOp := sameOperation(t, e, "concurrent deletes", e.raceAtTheInsert(t, dbPath, n,
		[]string{"(*Server).DeleteCluster(", "(*Store).StartOperation("}, http.MethodDelete, "/api/v1/clusters/twin", nil, "Idempotency-Key", "twin-delete"))
	waitFor(t, 30*time.Second, func() (any, bool) {
		p := e.progress(t, clusterID, deleteOp)
		return p["status"], p["status"] == workflows.StatusSucceeded
	})

	// The store recorded three operations, and Temporal ran three workflows: all have
	// ended, so visibility has caught up with every start before them.
	ops, _, err := e.store.ListOperations(t.Context(), e.orgID, clusterID, "", 100)
	must(t, err)
	if len(ops) != 3 {
		t.Fatalf("operations recorded: %v", ops)
	}
	got := waitFor(t, 20*time.Second, func() ([]string, bool) {
		ids := workflowsOf(t, e, e.orgID, "twin")
		return ids, len(ids) >= 3
	})
	slices.Sort(got)
	want := []string{deleteOp, deployOp, updateOp}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("workflows of cluster twin: %v, want %v", got, want)
	}
}

// TestUpdateAndDeleteHonourIdempotencyKey: a repeated update or delete is answered with
// the first operation — while it runs and after it has ended (the cluster updated, or
// deleted and gone) — and the same key with another request is a 422.
func TestUpdateAndDeleteHonourIdempotencyKey(t *testing.T) {
	e := liveEnv(t, 20*time.Millisecond)
	for _, name := range []string{"idem", "spare"} {
		deploy(t, e, eksManifest(name))
		e.waitStatus(t, name, "READY")
	}
	update := tagsUpdate(map[string]any{"team": "platform"})
	key := []string{"Idempotency-Key", "update-idem-1"}
	a := e.do(http.MethodPut, "/api/v1/clusters/idem", e.key, update, key...)
	if a.Status != http.StatusAccepted {
		t.Fatalf("update: %d %s", a.Status, a.Body)
	}
	updateOp, clusterID := opField(t, a, "operationId"), opField(t, a, "clusterId")
	repeat := func(what, method, path string, body any, key []string, want string) {
		t.Helper()
		a := e.do(method, path, e.key, body, key...)
		if a.Status != http.StatusAccepted || opField(t, a, "operationId") != want {
			t.Fatalf("%s: %d %s, want 202 naming %s", what, a.Status, a.Body, want)
		}
	}
	otherRequest := func(what, method, path string, body any, key []string) {
		t.Helper()
		a := e.do(method, path, e.key, body, key...)
		if a.Status != http.StatusUnprocessableEntity || a.Error(t).Details["header.Idempotency-Key"] == nil {
			t.Fatalf("%s: %d %s, want 422 naming header.Idempotency-Key", what, a.Status, a.Body)
		}
	}
	repeat("update repeated at once", http.MethodPut, "/api/v1/clusters/idem", update, key, updateOp)
	otherRequest("same key, other update", http.MethodPut, "/api/v1/clusters/idem", tagsUpdate(map[string]any{"team": "other"}), key)
	otherRequest("same key, other cluster", http.MethodPut, "/api/v1/clusters/spare", update, key)
	waitFor(t, 30*time.Second, func() (any, bool) {
		p := e.progress(t, "idem", updateOp)
		return p["status"], p["status"] == workflows.StatusSucceeded
	})
	e.waitStatus(t, "idem", "READY")
	// Now the tags are set, the same update would plan nothing: the repeat still
	// names the operation that set them.
	repeat("update repeated after it ended", http.MethodPut, "/api/v1/clusters/idem", update, key, updateOp)

	delKey := []string{"Idempotency-Key", "delete-idem-1"}
	a = e.do(http.MethodDelete, "/api/v1/clusters/idem", e.key, nil, delKey...)
	if a.Status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	deleteOp := opField(t, a, "operationId")
	repeat("delete repeated at once", http.MethodDelete, "/api/v1/clusters/idem", nil, delKey, deleteOp)
	otherRequest("same key, delete of another cluster", http.MethodDelete, "/api/v1/clusters/spare", nil, delKey)
	otherRequest("the update's key on a delete", http.MethodDelete, "/api/v1/clusters/idem", nil, key)
	waitFor(t, 30*time.Second, func() (any, bool) {
		p := e.progress(t, clusterID, deleteOp)
		return p["status"], p["status"] == workflows.StatusSucceeded
	})
	// The cluster is gone by name; the repeated delete still names its operation.
	if a := e.do(http.MethodDelete, "/api/v1/clusters/idem", e.key, nil); a.Status != http.StatusNotFound {
		t.Fatalf("delete of a deleted cluster without a key: %d %s", a.Status, a.Body)
	}
	repeat("delete repeated after the cluster is gone", http.MethodDelete, "/api/v1/clusters/idem", nil, delKey, deleteOp)

	ops, _, err := e.store.ListOperations(t.Context(), e.orgID, clusterID, "", 100)
	must(t, err)
	if len(ops) != 3 {
		t.Fatalf("operations of idem: %d, want deploy, update and delete", len(ops))
	}
	if spare, err := e.store.GetCluster(t.Context(), e.orgID, "spare"); err != nil || spare.Status != store.ClusterReady {
		t.Fatalf("spare after refused requests: %v %v", spare.Status, err)
	}
}
