package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// samplePath fills an operation's path parameters with values (by name, else a
// sample of the schema) and adds its required query parameters.
func samplePath(spec *openapi3.T, o specOp, values map[string]string) string {
	path, query := o.path, []string{}
	params := append(openapi3.Parameters{}, spec.Paths.Find(o.path).Parameters...)
	params = append(params, o.op.Parameters...)
	for _, p := range params {
		v, ok := values[p.Value.Name]
		if !ok {
			v = sampleValue(p.Value.Schema)
		}
		switch p.Value.In {
		case openapi3.ParameterInPath:
			path = strings.ReplaceAll(path, "{"+p.Value.Name+"}", v)
		case openapi3.ParameterInQuery:
			if p.Value.Required {
				query = append(query, p.Value.Name+"="+v)
			}
		}
	}
	if len(query) > 0 {
		path += "?" + strings.Join(query, "&")
	}
	return path
}

// TestRoleMatrix walks every operation of openapi.yaml with a key of each role
// (viewer, editor, admin) of one organization: a role at least the operation's
// x-astro-role is allowed (anything but 403), a lower one is 403 with the error
// envelope naming the role needed. Requests carry no body, so nothing is changed.
func TestRoleMatrix(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, nil)
	keys := map[string]string{authz.RoleAdmin: e.key}
	for _, role := range []string{authz.RoleViewer, authz.RoleEditor} {
		_, keys[role] = e.addMember(role)
	}
	values := map[string]string{"id": e.orgID, "orgId": e.orgID}
	cases, refused := 0, 0
	for _, o := range specOps(spec) {
		level, _ := o.op.Extensions["x-astro-role"].(string)
		if !authz.ValidLevel(level) {
			t.Errorf("%s declares x-astro-role %q", o.op.OperationID, level)
			continue
		}
		path := samplePath(spec, o, values)
		for _, role := range []string{authz.RoleViewer, authz.RoleEditor, authz.RoleAdmin} {
			cases++
			t.Run(o.op.OperationID+"/"+role, func(t *testing.T) {
				a := e.do(o.method, path, keys[role], nil, "X-Astro-Organization-ID", e.orgID, "X-Validate-API-Key", keys[role])
				allowed := level == authz.LevelPublic || level == authz.LevelAuthenticated || authz.Rank(role) >= authz.Rank(level)
				if allowed {
					if a.Status == http.StatusForbidden && !planRefusal(t, a) {
						t.Fatalf("%s %s (%s) as %s = 403: %s", o.method, path, level, role, a.Body)
					}
					return
				}
				refused++
				if a.Status != http.StatusForbidden {
					t.Fatalf("%s %s (%s) as %s = %d, want 403: %s", o.method, path, level, role, a.Status, a.Body)
				}
				env := a.Error(t)
				if env.Code != httpx.CodeForbidden || env.Details["requiredRole"] != level || env.Details["role"] != role {
					t.Fatalf("%s as %s: 403 envelope %+v", o.op.OperationID, role, env)
				}
			})
		}
	}
	if len(specOps(spec)) < 100 || refused == 0 {
		t.Fatalf("%d cases, %d refused: the matrix did not walk the contract", cases, refused)
	}
	t.Logf("%d operations × 3 roles = %d cases, %d refused", len(specOps(spec)), cases, refused)
}

// planRefusal reports whether a 403 is the plan's (the organization's plan does not
// unlock the operation, e.g. the audit log on free), not a role's.
func planRefusal(t *testing.T, a answer) bool {
	t.Helper()
	d := a.Error(t).Details
	_, plan := d["requiredPlan"]
	_, role := d["requiredRole"]
	return plan && !role
}

// TestViewerCannotDeploy: the viewer's key is refused before validation, whatever
// the body, and the editor's passes to validation.
func TestViewerCannotDeploy(t *testing.T) {
	e := newEnv(t, nil)
	viewerID, viewer := e.addMember(store.RoleViewer)
	_, editor := e.addMember(store.RoleEditor)
	a := e.do(http.MethodPost, "/api/v1/clusters", viewer, eksManifest("demo"))
	if a.Status != http.StatusForbidden || !strings.Contains(a.Error(t).Error, "editor") {
		t.Fatalf("viewer deploys: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodPost, "/api/v1/clusters", editor, map[string]any{"kind": "nope"})
	if a.Status != http.StatusBadRequest {
		t.Fatalf("editor's invalid deploy: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodDelete, "/api/v1/clusters/demo", editor, nil)
	if a.Status != http.StatusForbidden {
		t.Fatalf("editor deletes: %d %s", a.Status, a.Body)
	}
	// A role change applies at once: the viewer made editor passes.
	must(t, e.store.SetMemberRole(context.Background(), e.orgID, viewerID, store.RoleEditor))
	if a := e.do(http.MethodPost, "/api/v1/clusters", viewer, map[string]any{"kind": "nope"}); a.Status != http.StatusBadRequest {
		t.Fatalf("promoted viewer: %d %s", a.Status, a.Body)
	}
}

// addMember adds a member of role to e's organization and returns their ID and a key.
func (e *env) addMember(role string) (userID, key string) {
	e.t.Helper()
	u := store.User{ID: store.NewID(), Email: role + "@acme.example.com"}
	must(e.t, e.store.CreateUser(context.Background(), &u))
	must(e.t, e.store.AddMember(context.Background(), e.orgID, u.ID, role))
	return u.ID, e.newKey(e.orgID, u.ID, func(*store.APIKey) {})
}
