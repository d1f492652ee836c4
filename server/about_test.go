package server_test

import (
	"encoding/json"
	"net/http"
	"runtime"
	"testing"

	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/about"
	"github.com/astropulse/astroplane/server/api"
)

// TestServerVersionIsPublic: GET /api/v1/version answers without credentials (and
// ignores a wrong key: it is public), with the build's version, Go version and the
// contract's version.
func TestServerVersionIsPublic(t *testing.T) {
	e := newEnv(t, nil)
	spec, err := api.GetSpec()
	must(t, err)
	for _, key := range []string{"", "astro_not_a_key"} {
		a := e.do(http.MethodGet, "/api/v1/version", key, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("version with key %q: %d %s", key, a.Status, a.Body)
		}
		var v api.ServerVersion
		dataOf(t, a, &v)
		if v.Version != about.Version || v.ApiVersion != spec.Info.Version || v.GoVersion != runtime.Version() {
			t.Fatalf("version %+v, want %s, contract %s, %s", v, about.Version, spec.Info.Version, runtime.Version())
		}
	}
}

// TestAuthConfigTellsTheDeviceFlowClient: GET /api/v1/auth/config names the issuer,
// the public client, the audience and default scopes when the server has a CLI
// client, and no oidc when it has none (API keys only).
func TestAuthConfigTellsTheDeviceFlowClient(t *testing.T) {
	get := func(e *env) api.AuthConfig {
		t.Helper()
		a := e.do(http.MethodGet, "/api/v1/auth/config", "", nil)
		if a.Status != http.StatusOK {
			t.Fatalf("auth config: %d %s", a.Status, a.Body)
		}
		var c api.AuthConfig
		dataOf(t, a, &c)
		return c
	}
	if c := get(newEnv(t, nil)); c.Oidc != nil {
		t.Fatalf("no sign-in configured, yet oidc %+v", *c.Oidc)
	}
	// An issuer without a CLI client is no device flow either.
	if c := get(newEnvWith(t, nil, server.Options{SignIn: &about.SignIn{Issuer: "https://issuer.example.com/"}})); c.Oidc != nil {
		t.Fatalf("no client ID, yet oidc %+v", *c.Oidc)
	}
	c := get(newEnvWith(t, nil, server.Options{SignIn: &about.SignIn{Issuer: "https://issuer.example.com/", ClientID: "cli", Audience: "astro"}}))
	if c.Oidc == nil || c.Oidc.Issuer != "https://issuer.example.com/" || c.Oidc.ClientId != "cli" || c.Oidc.Audience == nil || *c.Oidc.Audience != "astro" {
		t.Fatalf("oidc %+v", c.Oidc)
	}
	if len(c.Oidc.Scopes) != 4 || c.Oidc.Scopes[0] != "openid" || c.Oidc.Scopes[3] != "offline_access" {
		t.Fatalf("scopes %v", c.Oidc.Scopes)
	}
}

// dataOf decodes a success answer's data into v.
func dataOf(t *testing.T, a answer, v any) {
	t.Helper()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	must(t, json.Unmarshal(a.Body, &env))
	if env.Status != "success" {
		t.Fatalf("envelope status %q: %s", env.Status, a.Body)
	}
	must(t, json.Unmarshal(env.Data, v))
}
