// Package catalog serves the reference's CloudProvider group (the providers, regions,
// zones and machine types clusters can use) and, from the same catalog, the Kubernetes
// versions each provisioner supports (GET /api/v1/cloud/kubernetes-versions).
package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/livecatalog"
)

// Server answers the catalog's operations from the built-in catalog or, for an
// organization with a connected account of the provider, from that account's live
// catalog (machine types and Kubernetes versions of a region).
type Server struct {
	live *livecatalog.Lookup
}

// NewServer returns the catalog's handlers; live finds connected accounts' live
// catalogs (nil: the built-in catalog answers everything).
func NewServer(live *livecatalog.Lookup) *Server { return &Server{live: live} }

// Where an answer came from, said after its count.
const builtIn = "from the built-in catalog"

// liveRegion returns the live catalog of the caller's organization's connected
// account of provider for region, and the note saying which catalog answers: the
// live one, or the built-in one and why (empty when the organization connected
// no account of provider, so nothing was asked).
func (s *Server) liveRegion(c echo.Context, provider, region string) (a livecatalog.Answer, ok bool, note string) {
	p, _ := httpx.PrincipalOf(c)
	ctx := c.Request().Context()
	account, connected := s.live.Account(ctx, p.OrgID, provider, "")
	if !connected {
		return a, false, ""
	}
	a, err := s.live.Region(ctx, account, region)
	if err != nil {
		return a, false, fmt.Sprintf(" (%s: the live catalog of %s account %s did not answer)", builtIn, provider, account.AccountID)
	}
	return a, true, " (from " + a.Source() + ")"
}

// ListProviders lists the clouds clusters can be provisioned on.
func (s *Server) ListProviders(c echo.Context, _ api.ListProvidersParams) error {
	out := []api.Provider{}
	for _, p := range catalog.Providers() {
		pts := []api.ProvisionerType{}
		for _, pt := range p.ProvisionerTypes {
			pts = append(pts, api.ProvisionerType(pt))
		}
		out = append(out, api.Provider{Id: p.ID, Name: p.Name, Enabled: ptr(true), ProvisionerTypes: &pts})
	}
	return httpx.OK(c, out, httpx.Count(len(out), "provider", "providers"))
}

func providerOr404(id string) error {
	if _, ok := catalog.ProviderByID(id); !ok {
		return httpx.NotFound(fmt.Sprintf("provider %q", id))
	}
	return nil
}

func regionOr404(provider, region string) (catalog.RegionInfo, error) {
	if err := providerOr404(provider); err != nil {
		return catalog.RegionInfo{}, err
	}
	r, ok := catalog.Region(provider, region)
	if !ok {
		return catalog.RegionInfo{}, httpx.NotFound(fmt.Sprintf("region %q of %s", region, provider))
	}
	return r, nil
}

// ListProviderRegions lists a provider's regions: for an organization with a
// connected account of the provider, the account's own (described from the
// built-in catalog where it knows them), saying which catalog answered.
func (s *Server) ListProviderRegions(c echo.Context, providerID string, _ api.ListProviderRegionsParams) error {
	if err := providerOr404(providerID); err != nil {
		return err
	}
	regions, note := catalog.Regions(providerID), ""
	p, _ := httpx.PrincipalOf(c)
	ctx := c.Request().Context()
	if account, connected := s.live.Account(ctx, p.OrgID, providerID, ""); connected {
		a, err := s.live.Regions(ctx, account)
		switch {
		case err != nil:
			note = fmt.Sprintf(" (%s: the live catalog of %s account %s did not answer)", builtIn, providerID, account.AccountID)
		case a.RegionsError != "":
			note = fallbackNote("", true, a.RegionsError)
		case len(a.Regions) > 0:
			regions, note = make([]catalog.RegionInfo, 0, len(a.Regions)), " (from "+a.Source()+")"
			for _, id := range a.Regions {
				r, ok := catalog.Region(providerID, id)
				if !ok {
					r = catalog.RegionInfo{ID: id, Name: id}
				}
				regions = append(regions, r)
			}
		}
	}
	out := []api.Region{}
	for _, r := range regions {
		reg := api.Region{Id: r.ID, Name: r.Name, Available: ptr(true)}
		if r.Location != "" {
			reg.Location = ptr(r.Location)
		}
		out = append(out, reg)
	}
	return httpx.OK(c, out, httpx.Count(len(out), "region", "regions")+note)
}

