package azurecatalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	aksfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6/fake"

	"github.com/google/uuid"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/catalog/azurecatalog"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/validate"
)

const sub = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"

// azure routes the resource SKUs list to a wire server of ours speaking its REST
// shape, and everything else to the SDK's own fake AKS server.
type azure struct {
	aks      *aksfake.ManagedClustersServerTransport
	mu       sync.Mutex
	requests []string
}

func capability(name, value string) map[string]string {
	return map[string]string{"name": name, "value": value}
}

func vm(name, family string, locations []string, caps ...map[string]string) map[string]any {
	return map[string]any{"resourceType": "virtualMachines", "name": name, "family": family, "locations": locations, "capabilities": caps}
}

func (a *azure) Do(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/subscriptions/"+sub+"/locations") {
		return a.locations(req)
	}
	if !strings.HasSuffix(req.URL.Path, "/providers/Microsoft.Compute/skus") {
		return a.aks.Do(req)
	}
	a.mu.Lock()
	a.requests = append(a.requests, req.URL.RawQuery)
	a.mu.Unlock()
	var page map[string]any
	if req.URL.Query().Get("page") == "" {
		restricted := vm("Standard_NC6s_v3", "standardNCSv3Family", []string{"uksouth"}, capability("vCPUs", "6"), capability("MemoryGB", "112"), capability("GPUs", "1"))
		restricted["restrictions"] = []any{map[string]any{"type": "Location", "values": []string{"uksouth"}, "reasonCode": "NotAvailableForSubscription"}}
		restricted["locationInfo"] = []any{map[string]any{"location": "uksouth", "zones": []string{"2", "1"}}}
		page = map[string]any{"value": []any{
			vm("Standard_D2s_v5", "standardDSv5Family", []string{"uksouth"}, capability("vCPUs", "2"), capability("MemoryGB", "8")),
			restricted,
			map[string]any{"resourceType": "disks", "name": "Premium_LRS", "locations": []string{"uksouth"}},
		}, "nextLink": "https://management.azure.com/subscriptions/" + sub + "/providers/Microsoft.Compute/skus?api-version=2021-07-01&page=2"}
	} else {
		zoned := vm("Standard_D4ps_v6", "standardDpsv6Family", []string{"uksouth"}, capability("vCPUs", "4"), capability("MemoryGB", "16"), capability("CpuArchitectureType", "Arm64"))
		zoned["locationInfo"] = []any{map[string]any{"location": "UKSouth", "zones": []string{"3", "1"}}}
		page = map[string]any{"value": []any{
			zoned,
			vm("Standard_ND96isr_H100_v5", "standardNDSH100v5Family", []string{"uksouth"}, capability("vCPUs", "96"), capability("MemoryGB", "1900"), capability("GPUs", "8")),
			vm("Standard_Z9s_v9", "standardZSv9Family", []string{"uksouth"}, capability("vCPUs", "9"), capability("MemoryGB", "0.5")),
		}}
	}
	b, _ := json.Marshal(page)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(string(b))), Request: req}, nil
}

func newCatalog(t *testing.T) (*azurecatalog.Catalog, *azure) {
	t.Helper()
	a := &azure{aks: aksfake.NewManagedClustersServerTransport(&aksfake.ManagedClustersServer{
		ListKubernetesVersions: func(_ context.Context, location string, _ *armcontainerservice.ManagedClustersClientListKubernetesVersionsOptions) (resp azfake.Responder[armcontainerservice.ManagedClustersClientListKubernetesVersionsResponse], errResp azfake.ErrorResponder) {
			v := func(minor string, def, preview bool) *armcontainerservice.KubernetesVersion {
				return &armcontainerservice.KubernetesVersion{Version: &minor, IsDefault: &def, IsPreview: &preview}
			}
			resp.SetResponse(http.StatusOK, armcontainerservice.ManagedClustersClientListKubernetesVersionsResponse{
				KubernetesVersionListResult: armcontainerservice.KubernetesVersionListResult{Values: []*armcontainerservice.KubernetesVersion{
					v("1.31", true, false), v("1.34", false, true), v("1.33", false, false), v("1.32", false, false)}}}, nil)
			return resp, errResp
		},
	})}
	c, err := azurecatalog.New(sub, "uksouth", &azfake.TokenCredential{}, &arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: a}})
	if err != nil {
		t.Fatal(err)
	}
	return c, a
}

