package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/container/v1"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/cloud"
)

// GCPCatalog reads the project's machine types and GKE versions of the region with
// the account's access token, as a bearer token on every request.
func TestGCPCatalogUsesTheAccountsToken(t *testing.T) {
	var mu sync.Mutex
	auth := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth[r.URL.Path] = r.Header.Get("Authorization")
		mu.Unlock()
		var body any
		switch r.URL.Path {
		case "/compute/v1/projects/p-1/regions/europe-west4":
			body = compute.Region{Name: "europe-west4", Zones: []string{"https://www.googleapis.com/compute/v1/projects/p-1/zones/europe-west4-a"}}
		case "/compute/v1/projects/p-1/regions":
			body = compute.RegionList{Items: []*compute.Region{{Name: "us-east1", Status: "UP"}, {Name: "europe-west4", Status: "UP"}}}
		case "/compute/v1/projects/p-1/zones":
			body = compute.ZoneList{Items: []*compute.Zone{{Name: "europe-west4-a", Region: "https://www.googleapis.com/compute/v1/projects/p-1/regions/europe-west4"},
				{Name: "us-east1-b", Region: "https://www.googleapis.com/compute/v1/projects/p-1/regions/us-east1"}}}
		case "/compute/v1/projects/p-1/zones/europe-west4-a/machineTypes":
			body = compute.MachineTypeList{Items: []*compute.MachineType{{Name: "c4a-standard-8", GuestCpus: 8, MemoryMb: 32768, Architecture: "ARM64"}}}
		case "/v1/projects/p-1/locations/europe-west4/serverConfig":
			body = container.ServerConfig{DefaultClusterVersion: "1.33.1-gke.1107000", ValidMasterVersions: []string{"1.33.1-gke.1107000"},
				Channels: []*container.ReleaseChannelConfig{{Channel: "REGULAR", ValidVersions: []string{"1.33.1-gke.1107000"}}}}
		default:
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)

	creds := cloud.Credentials{Values: map[string]string{"accessToken": "ya29.catalog-test"}}
	a := &activities.Catalog{Credentials: staticCreds(creds),
		Live: map[string]activities.LiveFactory{"gcp": activities.GCPCatalog(activities.GCPCatalogOptions{Endpoint: srv.URL})}}
	out, err := a.LookupCatalog(t.Context(), activities.LookupCatalogInput{
		Account: cloud.AccountRef{OrgID: "org-1", Provider: "gcp", AccountID: "p-1", CredentialsType: "dynamic"}, Region: "europe-west4"})
	if err != nil {
		t.Fatal(err)
	}
	if out.MachineTypesError != "" || len(out.MachineTypes) != 1 || out.MachineTypes[0].Name != "c4a-standard-8" || out.MachineTypes[0].Architecture != "arm64" {
		t.Errorf("machine types: %+v (error %q)", out.MachineTypes, out.MachineTypesError)
	}
	if out.VersionsError != "" || len(out.Versions) != 1 || out.Versions[0].Minor != "1.33" || !out.Versions[0].Default {
		t.Errorf("versions: %+v (error %q)", out.Versions, out.VersionsError)
	}
	if out.ZonesError != "" || len(out.Zones) != 1 || out.Zones[0] != "europe-west4-a" || out.RegionUnknown {
		t.Errorf("zones: %v (error %q)", out.Zones, out.ZonesError)
	}
	// Without a region: the project's regions (regions.list), nothing else.
	out, err = a.LookupCatalog(t.Context(), activities.LookupCatalogInput{
		Account: cloud.AccountRef{OrgID: "org-1", Provider: "gcp", AccountID: "p-1", CredentialsType: "dynamic"}})
	if err != nil || out.RegionsError != "" || !slices.Equal(out.Regions, []string{"europe-west4", "us-east1"}) || len(out.MachineTypes) != 0 {
		t.Errorf("regions: %+v, %v", out, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != 5 {
		t.Errorf("requests %v, want zones, region, machine types, server config and regions", auth)
	}
	for path, h := range auth {
		if h != "Bearer ya29.catalog-test" {
			t.Errorf("%s sent Authorization %q", path, h)
		}
	}
}

type staticCreds cloud.Credentials

func (s staticCreds) Credentials(context.Context, cloud.AccountRef) (cloud.Credentials, error) {
	return cloud.Credentials(s), nil
}

// azureWire answers the resource SKUs and AKS versions of a subscription, keeping
// each request's Authorization header.
type azureWire struct {
	mu   sync.Mutex
	auth map[string]string
}

func (a *azureWire) Do(req *http.Request) (*http.Response, error) {
	a.mu.Lock()
	a.auth[req.URL.Path] = req.Header.Get("Authorization")
	a.mu.Unlock()
	var body any
	switch {
	case strings.HasSuffix(req.URL.Path, "/providers/Microsoft.Compute/skus"):
		body = map[string]any{"value": []any{map[string]any{"resourceType": "virtualMachines", "name": "Standard_D2s_v5", "family": "standardDSv5Family",
			"locations": []string{"uksouth"}, "capabilities": []any{map[string]string{"name": "vCPUs", "value": "2"}, map[string]string{"name": "MemoryGB", "value": "8"}}}}}
	case strings.HasSuffix(req.URL.Path, "/locations/uksouth/kubernetesVersions"):
		body = map[string]any{"values": []any{map[string]any{"version": "1.33", "isDefault": true, "isPreview": false}}}
	default:
		return &http.Response{StatusCode: http.StatusNotFound, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: req}, nil
	}
	b, _ := json.Marshal(body)
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(b)), Request: req}, nil
}

