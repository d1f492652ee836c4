package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestADeleteCanBeFollowedToItsEnd: after the cluster is gone, its delete still
// answers progress by the cluster's name with its operationId, the operation list and
// the history by name show it; progress without operationId says the cluster was
// deleted and by which operation (410), not a bare 404.
func TestADeleteCanBeFollowedToItsEnd(t *testing.T) {
	e := liveEnv(t, 0)
	deploy(t, e, eksManifest("gone"))
	e.waitStatus(t, "gone", "READY")
	a := e.do(http.MethodDelete, "/api/v1/clusters/gone", e.key, nil)
	if a.Status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	deleteOp := e.data(a)["operationId"].(string)
	waitFor(t, 30*time.Second, func() (int, bool) {
		a := e.do(http.MethodGet, "/api/v1/clusters/gone", e.key, nil)
		return a.Status, a.Status == http.StatusNotFound
	})

	// By name, with the delete's operationId: the terminal state.
	p := waitFor(t, 10*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, "gone", deleteOp)
		return p, p["status"] != "RUNNING"
	})
	if p["status"] != "SUCCEEDED" || p["percent"] != float64(100) || p["operationType"] != "delete" || p["clusterName"] != "gone" {
		t.Fatalf("progress of the finished delete: %v", p)
	}

	// By name, without operationId: 410 naming the delete and when it ended.
	a = e.do(http.MethodGet, "/api/v1/clusters/gone/progress", e.key, nil)
	if a.Status != http.StatusGone {
		t.Fatalf("progress of a deleted cluster: %d %s", a.Status, a.Body)
	}
	env := a.Error(t)
	if env.Code != "CLUSTER_DELETED" || env.Details["operationId"] != deleteOp || env.Details["deletedAt"] == nil ||
		!strings.Contains(env.Error, deleteOp) {
		t.Fatalf("410 does not name the delete: %s", a.Body)
	}

	// An operation ID of another cluster is still a 404.
	if a := e.do(http.MethodGet, "/api/v1/clusters/other/progress?operationId="+deleteOp, e.key, nil); a.Status != http.StatusNotFound {
		t.Fatalf("foreign operation: %d %s", a.Status, a.Body)
	}

	// The operation list (Temporal visibility, eventually consistent) shows it.
	waitFor(t, 10*time.Second, func() (string, bool) {
		a := e.do(http.MethodGet, "/api/v1/cluster-progress?operationType=delete", e.key, nil)
		for _, it := range e.data(a)["items"].([]any) {
			item := it.(map[string]any)
			if item["operationId"] == deleteOp && item["status"] == "SUCCEEDED" && item["clusterName"] == "gone" {
				return string(a.Body), true
			}
		}
		return string(a.Body), false
	})

	// The history by name finds the deleted cluster.
	a = e.do(http.MethodGet, "/api/v1/clusters/gone/history", e.key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("history of the deleted cluster by name: %d %s", a.Status, a.Body)
	}
	ops := e.data(a)["operations"].([]any)
	if len(ops) != 2 || ops[0].(map[string]any)["operationId"] != deleteOp || ops[0].(map[string]any)["status"] != "SUCCEEDED" {
		t.Fatalf("history: %v", ops)
	}
}
