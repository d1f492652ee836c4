// Package azurecatalog is the live catalog of a connected Azure subscription: the
// VM sizes a region offers the subscription (the Microsoft.Compute resource SKUs
// list, filtered by location), the region's availability zones (the zones those
// SKUs list in their locationInfo) and the Kubernetes versions AKS offers there
// (ManagedClusters ListKubernetesVersions) and the subscription's regions (its
// locations list), through the official Azure SDK (azcore's ARM pipeline and
// armcontainerservice/v6).
//
// The resource SKUs list is called through azcore's ARM pipeline (authentication,
// retries, throttling) rather than armcompute, a module the project does not
// otherwise need. A size restricted in the region for the subscription
// (NotAvailableForSubscription) is not offered there. Sizes are described as the
// static tables describe them, with the static table's price where it has one.
package azurecatalog

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/catalog/internal/rules"
)

// locationsAPIVersion is the Resource Manager API version of the subscription's
// locations list (armsubscriptions' Client.NewListLocationsPager, called through
// the ARM pipeline as the SKUs list is).
const locationsAPIVersion = "2022-12-01"

// skusAPIVersion is the Microsoft.Compute API version of the resource SKUs list.
const skusAPIVersion = "2021-07-01"

// Catalog answers catalog.Live for one Azure subscription. Safe for concurrent use.
type Catalog struct {
	sub      string
	location string
	arm      *arm.Client
	aks      *armcontainerservice.ManagedClustersClient

	mu    sync.Mutex
	scans map[string]skuScan // by region
}

// New returns the live catalog of the subscription; versions are those AKS offers
// in location (e.g. "eastus"). opts carries the cloud, transport and retry options
// of every call (nil: Azure public cloud, azcore's defaults).
func New(subscriptionID, location string, cred azcore.TokenCredential, opts *arm.ClientOptions) (*Catalog, error) {
	a, err := arm.NewClient("astroplane/catalog/azurecatalog", "v1.0.0", cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure arm client: %w", err)
	}
	aks, err := armcontainerservice.NewManagedClustersClient(subscriptionID, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("azure managed clusters client: %w", err)
	}
	return &Catalog{sub: subscriptionID, location: location, arm: a, aks: aks}, nil
}

var (
	_ catalog.Live         = (*Catalog)(nil)
	_ catalog.Zones        = (*Catalog)(nil)
	_ catalog.RegionLister = (*Catalog)(nil)
)

