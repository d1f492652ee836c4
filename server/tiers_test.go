package server_test

import (
	"net/http"
	"testing"

	"github.com/astropulse/astroplane/store"
)

// The AvailabilityTiers group answers from apps/tiers, marking what the caller's plan
// includes; a viewer may read it; an unknown tier is 404 naming the field.
func TestAvailabilityTiers(t *testing.T) {
	e := newEnv(t, nil)
	_, _, viewer := e.newOrg("viewers", store.RoleViewer)
	a := e.do(http.MethodGet, "/api/v1/availability-tiers", viewer, nil)
	list := listData(t, a)
	if a.Status != http.StatusOK || len(list) != 3 {
		t.Fatalf("list: %d %s", a.Status, a.Body)
	}
	avail := map[string]bool{}
	for _, x := range list {
		m := x.(map[string]any)
		avail[m["id"].(string)] = m["available"].(bool)
	}
	if !avail["basic"] || avail["standard"] || avail["premium"] {
		t.Fatalf("free plan availability %v", avail)
	}

	_, _, ent := e.enterpriseOrg("big")
	a = e.do(http.MethodGet, "/api/v1/availability-tiers/premium", ent, nil)
	d := a.Envelope(t).Data.(map[string]any)
	pdb, _ := d["podDisruptionBudget"].(map[string]any)
	spread, _ := d["topologySpread"].([]any)
	if a.Status != http.StatusOK || d["available"] != true || d["replicas"] != 3.0 || pdb["minAvailable"] != 2.0 || len(spread) != 2 ||
		spread[0].(map[string]any)["whenUnsatisfiable"] != "DoNotSchedule" {
		t.Fatalf("premium: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/availability-tiers/basic", e.key, nil)
	if d := a.Envelope(t).Data.(map[string]any); d["podDisruptionBudget"] != nil || d["isDefault"] != true {
		t.Fatalf("basic: %s", a.Body)
	}

	a = e.do(http.MethodGet, "/api/v1/availability-tiers/gold", e.key, nil)
	if a.Status != http.StatusNotFound || a.Error(t).Details["path.tierId"] == nil {
		t.Fatalf("unknown tier: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/availability-tiers", "", nil); a.Status != http.StatusUnauthorized {
		t.Fatalf("no key: %d", a.Status)
	}
}
