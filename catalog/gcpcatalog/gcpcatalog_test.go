package gcpcatalog_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/container/v1"
	"google.golang.org/api/option"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/catalog/gcpcatalog"
	"github.com/astropulse/astroplane/cloud/gcp/gkefake"
)

// gce is a wire server speaking the Compute Engine and GKE REST shapes the catalog
// reads: regions.get, machineTypes.list (paged) and getServerConfig.
type gce struct {
	mu       sync.Mutex
	requests []string
}

func mt(name string, cpus, mb int64, arch string, acc ...*compute.MachineTypeAccelerators) *compute.MachineType {
	return &compute.MachineType{Name: name, GuestCpus: cpus, MemoryMb: mb, Architecture: arch, Accelerators: acc}
}

func (g *gce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.requests = append(g.requests, r.URL.Path+"?pageToken="+r.URL.Query().Get("pageToken"))
	g.mu.Unlock()
	var body any
	switch r.URL.Path {
	case "/compute/v1/projects/p-1/regions/us-central1":
		body = compute.Region{Name: "us-central1", Zones: []string{
			"https://www.googleapis.com/compute/v1/projects/p-1/zones/us-central1-a",
			"https://www.googleapis.com/compute/v1/projects/p-1/zones/us-central1-b"}}
	case "/compute/v1/projects/p-1/zones/us-central1-a/machineTypes":
		if r.URL.Query().Get("pageToken") == "" {
			body = compute.MachineTypeList{NextPageToken: "next", Items: []*compute.MachineType{
				mt("e2-standard-2", 2, 8192, "X86_64"), mt("n4-standard-80", 80, 327680, "X86_64")}}
		} else {
			body = compute.MachineTypeList{Items: []*compute.MachineType{
				mt("a3-highgpu-8g", 208, 1916928, "X86_64", &compute.MachineTypeAccelerators{GuestAcceleratorType: "nvidia-h100-80gb", GuestAcceleratorCount: 8})}}
		}
	case "/compute/v1/projects/p-1/zones/us-central1-b/machineTypes":
		obsolete := mt("m2-ultramemx-96", 96, 614400, "X86_64")
		obsolete.Deprecated = &compute.DeprecationStatus{State: "OBSOLETE"}
		body = compute.MachineTypeList{Items: []*compute.MachineType{
			mt("e2-standard-2", 2, 8192, "X86_64"), mt("c4a-standard-8", 8, 32768, "ARM64"), obsolete,
			mt("g2-standard-24", 24, 98304, "X86_64", &compute.MachineTypeAccelerators{GuestAcceleratorType: "nvidia-l4", GuestAcceleratorCount: 2}),
			mt("z9-future-8", 8, 65536, "X86_64")}}
	case "/v1/projects/p-1/locations/us-central1/serverConfig":
		body = container.ServerConfig{
			DefaultClusterVersion: "1.31.6-gke.1020000",
			ValidMasterVersions:   []string{"1.33.1-gke.1107000", "1.32.4-gke.1106006", "1.31.8-gke.1045000", "1.31.6-gke.1020000", "1.30.5-gke.1443001"},
			Channels: []*container.ReleaseChannelConfig{
				{Channel: "RAPID", ValidVersions: []string{"1.33.1-gke.1107000"}},
				{Channel: "REGULAR", ValidVersions: []string{"1.32.4-gke.1106006", "1.31.8-gke.1045000"}},
				{Channel: "STABLE", ValidVersions: []string{"1.31.6-gke.1020000"}},
			}}
	default:
		http.Error(w, `{"error":{"code":404,"message":"not found"}}`, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

func newCatalog(t *testing.T) (*gcpcatalog.Catalog, *gce) {
	t.Helper()
	g := &gce{}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	cs, err := compute.NewService(t.Context(), option.WithEndpoint(srv.URL+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := container.NewService(t.Context(), option.WithEndpoint(srv.URL+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	return gcpcatalog.New(cs, ks, "p-1", "us-central1"), g
}

// A region's types are its zones' types, each once, obsolete ones left out, pages
// followed, described as the static table describes them.
func TestMachineTypesFromComputeEngine(t *testing.T) {
	live, g := newCatalog(t)
	got, err := live.MachineTypes(t.Context(), "us-central1")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, m.Name)
		if static, ok := catalog.MachineType("gcp", "us-central1", m.Name); ok && static != m {
			t.Errorf("live %+v\nstatic %+v", m, static)
		}
	}
	want := []string{"a3-highgpu-8g", "c4a-standard-8", "e2-standard-2", "g2-standard-24", "n4-standard-80", "z9-future-8"}
	if !slices.Equal(names, want) {
		t.Fatalf("names = %v, want %v", names, want)
	}
	if got[0].GPUs != 8 || got[0].GPUType != "nvidia-h100-80gb" || got[1].Architecture != catalog.ArchARM64 || got[2].PricePerHour != 0.067 {
		t.Errorf("types = %+v", got)
	}
	if z := got[5]; z.CPUMillicores != 8000 || z.MemoryMiB != 65536 || z.Category != catalog.CategoryGeneralPurpose {
		t.Errorf("a type the static table lacks: %+v", z)
	}
	if !slices.Contains(g.requests, "/compute/v1/projects/p-1/zones/us-central1-a/machineTypes?pageToken=next") {
		t.Errorf("requests = %v, want the second page asked for", g.requests)
	}
	if _, err := live.MachineTypes(t.Context(), "mars1"); err == nil {
		t.Error("an unknown region answered")
	}
}

// GKE's server config gives the minors, their builds and channels, and the default.
func TestVersionsFromServerConfig(t *testing.T) {
	live, _ := newCatalog(t)
	vs, err := live.KubernetesVersions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var minors []string
	for _, v := range vs {
		minors = append(minors, v.Minor)
	}
	if !slices.Equal(minors, []string{"1.33", "1.32", "1.31", "1.30"}) {
		t.Fatalf("minors = %v", minors)
	}
	v131 := vs[2]
	if !v131.Default || vs[0].Default || len(v131.Builds) != 2 || v131.Builds[0].Version != "1.31.8-gke.1045000" ||
		!slices.Equal(v131.Builds[1].Channels, []string{"STABLE"}) || !slices.Equal(v131.Channels, []string{"REGULAR", "STABLE"}) ||
		!v131.AutopilotCompatible || v131.EndOfStandardSupport.IsZero() {
		t.Errorf("1.31 = %+v", v131)
	}
	if vs[3].AutopilotCompatible || len(vs[3].Channels) != 0 {
		t.Errorf("1.30, in no channel = %+v", vs[3])
	}
}

// A region's zones come from zones.list of gkefake (Compute Engine's REST shape):
// the region's alone, sorted, a DOWN zone kept, a DELETED one left out; a region no zone lies in is
// catalog.ErrUnknownRegion, and a list that fails is an error of its own.
func TestZonesFromComputeEngine(t *testing.T) {
	fake := gkefake.New()
	fake.SetZones(gkefake.Zone{Name: "us-central1-b", Region: "us-central1"}, gkefake.Zone{Name: "us-central1-a", Region: "us-central1"},
		gkefake.Zone{Name: "us-central1-f", Region: "us-central1", Status: "DOWN"}, gkefake.Zone{Name: "us-central2-a", Region: "us-central2"},
		gkefake.Zone{Name: "europe-west4-a", Region: "europe-west4"}, gkefake.Zone{Name: "us-central1-d", Region: "us-central1", Deprecated: "DELETED"})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cs, err := compute.NewService(t.Context(), option.WithEndpoint(srv.URL+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	live := gcpcatalog.New(cs, nil, "p-1", "us-central1")
	got, err := live.Zones(t.Context(), "us-central1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"us-central1-a", "us-central1-b", "us-central1-f"}; !slices.Equal(got, want) {
		t.Errorf("zones = %v, want %v", got, want)
	}
	if calls := fake.Calls("zones.list"); len(calls) != 1 || calls[0].Name != "projects/p-1/zones" {
		t.Errorf("zones.list calls = %+v", calls)
	}
	if _, err := live.Zones(t.Context(), "mars1"); !errors.Is(err, catalog.ErrUnknownRegion) {
		t.Errorf("mars1: %v, want ErrUnknownRegion", err)
	}
	fake.Inject(gkefake.Fault{Method: "zones.list", Err: gkefake.Throttled(0)})
	if _, err := live.Zones(t.Context(), "us-central1"); err == nil || errors.Is(err, catalog.ErrUnknownRegion) {
		t.Errorf("a throttled list: %v, want an error that is not ErrUnknownRegion", err)
	}
}

// The project's regions come from regions.list of gkefake (Compute Engine's REST
// shape), every page followed, sorted; a list that fails is an error.
func TestRegionsFromComputeEngine(t *testing.T) {
	fake := gkefake.New()
	fake.SetZones(gkefake.Zone{Name: "us-central1-b", Region: "us-central1"}, gkefake.Zone{Name: "us-east1-b", Region: "us-east1"},
		gkefake.Zone{Name: "europe-west4-a", Region: "europe-west4"}, gkefake.Zone{Name: "asia-south1-a", Region: "asia-south1"})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cs, err := compute.NewService(t.Context(), option.WithEndpoint(srv.URL+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	live := gcpcatalog.New(cs, nil, "p-1", "us-central1")
	got, err := live.Regions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"asia-south1", "europe-west4", "us-central1", "us-east1"}; !slices.Equal(got, want) {
		t.Errorf("regions = %v, want %v", got, want)
	}
	if calls := fake.Calls("regions.list"); len(calls) != 1 || calls[0].Name != "projects/p-1/regions" {
		t.Errorf("regions.list calls = %+v", calls)
	}
	fake.Inject(gkefake.Fault{Method: "regions.list", Err: gkefake.Throttled(0)})
	if _, err := live.Regions(t.Context()); err == nil || !strings.Contains(err.Error(), "p-1") {
		t.Errorf("a throttled list: %v, want an error naming the project", err)
	}
}
