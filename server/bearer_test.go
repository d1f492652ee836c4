package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/internal/oidcauth"
	"github.com/astropulse/astroplane/internal/oidctest"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

const testAudience = "astro-api"

// newBearerEnv is newEnv with an OIDC issuer of the test's whose tokens the server
// accepts.
func newBearerEnv(t *testing.T) (*env, *oidctest.Issuer) {
	t.Helper()
	iss := oidctest.New(t)
	v, err := oidcauth.New(oidcauth.Config{Issuer: iss.URL, Audience: testAudience})
	require.NoError(t, err)
	return newEnvWith(t, nil, server.Options{Verifier: v}), iss
}

func userClaims(sub, email string, extra oidctest.Claims) oidctest.Claims {
	c := oidctest.Claims{"sub": sub, "aud": testAudience, "email": email, "email_verified": true, "name": sub}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// TestBearerRefusals: every token the API must not accept is a 401 with the error
// envelope, and the token never appears in the answer or the logs.
func TestBearerRefusals(t *testing.T) {
	e, iss := newBearerEnv(t)
	other := oidctest.New(t)
	now := time.Now()
	cases := map[string]string{
		"wrong audience":          iss.Token(t, "k1", userClaims("u1", "u1@example.com", oidctest.Claims{"aud": "other-api"})),
		"wrong issuer":            iss.Token(t, "k1", userClaims("u1", "u1@example.com", oidctest.Claims{"iss": other.URL})),
		"expired":                 iss.Token(t, "k1", userClaims("u1", "u1@example.com", oidctest.Claims{"exp": now.Add(-10 * time.Minute).Unix()})),
		"not yet valid":           iss.Token(t, "k1", userClaims("u1", "u1@example.com", oidctest.Claims{"nbf": now.Add(10 * time.Minute).Unix()})),
		"another issuer's key":    other.Token(t, "k1", userClaims("u1", "u1@example.com", oidctest.Claims{"iss": iss.URL})),
		"not a JWT":               "abc.def.ghi",
		"first sign-in, no email": iss.Token(t, "k1", userClaims("u1", "", oidctest.Claims{"email": nil})),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			a := e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(tok)...)
			require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
			env := a.Error(t)
			require.Equal(t, httpx.CodeUnauthorized, env.Code)
			require.NotEmpty(t, env.TraceID)
			require.NotContains(t, string(a.Body), tok)
		})
	}
	for name, h := range map[string][]string{
		"no credentials": nil,
		"empty bearer":   {"Authorization", "Bearer "},
		"basic scheme":   {"Authorization", "Basic dXNlcjpwYXNz"},
	} {
		t.Run(name, func(t *testing.T) {
			a := e.do(http.MethodGet, "/api/v1/users/me", "", nil, h...)
			require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
			require.Equal(t, httpx.CodeUnauthorized, a.Error(t).Code)
		})
	}
	t.Run("API key where only bearer tokens are taken", func(t *testing.T) {
		a := e.do(http.MethodGet, "/api/v1/users/me", e.key, nil)
		require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
		require.Contains(t, a.Error(t).Error, "bearer token")
	})
	t.Run("bearer token where only API keys are taken", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/v1/cluster-approvals?clusterName=demo&orgId=acme&token=x", "", nil,
			bearer(iss.Token(t, "k1", userClaims("u1", "u1@example.com", nil)))...)
		require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
		require.Contains(t, a.Error(t).Error, "X-Astro-API-Key")
	})
	for _, tok := range cases {
		require.NotContains(t, e.logs.String(), tok)
	}
}

// TestBearerKeyRotation: through the server, a token signed with a key the issuer
// added since (unknown kid) is accepted after a JWKS refresh; one signed with a key
// the issuer removed is refused.
func TestBearerKeyRotation(t *testing.T) {
	e, iss := newBearerEnv(t)
	old := iss.Token(t, "k1", userClaims("rot", "rot@example.com", nil))
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(old)...).Status)
	iss.Unpublish("k1")
	iss.AddKey(t, "k2")
	fresh := iss.Token(t, "k2", userClaims("rot", "rot@example.com", nil))
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(fresh)...).Status)
	a := e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(old)...)
	require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))
	require.Equal(t, httpx.CodeUnauthorized, a.Error(t).Code)
}

func TestBearerWithoutIssuerConfigured(t *testing.T) {
	e := newEnv(t, nil)
	iss := oidctest.New(t)
	a := e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(iss.Token(t, "k1", userClaims("x", "x@example.com", nil)))...)
	require.Equal(t, http.StatusUnauthorized, a.Status)
	require.Contains(t, a.Error(t).Error, "ASTRO_OIDC_ISSUER")
}