// ListZones lists a region's zones: for an organization with a connected account
// of the provider, the account's own (and then a region the built-in catalog lacks
// is listed when the provider knows it, and one the provider says does not exist
// is a 404), saying which catalog answered.
func (s *Server) ListZones(c echo.Context, providerID, regionID string, _ api.ListZonesParams) error {
	if err := providerOr404(providerID); err != nil {
		return err
	}
	r, listed := catalog.Region(providerID, regionID)
	zones, note := r.Zones, ""
	if listed || catalog.LooksLikeRegion(providerID, regionID) {
		a, ok, n := s.liveRegion(c, providerID, regionID)
		switch {
		case ok && a.RegionUnknown:
			return httpx.NotFound(fmt.Sprintf("region %q of %s (%s does not know it)", regionID, providerID, a.Source()))
		case ok && a.ZonesError == "" && len(a.Zones) > 0:
			zones, note, listed = a.Zones, n, true
		case ok && a.ZonesError != "":
			note = fallbackNote(n, ok, a.ZonesError)
		case !ok:
			note = n
		}
	}
	if !listed {
		return httpx.NotFound(fmt.Sprintf("region %q of %s", regionID, providerID))
	}
	out := []api.Zone{}
	for _, z := range zones {
		out = append(out, api.Zone{Id: z, Name: ptr(z), RegionId: regionID, Available: ptr(true)})
	}
	return httpx.OK(c, out, httpx.Count(len(out), "zone", "zones")+note)
}

// ListMachineTypes lists the machine types of a region's zone, filtered by CPU and
// memory (Kubernetes quantities), category and architecture.
func (s *Server) ListMachineTypes(c echo.Context, providerID, regionID, zoneID string, params api.ListMachineTypesParams) error {
	r, err := regionOr404(providerID, regionID)
	if err != nil {
		return err
	}
	if params.ZoneId != nil && *params.ZoneId != "" {
		zoneID = *params.ZoneId
	}
	bounds := map[string]*string{"query.cpuMin": params.CpuMin, "query.cpuMax": params.CpuMax, "query.memMin": params.MemMin, "query.memMax": params.MemMax}
	limits := map[string]int64{}
	details := map[string]any{}
	for field, v := range bounds {
		if v == nil {
			continue
		}
		parse := parseMemoryMiB
		if strings.HasPrefix(field, "query.cpu") {
			parse = parseMillicores
		}
		n, err := parse(*v)
		if err != nil {
			details[field] = err.Error()
			continue
		}
		limits[field] = n
	}
	if len(details) > 0 {
		return httpx.ValidationFailed(details)
	}
	within := func(v int64, minKey, maxKey string) bool {
		if lo, ok := limits[minKey]; ok && v < lo {
			return false
		}
		if hi, ok := limits[maxKey]; ok && v > hi {
			return false
		}
		return true
	}
	types, note, zones := catalog.MachineTypes(providerID, regionID), "", r.Zones
	a, ok, n := s.liveRegion(c, providerID, regionID)
	if ok && a.MachineTypesError == "" {
		types, note = a.MachineTypes, n
	} else if n != "" {
		note = fallbackNote(n, ok, a.MachineTypesError)
	}
	if ok && a.ZonesError == "" && len(a.Zones) > 0 {
		zones = a.Zones // the account's own zones of the region
	}
	if !slices.Contains(zones, zoneID) {
		return httpx.NotFound(fmt.Sprintf("zone %q of %s", zoneID, regionID))
	}
	out := []api.MachineType{}
	for _, m := range types {
		switch {
		case !within(int64(m.CPUMillicores), "query.cpuMin", "query.cpuMax"),
			!within(int64(m.MemoryMiB), "query.memMin", "query.memMax"),
			params.Category != nil && string(*params.Category) != string(m.Category),
			params.Architecture != nil && string(*params.Architecture) != string(m.Architecture):
			continue
		}
		out = append(out, machineTypeView(m, zones))
	}
	return httpx.OK(c, out, httpx.Count(len(out), "machine type", "machine types")+note)
}

// fallbackNote is the note of an answer the built-in catalog gave although a
// connected account's live catalog was asked: note when the look-up failed, else
// the reason the live catalog gave for this question.
func fallbackNote(note string, answered bool, reason string) string {
	if !answered {
		return note
	}
	return fmt.Sprintf(" (%s: the live catalog could not answer: %s)", builtIn, reason)
}

// GetMachineType returns one machine type of a region.
func (s *Server) GetMachineType(c echo.Context, providerID, regionID, name string, _ api.GetMachineTypeParams) error {
	r, err := regionOr404(providerID, regionID)
	if err != nil {
		return err
	}
	if a, ok, note := s.liveRegion(c, providerID, regionID); ok && a.MachineTypesError == "" {
		fold := catalog.MachineTypeNamesIgnoreCase(providerID)
		for _, m := range a.MachineTypes {
			if m.Name == name || (fold && strings.EqualFold(m.Name, name)) {
				return httpx.OK(c, machineTypeView(m, r.Zones), "machine type"+note)
			}
		}
		return httpx.NotFound(fmt.Sprintf("machine type %q in %s (%s does not offer it there)", name, regionID, a.Source()))
	}
	m, found := catalog.MachineType(providerID, regionID, name)
	if !found {
		return httpx.NotFound(fmt.Sprintf("machine type %q in %s", name, regionID))
	}
	return httpx.OK(c, machineTypeView(m, r.Zones), "machine type")
}

