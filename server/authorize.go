package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/server/httpx"
)

// authorize is the one place roles are enforced: each operation's x-astro-role in
// openapi.yaml (the least role its caller needs) against the role of the principal
// authentication found, before the handler runs. A caller below the operation's role
// gets 403 naming both; a caller without an organization gets 403 on operations that
// work within one. Public operations pass (their handlers check their own proof).
func (s *Server) authorize() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := s.contract.lookup(c)
			if !ok {
				return next(c)
			}
			p, authenticated := httpx.PrincipalOf(c)
			err := authz.Permit(op.role, authz.Caller{Authenticated: authenticated, OrgID: p.OrgID, Role: p.Role})
			switch {
			case err == nil:
				return next(c)
			case errors.Is(err, authz.ErrUnauthenticated):
				return httpx.Unauthorized("authentication required")
			case errors.Is(err, authz.ErrNoOrganization):
				return &httpx.APIError{Status: http.StatusForbidden, Code: httpx.CodeForbidden,
					Message: "this operation works within an organization, and you act for none: create one (POST /api/v1/orgs) or switch to one",
					Details: map[string]any{"requiredRole": op.role}}
			case errors.Is(err, authz.ErrRoleTooLow):
				role := p.Role
				if role == "" {
					role = "none"
				}
				return &httpx.APIError{Status: http.StatusForbidden, Code: httpx.CodeForbidden,
					Message: fmt.Sprintf("%s needs the role %s or higher; your role in %s is %s", lowerFirst(op.id), op.role, orgLabel(p), role),
					Details: map[string]any{"requiredRole": op.role, "role": role}}
			default:
				return err
			}
		}
	}
}

func orgLabel(p httpx.Principal) string {
	if p.OrgName != "" {
		return "organization " + p.OrgName
	}
	return "organization " + p.OrgID
}

// lowerFirst spells an operation ID as openapi.yaml does (the embedded spec's come
// capitalized).
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
