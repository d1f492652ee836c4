package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/plans"
	"github.com/astropulse/astroplane/store"
)

func TestCreateOrganizationMakesTheCallerAdmin(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(http.MethodPost, "/api/v1/orgs", e.key, map[string]any{"name": "newco", "title": "New Co"})
	require.Equal(t, http.StatusCreated, a.Status, string(a.Body))
	org := a.Envelope(t).Data.(map[string]any)
	require.Equal(t, "newco", org["name"])
	require.Equal(t, "admin", org["role"])
	require.Equal(t, plans.Free, org["plan"])
	require.Equal(t, "ACTIVE", org["status"])
	require.EqualValues(t, 1, org["memberCount"])
	m, err := e.store.GetMembership(context.Background(), org["id"].(string), e.userID)
	require.NoError(t, err)
	require.Equal(t, store.RoleAdmin, m.Role)

	a = e.do(http.MethodPost, "/api/v1/orgs", e.key, map[string]any{"name": "newco"})
	require.Equal(t, http.StatusConflict, a.Status, string(a.Body))
	a = e.do(http.MethodPost, "/api/v1/orgs", e.key, map[string]any{"name": "Not A DNS Name"})
	require.Equal(t, http.StatusBadRequest, a.Status, string(a.Body))

	// The key acts for acme still: newco is not its organization.
	a = e.do(http.MethodGet, "/api/v1/orgs/"+org["id"].(string), e.key, nil)
	require.Equal(t, http.StatusNotFound, a.Status, string(a.Body))
	list := listData(t, e.do(http.MethodGet, "/api/v1/orgs", e.key, nil))
	require.Len(t, list, 1, "a key lists its own organization only")
	require.Equal(t, "acme", list[0].(map[string]any)["name"])
}

func TestOrganizationGetPlanAndMembers(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	for i := range 11 {
		u := store.User{ID: store.NewID(), Email: fmt.Sprintf("m%02d@acme.example.com", i)}
		must(t, e.store.CreateUser(ctx, &u))
		must(t, e.store.AddMember(ctx, e.orgID, u.ID, store.RoleViewer))
	}
	org := e.data(e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID, e.key, nil))
	require.EqualValues(t, 12, org["memberCount"])
	require.Equal(t, "admin", org["role"])
	byName := e.do(http.MethodGet, "/api/v1/orgs/acme", e.key, nil)
	require.Equal(t, http.StatusOK, byName.Status, string(byName.Body))

	a := e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/plan", e.key, nil)
	require.Equal(t, http.StatusOK, a.Status)
	require.Equal(t, plans.Free, a.Envelope(t).Data)

	page := e.data(e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/members", e.key, nil))
	require.EqualValues(t, 12, page["total"])
	require.Len(t, page["members"], 10)
	page = e.data(e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/members?page=2&pageSize=10", e.key, nil))
	require.Len(t, page["members"], 2)
	require.EqualValues(t, 2, page["page"])
}

func TestMembersAddChangeRemove(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	u := store.User{ID: store.NewID(), Email: "newbie@example.com"}
	must(t, e.store.CreateUser(ctx, &u))
	body := func(role string) map[string]any {
		return map[string]any{"orgId": e.orgID, "userId": u.ID, "role": role}
	}

	a := e.do(http.MethodPost, "/api/v1/orgs/members", e.key, body("viewer"))
	require.Equal(t, http.StatusCreated, a.Status, string(a.Body))
	require.Equal(t, "viewer", e.data(a)["role"])
	newbieKey := e.newKey(e.orgID, u.ID, func(*store.APIKey) {})
	// The viewer's key reads, and is refused what a viewer may not do.
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/members", newbieKey, nil).Status)
	require.Equal(t, http.StatusForbidden, e.do(http.MethodPost, "/api/v1/clusters", newbieKey, eksManifest("demo")).Status)
	require.Equal(t, http.StatusForbidden, e.do(http.MethodPost, "/api/v1/orgs/members", newbieKey, body("admin")).Status)

	a = e.do(http.MethodPost, "/api/v1/orgs/members", e.key, body("editor"))
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	require.Equal(t, "editor", e.data(a)["role"])

	// Another organization's ID in the body is 404, as a path's would be.
	other, _, _ := e.newOrg("globex", store.RoleAdmin)
	a = e.do(http.MethodPost, "/api/v1/orgs/members", e.key, map[string]any{"orgId": other, "userId": u.ID, "role": "admin"})
	require.Equal(t, http.StatusNotFound, a.Status, string(a.Body))
	a = e.do(http.MethodPost, "/api/v1/orgs/members", e.key, map[string]any{"orgId": e.orgID, "userId": store.NewID(), "role": "admin"})
	require.Equal(t, http.StatusNotFound, a.Status, string(a.Body))

	// The last admin can be neither demoted nor removed.
	a = e.do(http.MethodPost, "/api/v1/orgs/members", e.key, map[string]any{"orgId": e.orgID, "userId": e.userID, "role": "editor"})
	require.Equal(t, http.StatusConflict, a.Status, string(a.Body))
	a = e.do(http.MethodDelete, "/api/v1/orgs/members", e.key, map[string]any{"orgId": e.orgID, "userId": e.userID})
	require.Equal(t, http.StatusConflict, a.Status, string(a.Body))

	a = e.do(http.MethodDelete, "/api/v1/orgs/members", e.key, map[string]any{"orgId": e.orgID, "userId": u.ID})
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/api/v1/orgs", newbieKey, nil).Status, "a removed member's key is revoked")
	a = e.do(http.MethodDelete, "/api/v1/orgs/members", e.key, map[string]any{"orgId": e.orgID, "userId": u.ID})
	require.Equal(t, http.StatusNotFound, a.Status, string(a.Body))
}

func TestRolesPlansAndPricing(t *testing.T) {
	e := newEnv(t, nil)
	roles := listData(t, e.do(http.MethodGet, "/api/v1/roles", e.key, nil))
	require.Len(t, roles, 3)
	perms := map[string][]any{}
	for _, r := range roles {
		m := r.(map[string]any)
		perms[m["name"].(string)] = m["permissions"].([]any)
	}
	require.Contains(t, perms["viewer"], "getCluster")
	require.NotContains(t, perms["viewer"], "deployCluster")
	require.Contains(t, perms["editor"], "deployCluster")
	require.NotContains(t, perms["editor"], "deleteCluster")
	require.Contains(t, perms["admin"], "deleteCluster")

	list := listData(t, e.do(http.MethodGet, "/api/v1/plans", e.key, nil))
	require.Len(t, list, len(plans.All()))
	require.Equal(t, plans.Free, list[0].(map[string]any)["id"])

	a := e.do(http.MethodGet, "/api/v1/pricing", "", nil)
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	data := a.Envelope(t).Data.(map[string]any)
	require.Len(t, data["plans"], len(plans.All()))
	require.NotEmpty(t, data["categories"])
	ent := data["plans"].([]any)[2].(map[string]any)
	require.Equal(t, plans.Enterprise, ent["id"])
	require.Contains(t, ent["features"], string(plans.FeatureAudit))
}