func machineTypeView(m catalog.MachineTypeInfo, zones []string) api.MachineType {
	cat, arch := api.MachineTypeCategory(m.Category), api.MachineTypeArchitecture(m.Architecture)
	v := api.MachineType{Id: m.Name, Name: ptr(m.Name), Cpu: m.CPU(), Memory: m.Memory(), Category: &cat, Architecture: &arch,
		Zones: &zones, SpotAvailable: ptr(true)}
	if m.PricePerHour > 0 {
		v.PricePerHour = ptr(m.PricePerHour)
	}
	if m.GPUs > 0 {
		v.Gpu = &api.MachineTypeGpu{Count: ptr(m.GPUs), Type: ptr(m.GPUType)}
	}
	return v
}

// GetSupportedKubernetesVersions lists the Kubernetes versions a provisioner supports,
// newest first, filtered by GKE release channel and Autopilot compatibility.
func (s *Server) GetSupportedKubernetesVersions(c echo.Context, params api.GetSupportedKubernetesVersionsParams) error {
	provider, pt := string(params.CloudProvider), string(params.ProvisionerType)
	if !slices.Contains(catalog.ProvidersOf(pt), provider) {
		return httpx.ValidationFailed(map[string]any{"query.provisionerType": fmt.Sprintf("%s does not run on %s", pt, provider)})
	}
	if params.Region != nil {
		if _, err := regionOr404(provider, *params.Region); err != nil {
			return httpx.ValidationFailed(map[string]any{"query.region": fmt.Sprintf("not a region of %s", provider)})
		}
	}
	list := api.KubernetesVersionList{CloudProvider: api.KubernetesVersionListCloudProvider(provider),
		ProvisionerType: api.KubernetesVersionListProvisionerType(pt), Region: params.Region, Versions: []api.KubernetesVersion{}}
	if def := catalog.DefaultVersion(pt); def != "" {
		list.DefaultVersion = &def
	}
	if params.ReleaseChannel != nil {
		ch := api.KubernetesVersionListReleaseChannel(*params.ReleaseChannel)
		list.ReleaseChannel = &ch
	}
	versions, note := catalog.KubernetesVersions(pt), ""
	if params.Region != nil && pt != catalog.SelfHosted {
		if a, ok, n := s.liveRegion(c, provider, *params.Region); ok && a.VersionsError == "" {
			versions, note = a.Versions, n
			list.DefaultVersion = nil
			for _, v := range versions {
				if v.Default {
					list.DefaultVersion = &v.Minor
				}
			}
		} else if n != "" {
			note = fallbackNote(n, ok, a.VersionsError)
		}
	}
	for _, v := range versions {
		if params.ReleaseChannel != nil && pt == catalog.GKE && !slices.Contains(v.Channels, string(*params.ReleaseChannel)) {
			continue
		}
		if params.Autopilot != nil && *params.Autopilot && pt == catalog.GKE && !v.AutopilotCompatible {
			continue
		}
		kv := api.KubernetesVersion{Version: v.Minor, IsDefault: v.Default}
		if pt == catalog.GKE {
			kv.AutopilotCompatible = ptr(v.AutopilotCompatible)
			chs := []api.KubernetesVersionReleaseChannels{}
			for _, ch := range v.Channels {
				chs = append(chs, api.KubernetesVersionReleaseChannels(ch))
			}
			kv.ReleaseChannels = &chs
		}
		if !v.EndOfStandardSupport.IsZero() {
			d := openapiDate(v.EndOfStandardSupport)
			kv.EndOfStandardSupport = &d
		}
		list.Versions = append(list.Versions, kv)
	}
	return httpx.OK(c, list, httpx.Count(len(list.Versions), "version", "versions")+note)
}

// parseMillicores reads a Kubernetes CPU quantity ("2", "0.5", "500m").
func parseMillicores(s string) (int64, error) {
	if m, ok := strings.CutSuffix(s, "m"); ok {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a CPU quantity such as 2, 0.5 or 500m", s)
		}
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a CPU quantity such as 2, 0.5 or 500m", s)
	}
	return int64(f * 1000), nil
}

// parseMemoryMiB reads a Kubernetes memory quantity ("512Mi", "4Gi", "1G", bytes).
func parseMemoryMiB(s string) (int64, error) {
	units := []struct {
		suffix string
		bytes  float64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}}
	mult, num := 1.0, s
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			mult, num = u.bytes, n
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("%q is not a memory quantity such as 512Mi or 4Gi", s)
	}
	return int64(f * mult / (1 << 20)), nil
}

func openapiDate(t time.Time) openapi_types.Date { return openapi_types.Date{Time: t} }

func ptr[T any](v T) *T { return &v }
