package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestClusterSettingsUpdateShowsInSpec: an update of cluster settings (GKE release
// channel, authorized networks, maintenance window, image type; the EKS AMI family) is
// planned as a cluster-settings step, which dry runs and reports list, runs on the
// provider, and GET …/spec then shows what the manifest has room for.
func TestClusterSettingsUpdateShowsInSpec(t *testing.T) {
	e := liveEnv(t, 0)
	deploy(t, e, gkeManifest("tuned"))
	deploy(t, e, eksManifest("imaged"))
	e.waitStatus(t, "tuned", "READY")
	e.waitStatus(t, "imaged", "READY")

	update := func(cluster string, spec map[string]any) map[string]any {
		t.Helper()
		body := map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate", "spec": spec}
		a := e.do(http.MethodPut, "/api/v1/clusters/"+cluster, e.key, body)
		var answer map[string]any // the update's answer is not enveloped
		must(t, json.Unmarshal(a.Body, &answer))
		if want := http.StatusAccepted; spec["generateReport"] == true {
			if a.Status != http.StatusOK {
				t.Fatalf("report: %d %s", a.Status, a.Body)
			}
		} else if a.Status != want {
			t.Fatalf("update: %d %s", a.Status, a.Body)
		}
		return answer
	}
	lastStep := func(answer map[string]any) map[string]any {
		steps := answer["upgradePlan"].(map[string]any)["steps"].([]any)
		return steps[len(steps)-1].(map[string]any)
	}
	finish := func(cluster string, answer map[string]any) {
		t.Helper()
		opID, _ := answer["operationId"].(string)
		if p := waitFor(t, 30*time.Second, func() (map[string]any, bool) {
			p := e.progress(t, cluster, opID)
			return p, p["status"] != "RUNNING"
		}); p["status"] != "SUCCEEDED" {
			t.Fatalf("update ended %v", p)
		}
	}
	spec := func(cluster string) map[string]any {
		t.Helper()
		a := e.do(http.MethodGet, "/api/v1/clusters/"+cluster+"/spec", e.key, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("spec: %d %s", a.Status, a.Body)
		}
		return e.data(a)
	}

	gke := map[string]any{"gke": map[string]any{"releaseChannel": "RAPID", "authorizedNetworks": []any{"10.0.0.0/8"},
		"maintenanceWindow": map[string]any{"startTime": "03:00", "duration": "4h"}, "imageType": "UBUNTU_CONTAINERD"}}
	report := update("tuned", map[string]any{"gke": gke["gke"], "generateReport": true})
	if s := lastStep(report); s["kind"] != "cluster-settings" || s["order"] != float64(1) || s["disruptive"] != true {
		t.Fatalf("report's plan %v, want a disruptive cluster-settings step", report["upgradePlan"])
	}
	if changes := fmt.Sprint(report["upgradeReport"].(map[string]any)["changes"]); changes !=
		"[spec.gke.releaseChannel: STABLE → RAPID spec.gke.maintenanceWindow: none → 03:00 UTC for 4h spec.gke.authorizedNetworks: [] → [10.0.0.0/8] spec.gke.imageType: default → UBUNTU_CONTAINERD]" {
		t.Fatalf("report's changes %s", changes)
	}
	finish("tuned", update("tuned", gke))
	g := spec("tuned")["provisioner"].(map[string]any)["gke"].(map[string]any)
	if g["releaseChannel"] != "RAPID" || fmt.Sprint(g["authorizedNetworks"]) != "[10.0.0.0/8]" || g["projectId"] != "my-project-123456" {
		t.Fatalf("gke provisioner after the update: %v", g)
	}
	// Recorded: the same settings again plan nothing.
	if again := update("tuned", map[string]any{"gke": gke["gke"], "generateReport": true}); len(again["upgradePlan"].(map[string]any)["steps"].([]any)) != 0 {
		t.Fatalf("the same settings planned %v", again["upgradePlan"])
	}

	answer := update("imaged", map[string]any{"eks": map[string]any{"amiFamily": "Bottlerocket"}})
	if s := lastStep(answer); s["kind"] != "cluster-settings" {
		t.Fatalf("plan %v, want the family recorded by a cluster-settings step last", answer["upgradePlan"])
	}
	finish("imaged", answer)
	if ek := spec("imaged")["provisioner"].(map[string]any)["eks"].(map[string]any); ek["amiFamily"] != "Bottlerocket" || ek["accountId"] != "123456789012" {
		t.Fatalf("eks provisioner after the update: %v", ek)
	}
}
