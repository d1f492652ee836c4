package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/azureconnect"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
)

// The worker's Azure identity: the issuer defaults under the public URL; a key file
// is the key (the documents written name its issuer and carry its public key); no
// key file makes one for the run; a bad key file stops the worker.
func TestPlatformAzure(t *testing.T) {
	cfg := Config{PublicURL: "https://astro.example/"}
	p, err := platformAzure(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, "https://astro.example/oidc/azure", p.Identity.Issuer())
	require.Equal(t, "https://astro.example/api/v1/cloud/azure/scripts/", p.ScriptBaseURL)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	dir := t.TempDir()
	kf := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	cfg.Azure = azureConfig{Issuer: "https://issuer.example/astro", KeyFile: kf, DocsDir: filepath.Join(dir, "docs"),
		AuthorityHost: "https://login.example/"}
	p, err = platformAzure(cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, "https://login.example/", p.Endpoints.AuthorityHost)
	raw, err := os.ReadFile(filepath.Join(dir, "docs", ".well-known", "openid-configuration"))
	require.NoError(t, err)
	var disc map[string]any
	require.NoError(t, json.Unmarshal(raw, &disc))
	require.Equal(t, "https://issuer.example/astro", disc["issuer"])
	require.Equal(t, "https://issuer.example/astro/jwks", disc["jwks_uri"])
	jwks, err := os.ReadFile(filepath.Join(dir, "docs", "jwks"))
	require.NoError(t, err)
	require.JSONEq(t, string(p.Identity.JWKS()), string(jwks))

	require.NoError(t, os.WriteFile(kf, []byte("not a key"), 0o600))
	_, err = platformAzure(cfg, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "ASTRO_AZURE_OIDC_KEY_FILE")
}

// Without a key file the worker says so: quietly for development, as a warning when
// Azure is provisioned for real.
func TestPlatformAzureWarnsOnlyForRealAzure(t *testing.T) {
	for clouds, want := range map[string]string{"": "level=INFO", "aws,azure": "level=WARN"} {
		var out strings.Builder
		cfg := Config{PublicURL: "http://localhost:8080"}
		if clouds != "" {
			cfg.Clouds = strings.Split(clouds, ",")
		}
		_, err := platformAzure(cfg, slog.New(slog.NewTextHandler(&out, nil)))
		require.NoError(t, err)
		require.Contains(t, out.String(), want, clouds)
		require.Contains(t, out.String(), "ASTRO_AZURE_OIDC_KEY_FILE")
	}
}

// The worker publishes its Azure identity's discovery document and keys, and the API
// serves them at the issuer's URL, as Entra ID fetches them: the keys are the ones
// the worker signs with. An issuer outside the API's /oidc/ path is not published;
// an unknown document is a 404.
func TestAzureIdentityServedByTheAPI(t *testing.T) {
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	id, err := azureconnect.EphemeralIdentity("https://astro.example/oidc/azure")
	require.NoError(t, err)
	ok, err := publishAzureIdentity(ctx, st, id)
	require.NoError(t, err)
	require.True(t, ok)
	elsewhere, err := azureconnect.EphemeralIdentity("https://issuer.example/astro")
	require.NoError(t, err)
	ok, err = publishAzureIdentity(ctx, st, elsewhere)
	require.NoError(t, err)
	require.False(t, ok)

	srv, err := server.New(server.Options{Store: st, TaskQueue: "q", Log: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	disc := get("/oidc/azure/.well-known/openid-configuration")
	require.Equal(t, http.StatusOK, disc.Code, disc.Body.String())
	var d map[string]any
	require.NoError(t, json.Unmarshal(disc.Body.Bytes(), &d))
	require.Equal(t, id.Issuer(), d["issuer"])
	require.Equal(t, "https://astro.example/oidc/azure/jwks", d["jwks_uri"])
	keys := get("/oidc/azure/jwks")
	require.Equal(t, http.StatusOK, keys.Code)
	require.Equal(t, "application/json", keys.Header().Get("Content-Type"))
	require.JSONEq(t, string(id.JWKS()), keys.Body.String())
	require.Equal(t, http.StatusNotFound, get("/oidc/azure/other").Code)
	require.Equal(t, http.StatusNotFound, get("/oidc/astro/jwks").Code)
}
