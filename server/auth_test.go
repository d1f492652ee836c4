package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

func TestAPIKeyAuthentication(t *testing.T) {
	e := newEnv(t, nil)
	past := time.Now().Add(-time.Minute)
	future := time.Now().Add(time.Hour)
	expired := e.newKey(e.orgID, e.userID, func(k *store.APIKey) { k.ExpiresAt = &past })
	revoked := e.newKey(e.orgID, e.userID, func(k *store.APIKey) { k.RevokedAt = &past })
	valid := e.newKey(e.orgID, e.userID, func(k *store.APIKey) { k.ExpiresAt = &future })
	_, formerUser, _ := e.newOrg("elsewhere", store.RoleViewer)
	orphan := e.newKey(e.orgID, formerUser, func(*store.APIKey) {}) // not a member of acme

	for _, tc := range []struct {
		name, key string
		want      int
		message   string
	}{
		{"missing", "", http.StatusUnauthorized, "missing"},
		{"malformed", "not a key", http.StatusUnauthorized, "malformed"},
		{"too short", "astro_abc", http.StatusUnauthorized, "malformed"},
		{"unknown", "astro_" + strings.Repeat("x", 43), http.StatusUnauthorized, "invalid"},
		{"expired", expired, http.StatusUnauthorized, "expired"},
		{"revoked", revoked, http.StatusUnauthorized, "revoked"},
		{"owner left the org", orphan, http.StatusUnauthorized, "no longer a member"},
		{"valid", valid, http.StatusOK, ""},
		{"bootstrap admin", e.key, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(http.MethodGet, "/api/v1/clusters", tc.key, nil)
			if a.Status != tc.want {
				t.Fatalf("status %d %s, want %d", a.Status, a.Body, tc.want)
			}
			if tc.want == http.StatusOK {
				return
			}
			env := a.Error(t)
			if env.Code != httpx.CodeUnauthorized || !strings.Contains(env.Error, tc.message) {
				t.Fatalf("error %q (%s), want UNAUTHORIZED mentioning %q", env.Error, env.Code, tc.message)
			}
			if strings.Contains(e.logs.String(), tc.key) && tc.key != "" {
				t.Fatal("the presented key appears in the logs")
			}
		})
	}
}

func TestAdminOnlyOperationsRefuseOtherRoles(t *testing.T) {
	e := newEnv(t, nil)
	_, _, viewerKey := e.newOrg("viewers", store.RoleViewer)
	// Cloud operations are AdminAuth in the reference.
	a := e.do(http.MethodGet, "/api/v1/cloud/self-hosted/credentials?clusterName=prod", viewerKey, nil)
	if a.Status != http.StatusForbidden || a.Error(t).Code != httpx.CodeForbidden {
		t.Fatalf("viewer on an admin operation: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/cloud/self-hosted/credentials?clusterName=prod", e.key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("admin on an admin operation: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/cloud/gcp/connections/x", viewerKey, nil)
	if a.Status != http.StatusForbidden {
		t.Fatalf("viewer on an unbuilt admin operation: %d %s", a.Status, a.Body)
	}
}

func TestPublicOperationsNeedNoKey(t *testing.T) {
	e := newEnv(t, nil)
	if a := e.do(http.MethodGet, "/healthz", "", nil); a.Status != http.StatusOK {
		t.Fatalf("healthz: %d", a.Status)
	}
	if a := e.do(http.MethodGet, "/api/v1/notifications/topics", "", nil); a.Status != http.StatusOK {
		t.Fatalf("public operation without key: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/pricing", "", nil); a.Status != http.StatusOK {
		t.Fatalf("pricing without key: %d %s", a.Status, a.Body)
	}
}

func TestAnotherOrganizationsResourcesAreNotFound(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	otherOrg, _, otherKey := e.newOrg("globex", store.RoleAdmin)
	cl := &store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterReady}
	op := &store.Operation{ID: "acme.prod.deploy.1", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: "acme.prod.deploy.1"}
	must(t, e.store.CreateClusterWithOperation(ctx, cl, op))

	// acme sees its cluster, by ID and by name.
	for _, ref := range []string{cl.ID, "prod"} {
		a := e.do(http.MethodGet, "/api/v1/clusters/"+ref, e.key, nil)
		if a.Status != http.StatusOK || !strings.Contains(string(a.Body), cl.ID) {
			t.Fatalf("own cluster %s: %d %s", ref, a.Status, a.Body)
		}
	}
	// globex gets 404 for everything of acme's, and never its data.
	for _, path := range []string{
		"/api/v1/clusters/" + cl.ID,
		"/api/v1/clusters/prod",
		"/api/v1/clusters/prod/progress",
		"/api/v1/orgs/" + e.orgID,
		"/api/v1/orgs/" + e.orgID + "/members",
	} {
		a := e.do(http.MethodGet, path, otherKey, nil)
		if a.Status != http.StatusNotFound {
			t.Errorf("globex GET %s = %d %s, want 404", path, a.Status, a.Body)
			continue
		}
		// The answer may echo the path, but nothing of the cluster itself.
		if env := a.Error(t); env.Code != httpx.CodeNotFound || strings.Contains(string(a.Body), `"data"`) || strings.Contains(string(a.Body), "eks") {
			t.Errorf("globex GET %s leaks: %s", path, a.Body)
		}
	}
	a := e.do(http.MethodGet, "/api/v1/clusters", otherKey, nil)
	if env := a.Envelope(t); a.Status != http.StatusOK || len(env.Data.([]any)) != 0 {
		t.Fatalf("globex's list: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/orgs/"+otherOrg, otherKey, nil)
	if a.Status != http.StatusOK || !strings.Contains(string(a.Body), `"name":"globex"`) {
		t.Fatalf("globex's own org: %d %s", a.Status, a.Body)
	}
}

func TestOrganizationsOfTheUser(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(http.MethodGet, "/api/v1/orgs?page=1&pageSize=10", e.key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("list orgs: %d %s", a.Status, a.Body)
	}
	orgs := a.Envelope(t).Data.([]any)
	if len(orgs) != 1 || orgs[0].(map[string]any)["name"] != "acme" || orgs[0].(map[string]any)["role"] != "admin" {
		t.Fatalf("orgs = %v", orgs)
	}
	a = e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/members", e.key, nil)
	members := a.Envelope(t).Data.(map[string]any)
	if a.Status != http.StatusOK || members["total"].(float64) != 1 {
		t.Fatalf("members: %d %s", a.Status, a.Body)
	}
}

func TestReadyzReportsAMissingTemporal(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(http.MethodGet, "/readyz", "", nil)
	if a.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz without Temporal: %d %s", a.Status, a.Body)
	}
	if env := a.Error(t); env.Details["temporal"] == "ok" || env.Details["store"] != "ok" {
		t.Fatalf("readyz details %v", env.Details)
	}
}
