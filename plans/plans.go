// Package plans is the platform's price list as data: the subscription plans, what
// each one unlocks (features and quotas), and the priced categories of usage. The
// Pricing group and the plan operations answer from it, and plan gating asks it
// (Allows) with the organization's stored plan, so a feature moves between plans
// by editing one table.
package plans

import "slices"

// Plan IDs. An organization's plan is one of them (store.Organization.Plan, "free"
// by default); an ID not listed here is treated as Free.
const (
	Free       = "free"
	Team       = "team"
	Enterprise = "enterprise"
)

// Feature names what a plan may unlock. Gate with Allows.
type Feature string

// Features of the platform that depend on the plan.
const (
	// FeatureClusters: deploy, update and delete clusters (every plan).
	FeatureClusters Feature = "clusters"
	// FeatureApprovals: an approval policy holding cluster operations (every plan).
	FeatureApprovals Feature = "approvals"
	// FeatureNotifications: email and Slack integrations and topic subscriptions.
	FeatureNotifications Feature = "notifications"
	// FeatureApplications: application deployments on managed clusters.
	FeatureApplications Feature = "applications"
	// FeatureSSO: sign-in through the organization's own OIDC issuer.
	FeatureSSO Feature = "sso"
	// FeatureAudit: the Audit group (list, get, export, statistics of audit events).
	FeatureAudit Feature = "audit"
	// FeatureSupport: a support contract with a response time.
	FeatureSupport Feature = "support"
)

// Limits are a plan's quotas; 0 means unlimited.
type Limits struct {
	MaxClusters     int
	MaxApplications int
	MaxMembers      int
	MaxAPIKeys      int
}

// Plan is one subscription plan: its price and what it unlocks.
type Plan struct {
	ID          string
	Name        string
	Description string
	Currency    string
	// MonthlyPrice and YearlyPrice are per organization, in Currency.
	MonthlyPrice float64
	YearlyPrice  float64
	// Features are what the plan unlocks, in the order a price page lists them.
	Features []Feature
	Limits   Limits
	// Highlighted marks the plan a price page recommends.
	Highlighted bool
}

// Item is one priced unit of usage.
type Item struct {
	Name     string
	Unit     string
	Price    float64
	Currency string
}

// Category groups priced usage (compute, storage, …).
type Category struct {
	ID          string
	Name        string
	Description string
	Items       []Item
}

// all is the price list, cheapest plan first. Keep Free first: it is the default.
var all = []Plan{
	{
		ID: Free, Name: "Free", Description: "One small team trying the platform: a few clusters, every cloud, approvals and notifications.",
		Currency: "USD", Features: []Feature{FeatureClusters, FeatureApprovals, FeatureNotifications},
		Limits: Limits{MaxClusters: 3, MaxApplications: 10, MaxMembers: 5, MaxAPIKeys: 10},
	},
	{
		ID: Team, Name: "Team", Description: "Teams running production clusters and applications.",
		Currency: "USD", MonthlyPrice: 499, YearlyPrice: 4990, Highlighted: true,
		Features: []Feature{FeatureClusters, FeatureApprovals, FeatureNotifications, FeatureApplications},
		Limits:   Limits{MaxClusters: 25, MaxApplications: 250, MaxMembers: 50, MaxAPIKeys: 100},
	},
	{
		ID: Enterprise, Name: "Enterprise", Description: "Organizations that need single sign-on, an audit trail and support; no quotas.",
		Currency: "USD", MonthlyPrice: 2499, YearlyPrice: 24990,
		Features: []Feature{FeatureClusters, FeatureApprovals, FeatureNotifications, FeatureApplications, FeatureSSO, FeatureAudit, FeatureSupport},
	},
}

var categories = []Category{
	{ID: "compute", Name: "Compute", Description: "Managed nodes, billed while they run, on top of the cloud's own price.", Items: []Item{
		{Name: "Managed node (vCPU)", Unit: "vCPU-hour", Price: 0.004, Currency: "USD"},
		{Name: "Control plane", Unit: "cluster-hour", Price: 0.02, Currency: "USD"},
	}},
	{ID: "applications", Name: "Applications", Description: "Application deployments the platform keeps in sync.", Items: []Item{
		{Name: "Application", Unit: "application-month", Price: 2, Currency: "USD"},
	}},
	{ID: "support", Name: "Support", Description: "Support beyond the plan's own.", Items: []Item{
		{Name: "Dedicated support engineer", Unit: "month", Price: 1500, Currency: "USD"},
	}},
}

// All returns every plan, cheapest first. The caller may modify the result.
func All() []Plan {
	out := make([]Plan, len(all))
	for i, p := range all {
		p.Features = slices.Clone(p.Features)
		out[i] = p
	}
	return out
}

// Categories returns the priced categories of usage. The caller may modify the result.
func Categories() []Category {
	out := make([]Category, len(categories))
	for i, c := range categories {
		c.Items = slices.Clone(c.Items)
		out[i] = c
	}
	return out
}

// Get returns the plan with id; ok is false for an ID not in the price list.
func Get(id string) (p Plan, ok bool) {
	for _, p := range All() {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// Of returns the plan an organization with plan ID id is on: that plan, or Free for
// an empty or unknown ID (an organization never gains features by a typo).
func Of(id string) Plan {
	if p, ok := Get(id); ok {
		return p
	}
	p, _ := Get(Free)
	return p
}

// Allows reports whether plan ID plan unlocks feature. Unknown plans are Free.
func Allows(plan string, feature Feature) bool {
	return slices.Contains(Of(plan).Features, feature)
}

// Cheapest returns the ID of the cheapest plan that unlocks feature, "" if none does:
// what a refusal tells the caller to upgrade to.
func Cheapest(feature Feature) string {
	for _, p := range all {
		if slices.Contains(p.Features, feature) {
			return p.ID
		}
	}
	return ""
}
