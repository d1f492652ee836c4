package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// TestSpecShowsTheClusterAsItIsNow: after an update (version, node group sizes,
// labels, taints, a new node group, tags), GET …/spec shows the cluster as the
// update left it, not as it was first deployed, and still without credentials.
func TestSpecShowsTheClusterAsItIsNow(t *testing.T) {
	e := liveEnv(t, 0)
	deploy(t, e, eksManifest("grown"))
	e.waitStatus(t, "grown", "READY")

	update := map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{
		"kubernetesVersion": "1.32",
		"nodeGroups": []any{
			map[string]any{"name": "default-pool", "minNode": 2, "maxNode": 6,
				"labels": map[string]any{"environment": "production"},
				"taints": []any{map[string]any{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}}},
			map[string]any{"name": "batch", "minNode": 0, "maxNode": 4, "machineTypes": []any{"t3.large"}},
		},
		"tags": map[string]any{"team": "platform"},
	}}
	a := e.do(http.MethodPut, "/api/v1/clusters/grown", e.key, update)
	if a.Status != http.StatusAccepted {
		t.Fatalf("update: %d %s", a.Status, a.Body)
	}
	var started map[string]any // the update's answer is not enveloped
	must(t, json.Unmarshal(a.Body, &started))
	opID, _ := started["operationId"].(string)
	if p := waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, "grown", opID)
		return p, p["status"] != "RUNNING"
	}); p["status"] != "SUCCEEDED" {
		t.Fatalf("update ended %v", p)
	}

	a = e.do(http.MethodGet, "/api/v1/clusters/grown/spec", e.key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("spec: %d %s", a.Status, a.Body)
	}
	spec := e.data(a)
	if spec["kubernetesVersion"] != "1.32" {
		t.Errorf("kubernetesVersion %v, want 1.32: %s", spec["kubernetesVersion"], a.Body)
	}
	if tags, _ := spec["tags"].(map[string]any); tags["team"] != "platform" {
		t.Errorf("tags %v, want team=platform", spec["tags"])
	}
	groups := spec["clusterSpec"].(map[string]any)["dataPlane"].(map[string]any)["nodeGroups"].([]any)
	if len(groups) != 2 {
		t.Fatalf("node groups %v, want default-pool and batch", groups)
	}
	pool, batch := groups[0].(map[string]any), groups[1].(map[string]any)
	if pool["name"] != "default-pool" || pool["minNode"] != float64(2) || pool["maxNode"] != float64(6) {
		t.Errorf("default-pool %v, want 2-6 nodes", pool)
	}
	if labels, _ := pool["labels"].(map[string]any); labels["environment"] != "production" {
		t.Errorf("default-pool labels %v", pool["labels"])
	}
	if taints, _ := pool["taints"].([]any); len(taints) != 1 || taints[0].(map[string]any)["key"] != "dedicated" ||
		taints[0].(map[string]any)["effect"] != "NoSchedule" {
		t.Errorf("default-pool taints %v", pool["taints"])
	}
	if batch["name"] != "batch" || batch["maxNode"] != float64(4) || batch["machineTypes"].([]any)[0] != "t3.large" {
		t.Errorf("batch %v", batch)
	}
	// The parts no update changes are as deployed.
	if spec["clusterName"] != "grown" || spec["region"] != "us-east-1" ||
		spec["provisioner"].(map[string]any)["eks"].(map[string]any)["accountId"] != "123456789012" {
		t.Errorf("spec lost what the update did not change: %s", a.Body)
	}
}
