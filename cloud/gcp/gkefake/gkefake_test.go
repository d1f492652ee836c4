package gkefake_test

import (
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/googleapis/gax-go/v2/apierror"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/astropulse/astroplane/cloud/gcp/gkefake"
)

const parent = "projects/p/locations/europe-west1"

func clients(t *testing.T) (*gkefake.Server, *container.Service, *compute.Service) {
	t.Helper()
	fake := gkefake.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	gke, err := container.NewService(t.Context(), option.WithEndpoint(srv.URL+"/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	gce, err := compute.NewService(t.Context(), option.WithEndpoint(srv.URL+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	return fake, gke, gce
}

// TestErrorsParseAsGoogles: Google's own error parser (gax apierror, which the
// clients wrap every error in) reads the fake's errors: status, reason, retry delay
// and quota violations.
func TestErrorsParseAsGoogles(t *testing.T) {
	fake, gke, _ := clients(t)
	fake.Inject(gkefake.Fault{Method: "clusters.get", Times: 1, Err: gkefake.Throttled(7 * time.Second)})
	fake.Inject(gkefake.Fault{Method: "clusters.list", Err: gkefake.QuotaExceeded("CPUS")})
	_, err := gke.Projects.Locations.Clusters.Get(parent + "/clusters/c").Do()
	var ae *apierror.APIError
	if !errors.As(err, &ae) || ae.HTTPCode() != 429 || ae.Reason() != "RATE_LIMIT_EXCEEDED" ||
		ae.Details().RetryInfo == nil || ae.Details().RetryInfo.GetRetryDelay().AsDuration() != 7*time.Second {
		t.Fatalf("throttled: %v (%+v)", err, ae)
	}
	_, err = gke.Projects.Locations.Clusters.List(parent).Do()
	if !errors.As(err, &ae) || ae.HTTPCode() != 403 || ae.Details().QuotaFailure == nil || ae.Reason() != "QUOTA_EXCEEDED" {
		t.Fatalf("quota: %v (%+v)", err, ae)
	}
	_, err = gke.Projects.Locations.Clusters.Get(parent + "/clusters/c").Do()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != 404 {
		t.Fatalf("missing cluster: %v", err)
	}
}

// TestOperationsRunThenEnd: a create is RUNNING until observed PollsToDone times, the
// cluster PROVISIONING until then; another change meanwhile is refused; a fault in
// the operation ends it DONE with the error and the cluster in ERROR.
func TestOperationsRunThenEnd(t *testing.T) {
	fake, gke, gce := clients(t)
	fake.PollsToDone = 2
	op, err := gke.Projects.Locations.Clusters.Create(parent, &container.CreateClusterRequest{Cluster: &container.Cluster{
		Name: "c", NodePools: []*container.NodePool{{Name: "pool", InitialNodeCount: 1}}}}).Do()
	if err != nil || op.Status != "RUNNING" || op.OperationType != "CREATE_CLUSTER" {
		t.Fatalf("create: %+v, %v", op, err)
	}
	_, err = gke.Projects.Locations.Clusters.SetResourceLabels(parent+"/clusters/c", &container.SetLabelsRequest{}).Do()
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) || gerr.Code != 400 {
		t.Fatalf("labels while the create runs: %v, want 400 incompatible operation", err)
	}
	if cl, _ := gke.Projects.Locations.Clusters.Get(parent + "/clusters/c").Do(); cl.Status != "PROVISIONING" {
		t.Fatalf("after one observation: %s", cl.Status)
	}
	done, err := gke.Projects.Locations.Operations.Get(parent + "/operations/" + op.Name).Do()
	if err != nil || done.Status != "DONE" || done.Error != nil {
		t.Fatalf("operation after two observations: %+v, %v", done, err)
	}
	cl, _ := fake.Cluster(parent + "/clusters/c")
	if cl.Status != "RUNNING" || cl.NodePools[0].Status != "RUNNING" || cl.Endpoint == "" {
		t.Fatalf("cluster %+v", cl)
	}

	fake.Inject(gkefake.Fault{Method: "clusters.create", InOperation: true, Err: gkefake.QuotaExceeded("CPUS")})
	op, err = gke.Projects.Locations.Clusters.Create(parent, &container.CreateClusterRequest{Cluster: &container.Cluster{Name: "d", InitialNodeCount: 1}}).Do()
	if err != nil {
		t.Fatal(err)
	}
	for op.Status != "DONE" {
		if op, err = gke.Projects.Locations.Operations.Get(parent + "/operations/" + op.Name).Do(); err != nil {
			t.Fatal(err)
		}
	}
	if op.Error == nil || op.Error.Code != 8 || len(op.Error.Details) == 0 {
		t.Fatalf("failed operation %+v", op)
	}
	if cl, _ := fake.Cluster(parent + "/clusters/d"); cl.Status != "ERROR" || cl.Conditions[0].CanonicalCode != "RESOURCE_EXHAUSTED" {
		t.Fatalf("cluster after a failed create %+v", cl)
	}

	// Compute: the same request ID is the same insert.
	n := &compute.Network{Name: "net", AutoCreateSubnetworks: true}
	op1, err := gce.Networks.Insert("p", n).RequestId("r-1").Do()
	if err != nil {
		t.Fatal(err)
	}
	op2, err := gce.Networks.Insert("p", n).RequestId("r-1").Do()
	if err != nil || op2.Name != op1.Name {
		t.Fatalf("insert again with its request ID: %v, %s then %s", err, op1.Name, op2.Name)
	}
	if _, err := gce.Networks.Insert("p", n).RequestId("r-2").Do(); !errors.As(err, &gerr) || gerr.Code != 409 || gerr.Errors[0].Reason != "alreadyExists" {
		t.Fatalf("insert with another request ID: %v", err)
	}
}

// zones.list answers Compute Engine's shape through the official client: every
// zone with its region's URL and status, pages of maxResults, a filter refused.
func TestZonesList(t *testing.T) {
	fake := gkefake.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cs, err := compute.NewService(t.Context(), option.WithEndpoint(srv.URL+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	pages := 0
	err = cs.Zones.List("p-1").MaxResults(4).Pages(t.Context(), func(l *compute.ZoneList) error {
		pages++
		for _, z := range l.Items {
			names = append(names, z.Name)
			if z.Name == "europe-west4-b" && (z.Region != "https://www.googleapis.com/compute/v1/projects/p-1/regions/europe-west4" || z.Status != "UP") {
				t.Errorf("zone %+v", z)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 10 || pages != 3 || names[0] != "europe-west4-a" {
		t.Errorf("%d pages of %v", pages, names)
	}
	if _, err := cs.Zones.List("p-1").Filter(`name = "us-central1-a"`).Do(); err == nil {
		t.Error("a filter was answered as if applied")
	}
}

// regions.list answers Compute Engine's shape through the official client: the
// regions of the fake's zones, each UP with its zones' URLs, pages of maxResults,
// a filter refused.
func TestRegionsList(t *testing.T) {
	fake := gkefake.New()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cs, err := compute.NewService(t.Context(), option.WithEndpoint(srv.URL+"/compute/v1/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	pages := 0
	err = cs.Regions.List("p-1").MaxResults(2).Pages(t.Context(), func(l *compute.RegionList) error {
		pages++
		for _, r := range l.Items {
			names = append(names, r.Name)
			if r.Name == "us-east1" && (r.Status != "UP" || len(r.Zones) != 3 ||
				r.Zones[0] != "https://www.googleapis.com/compute/v1/projects/p-1/zones/us-east1-b") {
				t.Errorf("region %+v", r)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"europe-west4", "us-central1", "us-east1"}; pages != 2 || !slices.Equal(names, want) {
		t.Errorf("%d pages of %v, want 2 of %v", pages, names, want)
	}
	if _, err := cs.Regions.List("p-1").MaxResults(501).Do(); err == nil {
		t.Error("maxResults 501 was answered")
	}
	if _, err := cs.Regions.List("p-1").Filter(`name = "us-east1"`).Do(); err == nil {
		t.Error("a filter was answered as if applied")
	}
}
