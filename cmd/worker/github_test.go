package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/astropulse/astroplane/ghapp"
)

// The worker's GitHub App: none without ASTRO_GITHUB_APP_ID; the API's variables
// otherwise, a missing or unreadable key failing the start.
func TestGithubApp(t *testing.T) {
	t.Setenv(ghapp.EnvAppID, "")
	if app, err := githubApp(); err != nil || app != nil {
		t.Fatalf("unset: %v %v", app, err)
	}
	t.Setenv(ghapp.EnvAppID, "7")
	t.Setenv(ghapp.EnvPrivateKeyFile, "")
	if _, err := githubApp(); err == nil {
		t.Fatal("an app ID without a key")
	}
	key := filepath.Join(t.TempDir(), "app.pem")
	t.Setenv(ghapp.EnvPrivateKeyFile, key)
	if _, err := githubApp(); err == nil {
		t.Fatal("a key file that does not exist")
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(ghapp.EnvAPIURL, "https://ghe.example.com/api/v3")
	app, err := githubApp()
	if err != nil || app == nil || app.WebHost() != "ghe.example.com" {
		t.Fatalf("configured: %v %v", app, err)
	}
}