// sku is the part of a resource SKU the catalog reads.
type sku struct {
	ResourceType string   `json:"resourceType"`
	Name         string   `json:"name"`
	Family       string   `json:"family"`
	Locations    []string `json:"locations"`
	Capabilities []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"capabilities"`
	Restrictions []struct {
		Type       string   `json:"type"`
		Values     []string `json:"values"`
		ReasonCode string   `json:"reasonCode"`
	} `json:"restrictions"`
	LocationInfo []struct {
		Location string   `json:"location"`
		Zones    []string `json:"zones"`
	} `json:"locationInfo"`
}

type skuPage struct {
	Value    []sku  `json:"value"`
	NextLink string `json:"nextLink"`
}

// MachineTypes returns the VM sizes the region offers the subscription.
func (c *Catalog) MachineTypes(ctx context.Context, region string) ([]catalog.MachineTypeInfo, error) {
	sc, err := c.scan(ctx, region)
	if err != nil {
		return nil, err
	}
	return slices.Clone(sc.types), nil
}

// Zones returns the availability zones of the region ("1", "2", "3"): those the
// region's virtual-machine SKUs list in their locationInfo. A region without
// zones answers none. A region whose SKU list is empty (Azure lists every SKU of
// a region, restricted ones included, to every subscription) does not exist: an
// error wrapping catalog.ErrUnknownRegion.
func (c *Catalog) Zones(ctx context.Context, region string) ([]string, error) {
	sc, err := c.scan(ctx, region)
	if err != nil {
		return nil, err
	}
	if !sc.listed {
		return nil, fmt.Errorf("%s is not an Azure region: the resource SKUs list of subscription %s has nothing there: %w", region, c.sub, catalog.ErrUnknownRegion)
	}
	return slices.Clone(sc.zones), nil
}

// skuScan is what one listing of a region's resource SKUs says: its sizes, its
// zones, and whether it lists any SKU at all.
type skuScan struct {
	types  []catalog.MachineTypeInfo
	zones  []string
	listed bool
	at     time.Time
}

// scanTTL is how long a listing serves both MachineTypes and Zones: the list is
// megabytes, and a lookup asks the two one after the other.
const scanTTL = time.Minute

// scan lists the region's resource SKUs, or returns the listing of less than
// scanTTL ago.
func (c *Catalog) scan(ctx context.Context, region string) (skuScan, error) {
	c.mu.Lock()
	sc, ok := c.scans[region]
	c.mu.Unlock()
	if ok && time.Since(sc.at) < scanTTL {
		return sc, nil
	}
	q := url.Values{"api-version": {skusAPIVersion}, "$filter": {"location eq '" + region + "'"}}
	next := runtime.JoinPaths(c.arm.Endpoint(), "/subscriptions/"+url.PathEscape(c.sub)+"/providers/Microsoft.Compute/skus") + "?" + q.Encode()
	seen := map[string]bool{}
	sc = skuScan{at: time.Now()}
	out := []catalog.MachineTypeInfo{}
	for next != "" {
		page, err := c.skuPage(ctx, next)
		if err != nil {
			return skuScan{}, fmt.Errorf("list resource skus in %s: %w", region, err)
		}
		for _, s := range page.Value {
			if !slices.ContainsFunc(s.Locations, func(l string) bool { return strings.EqualFold(l, region) }) {
				continue
			}
			sc.listed = true
			if s.ResourceType != "virtualMachines" {
				continue
			}
			for _, li := range s.LocationInfo {
				if !strings.EqualFold(li.Location, region) {
					continue
				}
				for _, z := range li.Zones {
					if !slices.Contains(sc.zones, z) {
						sc.zones = append(sc.zones, z)
					}
				}
			}
			if seen[strings.ToLower(s.Name)] || !offered(s, region) {
				continue
			}
			seen[strings.ToLower(s.Name)] = true
			out = append(out, describe(s))
		}
		next = page.NextLink
	}
	slices.Sort(sc.zones)
	slices.SortFunc(out, func(a, b catalog.MachineTypeInfo) int {
		if fa, fb := rules.FamilyKey("azure", a.Name), rules.FamilyKey("azure", b.Name); fa != fb {
			return strings.Compare(fa, fb)
		}
		if a.CPUMillicores != b.CPUMillicores {
			return a.CPUMillicores - b.CPUMillicores
		}
		return strings.Compare(a.Name, b.Name)
	})
	sc.types = out
	c.mu.Lock()
	if c.scans == nil {
		c.scans = map[string]skuScan{}
	}
	c.scans[region] = sc
	c.mu.Unlock()
	return sc, nil
}

// Regions returns the subscription's physical regions (GET
// /subscriptions/{id}/locations; logical locations such as "global" or "europe"
// and edge zones left out), pages followed, sorted.
func (c *Catalog) Regions(ctx context.Context) ([]string, error) {
	q := url.Values{"api-version": {locationsAPIVersion}}
	next := runtime.JoinPaths(c.arm.Endpoint(), "/subscriptions/"+url.PathEscape(c.sub)+"/locations") + "?" + q.Encode()
	var regions []string
	for next != "" {
		var page struct {
			Value []struct {
				Name     string `json:"name"`
				Type     string `json:"type"`
				Metadata struct {
					RegionType string `json:"regionType"`
				} `json:"metadata"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if err := c.get(ctx, next, &page); err != nil {
			return nil, fmt.Errorf("list locations of subscription %s: %w", c.sub, err)
		}
		for _, l := range page.Value {
			if l.Name != "" && (l.Type == "" || l.Type == "Region") && l.Metadata.RegionType != "Logical" && !slices.Contains(regions, l.Name) {
				regions = append(regions, l.Name)
			}
		}
		next = page.NextLink
	}
	if len(regions) == 0 {
		return nil, fmt.Errorf("list locations of subscription %s: none listed: %w", c.sub, catalog.ErrLiveUnavailable)
	}
	slices.Sort(regions)
	return regions, nil
}

