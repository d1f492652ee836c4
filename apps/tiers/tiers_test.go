package tiers_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/astropulse/astroplane/apps/tiers"
	"github.com/astropulse/astroplane/plans"
)

func TestTierInvariants(t *testing.T) {
	all := tiers.All()
	if len(all) != 3 || all[0].ID != tiers.Basic || all[1].ID != tiers.Standard || all[2].ID != tiers.Premium {
		t.Fatalf("tiers %v", tiers.IDs())
	}
	if _, ok := tiers.Get(tiers.Default); !ok {
		t.Fatal("the default tier is not in the table")
	}
	var prev int32
	for _, tr := range all {
		if tr.Replicas <= prev {
			t.Errorf("%s: %d replicas, not more than the tier below (%d)", tr.ID, tr.Replicas, prev)
		}
		prev = tr.Replicas
		if tr.MinAvailable >= tr.Replicas {
			t.Errorf("%s: minAvailable %d ≥ replicas %d: a drain could never evict a pod", tr.ID, tr.MinAvailable, tr.Replicas)
		}
		zone := false
		for _, s := range tr.Spreads {
			zone = zone || s.TopologyKey == tiers.TopologyZone
		}
		if zone != tr.MultiZone {
			t.Errorf("%s: MultiZone %v but zone spread %v", tr.ID, tr.MultiZone, zone)
		}
		if _, ok := plans.Get(tr.RequiredPlan); !ok {
			t.Errorf("%s: required plan %q is no plan", tr.ID, tr.RequiredPlan)
		}
	}
	// All hands out copies.
	all[2].Spreads[0].MaxSkew = 99
	if p, _ := tiers.Get(tiers.Premium); p.Spreads[0].MaxSkew == 99 {
		t.Fatal("All shares the table's spreads")
	}
	if _, ok := tiers.Get("gold"); ok {
		t.Fatal("unknown tier found")
	}
}

func TestAvailableOn(t *testing.T) {
	for _, c := range []struct {
		tier, plan string
		want       bool
	}{
		{tiers.Basic, plans.Free, true},
		{tiers.Standard, plans.Free, false},
		{tiers.Standard, plans.Team, true},
		{tiers.Premium, plans.Team, false},
		{tiers.Premium, plans.Enterprise, true},
		{tiers.Basic, "unknown-plan", true},
		{tiers.Standard, "unknown-plan", false}, // an unknown plan is Free
	} {
		tr, _ := tiers.Get(c.tier)
		if got := tr.AvailableOn(c.plan); got != c.want {
			t.Errorf("%s on %s: %v, want %v", c.tier, c.plan, got, c.want)
		}
	}
}

func TestWorkloadObjects(t *testing.T) {
	sel := map[string]string{"app.kubernetes.io/name": "web"}
	basic, _ := tiers.Get(tiers.Basic)
	if basic.PodDisruptionBudget("ns", "web", sel) != nil || basic.TopologySpreadConstraints(sel) != nil {
		t.Fatal("basic has a budget or a spread")
	}
	premium, _ := tiers.Get(tiers.Premium)
	pdb := premium.PodDisruptionBudget("ns", "web", sel)
	if pdb == nil || pdb.Spec.MinAvailable.IntValue() != 2 || pdb.Namespace != "ns" || pdb.Spec.Selector.MatchLabels["app.kubernetes.io/name"] != "web" || pdb.Kind != "PodDisruptionBudget" {
		t.Fatalf("premium budget %+v", pdb)
	}
	spreads := premium.TopologySpreadConstraints(sel)
	if len(spreads) != 2 || spreads[0].TopologyKey != tiers.TopologyZone || spreads[0].WhenUnsatisfiable != corev1.DoNotSchedule ||
		spreads[1].WhenUnsatisfiable != corev1.ScheduleAnyway || spreads[0].LabelSelector.MatchLabels["app.kubernetes.io/name"] != "web" {
		t.Fatalf("premium spreads %+v", spreads)
	}
}
