package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestFailedDeployIsWordedForPeople: on a dev server, a deploy whose node-groups step
// fails tells the cluster's status message, progress and history what happened (the
// step, the cause, what was rolled back) without Temporal's activity error wrapping.
func TestFailedDeployIsWordedForPeople(t *testing.T) {
	e := liveEnv(t, 0)
	opID := deploy(t, e, withTags(eksManifest("broken"), map[string]any{"astro-sim-fail-step": "node-groups"}))
	cl := e.waitStatus(t, "broken", "FAILED")
	p := e.settledProgress(t, "broken", opID)
	h := e.data(e.do(http.MethodGet, "/api/v1/clusters/broken/history", e.key, nil))
	var history string
	for _, o := range h["operations"].([]any) {
		if m, ok := o.(map[string]any)["message"].(string); ok {
			history += m
		}
	}
	for where, msg := range map[string]string{"statusMessage": cl["statusMessage"].(string), "progress": p["message"].(string), "history": history} {
		for _, bad := range []string{"activity error", "scheduledEventID", "startedEventID", "identity", "(type:", "retryable"} {
			if strings.Contains(msg, bad) {
				t.Errorf("%s %q carries Temporal's %q", where, msg, bad)
			}
		}
		if !strings.Contains(msg, "deploy failed at node-groups: ") || !strings.Contains(msg, "rolled back: removed what") {
			t.Errorf("%s %q does not say where it failed and what was undone", where, msg)
		}
	}
}