// AzureCatalog reads the subscription's sizes and AKS versions of the region with
// the account's Resource Manager token; an expired token fails the look-up (the
// caller falls back), it is not sent.
func TestAzureCatalogUsesTheAccountsToken(t *testing.T) {
	wire := &azureWire{auth: map[string]string{}}
	creds := cloud.Credentials{Values: map[string]string{"accessToken": "eyJ.catalog-test",
		"expiresOn": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}
	a := &activities.Catalog{Credentials: staticCreds(creds), Live: map[string]activities.LiveFactory{"azure": activities.AzureCatalog(
		activities.AzureCatalogOptions{ClientOptions: &arm.ClientOptions{ClientOptions: policy.ClientOptions{Transport: wire}}})}}
	in := activities.LookupCatalogInput{Account: cloud.AccountRef{OrgID: "org-1", Provider: "azure",
		AccountID: "0b1f6471-1bf0-4dda-aec3-cb9272f09590", CredentialsType: "dynamic"}, Region: "uksouth"}
	out, err := a.LookupCatalog(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if out.MachineTypesError != "" || len(out.MachineTypes) != 1 || out.MachineTypes[0].Name != "Standard_D2s_v5" || out.MachineTypes[0].MemoryMiB != 8192 {
		t.Errorf("machine types: %+v (error %q)", out.MachineTypes, out.MachineTypesError)
	}
	if out.VersionsError != "" || len(out.Versions) != 1 || out.Versions[0].Minor != "1.33" {
		t.Errorf("versions: %+v (error %q)", out.Versions, out.VersionsError)
	}
	wire.mu.Lock()
	if len(wire.auth) != 2 {
		t.Errorf("requests %v, want the SKUs and the versions", wire.auth)
	}
	for path, h := range wire.auth {
		if h != "Bearer eyJ.catalog-test" {
			t.Errorf("%s sent Authorization %q", path, h)
		}
	}
	wire.mu.Unlock()

	expired := cloud.Credentials{Values: map[string]string{"accessToken": "eyJ.old", "expiresOn": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}}
	a = &activities.Catalog{Credentials: staticCreds(expired), Live: a.Live}
	wire.auth = map[string]string{}
	out, err = a.LookupCatalog(t.Context(), in)
	if err != nil || out.MachineTypesError == "" || !strings.Contains(out.MachineTypesError, "expired") {
		t.Errorf("expired token: %+v, %v", out, err)
	}
	if len(wire.auth) != 0 {
		t.Errorf("an expired token was sent: %v", wire.auth)
	}
}

// zonesLive is a provider's live catalog that counts its calls: us-east-1 has
// three zones, us-fake-9 does not exist, and eu-west-1's zones fail (throttled).
type zonesLive struct {
	mu    sync.Mutex
	calls []string
}

func (z *zonesLive) called(c string) {
	z.mu.Lock()
	z.calls = append(z.calls, c)
	z.mu.Unlock()
}

func (z *zonesLive) Zones(_ context.Context, region string) ([]string, error) {
	z.called("zones " + region)
	switch region {
	case "us-fake-9":
		return nil, fmt.Errorf("us-fake-9 is not a region: %w", catalog.ErrUnknownRegion)
	case "eu-west-1":
		return nil, errors.New("RequestLimitExceeded")
	}
	return []string{region + "a", region + "b", region + "c"}, nil
}

func (z *zonesLive) MachineTypes(_ context.Context, region string) ([]catalog.MachineTypeInfo, error) {
	z.called("types " + region)
	return []catalog.MachineTypeInfo{{Name: "t3.medium"}}, nil
}

func (z *zonesLive) KubernetesVersions(context.Context) ([]catalog.Version, error) {
	z.called("versions")
	return []catalog.Version{{Minor: "1.33", Default: true}}, nil
}

// LookupCatalog answers the region's zones with the rest, kept in the same cache; a
// region the provider says does not exist is RegionUnknown, and nothing else is
// asked of it; zones that fail are an error of their own, the rest answered.
func TestLookupCatalogZones(t *testing.T) {
	live := &zonesLive{}
	a := &activities.Catalog{Live: map[string]activities.LiveFactory{"aws": func(context.Context, cloud.AccountRef, cloud.Credentials, string) (catalog.Live, error) {
		return live, nil
	}}}
	ask := func(region string) activities.LookupCatalogResult {
		t.Helper()
		out, err := a.LookupCatalog(t.Context(), activities.LookupCatalogInput{Account: cloud.AccountRef{OrgID: "org-1", Provider: "aws", AccountID: "123456789012"}, Region: region})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for range 2 {
		out := ask("us-east-1")
		if !slices.Equal(out.Zones, []string{"us-east-1a", "us-east-1b", "us-east-1c"}) || out.ZonesError != "" || out.RegionUnknown || len(out.MachineTypes) != 1 {
			t.Errorf("us-east-1: %+v", out)
		}
	}
	if want := []string{"zones us-east-1", "types us-east-1", "versions"}; !slices.Equal(live.calls, want) {
		t.Errorf("calls %v, want %v (the second lookup from the cache)", live.calls, want)
	}

	live.calls = nil
	out := ask("us-fake-9")
	if !out.RegionUnknown || !strings.Contains(out.ZonesError, "us-fake-9 is not a region") || out.ZonesUnavailable ||
		out.MachineTypesError == "" || out.VersionsError == "" || len(out.MachineTypes) != 0 {
		t.Errorf("us-fake-9: %+v", out)
	}
	if want := []string{"zones us-fake-9"}; !slices.Equal(live.calls, want) {
		t.Errorf("calls %v, want %v", live.calls, want)
	}

	out = ask("eu-west-1")
	if out.RegionUnknown || out.ZonesUnavailable || out.ZonesError != "RequestLimitExceeded" || out.MachineTypesError != "" || len(out.Versions) != 1 {
		t.Errorf("eu-west-1: %+v", out)
	}

	// A worker without a live catalog of the provider: every question unavailable.
	out, err := a.LookupCatalog(t.Context(), activities.LookupCatalogInput{Account: cloud.AccountRef{OrgID: "org-1", Provider: "gcp"}, Region: "us-central1"})
	if err != nil || !out.ZonesUnavailable || out.ZonesError == "" || !out.MachineTypesUnavailable {
		t.Errorf("no live catalog of gcp: %+v, %v", out, err)
	}

	// The short JSON names travel in the workflow's history.
	b, _ := json.Marshal(activities.LookupCatalogResult{Zones: []string{"1"}, ZonesError: "e", ZonesUnavailable: true, RegionUnknown: true})
	if string(b) != `{"z":["1"],"ze":"e","zu":true,"ru":true}` {
		t.Errorf("JSON %s", b)
	}
}

// regionsLive is zonesLive that also lists the account's regions, failing while
// fail is set.
type regionsLive struct {
	zonesLive
	fail bool
}

func (r *regionsLive) Regions(context.Context) ([]string, error) {
	r.called("regions")
	if r.fail {
		return nil, errors.New("UnauthorizedOperation")
	}
	return []string{"eu-west-3", "us-east-1"}, nil
}

// A lookup without a region answers the account's regions alone, cached per
// account; a failed listing is an error of its own and not kept; a live catalog
// that lists no regions, or a worker without one, answers RegionsUnavailable.
func TestLookupCatalogRegions(t *testing.T) {
	live := &regionsLive{fail: true}
	var asked []string
	a := &activities.Catalog{Live: map[string]activities.LiveFactory{
		"aws": func(_ context.Context, _ cloud.AccountRef, _ cloud.Credentials, region string) (catalog.Live, error) {
			asked = append(asked, region)
			return live, nil
		},
		"gcp": func(context.Context, cloud.AccountRef, cloud.Credentials, string) (catalog.Live, error) {
			return &zonesLive{}, nil
		},
	}}
	ask := func(provider string) activities.LookupCatalogResult {
		t.Helper()
		out, err := a.LookupCatalog(t.Context(), activities.LookupCatalogInput{Account: cloud.AccountRef{OrgID: "org-1", Provider: provider, AccountID: "123456789012"}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	out := ask("aws")
	if out.RegionsError != "UnauthorizedOperation" || out.RegionsUnavailable || len(out.Regions) != 0 {
		t.Errorf("failing: %+v", out)
	}
	live.fail = false
	for range 2 {
		out = ask("aws")
		if !slices.Equal(out.Regions, []string{"eu-west-3", "us-east-1"}) || out.RegionsError != "" || len(out.Zones)+len(out.MachineTypes)+len(out.Versions) != 0 {
			t.Errorf("aws: %+v", out)
		}
	}
	if want := []string{"regions", "regions"}; !slices.Equal(live.calls, want) {
		t.Errorf("calls %v, want %v (the failure not kept, the answer kept)", live.calls, want)
	}
	if !slices.Equal(asked, []string{""}) {
		t.Errorf("the factory was asked for regions %q, want one without a region", asked)
	}

	out = ask("gcp")
	if !out.RegionsUnavailable || !strings.Contains(out.RegionsError, "lists no regions") {
		t.Errorf("a live catalog without regions: %+v", out)
	}
	out = ask("azure")
	if !out.RegionsUnavailable || out.RegionsError == "" || out.ZonesError != "" {
		t.Errorf("no live catalog of azure: %+v", out)
	}
	if _, err := a.LookupCatalog(t.Context(), activities.LookupCatalogInput{Account: cloud.AccountRef{OrgID: "org-1"}}); err == nil {
		t.Error("a lookup without a provider was answered")
	}

	b, _ := json.Marshal(activities.LookupCatalogResult{Regions: []string{"r1"}, RegionsError: "e", RegionsUnavailable: true})
	if string(b) != `{"r":["r1"],"re":"e","rn":true}` {
		t.Errorf("JSON %s", b)
	}
}
