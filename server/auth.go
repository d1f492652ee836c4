package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/internal/oidcauth"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// authenticate enforces each operation's security requirement from openapi.yaml:
// public operations pass; others need the credential their requirement names, an
// X-Astro-API-Key or a user's OIDC bearer token (Authorization: Bearer), checked
// whenever one is presented. A request carrying both has both checked, and they
// must belong to one user; it then acts as the key (see bothPrincipal). The
// caller's role is authorize's to check.
func (s *Server) authenticate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := s.contract.lookup(c)
			if !ok {
				return next(c)
			}
			req := op.requirement()
			key := c.Request().Header.Get(httpx.HeaderAPIKey)
			token, hasBearer := bearerToken(c.Request().Header.Get(echo.HeaderAuthorization))
			how, err := req.Choose(key != "", hasBearer)
			switch {
			case errors.Is(err, authz.ErrNoCredentials):
				return httpx.Unauthorized("missing credentials: " + accepted(req))
			case errors.Is(err, authz.ErrBearerRefused), errors.Is(err, authz.ErrKeyRefused):
				return httpx.Unauthorized(lowerFirst(op.id) + " takes " + accepted(req))
			case err != nil:
				return err
			}
			var p httpx.Principal
			switch how {
			case authz.ByAPIKey:
				p, err = s.principalForKey(c, key)
			case authz.ByBearer:
				p, err = s.principalForBearer(c, token)
			case authz.ByBoth:
				p, err = s.bothPrincipal(c, key, token)
			default:
				return next(c)
			}
			if err != nil {
				return err
			}
			httpx.SetPrincipal(c, p)
			return next(c)
		}
	}
}

// accepted names the credentials req takes, for error messages.
func accepted(req authz.Requirement) string {
	switch {
	case req.APIKey && req.Bearer:
		return "an " + httpx.HeaderAPIKey + " header or an Authorization: Bearer token"
	case req.Bearer:
		return "a user's Authorization: Bearer token (OIDC), not an API key"
	default:
		return "an " + httpx.HeaderAPIKey + " header, not a bearer token"
	}
}

// bearerToken returns the token of an Authorization header of the Bearer scheme
// (case-insensitive, as RFC 9110 has it); ok is false for no header. Any other
// scheme counts as a bearer token too, an empty one, so it is refused rather than
// ignored.
func bearerToken(header string) (token string, ok bool) {
	if header == "" {
		return "", false
	}
	scheme, rest, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(rest), true
}

// principalForBearer verifies an OIDC bearer token and returns its user, signed in
// (created or claimed on their first sign-in), acting for the organization
// X-Astro-Organization-ID names, or else their active one, with their role there;
// a user with no organization yet acts for none (authorize lets them reach only
// operations that need none, such as creating one).
func (s *Server) principalForBearer(c echo.Context, token string) (httpx.Principal, error) {
	ctx := c.Request().Context()
	if s.verifier == nil {
		return httpx.Principal{}, httpx.Unauthorized("bearer tokens are not accepted: this server has no OIDC issuer (ASTRO_OIDC_ISSUER, or ASTRO_DEV_OIDC under make run)")
	}
	if token == "" {
		return httpx.Principal{}, httpx.Unauthorized("malformed Authorization header: want Bearer <token>")
	}
	id, err := s.verifier.Verify(ctx, token)
	switch {
	case errors.Is(err, oidcauth.ErrUnavailable):
		s.log.WarnContext(ctx, "OIDC issuer unavailable", "err", err, "traceID", httpx.TraceID(c))
		return httpx.Principal{}, httpx.NewError(http.StatusServiceUnavailable, httpx.CodeServiceUnavailable,
			"the OIDC issuer cannot be reached to check the token; try again shortly")
	case err != nil:
		s.log.InfoContext(ctx, "bearer token refused", "reason", err.Error(), "traceID", httpx.TraceID(c))
		s.bearerRefused(c, token, err.Error())
		return httpx.Principal{}, httpx.Unauthorized(err.Error())
	}
	u, first, err := s.store.SignIn(ctx, store.Identity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email,
		Name: id.Name, EmailVerified: id.EmailVerified})
	switch {
	case errors.Is(err, store.ErrNoEmail):
		return httpx.Principal{}, httpx.Unauthorized("the token carries no email address (the claim ASTRO_OIDC_EMAIL_CLAIM names), which a first sign-in needs")
	case errors.Is(err, store.ErrEmailTaken):
		return httpx.Principal{}, httpx.Unauthorized(fmt.Sprintf("cannot sign in: the email address %s belongs to another user, who signs in with another identity (or the token does not say the email is verified)", id.Email))
	case err != nil:
		return httpx.Principal{}, err
	}
	if first {
		s.log.InfoContext(ctx, "first sign-in", "userID", u.ID, "traceID", httpx.TraceID(c))
	}
	rows, err := s.store.ListUserMemberships(ctx, u.ID)
	if err != nil {
		return httpx.Principal{}, err
	}
	memberships := make([]authz.Membership, len(rows))
	for i, r := range rows {
		memberships[i] = authz.Membership{OrgID: r.OrgID, OrgName: r.OrgName, Role: r.Role}
	}
	named := c.Request().Header.Get(HeaderOrganizationID)
	m, _, err := authz.UserOrg(memberships, u.ActiveOrgID, named)
	if errors.Is(err, authz.ErrNotMemberOf) {
		e := httpx.Forbidden(fmt.Sprintf("you are not a member of organization %q (%s); your organizations are listed by GET /api/v1/users/me", named, HeaderOrganizationID))
		e.Details = map[string]any{"header." + HeaderOrganizationID: "not one of your organizations"}
		return httpx.Principal{}, e
	}
	return httpx.Principal{OrgID: m.OrgID, OrgName: m.OrgName, UserID: u.ID, Role: m.Role, Bearer: true, FirstSignIn: first}, nil
}

