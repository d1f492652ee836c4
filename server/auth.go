package server

import (
	"errors"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/store"
)

// HeaderAPIKey is the header clients authenticate with.
const HeaderAPIKey = "X-Astro-API-Key" //nolint:gosec // a header name, not a credential

const principalKey = "astro.principal"

// Principal is who a request acts as: a user of one organization, through one key.
type Principal struct {
	OrgID   string
	OrgName string
	UserID  string
	Role    string
	KeyID   string
}

func principalOf(c echo.Context) (Principal, bool) {
	p, ok := c.Get(principalKey).(Principal)
	return p, ok
}

// mustPrincipal returns the authenticated principal; routes that reach a handler
// without one are a wiring bug, answered 401 rather than trusted.
func mustPrincipal(c echo.Context) (Principal, error) {
	p, ok := principalOf(c)
	if !ok {
		return Principal{}, Unauthorized("authentication required")
	}
	return p, nil
}

// authenticate enforces each operation's security requirement from openapi.yaml:
// public operations pass; API-key operations need a valid X-Astro-API-Key (admin
// operations an admin's); operations that take only an OIDC bearer token answer 501
// until OIDC login is built.
func (s *Server) authenticate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := s.contract.lookup(c)
			if !ok {
				return next(c)
			}
			req := op.requirement()
			key := c.Request().Header.Get(HeaderAPIKey)
			authenticate, err := req.Admit(key != "")
			switch {
			case errors.Is(err, authz.ErrOIDCOnly):
				return NotImplemented("OIDC bearer authentication (" + op.id + ")")
			case errors.Is(err, authz.ErrMissingKey):
				return Unauthorized("missing " + HeaderAPIKey + " header")
			case err != nil:
				return err
			case !authenticate:
				return next(c)
			}
			p, err := s.principalForKey(c, key)
			if err != nil {
				return err
			}
			if err := req.Authorize(p.Role); err != nil {
				return Forbidden("this operation needs an organization admin")
			}
			c.Set(principalKey, p)
			return next(c)
		}
	}
}

func (s *Server) principalForKey(c echo.Context, key string) (Principal, error) {
	if err := apikey.Check(key); err != nil {
		return Principal{}, Unauthorized("malformed API key")
	}
	ctx := c.Request().Context()
	owner, err := s.store.LookupAPIKey(ctx, apikey.Hash(key))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Principal{}, Unauthorized("invalid API key")
	case err != nil:
		return Principal{}, err
	}
	now := time.Now()
	k := authz.Key{RevokedAt: owner.Key.RevokedAt, ExpiresAt: owner.Key.ExpiresAt, LastUsedAt: owner.Key.LastUsedAt, Role: owner.Role}
	if err := k.Usable(now); err != nil {
		return Principal{}, Unauthorized(err.Error())
	}
	if k.RecordUseDue(now) {
		if err := s.store.TouchAPIKey(ctx, owner.Key.ID, now.UTC()); err != nil {
			s.log.WarnContext(ctx, "record API key use", "err", err, "traceID", TraceID(c))
		}
	}
	return Principal{OrgID: owner.Key.OrgID, OrgName: owner.OrgName, UserID: owner.Key.UserID, Role: owner.Role, KeyID: owner.Key.ID}, nil
}

// requirement is the operation's security requirement, for authz's decisions.
func (o *operation) requirement() authz.Requirement {
	return authz.Requirement{Public: o.public, Optional: o.optional, APIKey: o.apiKey, AdminOnly: o.adminOnly}
}
