// Package orgs serves the reference's Organizations group: the organizations a key's
// user belongs to and their members. (The approval policy, also tagged Organizations
// in the reference, is served by package approvals.)
package orgs

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// Server answers the organization operations from the store.
type Server struct {
	store *store.Store
}

// NewServer returns the organization handlers reading st.
func NewServer(st *store.Store) *Server { return &Server{store: st} }

// ListOrganizations lists the organizations the key's user belongs to.
func (s *Server) ListOrganizations(c echo.Context, params api.ListOrganizationsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	page := pageOf(params.Page, params.PageSize, 10)
	orgs, total, err := s.store.ListOrganizationsForUser(c.Request().Context(), p.UserID, page)
	if err != nil {
		return err
	}
	out := make([]api.Organization, 0, len(orgs))
	for _, o := range orgs {
		m, err := s.store.GetMembership(c.Request().Context(), o.ID, p.UserID)
		if err != nil {
			return err
		}
		out = append(out, orgView(o, m.Role))
	}
	return httpx.OK(c, out, fmt.Sprintf("%d of %s", len(out), httpx.Count(int(total), "organization", "organizations")))
}

// GetOrganization returns an organization the key's user belongs to; any other
// organization is 404, whether it exists or not.
func (s *Server) GetOrganization(c echo.Context, id string, _ api.GetOrganizationParams) error {
	org, role, err := s.memberOrg(c, id)
	if err != nil {
		return err
	}
	return httpx.OK(c, orgView(org, role), "organization")
}

// GetOrganizationMembers lists the members of an organization the key's user belongs to.
func (s *Server) GetOrganizationMembers(c echo.Context, id string, params api.GetOrganizationMembersParams) error {
	org, _, err := s.memberOrg(c, id)
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
		v := api.OrganizationMember{
			OrgId: uuidOf(org.ID), UserId: uuidOf(m.ID), Role: api.OrganizationRoleName(m.Role),
			JoinedAt: &m.JoinedAt,
		}
		email := openapi_types.Email(m.Email)
		v.Email = &email
		if m.Name != "" {
			v.Name = &m.Name
		}
		list.Members = append(list.Members, v)
	}
	return httpx.OK(c, list, httpx.Count(int(total), "member", "members"))
}

func (s *Server) memberOrg(c echo.Context, id string) (store.Organization, string, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return store.Organization{}, "", err
	}
	m, err := s.store.GetMembership(c.Request().Context(), id, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Organization{}, "", httpx.NotFound(fmt.Sprintf("organization %q", id))
	}
	if err != nil {
		return store.Organization{}, "", err
	}
	org, err := s.store.GetOrganization(c.Request().Context(), id)
	return org, m.Role, err
}

func orgView(o store.Organization, role string) api.Organization {
	r := api.OrganizationRoleName(role)
	v := api.Organization{Id: uuidOf(o.ID), Name: o.Name, CreatedAt: o.CreatedAt, UpdatedAt: &o.UpdatedAt,
		Status: api.OrganizationStatusACTIVE, Plan: &o.Plan, Role: &r}
	if o.Title != "" {
		v.Title = &o.Title
	}
	return v
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
