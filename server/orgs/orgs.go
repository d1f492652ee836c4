// Package orgs serves the reference's Organizations group: organizations (create,
// list, get, plan), their members (list, add or change a role, remove; the last admin
// stays), the assignable roles and the available plans. (The approval policy, also
// tagged Organizations in the reference, is served by package approvals.)
//
// A caller acts within one organization: the API key's, or a bearer token's active
// one. Every operation naming an organization answers 404 for any other, whether it
// exists or not, and whether or not the caller's user also belongs to it.
package orgs

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/plans"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// Server answers the organization operations from the store.
type Server struct {
	store *store.Store
	audit httpx.Audit
	roles []api.Role
}

// NewServer returns the organization handlers on st, recording changes with audit.
// The roles it lists carry, as permissions, the operations of openapi.yaml each role
// may call (what the authorization middleware enforces).
func NewServer(st *store.Store, audit httpx.Audit) *Server {
	return &Server{store: st, audit: audit, roles: roleList()}
}

// ListOrganizations lists the caller's organizations: an API key's own organization
// only (a key acts within it); for a bearer token every organization its user
// belongs to.
func (s *Server) ListOrganizations(c echo.Context, params api.ListOrganizationsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	page := pageOf(params.Page, params.PageSize, 10)
	var orgs []store.Organization
	var total int64
	if p.KeyID != "" {
		org, err := s.store.GetOrganization(ctx, p.OrgID)
		if err != nil {
			return err
		}
		total = 1
		if page.Number == 1 {
			orgs = []store.Organization{org}
		}
	} else if orgs, total, err = s.store.ListOrganizationsForUser(ctx, p.UserID, page); err != nil {
		return err
	}
	ids := make([]string, 0, len(orgs))
	for _, o := range orgs {
		ids = append(ids, o.ID)
	}
	counts, err := s.store.CountMembers(ctx, ids...)
	if err != nil {
		return err
	}
	out := make([]api.Organization, 0, len(orgs))
	for _, o := range orgs {
		m, err := s.store.GetMembership(ctx, o.ID, p.UserID)
		if err != nil {
			return err
		}
		out = append(out, orgView(o, m.Role, counts[o.ID]))
	}
	return httpx.OK(c, out, fmt.Sprintf("%d of %s", len(out), httpx.Count(int(total), "organization", "organizations")))
}

// CreateOrganization creates an organization on the Free plan with the caller as its
// admin. A caller without any organization yet (a bearer token's first sign-in) may
// create one; it becomes their active organization.
func (s *Server) CreateOrganization(c echo.Context, _ api.CreateOrganizationParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.OrganizationCreateRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	org := store.Organization{ID: store.NewID(), Name: in.Name, Plan: plans.Free}
	if in.Title != nil {
		org.Title = *in.Title
	}
	err = s.store.CreateOrganizationWithAdmin(c.Request().Context(), &org, p.UserID)
	switch {
	case errors.Is(err, store.ErrConflict):
		return httpx.Conflict(fmt.Sprintf("an organization named %q already exists; choose another name", in.Name),
			map[string]any{"name": "taken"})
	case errors.Is(err, store.ErrNotFound):
		return httpx.Unauthorized("the caller's user no longer exists")
	case err != nil:
		return err
	}
	// The event belongs to the new organization, whose admin the caller now is.
	s.audit.Record(c, httpx.Principal{OrgID: org.ID, UserID: p.UserID, KeyID: p.KeyID}, "ORGANIZATION", "CREATE", org.ID, store.OutcomeSuccess)
	return c.JSON(http.StatusCreated, httpx.Envelope{Data: orgView(org, store.RoleAdmin, 1), ID: httpx.TraceID(c),
		Message: fmt.Sprintf("organization %s created; you are its admin", org.Name), Status: "success"})
}

// GetOrganization returns the caller's organization (by ID or name); any other is 404.
func (s *Server) GetOrganization(c echo.Context, id string, _ api.GetOrganizationParams) error {
	p, org, err := s.ownOrg(c, id)
	if err != nil {
		return err
	}
	counts, err := s.store.CountMembers(c.Request().Context(), org.ID)
	if err != nil {
		return err
	}
	return httpx.OK(c, orgView(org, p.Role, counts[org.ID]), "organization "+org.Name)
}

// GetOrganizationPlan returns the ID of the caller's organization's plan.
func (s *Server) GetOrganizationPlan(c echo.Context, id string, _ api.GetOrganizationPlanParams) error {
	_, org, err := s.ownOrg(c, id)
	if err != nil {
		return err
	}
	plan := plans.Of(org.Plan)
	return httpx.OK(c, plan.ID, fmt.Sprintf("organization %s is on the %s plan", org.Name, plan.Name))
}

