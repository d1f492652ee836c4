package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/workflows"
)

// TestNamesOfDeploysThatLeftNothing: a cancelled deploy that removed everything it
// created does not hold its name; one whose rollback left something behind does, and
// the 409 says how to free it; dry runs report the conflict the real call would hit.
func TestNamesOfDeploysThatLeftNothing(t *testing.T) {
	e := leakyEnv(t)
	cancelAt := func(name string, tags map[string]any) string {
		t.Helper()
		tags[sim.TagHoldStep] = workflows.StepNodeGroups
		opID := deploy(t, e, withTags(eksManifest(name), tags))
		waitFor(t, 20*time.Second, func() (any, bool) {
			p := e.progress(t, name, opID)
			return p["phase"], p["phase"] == workflows.StepNodeGroups
		})
		if a := e.do(http.MethodPost, "/api/v1/clusters/"+name+"/cancel", e.key, nil); a.Status != http.StatusOK {
			t.Fatalf("cancel: %d %s", a.Status, a.Body)
		}
		e.waitStatus(t, name, "CANCELLED")
		waitFor(t, 10*time.Second, func() (any, bool) {
			p := e.progress(t, name, opID)
			return p["status"], p["status"] == "CANCELLED"
		})
		return opID
	}
	dryRun := func(name string) map[string]any {
		t.Helper()
		a := e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", e.key, eksManifest(name))
		if a.Status != http.StatusOK {
			t.Fatalf("dry run: %d %s", a.Status, a.Body)
		}
		return e.data(a)
	}

	// A READY cluster holds its name: the dry run says so, as the real call would.
	deploy(t, e, eksManifest("taken"))
	e.waitStatus(t, "taken", "READY")
	d := dryRun("taken")
	if d["validationPassed"] != false || !strings.Contains(strings.Join(toStrings(d["errors"]), " "), "already exists") {
		t.Fatalf("dry run on a taken name: %v", d)
	}
	if a := e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("taken")); a.Status != http.StatusConflict {
		t.Fatalf("deploy on a taken name: %d %s", a.Status, a.Body)
	}
	if d := dryRun("free"); d["validationPassed"] != true || len(toStrings(d["errors"])) != 0 {
		t.Fatalf("dry run on a free name: %v", d)
	}

	// A cancelled deploy that left nothing: its name is free again.
	first := cancelAt("again", map[string]any{})
	if d := dryRun("again"); d["validationPassed"] != true || !strings.Contains(strings.Join(toStrings(d["warnings"]), " "), first) {
		t.Fatalf("dry run over a cancelled deploy that left nothing: %v", d)
	}
	second := deploy(t, e, eksManifest("again"))
	if c := e.waitStatus(t, "again", "READY", "FAILED"); c["status"] != "READY" || c["lastOperationId"] != second {
		t.Fatalf("redeployed over the cancelled deploy: %v", c)
	}
	// The cancelled deploy stays in the history of its (deleted) record.
	a := e.do(http.MethodGet, "/api/v1/clusters/again/progress?operationId="+first, e.key, nil)
	if a.Status != http.StatusOK || e.data(a)["status"] != "CANCELLED" {
		t.Fatalf("progress of the cancelled deploy after its name was reused: %d %s", a.Status, a.Body)
	}

	// A cancelled deploy whose rollback left its network: the name stays held and the
	// 409 (and the dry run) say that a delete removes what remains and frees it.
	cancelAt("leaky-stuck", map[string]any{})
	d = dryRun("leaky-stuck")
	if d["validationPassed"] != false || !strings.Contains(strings.Join(toStrings(d["errors"]), " "), "DELETE /api/v1/clusters/leaky-stuck") {
		t.Fatalf("dry run over a deploy that left resources: %v", d)
	}
	a = e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("leaky-stuck"))
	if a.Status != http.StatusConflict {
		t.Fatalf("deploy over a deploy that left resources: %d %s", a.Status, a.Body)
	}
	if env := a.Error(t); !strings.Contains(env.Error, "DELETE /api/v1/clusters/leaky-stuck") || env.Details["status"] != "CANCELLED" {
		t.Fatalf("409 does not say how to free the name: %s", a.Body)
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.(string))
	}
	return out
}
