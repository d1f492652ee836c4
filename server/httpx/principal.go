package httpx

import "github.com/labstack/echo/v4"

// HeaderAPIKey is the header clients authenticate with.
const HeaderAPIKey = "X-Astro-API-Key" //nolint:gosec // a header name, not a credential

const principalKey = "astro.principal"

// Principal is who a request acts as: a user of one organization, through one key or
// a bearer token.
type Principal struct {
	OrgID   string
	OrgName string
	UserID  string
	Role    string
	KeyID   string
	// Bearer is true when a user's OIDC bearer token authenticated the request
	// (KeyID is then empty, and OrgID empty for a user without an organization).
	Bearer bool
	// FirstSignIn is true when this request's token signed its user in for the
	// first time (the user was created or claimed from its claims).
	FirstSignIn bool
}

// SetPrincipal records who the request acts as; only authentication calls it.
func SetPrincipal(c echo.Context, p Principal) { c.Set(principalKey, p) }

// PrincipalOf returns who the request acts as, if it was authenticated.
func PrincipalOf(c echo.Context) (Principal, bool) {
	p, ok := c.Get(principalKey).(Principal)
	return p, ok
}

// MustPrincipal returns the authenticated principal; routes that reach a handler
// without one are a wiring bug, answered 401 rather than trusted.
func MustPrincipal(c echo.Context) (Principal, error) {
	p, ok := PrincipalOf(c)
	if !ok {
		return Principal{}, Unauthorized("authentication required")
	}
	return p, nil
}
