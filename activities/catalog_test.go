package activities_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/container/v1"

	"github.com/astropulse/astroplane/activities"
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
	mu.Lock()
	defer mu.Unlock()
	if len(auth) != 3 {
		t.Errorf("requests %v, want region, machine types and server config", auth)
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