// GetOrganizationMembers lists a page of the caller's organization's members.
func (s *Server) GetOrganizationMembers(c echo.Context, id string, params api.GetOrganizationMembersParams) error {
	_, org, err := s.ownOrg(c, id)
	if err != nil {
		return err
	}
	page := pageOf(params.Page, params.PageSize, 10)
	members, total, err := s.store.ListMembers(c.Request().Context(), org.ID, page)
	if err != nil {
		return err
	}
	list := api.OrganizationMemberList{Members: []api.OrganizationMember{}, Page: page.Number, PageSize: page.Size, Total: int(total)}
	for _, m := range members {
		list.Members = append(list.Members, memberView(org.ID, m.User, m.Role, &m.JoinedAt))
	}
	return httpx.OK(c, list, httpx.Count(int(total), "member", "members"))
}

// AddOrganizationMember gives a user a role in the caller's organization: 201 for a
// new member, 200 for a member whose role changed. The last admin cannot be demoted.
func (s *Server) AddOrganizationMember(c echo.Context, _ api.AddOrganizationMemberParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.OrganizationMemberAddRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	orgID, userID, role := in.OrgId.String(), in.UserId.String(), string(in.Role)
	if orgID != p.OrgID {
		return httpx.NotFound(fmt.Sprintf("organization %q", orgID))
	}
	ctx := c.Request().Context()
	created, err := s.store.PutMember(ctx, orgID, userID, role)
	switch {
	case errors.Is(err, store.ErrLastAdmin):
		s.audit.Record(c, p, "ORGANIZATION", "MEMBER_ROLE", userID, store.OutcomeDenied)
		return httpx.Conflict("this user is the organization's last admin and cannot be given another role; make another member admin first",
			map[string]any{"userId": "last admin"})
	case errors.Is(err, store.ErrNotFound):
		return httpx.NotFound(fmt.Sprintf("user %q", userID))
	case err != nil:
		return err
	}
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return err
	}
	m, err := s.store.GetMembership(ctx, orgID, userID)
	if err != nil {
		return err
	}
	view := memberView(orgID, u, role, &m.CreatedAt)
	if !created {
		s.audit.Record(c, p, "ORGANIZATION", "MEMBER_ROLE", userID, store.OutcomeSuccess)
		return httpx.OK(c, view, fmt.Sprintf("%s is now %s", u.Email, role))
	}
	s.audit.Record(c, p, "ORGANIZATION", "MEMBER_ADD", userID, store.OutcomeSuccess)
	return c.JSON(http.StatusCreated, httpx.Envelope{Data: view, ID: httpx.TraceID(c),
		Message: fmt.Sprintf("%s added as %s", u.Email, role), Status: "success"})
}

// RemoveOrganizationMember removes a user from the caller's organization and revokes
// their keys there. The last admin cannot be removed (409).
func (s *Server) RemoveOrganizationMember(c echo.Context, _ api.RemoveOrganizationMemberParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.OrganizationMemberRemoveRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	orgID, userID := in.OrgId.String(), in.UserId.String()
	if orgID != p.OrgID {
		return httpx.NotFound(fmt.Sprintf("organization %q", orgID))
	}
	err = s.store.RemoveMember(c.Request().Context(), orgID, userID)
	switch {
	case errors.Is(err, store.ErrLastAdmin):
		s.audit.Record(c, p, "ORGANIZATION", "MEMBER_REMOVE", userID, store.OutcomeDenied)
		return httpx.Conflict("this user is the organization's last admin and cannot be removed; make another member admin first",
			map[string]any{"userId": "last admin"})
	case errors.Is(err, store.ErrNotFound):
		return httpx.NotFound(fmt.Sprintf("member %q", userID))
	case err != nil:
		return err
	}
	s.audit.Record(c, p, "ORGANIZATION", "MEMBER_REMOVE", userID, store.OutcomeSuccess)
	return httpx.OK(c, "member removed", "member removed; their API keys in this organization are revoked")
}

// ListOrganizationRoles lists the roles a member can have, least first.
func (s *Server) ListOrganizationRoles(c echo.Context, _ api.ListOrganizationRolesParams) error {
	return httpx.OK(c, s.roles, httpx.Count(len(s.roles), "role", "roles"))
}

// ListPlans lists the subscription plans, cheapest first.
func (s *Server) ListPlans(c echo.Context, _ api.ListPlansParams) error {
	all := plans.All()
	out := make([]api.Plan, 0, len(all))
	for _, p := range all {
		out = append(out, PlanView(p))
	}
	return httpx.OK(c, out, httpx.Count(len(out), "plan", "plans"))
}

