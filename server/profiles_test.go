package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/store"
)

// Profiles through the real router: create from a manifest (profile3) or flat spec,
// placement resolved with its reason, every refusal naming the field, roles, get by
// ID or name, delete and bulk delete.
func TestApplicationProfiles(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for _, c := range []store.Cluster{
		{Name: "prod-west", Provider: "aws", Region: "us-west-2", Status: store.ClusterReady, KubernetesVersion: "1.31"},
		{Name: "west-old", Provider: "aws", Region: "us-west-2", Status: store.ClusterReady, KubernetesVersion: "1.29"},
		{Name: "building", Provider: "gcp", Region: "us-central1", Status: store.ClusterProvisioning},
	} {
		c.ID, c.OrgID, c.ProvisionerType = store.NewID(), e.orgID, "eks"
		must(t, e.store.CreateClusterWithOperation(ctx, &c, &store.Operation{ID: c.Name + ".deploy", Type: "deploy",
			Status: store.OperationSucceeded, WorkflowID: c.Name + ".deploy"}))
	}
	post := func(key string, body any) answer { return e.do(http.MethodPost, "/api/v1/app-profiles", key, body) }
	manifest := func(spec map[string]any) map[string]any {
		return map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "ApplicationProfile", "spec": spec}
	}
	data := func(a answer) map[string]any { return a.Envelope(t).Data.(map[string]any) }

	// profile3: explicit cluster.
	a := post(e.key, manifest(map[string]any{"profileName": "profile3", "clusterName": "prod-west"}))
	if a.Status != http.StatusCreated {
		t.Fatalf("profile3: %d %s", a.Status, a.Body)
	}
	p3 := data(a)
	rc, _ := p3["resolvedCluster"].(map[string]any)
	if p3["placement"] != "cluster" || p3["availabilityTier"] != "basic" || rc["name"] != "prod-west" || !strings.Contains(rc["reason"].(string), "names cluster") {
		t.Fatalf("profile3: %s", a.Body)
	}
	// Provider and region: the best READY cluster there, and why.
	a = post(e.key, map[string]any{"profileName": "west", "cloudProvider": map[string]any{"provider": "aws", "region": "us-west-2"},
		"resources": map[string]any{"memory": map[string]any{"minimum": "1Gi", "maximum": "2Gi"}}})
	rc, _ = data(a)["resolvedCluster"].(map[string]any)
	if a.Status != http.StatusCreated || rc["name"] != "prod-west" || !strings.Contains(rc["reason"].(string), "newest Kubernetes version (1.31)") {
		t.Fatalf("west: %d %s", a.Status, a.Body)
	}
	// No READY cluster there: accepted, saying why none fits.
	a = post(e.key, map[string]any{"profileName": "gke", "cloudProvider": map[string]any{"provider": "gcp"}})
	if d := data(a); a.Status != http.StatusCreated || d["resolvedCluster"] != nil || !strings.Contains(d["placementError"].(string), "is READY") {
		t.Fatalf("gke: %d %s", a.Status, a.Body)
	}
	// Nearest.
	a = post(e.key, map[string]any{"profileName": "anywhere"})
	if d := data(a); a.Status != http.StatusCreated || d["placement"] != "nearest" || d["resolvedCluster"] == nil {
		t.Fatalf("anywhere: %d %s", a.Status, a.Body)
	}

	// Refusals, each naming the field.
	for _, c := range []struct {
		name   string
		body   any
		status int
		field  string
	}{
		{"taken name", map[string]any{"profileName": "west"}, http.StatusConflict, "profileName"},
		{"unknown cluster", manifest(map[string]any{"profileName": "x", "clusterName": "nope"}), http.StatusUnprocessableEntity, "spec.clusterName"},
		{"unknown region", map[string]any{"profileName": "x", "cloudProvider": map[string]any{"provider": "aws", "region": "mars-1"}}, http.StatusBadRequest, "cloudProvider.region"},
		{"min above max", manifest(map[string]any{"profileName": "x", "resources": map[string]any{"cpu": map[string]any{"minimum": "2", "maximum": "500m"}}}), http.StatusBadRequest, "spec.resources.cpu.minimum"},
		{"tier above plan", map[string]any{"profileName": "x", "availabilityTier": "premium"}, http.StatusForbidden, "availabilityTier"},
	} {
		a := post(e.key, c.body)
		if a.Status != c.status || a.Error(t).Details[c.field] == nil {
			t.Errorf("%s: %d %s, want %d naming %s", c.name, a.Status, a.Body, c.status, c.field)
		}
	}
	// A bad name is refused by the contract before the handler.
	if a := post(e.key, map[string]any{"profileName": "Bad_Name"}); a.Status != http.StatusBadRequest {
		t.Fatalf("bad name: %d %s", a.Status, a.Body)
	}

	// Roles: a viewer reads, an editor creates but does not delete.
	_, _, viewer := e.newOrg("acme-viewers", store.RoleViewer)
	if a := e.do(http.MethodGet, "/api/v1/app-profiles", viewer, nil); a.Status != http.StatusOK || len(listData(t, a)) != 0 {
		t.Fatalf("viewer of another org lists: %d %s", a.Status, a.Body) // and sees none of acme's
	}
	if a := post(viewer, map[string]any{"profileName": "v"}); a.Status != http.StatusForbidden {
		t.Fatalf("viewer creates: %d", a.Status)
	}
	ed := store.User{ID: store.NewID(), Email: "editor@example.com"}
	must(t, e.store.CreateUser(ctx, &ed))
	must(t, e.store.AddMember(ctx, e.orgID, ed.ID, store.RoleEditor))
	editor := e.newKey(e.orgID, ed.ID, func(*store.APIKey) {})
	if a := e.do(http.MethodDelete, "/api/v1/app-profiles/west", editor, nil); a.Status != http.StatusForbidden {
		t.Fatalf("editor deletes: %d %s", a.Status, a.Body)
	}

	// List, get by ID and by name.
	if a := e.do(http.MethodGet, "/api/v1/app-profiles", e.key, nil); len(listData(t, a)) != 4 {
		t.Fatalf("list: %s", a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/app-profiles/"+p3["id"].(string), e.key, nil); a.Status != http.StatusOK || data(a)["profileName"] != "profile3" {
		t.Fatalf("get by id: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/app-profiles/nope", e.key, nil); a.Status != http.StatusNotFound {
		t.Fatalf("get unknown: %d", a.Status)
	}

	// A profile in use (an application names it) is kept: delete 409 naming the
	// application, bulk delete skips it saying why.
	must(t, e.store.CreateApplication(ctx, &store.Application{OrgID: e.orgID, Name: "hello-world", Profile: "anywhere",
		SourceType: "image", Namespace: "hello-world", SyncType: "auto", Status: store.AppDeployed}))
	if a := e.do(http.MethodDelete, "/api/v1/app-profiles/anywhere", e.key, nil); a.Status != http.StatusConflict ||
		!strings.Contains(string(a.Body), "hello-world") {
		t.Fatalf("delete in use: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodPost, "/api/v1/app-profiles/bulk-delete", e.key, map[string]any{"profileNames": []string{"anywhere"}})
	if sk := data(a)["skipped"].([]any); len(sk) != 1 || sk[0].(map[string]any)["reason"] != "in use by 1 application" {
		t.Fatalf("bulk delete in use: %s", a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/app-profiles/anywhere", e.key, nil); data(a)["applicationCount"] != 1.0 {
		t.Fatalf("count: %s", a.Body)
	}

	// Delete and bulk delete.
	if a := e.do(http.MethodDelete, "/api/v1/app-profiles/profile3", e.key, nil); a.Status != http.StatusOK || data(a)["profileName"] != "profile3" {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/app-profiles/profile3", e.key, nil); a.Status != http.StatusNotFound {
		t.Fatalf("deleted profile reads %d", a.Status)
	}
	a = e.do(http.MethodPost, "/api/v1/app-profiles/bulk-delete", e.key, map[string]any{"profileNames": []string{"west", "gke", "west", "ghost"}})
	d := data(a)
	if a.Status != http.StatusOK || len(d["deleted"].([]any)) != 2 || len(d["notFound"].([]any)) != 1 || len(d["skipped"].([]any)) != 0 {
		t.Fatalf("bulk delete: %d %s", a.Status, a.Body)
	}
}
