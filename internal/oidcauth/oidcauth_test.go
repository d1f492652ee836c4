package oidcauth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/internal/oidcauth"
	"github.com/astropulse/astroplane/internal/oidctest"
)

const aud = "astro-api"

func user(extra oidctest.Claims) oidctest.Claims {
	c := oidctest.Claims{"sub": "auth0|alice", "aud": aud, "email": "alice@example.com", "email_verified": true, "name": "Alice"}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func TestVerifyAcceptsAndReadsClaims(t *testing.T) {
	iss := oidctest.New(t)
	v, err := oidcauth.New(oidcauth.Config{Issuer: iss.URL, Audience: aud})
	require.NoError(t, err)
	id, err := v.Verify(context.Background(), iss.Token(t, "k1", user(nil)))
	require.NoError(t, err)
	require.Equal(t, oidcauth.Identity{Issuer: iss.URL, Subject: "auth0|alice", Email: "alice@example.com", EmailVerified: true,
		Name: "Alice", Expiry: id.Expiry}, id)
	require.WithinDuration(t, time.Now().Add(time.Hour), id.Expiry, time.Minute)
}

func TestVerifyRefuses(t *testing.T) {
	iss := oidctest.New(t)
	other := oidctest.New(t)
	now := time.Now()
	v, err := oidcauth.New(oidcauth.Config{Issuer: iss.URL, Audience: aud, ClockSkew: 30 * time.Second})
	require.NoError(t, err)
	cases := []struct {
		name  string
		token string
		why   string
	}{
		{"wrong audience", iss.Token(t, "k1", user(oidctest.Claims{"aud": "someone-else"})), "audience"},
		{"wrong issuer", iss.Token(t, "k1", user(oidctest.Claims{"iss": "https://evil.example"})), "different provider"},
		{"expired beyond the skew", iss.Token(t, "k1", user(oidctest.Claims{"exp": now.Add(-time.Minute).Unix()})), "expired"},
		{"not valid yet beyond the skew", iss.Token(t, "k1", user(oidctest.Claims{"nbf": now.Add(2 * time.Minute).Unix()})), "not valid yet"},
		{"signed by another issuer's key", other.Token(t, "k1", user(oidctest.Claims{"iss": iss.URL})), "signature"},
		{"no subject", iss.Token(t, "k1", user(oidctest.Claims{"sub": nil})), "sub"},
		{"garbage", "not.a.jwt", "malformed"},
		{"alg none", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.token)
			require.ErrorIs(t, err, oidcauth.ErrInvalidToken)
			require.Contains(t, err.Error(), tc.why)
			require.NotContains(t, err.Error(), tc.token)
		})
	}
}

func TestVerifyAllowsTheClockSkew(t *testing.T) {
	iss := oidctest.New(t)
	v, err := oidcauth.New(oidcauth.Config{Issuer: iss.URL, Audience: aud, ClockSkew: 2 * time.Minute})
	require.NoError(t, err)
	now := time.Now()
	_, err = v.Verify(context.Background(), iss.Token(t, "k1", user(oidctest.Claims{"exp": now.Add(-time.Minute).Unix()})))
	require.NoError(t, err, "expired a minute ago, within a two-minute skew")
	_, err = v.Verify(context.Background(), iss.Token(t, "k1", user(oidctest.Claims{"nbf": now.Add(time.Minute).Unix()})))
	require.NoError(t, err, "valid in a minute, within a two-minute skew")
}

// TestKeyRotation: a token signed with a new key whose kid the cache does not hold
// fetches the JWKS again and is accepted; a key the issuer removed is refused once
// the keys are fetched again (on an unknown kid, or when KeysMaxAge has passed).
func TestKeyRotation(t *testing.T) {
	iss := oidctest.New(t)
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	v, err := oidcauth.New(oidcauth.Config{Issuer: iss.URL, Audience: aud, KeysMaxAge: time.Hour, Now: now})
	require.NoError(t, err)
	ctx := context.Background()

	old := iss.Token(t, "k1", user(nil))
	_, err = v.Verify(ctx, old)
	require.NoError(t, err)
	require.EqualValues(t, 1, iss.JWKSFetches.Load())
	_, err = v.Verify(ctx, old)
	require.NoError(t, err)
	require.EqualValues(t, 1, iss.JWKSFetches.Load(), "keys are cached")

	iss.AddKey(t, "k2")
	_, err = v.Verify(ctx, iss.Token(t, "k2", user(nil)))
	require.NoError(t, err, "a new kid fetches the JWKS again")
	require.EqualValues(t, 2, iss.JWKSFetches.Load())

	iss.Unpublish("k1")
	iss.AddKey(t, "k3")
	_, err = v.Verify(ctx, iss.Token(t, "k3", user(nil)))
	require.NoError(t, err)
	_, err = v.Verify(ctx, old)
	require.ErrorIs(t, err, oidcauth.ErrInvalidToken, "k1 was removed from the JWKS")

	// Removed without any new kid to force a fetch: refused once the keys are a
	// KeysMaxAge old.
	k3 := iss.Token(t, "k3", user(oidctest.Claims{"exp": time.Now().Add(3 * time.Hour).Unix()}))
	iss.Unpublish("k3")
	_, err = v.Verify(ctx, k3)
	require.NoError(t, err, "still cached")
	mu.Lock()
	clock = clock.Add(time.Hour)
	mu.Unlock()
	_, err = v.Verify(ctx, k3)
	require.ErrorIs(t, err, oidcauth.ErrInvalidToken)
}