// A region's sizes are the virtual-machine SKUs listed there and not restricted for
// the subscription, pages followed, described as the static table describes them.
func TestMachineTypesFromResourceSKUs(t *testing.T) {
	live, a := newCatalog(t)
	got, err := live.MachineTypes(t.Context(), "uksouth")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.Name)
		if static, ok := catalog.MachineType("azure", "uksouth", m.Name); ok && static != m {
			t.Errorf("live %+v\nstatic %+v", m, static)
		}
	}
	if want := []string{"Standard_D4ps_v6", "Standard_D2s_v5", "Standard_ND96isr_H100_v5", "Standard_Z9s_v9"}; !slices.Equal(names, want) {
		t.Fatalf("names = %v, want %v", names, want)
	}
	if z := got[3]; z.CPUMillicores != 9000 || z.MemoryMiB != 512 {
		t.Errorf("a size the static table lacks: %+v", z)
	}
	if len(a.requests) != 2 || !strings.Contains(a.requests[0], "%24filter=location+eq+%27uksouth%27") || !strings.Contains(a.requests[0], "api-version=2021-07-01") {
		t.Errorf("requests = %q", a.requests)
	}

	// With the subscription's own catalog, a size restricted in the region is a
	// fault naming it, where the static table (every size everywhere) says nothing.
	spec := api.K8sClusterSpec{ClusterName: "demo", Provider: api.ClusterProviderAzure, Region: ptr("uksouth"),
		Provisioner: api.ClusterProvisioner{Type: "aks", Aks: &api.AksProvisioner{SubscriptionId: uuid.MustParse(sub), ResourceGroup: "rg"}},
		ClusterSpec: &api.ClusterTopology{DataPlane: &api.ClusterDataPlane{NodeGroups: []api.NodeGroupSpec{
			{Name: "systempool", MinNode: 1, MaxNode: 3, MachineTypes: []string{"standard_nc6s_v3"}}}}}}
	const field = "spec.clusterSpec.dataPlane.nodeGroups.0.machineTypes.0"
	errs, _ := validate.CheckLive(t.Context(), spec, catalog.NewCache(live, 0))
	if !strings.Contains(errs[field], "not offered in uksouth") {
		t.Errorf("faults %v, want %s refused in uksouth", errs, field)
	}
	if errs, _ := validate.Check(spec); errs[field] != "" {
		t.Errorf("the static check refused it: %v", errs)
	}
}

// A region's zones are those its virtual-machine SKUs list in locationInfo
// (restricted sizes' too: the zone exists), from the same listing as the sizes; a
// region the list has nothing in is catalog.ErrUnknownRegion.
func TestZonesFromResourceSKUs(t *testing.T) {
	live, a := newCatalog(t)
	got, err := live.Zones(t.Context(), "uksouth")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1", "2", "3"}; !slices.Equal(got, want) {
		t.Errorf("zones = %v, want %v", got, want)
	}
	if _, err := live.MachineTypes(t.Context(), "uksouth"); err != nil || len(a.requests) != 2 {
		t.Errorf("machine types after zones: %v, %d requests; want the listing's two pages once", err, len(a.requests))
	}
	if _, err := live.Zones(t.Context(), "marsnorth"); !errors.Is(err, catalog.ErrUnknownRegion) {
		t.Errorf("marsnorth: %v, want ErrUnknownRegion", err)
	}
}

func TestVersionsFromAKS(t *testing.T) {
	live, _ := newCatalog(t)
	vs, err := live.KubernetesVersions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var minors []string
	for _, v := range vs {
		minors = append(minors, v.Minor)
	}
	if !slices.Equal(minors, []string{"1.33", "1.32", "1.31"}) || !vs[2].Default || vs[0].Default || vs[2].EndOfStandardSupport.IsZero() {
		t.Fatalf("versions = %+v", vs)
	}
}

func ptr[T any](v T) *T { return &v }

// locations answers the subscription's locations list in Resource Manager's shape
// (physical regions, logical ones and an edge zone), in two pages.
func (a *azure) locations(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.requests = append(a.requests, req.URL.Path+"?"+req.URL.RawQuery)
	a.mu.Unlock()
	loc := func(name, typ, regionType string) map[string]any {
		return map[string]any{"id": "/subscriptions/" + sub + "/locations/" + name, "name": name, "type": typ, "displayName": name,
			"metadata": map[string]any{"regionType": regionType, "regionCategory": "Recommended"}}
	}
	var page map[string]any
	if req.URL.Query().Get("page") == "" {
		page = map[string]any{"value": []any{loc("uksouth", "Region", "Physical"), loc("europe", "Region", "Logical"), loc("eastus", "Region", "Physical")},
			"nextLink": "https://management.azure.com/subscriptions/" + sub + "/locations?api-version=2022-12-01&page=2"}
	} else {
		page = map[string]any{"value": []any{loc("global", "Region", "Logical"), loc("losangeles", "EdgeZone", "Physical"), loc("brazilsouth", "Region", "Physical")}}
	}
	b, _ := json.Marshal(page)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(string(b))), Request: req}, nil
}

// The subscription's regions are its physical locations, pages followed, sorted;
// logical locations and edge zones are not regions.
func TestRegionsFromLocations(t *testing.T) {
	live, a := newCatalog(t)
	got, err := live.Regions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"brazilsouth", "eastus", "uksouth"}; !slices.Equal(got, want) {
		t.Errorf("regions = %v, want %v", got, want)
	}
	if len(a.requests) != 2 || !strings.Contains(a.requests[0], "/subscriptions/"+sub+"/locations?api-version=2022-12-01") {
		t.Errorf("requests %v, want the locations list's two pages", a.requests)
	}
}