// skuPage gets one page of the resource SKUs list through the ARM pipeline.
func (c *Catalog) skuPage(ctx context.Context, u string) (skuPage, error) {
	var page skuPage
	err := c.get(ctx, u, &page)
	return page, err
}

// get GETs u through the ARM pipeline into out.
func (c *Catalog) get(ctx context.Context, u string, out any) error {
	req, err := runtime.NewRequest(ctx, http.MethodGet, u)
	if err != nil {
		return err
	}
	resp, err := c.arm.Pipeline().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return runtime.NewResponseError(resp)
	}
	return runtime.UnmarshalAsJSON(resp, out)
}

// offered reports whether the SKU is listed in the region and not restricted there
// for the subscription.
func offered(s sku, region string) bool {
	if !slices.ContainsFunc(s.Locations, func(l string) bool { return strings.EqualFold(l, region) }) {
		return false
	}
	for _, r := range s.Restrictions {
		if r.Type == "Location" && slices.ContainsFunc(r.Values, func(l string) bool { return strings.EqualFold(l, region) }) {
			return false
		}
	}
	return true
}

func describe(s sku) catalog.MachineTypeInfo {
	m := catalog.MachineTypeInfo{Name: s.Name, Architecture: catalog.ArchX8664}
	for _, c := range s.Capabilities {
		switch c.Name {
		case "vCPUs":
			n, _ := strconv.Atoi(c.Value)
			m.CPUMillicores = n * 1000
		case "MemoryGB":
			gb, _ := strconv.ParseFloat(c.Value, 64)
			m.MemoryMiB = int(gb * 1024)
		case "GPUs":
			m.GPUs, _ = strconv.Atoi(c.Value)
		case "CpuArchitectureType":
			if strings.EqualFold(c.Value, "Arm64") {
				m.Architecture = catalog.ArchARM64
			}
		}
	}
	if strings.Contains(strings.ToLower(s.Family), "nps") {
		m.GPUs = 0 // NP sizes carry FPGAs, as in the static table
	}
	if m.GPUs > 0 {
		m.GPUType = rules.AzureGPU(s.Family, s.Name)
	}
	m.Category = catalog.Category(rules.Azure(s.Name, m.GPUs))
	if static, _, ok := catalog.MachineTypeAnyRegion(catalog.Azure, s.Name); ok {
		m.PricePerHour = static.PricePerHour
		if m.GPUs > 0 && static.GPUType != "" {
			m.GPUType = static.GPUType
		}
	}
	return m
}

// KubernetesVersions returns the AKS minors the location offers (previews left
// out), newest first, AKS's default marked; end of standard support from the static
// table where it knows the minor.
func (c *Catalog) KubernetesVersions(ctx context.Context) ([]catalog.Version, error) {
	resp, err := c.aks.ListKubernetesVersions(ctx, c.location, nil)
	if err != nil {
		return nil, fmt.Errorf("list aks kubernetes versions in %s: %w", c.location, err)
	}
	var out []catalog.Version
	for _, v := range resp.Values {
		if v == nil || v.Version == nil || (v.IsPreview != nil && *v.IsPreview) {
			continue
		}
		ver := catalog.Version{Minor: *v.Version, Default: v.IsDefault != nil && *v.IsDefault}
		if static, ok := catalog.KubernetesVersion(catalog.AKS, ver.Minor); ok {
			ver.EndOfStandardSupport = static.EndOfStandardSupport
		}
		out = append(out, ver)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("aks lists no version in %s: %w", c.location, catalog.ErrLiveUnavailable)
	}
	slices.SortFunc(out, func(a, b catalog.Version) int { return compareMinor(b.Minor, a.Minor) })
	return out, nil
}

func compareMinor(a, b string) int {
	ma, na := split(a)
	mb, nb := split(b)
	if ma != mb {
		return ma - mb
	}
	return na - nb
}

func split(v string) (major, minor int) {
	x, y, _ := strings.Cut(v, ".")
	major, _ = strconv.Atoi(x)
	minor, _ = strconv.Atoi(y)
	return major, minor
}
