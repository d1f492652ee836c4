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
// The matrix is about roles, so its organization is on the enterprise plan, which
// unlocks every feature: no answer may be a plan refusal (PLAN_REQUIRED), for any
// role; TestPlanRefusalIsNotARoleRefusal covers plans.
func TestRoleMatrix(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, nil)
	orgID, _, adminKey := e.enterpriseOrg("initech")
	keys := map[string]string{authz.RoleAdmin: adminKey}
	for _, role := range []string{authz.RoleViewer, authz.RoleEditor} {
		_, keys[role] = e.addMemberTo(orgID, role+"@initech.example.com", role)
	}
	values := map[string]string{"id": orgID, "orgId": orgID}
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
				a := e.do(o.method, path, keys[role], nil, "X-Astro-Organization-ID", orgID, "X-Validate-API-Key", keys[role])
				if a.Status == http.StatusForbidden && planRefusal(t, a) {
					t.Fatalf("%s %s as %s: a plan refusal on the enterprise plan: %s", o.method, path, role, a.Body)
				}
				allowed := level == authz.LevelPublic || level == authz.LevelAuthenticated || authz.Rank(role) >= authz.Rank(level)
				if allowed {
					if a.Status == http.StatusForbidden {
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
// unlock the operation, e.g. the audit log on free: PLAN_REQUIRED), not a role's.
func planRefusal(t *testing.T, a answer) bool {
	t.Helper()
	return a.Error(t).Code == httpx.CodePlanRequired
}

// TestPlanRefusalIsNotARoleRefusal: on a plan without the audit log (free), its
// admin is refused every operation of the Audit group with 403 PLAN_REQUIRED naming
// the plan needed and no role; a viewer there is refused for the role first (403
// FORBIDDEN naming the role needed), as on any plan; on enterprise the admin passes.
func TestPlanRefusalIsNotARoleRefusal(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, nil) // acme, on the free plan
	_, viewerKey := e.addMember(authz.RoleViewer)
	enterpriseID, _, enterpriseKey := e.enterpriseOrg("initech")
	audited := 0
	for _, o := range specOps(spec) {
		if len(o.op.Tags) == 0 || o.op.Tags[0] != "Audit" {
			continue
		}
		audited++
		t.Run(o.op.OperationID, func(t *testing.T) {
			path := samplePath(spec, o, map[string]string{"id": e.orgID, "orgId": e.orgID})
			a := e.do(o.method, path, e.key, nil)
			if a.Status != http.StatusForbidden {
				t.Fatalf("admin on free: %d %s", a.Status, a.Body)
			}
			env := a.Error(t)
			if env.Code != httpx.CodePlanRequired || env.Details["requiredPlan"] != "enterprise" || env.Details["plan"] != "free" ||
				env.Details["requiredRole"] != nil || !strings.Contains(env.Error, "enterprise plan") {
				t.Fatalf("admin on free: plan refusal %+v", env)
			}
			a = e.do(o.method, path, viewerKey, nil)
			if env := a.Error(t); a.Status != http.StatusForbidden || env.Code != httpx.CodeForbidden ||
				env.Details["requiredRole"] != authz.RoleAdmin || env.Details["requiredPlan"] != nil {
				t.Fatalf("viewer on free: %d, want the role refusal: %s", a.Status, a.Body)
			}
			path = samplePath(spec, o, map[string]string{"id": enterpriseID, "orgId": enterpriseID})
			if a := e.do(o.method, path, enterpriseKey, nil); a.Status == http.StatusForbidden {
				t.Fatalf("admin on enterprise: 403 %s", a.Body)
			}
		})
	}
	if audited < 4 {
		t.Fatalf("%d operations of the Audit group, want its 4", audited)
	}
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
	return e.addMemberTo(e.orgID, role+"@acme.example.com", role)
}

// addMemberTo adds a new user (email) of role to orgID and returns their ID and a key.
func (e *env) addMemberTo(orgID, email, role string) (userID, key string) {
	e.t.Helper()
	u := store.User{ID: store.NewID(), Email: email}
	must(e.t, e.store.CreateUser(context.Background(), &u))
	must(e.t, e.store.AddMember(context.Background(), orgID, u.ID, role))
	return u.ID, e.newKey(orgID, u.ID, func(*store.APIKey) {})
}
