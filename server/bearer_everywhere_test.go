package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/internal/oidctest"
	"github.com/astropulse/astroplane/server/httpx"
)

// TestBearerOnEveryOperation walks every operation of openapi.yaml with only a
// user's bearer token (the admin of acme, signed in through the test's issuer):
// every operation that is not public lists BearerAuth beside the API key, and none
// answers 401 or a server error to a signed-in admin; public ones stay public (no
// security requirement, no role).
func TestBearerOnEveryOperation(t *testing.T) {
	spec := loadSpec(t)
	e, iss := newBearerEnv(t)
	tok := iss.Token(t, "k1", userClaims("acme-admin", "acme-admin@example.com", nil))
	values := map[string]string{"id": e.orgID, "orgId": e.orgID}
	n := 0
	for _, o := range specOps(spec) {
		security := spec.Security
		if o.op.Security != nil {
			security = *o.op.Security
		}
		level, _ := o.op.Extensions["x-astro-role"].(string)
		if level == authz.LevelPublic && !takes(security, "ApiKeyAuth") && !takes(security, "AdminAuth") {
			require.Empty(t, security, "%s is public: no credential asked", o.op.OperationID)
			continue
		}
		if level != authz.LevelPublic {
			require.True(t, takes(security, "BearerAuth"), "%s (%s) takes no bearer token", o.op.OperationID, level)
			require.True(t, takes(security, "ApiKeyAuth") || takes(security, "AdminAuth") || o.op.Tags[0] == "UserProfiles",
				"%s takes no API key", o.op.OperationID)
			for _, p := range o.op.Parameters {
				if p.Value.Name == httpx.HeaderAPIKey {
					require.False(t, p.Value.Required, "%s requires %s", o.op.OperationID, httpx.HeaderAPIKey)
				}
			}
		}
		if o.path == "/api/v1/clusters" && o.method == http.MethodPost {
			continue // starts a workflow: the e2e test deploys with a bearer token
		}
		n++
		path := samplePath(spec, o, values)
		t.Run(o.op.OperationID, func(t *testing.T) {
			a := e.do(o.method, path, "", nil, bearer(tok)...)
			if a.Status == http.StatusUnauthorized && level != authz.LevelPublic {
				t.Fatalf("%s %s with a bearer token = 401: %s", o.method, path, a.Body)
			}
			if a.Status == http.StatusForbidden && level != authz.LevelPublic && !planRefusal(t, a) {
				t.Fatalf("%s %s as acme's admin = 403: %s", o.method, path, a.Body)
			}
			if a.Status >= 500 && a.Status != http.StatusNotImplemented && a.Status != http.StatusServiceUnavailable {
				t.Fatalf("%s %s: %d %s", o.method, path, a.Status, a.Body)
			}
		})
	}
	require.Greater(t, n, 80)
}

func takes(security openapi3.SecurityRequirements, scheme string) bool {
	for _, req := range security {
		if _, ok := req[scheme]; ok {
			return true
		}
	}
	return false
}

// TestBearerRolesAndOrganization: a bearer request acts with the user's role in the
// organization X-Astro-Organization-ID names, else their active one: a viewer's
// deploy is refused (403 with the envelope naming editor) before validation, an
// editor's reaches validation, and the cluster list is the named organization's.
func TestBearerRolesAndOrganization(t *testing.T) {
	e, iss := newBearerEnv(t)
	viewerID, _ := e.addMember(authz.RoleViewer)
	_, _ = e.addMember(authz.RoleEditor)
	viewer := iss.Token(t, "k1", userClaims("v", "viewer@acme.example.com", nil))
	editor := iss.Token(t, "k1", userClaims("ed", "editor@acme.example.com", nil))

	a := e.do(http.MethodPost, "/api/v1/clusters", "", eksManifest("demo"), bearer(viewer)...)
	require.Equal(t, http.StatusForbidden, a.Status, string(a.Body))
	env := a.Error(t)
	require.Equal(t, httpx.CodeForbidden, env.Code)
	require.Equal(t, "editor", env.Details["requiredRole"])
	require.Equal(t, "viewer", env.Details["role"])
	a = e.do(http.MethodPost, "/api/v1/clusters", "", map[string]any{"kind": "nope"}, bearer(editor)...)
	require.Equal(t, http.StatusBadRequest, a.Status, string(a.Body))

	// The viewer is admin of a second organization: named there, they may delete.
	globexID, _, _ := e.newOrg("globex", authz.RoleAdmin)
	must(t, e.store.AddMember(t.Context(), globexID, viewerID, authz.RoleAdmin))
	a = e.do(http.MethodDelete, "/api/v1/clusters/nope", "", nil, append(bearer(viewer), "X-Astro-Organization-ID", "globex")...)
	require.Equal(t, http.StatusNotFound, a.Status, string(a.Body))
	a = e.do(http.MethodDelete, "/api/v1/clusters/nope", "", nil, append(bearer(viewer), "X-Astro-Organization-ID", e.orgID)...)
	require.Equal(t, http.StatusForbidden, a.Status, string(a.Body))
	a = e.do(http.MethodGet, "/api/v1/clusters", "", nil, append(bearer(viewer), "X-Astro-Organization-ID", "initech")...)
	require.Equal(t, http.StatusForbidden, a.Status, "not a member: %s", a.Body)
}

