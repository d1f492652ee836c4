// Package users serves the reference's UserProfiles group: the signed-in user's
// profile (created on their first sign-in), their memberships and roles, and the
// organization their requests default to. Every operation takes a user's OIDC
// bearer token; authentication has signed the user in before a handler runs.
package users

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// Server answers the user profile operations from the store.
type Server struct {
	store *store.Store
	audit httpx.Audit
}

// NewServer returns the user profile handlers reading and writing st, recording
// organization switches through audit.
func NewServer(st *store.Store, audit httpx.Audit) *Server {
	return &Server{store: st, audit: audit}
}

// GetCurrentUserProfile returns the caller's profile: memberships, roles and the
// active organization.
func (s *Server) GetCurrentUserProfile(c echo.Context) error {
	p, err := userPrincipal(c)
	if err != nil {
		return err
	}
	prof, err := s.profile(c, p.UserID)
	if err != nil {
		return err
	}
	return httpx.OK(c, prof, "profile of "+string(prof.Email))
}

// CreateUserProfile returns the caller's profile, 201 when this request's token
// signed them in for the first time (authentication created the user from its
// claims), 200 when the profile existed.
func (s *Server) CreateUserProfile(c echo.Context) error {
	p, err := userPrincipal(c)
	if err != nil {
		return err
	}
	prof, err := s.profile(c, p.UserID)
	if err != nil {
		return err
	}
	if p.FirstSignIn {
		return c.JSON(http.StatusCreated, httpx.Envelope{Data: prof, ID: httpx.TraceID(c), Message: "profile created", Status: "success"})
	}
	return httpx.OK(c, prof, "profile exists")
}

// SwitchOrganization makes an organization the caller belongs to (by ID or name)
// the one their requests default to; any other is 404, whether it exists or not.
func (s *Server) SwitchOrganization(c echo.Context) error {
	p, err := userPrincipal(c)
	if err != nil {
		return err
	}
	var body api.UserProfileSwitchOrgRequest
	if err := httpx.BindBody(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	memberships, err := s.memberships(c, p.UserID)
	if err != nil {
		return err
	}
	m, _, err := authz.UserOrg(memberships, "", body.OrgId)
	if errors.Is(err, authz.ErrNotMemberOf) {
		e := httpx.NotFound(fmt.Sprintf("organization %q among yours", body.OrgId))
		e.Details = map[string]any{"orgId": "not one of your organizations"}
		return e
	}
	if err := s.store.SetActiveOrg(ctx, p.UserID, m.OrgID); err != nil {
		return err
	}
	p.OrgID = m.OrgID
	s.audit.Record(c, p, "USER", "SWITCH_ORG", p.UserID, store.OutcomeSuccess)
	prof, err := s.profile(c, p.UserID)
	if err != nil {
		return err
	}
	return httpx.OK(c, prof, "active organization is now "+m.OrgName)
}

// userPrincipal is the signed-in user; the operations take bearer tokens only.
func userPrincipal(c echo.Context) (httpx.Principal, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return httpx.Principal{}, err
	}
	if !p.Bearer {
		return httpx.Principal{}, httpx.Unauthorized("user profiles take a user's bearer token, not an API key")
	}
	return p, nil
}

func (s *Server) memberships(c echo.Context, userID string) ([]authz.Membership, error) {
	rows, err := s.store.ListUserMemberships(c.Request().Context(), userID)
	if err != nil {
		return nil, err
	}
	out := make([]authz.Membership, len(rows))
	for i, r := range rows {
		out[i] = authz.Membership{OrgID: r.OrgID, OrgName: r.OrgName, Role: r.Role}
	}
	return out, nil
}

func (s *Server) profile(c echo.Context, userID string) (api.UserProfile, error) {
	u, err := s.store.GetUser(c.Request().Context(), userID)
	if err != nil {
		return api.UserProfile{}, err
	}
	memberships, err := s.memberships(c, userID)
	if err != nil {
		return api.UserProfile{}, err
	}
	prof := api.UserProfile{Email: openapi_types.Email(u.Email), Memberships: []api.UserProfileMembership{},
		Subject: u.Subject, CreatedAt: &u.CreatedAt, UpdatedAt: &u.UpdatedAt}
	_ = prof.Id.UnmarshalText([]byte(u.ID)) // IDs are made by store.NewID
	if u.Name != "" {
		prof.Name = &u.Name
	}
	for _, m := range memberships {
		prof.Memberships = append(prof.Memberships, api.UserProfileMembership{OrgId: m.OrgID, OrgName: &m.OrgName, Role: api.OrganizationRoleName(m.Role)})
	}
	if active, ok, _ := authz.UserOrg(memberships, u.ActiveOrgID, ""); ok {
		prof.ActiveOrgId = &active.OrgID
	}
	return prof, nil
}
