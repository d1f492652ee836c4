package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// A region, machine type or version the catalog does not list but that may be real is
// no reason to refuse a deploy: the dry run passes with a warning naming the field,
// and the deploy starts, saying so in its message. Another provider's names stay
// faults.
func TestCatalogMissesAreWarnedNotRefused(t *testing.T) {
	e := liveEnv(t, 0)
	m := eksManifest("newer")
	spec := m["spec"].(map[string]any)
	spec["region"] = "ap-southeast-7"
	spec["kubernetesVersion"] = "1.99"

	dry := e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", e.key, m)
	if dry.Status != http.StatusOK {
		t.Fatalf("dry run: %d %s", dry.Status, dry.Body)
	}
	v := e.data(dry)
	if v["validationPassed"] != true {
		t.Fatalf("dry run refused what the catalog only lacks: %s", dry.Body)
	}
	var warned []string
	for _, w := range v["warnings"].([]any) {
		warned = append(warned, w.(string))
	}
	for _, field := range []string{"spec.region: ", "spec.kubernetesVersion: "} {
		if !strings.Contains(strings.Join(warned, "\n"), field) {
			t.Errorf("no warning on %s in %v", field, warned)
		}
	}

	real := e.do(http.MethodPost, "/api/v1/clusters", e.key, m)
	if real.Status != http.StatusAccepted || !strings.Contains(real.Envelope(t).Message, "ap-southeast-7") {
		t.Fatalf("deploy: %d %s", real.Status, real.Body)
	}

	spec["region"] = "us-central1" // a GCP region on AWS: wrong whatever the catalog says
	if a := e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", e.key, m); a.Status != http.StatusBadRequest || a.Error(t).Details["spec.region"] == nil {
		t.Fatalf("another provider's region: %d %s", a.Status, a.Body)
	}
}

// An update to a machine type the catalog does not list is planned, with a warning.
func TestUpdateWarnsAboutCatalogMisses(t *testing.T) {
	e := liveEnv(t, 0)
	deploy(t, e, eksManifest("grow"))
	e.waitStatus(t, "grow", "READY")
	update := map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": map[string]any{
		"nodeGroups":   []any{map[string]any{"name": "default-pool", "machineTypes": []any{"m9i.48xlarge"}}},
		"updateConfig": map[string]any{"dryRun": true},
	}}
	a := e.do(http.MethodPut, "/api/v1/clusters/grow", e.key, update)
	if a.Status != http.StatusOK {
		t.Fatalf("dry-run update: %d %s", a.Status, a.Body)
	}
	var plan map[string]any
	must(t, json.Unmarshal(a.Body, &plan))
	warnings, _ := json.Marshal(plan["warnings"])
	if plan["validationPassed"] != true || !strings.Contains(string(warnings), "spec.nodeGroups.0.machineTypes.0: ") {
		t.Fatalf("update to a machine type the catalog lacks: %s", a.Body)
	}
}