// TestBothCredentials is the rule for a request carrying an API key and a bearer
// token: both are checked (either one refused is a 401, as alone), they must belong
// to one user (else 401), and the request acts as the key, in its organization with
// its role. An operation that takes only one of the two refuses the other (401).
func TestBothCredentials(t *testing.T) {
	e, iss := newBearerEnv(t)
	admin := iss.Token(t, "k1", userClaims("acme-admin", "acme-admin@example.com", nil))
	viewerID, viewerKey := e.addMember(authz.RoleViewer)
	_ = viewerID

	t.Run("key and its user's token act as the key", func(t *testing.T) {
		a := e.do(http.MethodGet, "/api/v1/integrations/github/installations", e.key, nil, bearer(admin)...)
		require.Equal(t, http.StatusNotImplemented, a.Status, string(a.Body))
		require.Equal(t, httpx.CodeNotImplemented, a.Error(t).Code)
		a = e.do(http.MethodGet, "/api/v1/orgs", e.key, nil, bearer(admin)...)
		require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	})
	t.Run("a junk token beside a good key", func(t *testing.T) {
		a := e.do(http.MethodGet, "/api/v1/applications", e.key, nil, "Authorization", "Bearer token")
		require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
		require.Equal(t, httpx.CodeUnauthorized, a.Error(t).Code)
	})
	t.Run("a junk key beside a good token", func(t *testing.T) {
		a := e.do(http.MethodGet, "/api/v1/clusters", "astro_not-a-key", nil, bearer(admin)...)
		require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
		require.Contains(t, a.Error(t).Error, "API key")
	})
	t.Run("another user's key and token", func(t *testing.T) {
		// the viewer's key with the admin's token: neither role is taken, the call is refused
		a := e.do(http.MethodPost, "/api/v1/clusters", viewerKey, map[string]any{"kind": "nope"}, bearer(admin)...)
		require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
		env := a.Error(t)
		require.Contains(t, env.Error, "different users")
		require.Contains(t, env.Details, "header.Authorization")
	})
	t.Run("the key's role, not the user's", func(t *testing.T) {
		viewer := iss.Token(t, "k1", userClaims("v", "viewer@acme.example.com", nil))
		a := e.do(http.MethodPost, "/api/v1/clusters", viewerKey, map[string]any{"kind": "nope"}, bearer(viewer)...)
		require.Equal(t, http.StatusForbidden, a.Status, string(a.Body))
	})
	t.Run("the key's organization: a header naming another is 403", func(t *testing.T) {
		globexID, _, _ := e.newOrg("globex", authz.RoleAdmin)
		must(t, e.store.AddMember(t.Context(), globexID, e.userID, authz.RoleAdmin))
		a := e.do(http.MethodGet, "/api/v1/clusters", e.key, nil, append(bearer(admin), "X-Astro-Organization-ID", "globex")...)
		require.Equal(t, http.StatusForbidden, a.Status, string(a.Body))
		env := a.Error(t)
		require.Equal(t, "acme", env.Details["keyOrganization"])
		require.True(t, strings.Contains(env.Error, `"globex"`), env.Error)
		// the same header with the token alone acts for globex
		a = e.do(http.MethodGet, "/api/v1/clusters", "", nil, append(bearer(admin), "X-Astro-Organization-ID", "globex")...)
		require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	})
	t.Run("an operation taking one credential refuses the other", func(t *testing.T) {
		a := e.do(http.MethodGet, "/api/v1/users/me", e.key, nil, bearer(admin)...)
		require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
		require.Contains(t, a.Error(t).Error, "not an API key")
	})
	t.Run("another issuer's token beside a good key", func(t *testing.T) {
		other := oidctest.New(t)
		a := e.do(http.MethodGet, "/api/v1/clusters", e.key, nil, bearer(other.Token(t, "k1", userClaims("acme-admin", "acme-admin@example.com", nil)))...)
		require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
	})
}