// TestUserProfileFlow: a first sign-in creates the user (201 from POST /users/me,
// 200 after); a user without an organization reaches only what needs none, creates
// one and becomes its admin, switches between organizations they belong to (never
// to another), and X-Astro-Organization-ID picks the organization per request.
func TestUserProfileFlow(t *testing.T) {
	e, iss := newBearerEnv(t)
	tok := iss.Token(t, "k1", userClaims("auth0|carol", "carol@example.com", nil))
	ctx := context.Background()

	a := e.do(http.MethodPost, "/api/v1/users/me", "", nil, bearer(tok)...)
	require.Equal(t, http.StatusCreated, a.Status, string(a.Body))
	prof := a.Envelope(t).Data.(map[string]any)
	require.Equal(t, "carol@example.com", prof["email"])
	require.Equal(t, "auth0|carol", prof["subject"])
	require.Empty(t, prof["memberships"])
	require.Nil(t, prof["activeOrgId"])
	a = e.do(http.MethodPost, "/api/v1/users/me", "", nil, bearer(tok)...)
	require.Equal(t, http.StatusOK, a.Status, "the profile exists now")

	// No organization yet: organization work is refused, creating one is not.
	a = e.do(http.MethodGet, "/api/v1/clusters", "", nil, bearer(tok)...)
	require.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, a.Status, string(a.Body))
	a = e.do(http.MethodPost, "/api/v1/orgs", "", map[string]any{"name": "carols"}, bearer(tok)...)
	require.NotContains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, a.Status, string(a.Body))
	if a.Status == http.StatusNotImplemented { // Organizations' create is built in its own package
		org := store.Organization{ID: store.NewID(), Name: "carols"}
		require.NoError(t, e.store.CreateOrganization(ctx, &org))
		u := userByEmail(t, e, "carol@example.com")
		require.NoError(t, e.store.AddMember(ctx, org.ID, u.ID, store.RoleAdmin))
	}
	// A second organization, where an admin added carol as a viewer.
	org2 := store.Organization{ID: store.NewID(), Name: "second"}
	require.NoError(t, e.store.CreateOrganization(ctx, &org2))
	require.NoError(t, e.store.AddMember(ctx, org2.ID, userByEmail(t, e, "carol@example.com").ID, store.RoleViewer))

	a = e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(tok)...)
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	prof = a.Envelope(t).Data.(map[string]any)
	ms := prof["memberships"].([]any)
	require.Len(t, ms, 2)
	first := ms[0].(map[string]any)
	require.Equal(t, "carols", first["orgName"])
	require.Equal(t, "admin", first["role"])
	require.Equal(t, first["orgId"], prof["activeOrgId"], "the first organization by name until one is chosen")

	a = e.do(http.MethodPost, "/api/v1/users/me/switch-org", "", map[string]any{"orgId": "second"}, bearer(tok)...)
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	require.Equal(t, org2.ID, a.Envelope(t).Data.(map[string]any)["activeOrgId"])
	a = e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(tok)...)
	require.Equal(t, org2.ID, a.Envelope(t).Data.(map[string]any)["activeOrgId"])

	// The active organization and the role there apply to requests: a viewer in second.
	a = e.do(http.MethodGet, "/api/v1/clusters", "", nil, bearer(tok)...)
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	a = e.do(http.MethodPost, "/api/v1/clusters", "", map[string]any{"kind": "nope"}, bearer(tok)...)
	require.Equal(t, http.StatusForbidden, a.Status, "a viewer in second: %s", a.Body)

	// Not a member: another organization, or none of that name.
	for _, target := range []string{e.orgID, "acme", "no-such-org"} {
		a = e.do(http.MethodPost, "/api/v1/users/me/switch-org", "", map[string]any{"orgId": target}, bearer(tok)...)
		require.Equal(t, http.StatusNotFound, a.Status, string(a.Body))
		require.Equal(t, httpx.CodeNotFound, a.Error(t).Code)
		a = e.do(http.MethodGet, "/api/v1/orgs", "", nil, append(bearer(tok), "X-Astro-Organization-ID", target)...)
		require.Equal(t, http.StatusForbidden, a.Status, string(a.Body))
	}
	a = e.do(http.MethodGet, "/api/v1/orgs", "", nil, append(bearer(tok), "X-Astro-Organization-ID", "carols")...)
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
}

// TestFirstSignInClaimsInvitedUser: a user who never signed in (invited by email,
// or the bootstrap admin) is claimed by the first verified token of that email; a
// token whose email is unverified, or a second identity, cannot take them over.
func TestFirstSignInClaimsInvitedUser(t *testing.T) {
	e, iss := newBearerEnv(t)
	invited := userByEmail(t, e, "acme-admin@example.com") // newEnv's admin, never signed in
	a := e.do(http.MethodGet, "/api/v1/users/me", "", nil,
		bearer(iss.Token(t, "k1", userClaims("mallory", "acme-admin@example.com", oidctest.Claims{"email_verified": false})))...)
	require.Equal(t, http.StatusUnauthorized, a.Status, string(a.Body))

	a = e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(iss.Token(t, "k1", userClaims("admin-sub", "acme-admin@example.com", nil)))...)
	require.Equal(t, http.StatusOK, a.Status, string(a.Body))
	prof := a.Envelope(t).Data.(map[string]any)
	require.Equal(t, invited.ID, prof["id"])
	require.Equal(t, e.orgID, prof["activeOrgId"])

	a = e.do(http.MethodGet, "/api/v1/users/me", "", nil, bearer(iss.Token(t, "k1", userClaims("other-sub", "acme-admin@example.com", nil)))...)
	require.Equal(t, http.StatusUnauthorized, a.Status, "a second identity cannot take the user over")
	require.False(t, strings.Contains(string(a.Body), "Bearer"))
}

func userByEmail(t *testing.T, e *env, email string) store.User {
	t.Helper()
	u, err := e.store.GetUserByEmail(context.Background(), email)
	require.NoError(t, err, email)
	return u
}
