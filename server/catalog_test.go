package server_test

import (
	"net/http"
	"testing"
)

func TestCatalogEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	get := func(path string) answer { return e.do(http.MethodGet, path, e.key, nil) }
	count := func(a answer) int { return len(listData(t, a)) }
	if a := get("/api/v1/providers"); a.Status != http.StatusOK || count(a) != 3 {
		t.Fatalf("providers: %d %s", a.Status, a.Body)
	}
	if a := get("/api/v1/providers/aws/regions"); a.Status != http.StatusOK || count(a) < 5 {
		t.Fatalf("aws regions: %d %s", a.Status, a.Body)
	}
	if a := get("/api/v1/providers/aws/regions/us-east-1/zones"); a.Status != http.StatusOK || count(a) < 2 {
		t.Fatalf("zones: %d %s", a.Status, a.Body)
	}
	all := get("/api/v1/providers/aws/regions/us-east-1/zones/us-east-1a/machine-types")
	small := get("/api/v1/providers/aws/regions/us-east-1/zones/us-east-1a/machine-types?cpuMax=2&memMax=4Gi")
	arm := get("/api/v1/providers/aws/regions/us-east-1/zones/us-east-1a/machine-types?architecture=arm64")
	if all.Status != http.StatusOK || count(small) == 0 || count(small) >= count(all) || count(arm) == 0 || count(arm) >= count(all) {
		t.Fatalf("machine type filters: all %d, small %d, arm %d", count(all), count(small), count(arm))
	}
	if a := get("/api/v1/providers/aws/regions/us-east-1/machine-types/t3.medium"); a.Status != http.StatusOK ||
		e.data(a)["cpu"] != "2" || e.data(a)["memory"] != "4Gi" {
		t.Fatalf("t3.medium: %d %s", a.Status, a.Body)
	}
	for _, path := range []string{
		"/api/v1/providers/ibm/regions",
		"/api/v1/providers/aws/regions/mars-1/zones",
		"/api/v1/providers/aws/regions/us-east-1/machine-types/t9.huge",
		"/api/v1/providers/aws/regions/us-east-1/zones/us-east-1z/machine-types",
	} {
		if a := get(path); a.Status != http.StatusNotFound {
			t.Fatalf("%s: %d %s", path, a.Status, a.Body)
		}
	}
	if a := get("/api/v1/providers/aws/regions/us-east-1/zones/us-east-1a/machine-types?cpuMin=lots"); a.Status != http.StatusBadRequest || a.Error(t).Details["query.cpuMin"] == nil {
		t.Fatalf("bad cpuMin: %d %s", a.Status, a.Body)
	}

	v := get("/api/v1/cloud/kubernetes-versions?cloudProvider=gcp&provisionerType=gke&releaseChannel=STABLE&autopilot=true")
	if v.Status != http.StatusOK || len(e.data(v)["versions"].([]any)) == 0 || e.data(v)["defaultVersion"] == nil {
		t.Fatalf("gke versions: %d %s", v.Status, v.Body)
	}
	if a := get("/api/v1/cloud/kubernetes-versions?cloudProvider=aws&provisionerType=aks"); a.Status != http.StatusBadRequest {
		t.Fatalf("aks on aws: %d %s", a.Status, a.Body)
	}
}
