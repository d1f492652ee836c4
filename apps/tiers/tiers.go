// Package tiers states what each availability tier of an application means for the
// workloads the platform generates: how many replicas run, the PodDisruptionBudget
// that keeps some of them up through voluntary disruptions (node drains, upgrades),
// and how the replicas are spread (topology spread constraints). The
// AvailabilityTiers group answers from this table and the image-source renderer
// applies it, so a tier changes in one place.
package tiers

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/astropulse/astroplane/plans"
)

// Tier IDs, as profiles name them (ApplicationProfile spec.availabilityTier).
const (
	Basic    = "basic"
	Standard = "standard"
	Premium  = "premium"
)

// Default is the tier of a profile that names none.
const Default = Basic

// Well-known topology keys spreads use.
const (
	TopologyHostname = "kubernetes.io/hostname"
	TopologyZone     = "topology.kubernetes.io/zone"
)

// Spread is one topology spread constraint of a tier's replicas.
type Spread struct {
	// TopologyKey is the node label whose values the replicas spread over.
	TopologyKey string
	// MaxSkew is the most the replica counts of two topology domains may differ.
	MaxSkew int32
	// Required means the scheduler refuses a placement beyond MaxSkew
	// (DoNotSchedule); otherwise it only prefers to avoid one (ScheduleAnyway).
	Required bool
}

// Tier is one availability tier. Invariants (checked by the package's tests):
// MinAvailable < Replicas, so a drain can always evict one pod; a tier with
// MinAvailable 0 has no PodDisruptionBudget; MultiZone ⇔ a zone spread.
type Tier struct {
	ID          string
	Name        string
	Description string
	// SLA is the availability target the tier is designed for.
	SLA string
	// Replicas is how many replicas each generated workload runs.
	Replicas int32
	// MinAvailable is the PodDisruptionBudget's minAvailable; 0: no budget.
	MinAvailable int32
	// Spreads are the topology spread constraints of the replicas, in order.
	Spreads []Spread
	// MultiZone: the replicas are spread across availability zones.
	MultiZone bool
	// RequiredPlan is the cheapest plan that includes the tier.
	RequiredPlan string
}

// all is the table, lowest tier first.
var all = []Tier{
	{
		ID: Basic, Name: "Basic", SLA: "99.5%", Replicas: 1, RequiredPlan: plans.Free,
		Description: "One replica and no disruption budget: a node drain or upgrade restarts the application. For development and tests.",
	},
	{
		ID: Standard, Name: "Standard", SLA: "99.9%", Replicas: 2, MinAvailable: 1, RequiredPlan: plans.Team,
		Description: "Two replicas on different nodes where possible and a disruption budget keeping one up: drains and upgrades do not interrupt the application.",
		Spreads:     []Spread{{TopologyKey: TopologyHostname, MaxSkew: 1}},
	},
	{
		ID: Premium, Name: "Premium", SLA: "99.95%", Replicas: 3, MinAvailable: 2, MultiZone: true, RequiredPlan: plans.Enterprise,
		Description: "Three replicas, one per availability zone (required) and on different nodes, with a disruption budget keeping two up: survives the loss of a zone.",
		Spreads:     []Spread{{TopologyKey: TopologyZone, MaxSkew: 1, Required: true}, {TopologyKey: TopologyHostname, MaxSkew: 1}},
	},
}

// All returns every tier, lowest first. The caller may modify the result.
func All() []Tier {
	out := make([]Tier, len(all))
	for i, t := range all {
		t.Spreads = slices.Clone(t.Spreads)
		out[i] = t
	}
	return out
}

// Get returns the tier with id; ok is false for an unknown id.
func Get(id string) (t Tier, ok bool) {
	for _, t := range All() {
		if t.ID == id {
			return t, true
		}
	}
	return Tier{}, false
}

// IDs are the tier IDs, lowest first.
func IDs() []string {
	out := make([]string, len(all))
	for i, t := range all {
		out[i] = t.ID
	}
	return out
}

// AvailableOn reports whether an organization on plan may use the tier: its plan is
// RequiredPlan or a richer one (plans.All lists them cheapest first).
func (t Tier) AvailableOn(plan string) bool {
	rank := func(id string) int {
		return slices.IndexFunc(plans.All(), func(p plans.Plan) bool { return p.ID == id })
	}
	return rank(plans.Of(plan).ID) >= rank(t.RequiredPlan)
}

// TopologySpreadConstraints are the tier's spreads for pods labelled selector.
func (t Tier) TopologySpreadConstraints(selector map[string]string) []corev1.TopologySpreadConstraint {
	var out []corev1.TopologySpreadConstraint
	for _, s := range t.Spreads {
		when := corev1.ScheduleAnyway
		if s.Required {
			when = corev1.DoNotSchedule
		}
		out = append(out, corev1.TopologySpreadConstraint{
			MaxSkew: s.MaxSkew, TopologyKey: s.TopologyKey, WhenUnsatisfiable: when,
			LabelSelector: &metav1.LabelSelector{MatchLabels: selector},
		})
	}
	return out
}

// PodDisruptionBudget is the tier's budget for the pods labelled selector, named
// name in namespace; nil when the tier has none.
func (t Tier) PodDisruptionBudget(namespace, name string, selector map[string]string) *policyv1.PodDisruptionBudget {
	if t.MinAvailable == 0 {
		return nil
	}
	minAvailable := intstr.FromInt32(t.MinAvailable)
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: selector},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &minAvailable,
			Selector:     &metav1.LabelSelector{MatchLabels: selector},
		},
	}
}
