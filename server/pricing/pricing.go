// Package pricing serves the reference's Pricing group from the price list in package
// plans: every plan with its prices and what it unlocks, and the priced categories of
// usage. It needs no credentials.
package pricing

import (
	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/plans"
	"github.com/astropulse/astroplane/server/httpx"

	"github.com/astropulse/astroplane/server/api"
)

// Server answers the Pricing group.
type Server struct{}

// NewServer returns the Pricing handlers.
func NewServer() *Server { return &Server{} }

// GetPricing returns every plan and the priced categories.
func (s *Server) GetPricing(c echo.Context) error {
	return httpx.OK(c, Data(), "pricing")
}

// Data is the price list as the API shows it.
func Data() api.PricingData {
	out := api.PricingData{Plans: []api.PricingPlan{}, Categories: []api.PricingCategory{}}
	for _, p := range plans.All() {
		features := make([]string, 0, len(p.Features))
		for _, f := range p.Features {
			features = append(features, string(f))
		}
		v := api.PricingPlan{Id: p.ID, Name: p.Name, Description: &p.Description, Currency: &p.Currency,
			MonthlyPrice: &p.MonthlyPrice, YearlyPrice: &p.YearlyPrice, Features: &features, Highlighted: &p.Highlighted}
		out.Plans = append(out.Plans, v)
	}
	for _, cat := range plans.Categories() {
		v := api.PricingCategory{Id: cat.ID, Name: cat.Name, Description: &cat.Description, Items: []api.PricingItem{}}
		for _, it := range cat.Items {
			v.Items = append(v.Items, api.PricingItem{Name: it.Name, Unit: &it.Unit, Price: it.Price, Currency: &it.Currency})
		}
		out.Categories = append(out.Categories, v)
	}
	return out
}
