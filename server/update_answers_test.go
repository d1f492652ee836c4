package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUpdateAnswersAsDocumented drives updates on a dev server: a second change
// while an update runs is a 409 naming the running update, as for a delete; the
// cancel of an update says it stops where it is (nothing is rolled back), and of an
// operation waiting for approval that there is nothing to roll back; the 202 of an
// operation that will wait for approval says so.
func TestUpdateAnswersAsDocumented(t *testing.T) {
	e := liveEnv(t, 0)
	deploy(t, e, eksManifest("steady"))
	e.waitStatus(t, "steady", "READY")
	update := func(tags map[string]any) answer {
		return e.do(http.MethodPut, "/api/v1/clusters/steady", e.key, map[string]any{
			"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{"tags": tags}})
	}

	// An update held at its only step.
	a := update(map[string]any{"astro-sim-hold-step": "1-tags-update"})
	if a.Status != http.StatusAccepted {
		t.Fatalf("update: %d %s", a.Status, a.Body)
	}
	first := bareResult(t, a)
	opID, _ := first["operationId"].(string)
	if opID == "" || first["message"] != "update started" {
		t.Fatalf("202 of an update without approval: %s", a.Body)
	}
	waitFor(t, 30*time.Second, func() (any, bool) {
		p := e.progress(t, "steady", opID)
		return p["phase"], p["phase"] == "1-tags-update"
	})

	// A second change names the running update, like a delete does.
	for _, second := range []struct {
		method string
		body   any
	}{{http.MethodPut, map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{"tags": map[string]any{"team": "x"}}}}, {http.MethodDelete, nil}} {
		a := e.do(second.method, "/api/v1/clusters/steady", e.key, second.body)
		if a.Status != http.StatusConflict {
			t.Fatalf("%s during an update: %d %s", second.method, a.Status, a.Body)
		}
		env := a.Error(t)
		if env.Details["runningOperationId"] != opID || env.Details["runningOperationType"] != "update" || !strings.Contains(env.Error, opID) {
			t.Fatalf("%s during an update: 409 does not name the running update: %s", second.method, a.Body)
		}
	}

	// Cancelling the update: it stops where it is; nothing is rolled back.
	a = e.do(http.MethodPost, "/api/v1/clusters/steady/cancel", e.key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", a.Status, a.Body)
	}
	if m := a.Envelope(t).Message; !strings.Contains(m, "stops where it is") || !strings.Contains(m, "not rolled back") || strings.Contains(m, "rolls back") {
		t.Fatalf("cancel message of an update: %q", m)
	}
	p := waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, "steady", opID)
		return p, p["status"] == "CANCELLED"
	})
	for _, st := range p["steps"].([]any) {
		if strings.HasPrefix(st.(map[string]any)["name"].(string), "rollback-") {
			t.Fatalf("a cancelled update rolled back: %v", p["steps"])
		}
	}
	e.waitStatus(t, "steady", "READY")
	recordHistory(t, e.tc, opID, "update-cancelled")

	// With approval required, the 202 says the operation will wait; its cancel says
	// there is nothing to roll back.
	if a := e.do(http.MethodPut, "/api/v1/approval-policy", e.key, map[string]any{"operations": []any{"deploy", "update"}, "expiresIn": "1h"}); a.Status != http.StatusOK {
		t.Fatalf("policy: %d %s", a.Status, a.Body)
	}
	a = update(map[string]any{"team": "platform"})
	if a.Status != http.StatusAccepted {
		t.Fatalf("gated update: %d %s", a.Status, a.Body)
	}
	gated := bareResult(t, a)
	if m, _ := gated["message"].(string); !strings.Contains(m, "waits for approval") || !strings.Contains(m, "1h") {
		t.Fatalf("202 of an update that waits for approval: %s", a.Body)
	}
	gatedID := gated["operationId"].(string)
	waitFor(t, 30*time.Second, func() (any, bool) {
		p := e.progress(t, "steady", gatedID)
		return p["phase"], p["phase"] == "approval"
	})
	a = e.do(http.MethodPost, "/api/v1/clusters/steady/cancel", e.key, nil)
	if m := a.Envelope(t).Message; a.Status != http.StatusOK || !strings.Contains(m, "waiting for approval") || !strings.Contains(m, "nothing to roll back") {
		t.Fatalf("cancel while waiting for approval: %d %s", a.Status, a.Body)
	}
	recordHistory(t, e.tc, gatedID, "update-gated-cancelled")
	a = e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("gated"))
	if m := a.Envelope(t).Message; a.Status != http.StatusAccepted || !strings.Contains(m, "deploy started") || !strings.Contains(m, "waits for approval by a member with role admin") {
		t.Fatalf("202 of a deploy that waits for approval: %d %s", a.Status, a.Body)
	}
}

// bareResult decodes an update's answer, which is not wrapped in the envelope.
func bareResult(t *testing.T, a answer) map[string]any {
	t.Helper()
	var m map[string]any
	must(t, json.Unmarshal(a.Body, &m))
	if _, wrapped := m["data"]; wrapped {
		t.Fatalf("update answer is wrapped: %s", a.Body)
	}
	return m
}
