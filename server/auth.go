package server

import (
	"github.com/astropulse/astroplane/server/httpx"

	"errors"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/store"
)

// authenticate enforces each operation's security requirement from openapi.yaml:
// public operations pass; API-key operations need a valid X-Astro-API-Key (whose
// role authorize then checks); operations that take only an OIDC bearer token answer 501
// until OIDC login is built.
func (s *Server) authenticate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			op, ok := s.contract.lookup(c)
			if !ok {
				return next(c)
			}
			req := op.requirement()
			key := c.Request().Header.Get(httpx.HeaderAPIKey)
			authenticate, err := req.Admit(key != "")
			switch {
			case errors.Is(err, authz.ErrOIDCOnly):
				return httpx.NotImplemented("OIDC bearer authentication (" + op.id + ")")
			case errors.Is(err, authz.ErrMissingKey):
				return httpx.Unauthorized("missing " + httpx.HeaderAPIKey + " header")
			case err != nil:
				return err
			case !authenticate:
				return next(c)
			}
			p, err := s.principalForKey(c, key)
			if err != nil {
				return err
			}
			httpx.SetPrincipal(c, p)
			return next(c)
		}
	}
}

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
		return httpx.Principal{}, httpx.Unauthorized(err.Error())
	}
	if k.RecordUseDue(now) {
		if err := s.store.TouchAPIKey(ctx, owner.Key.ID, now.UTC()); err != nil {
			s.log.WarnContext(ctx, "record API key use", "err", err, "traceID", httpx.TraceID(c))
		}
	}
	return httpx.Principal{OrgID: owner.Key.OrgID, OrgName: owner.OrgName, UserID: owner.Key.UserID, Role: owner.Role, KeyID: owner.Key.ID}, nil
}

// requirement is the operation's security requirement, for authz's decisions.
func (o *operation) requirement() authz.Requirement {
	return authz.Requirement{Public: o.public, Optional: o.optional, APIKey: o.apiKey, AdminOnly: o.adminOnly}
}