// PlanView is a plan as the API shows it.
func PlanView(p plans.Plan) api.Plan {
	desc := p.Description
	features := make([]string, 0, len(p.Features))
	for _, f := range p.Features {
		features = append(features, string(f))
	}
	v := api.Plan{Id: p.ID, Name: p.Name, Description: &desc, Features: &features, Limits: &api.PlanLimits{}}
	limit := func(n int) *int {
		if n == 0 {
			return nil // absent means unlimited
		}
		return &n
	}
	v.Limits.MaxClusters, v.Limits.MaxApplications = limit(p.Limits.MaxClusters), limit(p.Limits.MaxApplications)
	v.Limits.MaxMembers, v.Limits.MaxApiKeys = limit(p.Limits.MaxMembers), limit(p.Limits.MaxAPIKeys)
	return v
}

// ownOrg is the caller's organization when ref names it (by ID or name), else 404.
func (s *Server) ownOrg(c echo.Context, ref string) (httpx.Principal, store.Organization, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return p, store.Organization{}, err
	}
	if p.OrgID == "" || (ref != p.OrgID && (p.OrgName == "" || ref != p.OrgName)) {
		return p, store.Organization{}, httpx.NotFound(fmt.Sprintf("organization %q", ref))
	}
	org, err := s.store.GetOrganization(c.Request().Context(), p.OrgID)
	return p, org, err
}

func orgView(o store.Organization, role string, members int) api.Organization {
	r := api.OrganizationRoleName(role)
	plan := plans.Of(o.Plan).ID
	v := api.Organization{Id: uuidOf(o.ID), Name: o.Name, CreatedAt: o.CreatedAt, UpdatedAt: &o.UpdatedAt,
		Status: api.OrganizationStatusACTIVE, Plan: &plan, Role: &r, MemberCount: &members}
	if o.Title != "" {
		v.Title = &o.Title
	}
	return v
}

func memberView(orgID string, u store.User, role string, joined *time.Time) api.OrganizationMember {
	v := api.OrganizationMember{OrgId: uuidOf(orgID), UserId: uuidOf(u.ID), Role: api.OrganizationRoleName(role), JoinedAt: joined}
	email := openapi_types.Email(u.Email)
	v.Email = &email
	if u.Name != "" {
		v.Name = &u.Name
	}
	return v
}

// roleList is each member role with the operations of openapi.yaml it may call (its
// permissions), least role first.
func roleList() []api.Role {
	descriptions := map[string]string{
		authz.RoleViewer: "Reads clusters, applications, their progress and history, the catalog, the organization and its members.",
		authz.RoleEditor: "A viewer who also deploys, updates and cancels clusters and applications.",
		authz.RoleAdmin: "An editor who also manages members, API keys, cloud accounts, integrations, notifications, the approval policy " +
			"and the audit log, and deletes clusters and applications. An organization keeps at least one.",
	}
	spec, err := api.GetSpec()
	ops := map[string][]string{}
	if err == nil {
		for _, item := range spec.Paths.Map() {
			for _, op := range item.Operations() {
				level, _ := op.Extensions["x-astro-role"].(string)
				if authz.Rank(level) == 0 {
					continue // public and authenticated operations need no role
				}
				id := op.OperationID // the embedded spec's IDs come capitalized
				if id != "" {
					id = strings.ToLower(id[:1]) + id[1:]
				}
				for _, role := range []string{authz.RoleViewer, authz.RoleEditor, authz.RoleAdmin} {
					if authz.Permit(level, authz.Caller{Authenticated: true, OrgID: "org", Role: role}) == nil {
						ops[role] = append(ops[role], id)
					}
				}
			}
		}
	}
	var out []api.Role
	for _, role := range []string{authz.RoleViewer, authz.RoleEditor, authz.RoleAdmin} {
		desc, perms := descriptions[role], ops[role]
		sort.Strings(perms)
		perms = slices.Compact(perms)
		out = append(out, api.Role{Name: api.OrganizationRoleName(role), Description: &desc, Permissions: &perms})
	}
	return out
}

func uuidOf(id string) openapi_types.UUID {
	u, _ := uuid.Parse(id) // IDs are made by store.NewID
	return u
}

// pageOf turns optional page parameters into a store.Page, capping the size at 100.
func pageOf(page, size *int, defaultSize int) store.Page {
	p := store.Page{Number: 1, Size: defaultSize}
	if page != nil && *page > 0 {
		p.Number = *page
	}
	if size != nil && *size > 0 {
		p.Size = min(*size, 100)
	}
	return p
}
