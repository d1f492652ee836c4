package workflows_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/internal/testmoto"
	"github.com/astropulse/astroplane/workflows"
)

// keysSource gives fixed AWS keys and counts how often it is asked.
type keysSource struct{ asked atomic.Int32 }

func (k *keysSource) Credentials(context.Context, cloud.AccountRef) (cloud.Credentials, error) {
	k.asked.Add(1)
	return cloud.Credentials{Values: map[string]string{"accessKeyId": "AKIACATALOGTEST", "secretAccessKey": "catalog-test-secret"}}, nil
}

// LookupCatalog runs the real activity against moto: the region's instance types
// come back (t3.medium is offered in ca-west-1, p5.48xlarge is not), versions are
// unavailable (moto lacks DescribeClusterVersions) and said so; a second lookup is
// answered from the worker's cache without a call to EC2; nothing secret is in the
// result; the cache keeps at most MaxEntries accounts and regions.
func TestLookupCatalogAgainstMoto(t *testing.T) {
	moto := testmoto.Start(t)
	target, err := url.Parse(moto.URL)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(target)
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(counting.Close)

	keys := &keysSource{}
	a := &activities.Catalog{Credentials: keys, MaxEntries: 1,
		Live: map[string]activities.LiveFactory{"aws": activities.AWSCatalog(activities.AWSCatalogOptions{Endpoint: counting.URL})}}
	in := activities.LookupCatalogInput{Account: cloud.AccountRef{OrgID: "org-1", Provider: "aws", AccountID: "123456789012", CredentialsType: "dynamic"},
		Region: "ca-west-1"}
	lookup := func(in activities.LookupCatalogInput) activities.LookupCatalogResult {
		t.Helper()
		var ts testsuite.WorkflowTestSuite
		env := ts.NewTestWorkflowEnvironment()
		env.SetTestTimeout(time.Minute) // a cold region is a dozen calls to moto
		env.RegisterActivity(a)
		env.ExecuteWorkflow(workflows.LookupCatalog, in)
		var out activities.LookupCatalogResult
		if err := env.GetWorkflowResult(&out); err != nil {
			t.Fatalf("LookupCatalog: %v", err)
		}
		return out
	}

	out := lookup(in)
	if out.MachineTypesError != "" {
		t.Fatalf("machine types not answered: %s", out.MachineTypesError)
	}
	byName := map[string]activities.LiveMachineType{}
	for _, m := range out.MachineTypes {
		byName[m.Name] = m
	}
	if m, ok := byName["t3.medium"]; !ok || m.CPUMillicores != 2000 || m.MemoryMiB != 4096 || m.Architecture != "x86_64" {
		t.Errorf("t3.medium in ca-west-1: %+v (listed %v), want 2 vCPU, 4 GiB, x86_64", m, ok)
	}
	if _, ok := byName["p5.48xlarge"]; ok {
		t.Errorf("p5.48xlarge listed in ca-west-1, which moto does not offer it in")
	}
	if out.VersionsError == "" || !out.VersionsUnavailable || len(out.Versions) != 0 {
		t.Errorf("versions: %d, error %q, unavailable %v; want moto's missing DescribeClusterVersions said", len(out.Versions), out.VersionsError, out.VersionsUnavailable)
	}
	raw, _ := json.Marshal(out)
	t.Logf("ca-west-1: %d machine types, %d bytes of result", len(out.MachineTypes), len(raw))
	if strings.Contains(string(raw), "catalog-test-secret") || strings.Contains(string(raw), "AKIACATALOGTEST") {
		t.Errorf("the result carries the account's keys: %s", raw[:200])
	}

	before := calls.Load()
	again := lookup(in)
	if len(again.MachineTypes) != len(out.MachineTypes) {
		t.Errorf("second lookup: %d types, first %d", len(again.MachineTypes), len(out.MachineTypes))
	}
	// Versions are not kept when they fail (the next caller may succeed): one
	// DescribeClusterVersions; machine types come from the cache.
	if n := calls.Load() - before; n > 1 {
		t.Errorf("second lookup made %d calls; the machine types should come from the worker's cache", n)
	}
	if keys.asked.Load() != 1 {
		t.Errorf("credentials loaded %d times, want once (they do not expire)", keys.asked.Load())
	}

	in.Region = "us-east-1"
	if r := lookup(in); r.MachineTypesError != "" || len(r.MachineTypes) == 0 {
		t.Errorf("us-east-1: %d types, error %q", len(r.MachineTypes), r.MachineTypesError)
	}
	if n := activities.CachedCatalogs(a); n != 1 {
		t.Errorf("cache holds %d accounts and regions, want MaxEntries 1", n)
	}

	// Without a region: the account's enabled regions (DescribeRegions), nothing else.
	in.Region = ""
	if r := lookup(in); r.RegionsError != "" || !slices.Contains(r.Regions, "ca-west-1") || !slices.Contains(r.Regions, "us-east-1") || len(r.MachineTypes) != 0 {
		t.Errorf("regions: %v, error %q, %d types", r.Regions, r.RegionsError, len(r.MachineTypes))
	}
	in.Region = "us-east-1"

	// A provider this worker has no live catalog of answers "unavailable", not an error.
	in.Account.Provider = "gcp"
	if r := lookup(in); !r.MachineTypesUnavailable || !r.VersionsUnavailable {
		t.Errorf("gcp without a live catalog: %+v", r)
	}
}