// bothPrincipal authenticates a request that carries an API key and a bearer token:
// neither is ignored (a stale or forged one beside a good one is a 401, as it would
// be alone), and both must belong to one user, else 401. The request acts as the
// key, the narrower of the two: its organization and role, whatever the user's
// active organization is.
func (s *Server) bothPrincipal(c echo.Context, key, token string) (httpx.Principal, error) {
	byKey, err := s.principalForKey(c, key)
	if err != nil {
		return byKey, err
	}
	byToken, err := s.principalForBearer(c, token)
	if err != nil {
		return byToken, err
	}
	if byKey.UserID != byToken.UserID {
		e := httpx.Unauthorized("the API key and the bearer token belong to different users; send one of them")
		e.Details = map[string]any{"header." + httpx.HeaderAPIKey: "another user's key", "header.Authorization": "another user's token"}
		return httpx.Principal{}, e
	}
	return byKey, nil
}

// HeaderOrganizationID names the organization a request acts for.
const HeaderOrganizationID = "X-Astro-Organization-ID"

func (s *Server) principalForKey(c echo.Context, key string) (httpx.Principal, error) {
	if err := apikey.Check(key); err != nil {
		return httpx.Principal{}, httpx.Unauthorized("malformed API key")
	}
	ctx := c.Request().Context()
	owner, err := s.store.LookupAPIKey(ctx, apikey.Hash(key))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return httpx.Principal{}, httpx.Unauthorized("invalid API key")
	case err != nil:
		return httpx.Principal{}, err
	}
	now := time.Now()
	k := authz.Key{RevokedAt: owner.Key.RevokedAt, ExpiresAt: owner.Key.ExpiresAt, LastUsedAt: owner.Key.LastUsedAt, Role: owner.Role}
	if err := k.Usable(now); err != nil {
		s.keyAudit.refused(c, owner, err.Error())
		return httpx.Principal{}, httpx.Unauthorized(err.Error())
	}
	if k.RecordUseDue(now) {
		if err := s.store.TouchAPIKey(ctx, owner.Key.ID, now.UTC()); err != nil {
			s.log.WarnContext(ctx, "record API key use", "err", err, "traceID", httpx.TraceID(c))
		}
	}
	p := httpx.Principal{OrgID: owner.Key.OrgID, OrgName: owner.OrgName, UserID: owner.Key.UserID, Role: owner.Role, KeyID: owner.Key.ID}
	if named := c.Request().Header.Get(HeaderOrganizationID); named != "" && named != p.OrgID && named != p.OrgName {
		return httpx.Principal{}, otherOrgThanKey(p, named)
	}
	s.keyAudit.used(c, p, &owner.Key)
	return p, nil
}

// otherOrgThanKey is the 403 for an X-Astro-Organization-ID naming another
// organization than the API key's: a key acts for its own organization only, and a
// header it does not match is refused rather than ignored (the caller meant another
// organization).
func otherOrgThanKey(p httpx.Principal, named string) *httpx.APIError {
	e := httpx.Forbidden(fmt.Sprintf("this API key belongs to organization %q (ID %s), but %s asks for %q; send %s: %s (or its name), or a key of that organization",
		p.OrgName, p.OrgID, HeaderOrganizationID, named, HeaderOrganizationID, p.OrgID))
	e.Details = map[string]any{
		"header." + HeaderOrganizationID: fmt.Sprintf("%q is not this key's organization", named),
		"keyOrganization":                p.OrgName,
		"keyOrganizationId":              p.OrgID,
	}
	return e
}

// requirement is the operation's security requirement, for authz's decisions.
func (o *operation) requirement() authz.Requirement {
	return authz.Requirement{Public: o.public, Optional: o.optional, APIKey: o.apiKey, AdminOnly: o.adminOnly, Bearer: o.bearer}
}

// bearerRefused audits a refused bearer token as a failed sign-in of its user, in each
// of their organizations, when the token can be held to a known user (a valid
// signature from the issuer: expired, early or for another audience). A token no one
// can be held to names no organization and is only logged. Repeats are deduplicated
// and capped per organization, as for any unauthenticated request.
func (s *Server) bearerRefused(c echo.Context, token, reason string) {
	ctx := c.Request().Context()
	issuer, subject, ok := s.verifier.Attribute(ctx, token)
	if !ok {
		return
	}
	u, err := s.store.UserByIdentity(ctx, issuer, subject)
	if err != nil {
		return // not a user yet (or the store is down: the 401 stands either way)
	}
	rows, err := s.store.ListUserMemberships(ctx, u.ID)
	if err != nil {
		return
	}
	for _, m := range rows {
		s.keyAudit.audit.RecordPublic(c, &store.AuditEvent{OrgID: m.OrgID, UserID: u.ID, EventType: "USER", Action: "SIGN_IN",
			ResourceID: u.ID, Outcome: store.OutcomeDenied, Details: httpx.MustJSON(map[string]string{"reason": reason})})
	}
}
