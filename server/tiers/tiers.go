// Package tiers serves the reference's AvailabilityTiers group: what each tier of
// apps/tiers means (replicas, disruption budget, spread) and whether the caller's
// organization's plan includes it.
package tiers

import (
	"fmt"

	"github.com/labstack/echo/v4"

	apptiers "github.com/astropulse/astroplane/apps/tiers"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// Server answers the availability tier operations.
type Server struct {
	store *store.Store
}

// NewServer returns the AvailabilityTiers group over st (which holds the
// organizations' plans).
func NewServer(st *store.Store) *Server { return &Server{store: st} }

// ListAvailabilityTiers lists every tier, lowest first, marking those the caller's
// organization's plan includes.
func (s *Server) ListAvailabilityTiers(c echo.Context, _ api.ListAvailabilityTiersParams) error {
	plan, err := s.plan(c)
	if err != nil {
		return err
	}
	out := make([]api.AvailabilityTier, 0, len(apptiers.IDs()))
	for _, t := range apptiers.All() {
		out = append(out, View(t, plan))
	}
	return httpx.OK(c, out, httpx.Count(len(out), "availability tier", "availability tiers"))
}

// GetAvailabilityTier returns one tier; an unknown ID is 404 naming the known ones.
func (s *Server) GetAvailabilityTier(c echo.Context, tierID string, _ api.GetAvailabilityTierParams) error {
	t, ok := apptiers.Get(tierID)
	if !ok {
		e := httpx.NotFound(fmt.Sprintf("availability tier %q", tierID))
		e.Details = map[string]any{"path.tierId": fmt.Sprintf("one of %v", apptiers.IDs())}
		return e
	}
	plan, err := s.plan(c)
	if err != nil {
		return err
	}
	return httpx.OK(c, View(t, plan), "availability tier "+t.ID)
}

func (s *Server) plan(c echo.Context) (string, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return "", err
	}
	org, err := s.store.GetOrganization(c.Request().Context(), p.OrgID)
	if err != nil {
		return "", err
	}
	return org.Plan, nil
}

// View is t as the API answers it to an organization on plan.
func View(t apptiers.Tier, plan string) api.AvailabilityTier {
	replicas, multiZone, multiCluster := int(t.Replicas), t.MultiZone, false
	isDefault := t.ID == apptiers.Default
	v := api.AvailabilityTier{
		Id: api.AvailabilityTierId(t.ID), Name: t.Name, Description: &t.Description, Sla: &t.SLA,
		Available: t.AvailableOn(plan), RequiredPlan: &t.RequiredPlan, IsDefault: &isDefault,
		MinReplicas: &replicas, Replicas: &replicas, MultiZone: &multiZone, MultiCluster: &multiCluster,
	}
	if t.MinAvailable > 0 {
		v.PodDisruptionBudget = &struct {
			MinAvailable int `json:"minAvailable"`
		}{MinAvailable: int(t.MinAvailable)}
	}
	spreads := t.TopologySpreadConstraints(nil)
	if len(spreads) > 0 {
		list := make([]struct {
			MaxSkew           int                                                 `json:"maxSkew"`
			TopologyKey       string                                              `json:"topologyKey"`
			WhenUnsatisfiable api.AvailabilityTierTopologySpreadWhenUnsatisfiable `json:"whenUnsatisfiable"`
		}, len(spreads))
		for i, sp := range spreads {
			list[i].MaxSkew, list[i].TopologyKey = int(sp.MaxSkew), sp.TopologyKey
			list[i].WhenUnsatisfiable = api.AvailabilityTierTopologySpreadWhenUnsatisfiable(sp.WhenUnsatisfiable)
		}
		v.TopologySpread = &list
	}
	return v
}
