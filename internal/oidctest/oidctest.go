// Package oidctest is an OIDC issuer for tests: a discovery document and a JWKS
// served by httptest, keys the test adds, rotates and removes, and tokens signed
// with them (github.com/go-jose/go-jose/v4 signs; nothing here parses tokens).
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is a test OIDC issuer.
type Issuer struct {
	URL string
	srv *httptest.Server

	mu        sync.Mutex
	keys      map[string]*rsa.PrivateKey
	published []string // kids served in the JWKS
	// JWKSFetches counts requests for the JWKS.
	JWKSFetches atomic.Int64
}

// New starts an issuer with one key, "k1", published; it stops with the test.
func New(t testing.TB) *Issuer {
	t.Helper()
	iss := &Issuer{keys: map[string]*rsa.PrivateKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss.URL, "jwks_uri": iss.URL + "/jwks", "authorization_endpoint": iss.URL + "/authorize",
			"token_endpoint": iss.URL + "/token", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		iss.JWKSFetches.Add(1)
		iss.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, kid := range iss.published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &iss.keys[kid].PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
		}
		iss.mu.Unlock()
		_ = json.NewEncoder(w).Encode(set)
	})
	iss.srv = httptest.NewServer(mux)
	iss.URL = iss.srv.URL
	t.Cleanup(iss.srv.Close)
	iss.AddKey(t, "k1")
	return iss
}

// AddKey makes a key named kid and publishes it.
func (iss *Issuer) AddKey(t testing.TB, kid string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.keys[kid] = k
	iss.published = append(iss.published, kid)
}

// Unpublish removes kid from the JWKS; tokens can still be signed with it.
func (iss *Issuer) Unpublish(kid string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	var keep []string
	for _, k := range iss.published {
		if k != kid {
			keep = append(keep, k)
		}
	}
	iss.published = keep
}

// Claims are a token's claims; Token fills iss, iat, exp and nbf when left zero.
type Claims map[string]any

// Token signs claims with key kid. Unless claims say otherwise: iss is the
// issuer, iat and nbf now, exp in an hour.
func (iss *Issuer) Token(t testing.TB, kid string, claims Claims) string {
	t.Helper()
	iss.mu.Lock()
	key := iss.keys[kid]
	iss.mu.Unlock()
	if key == nil {
		t.Fatalf("oidctest: no key %q", kid)
	}
	now := time.Now()
	c := map[string]any{"iss": iss.URL, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
