package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
