package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/astropulse/astroplane/internal/config"
)

// TestPlatformGCP: ASTRO_GCP_* read; the issuer defaults to the public URL; a key
// file wins; without one the key is derived from ASTRO_ENCRYPTION_KEY (the same on
// every worker and restart); without either, no identity (connections say so).
func TestPlatformGCP(t *testing.T) {
	parse := func(env map[string]string) Config {
		t.Helper()
		var c Config
		if err := config.ParseEnviron(&c, env); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if p, err := platformGCP(parse(map[string]string{})); err != nil || p != nil {
		t.Fatalf("no key: %v %v", p, err)
	}
	enc := map[string]string{"ASTRO_ENCRYPTION_KEY": "XksKolf2kth/ja8DdRiqVyeQ6poWFm9td/W1U5REafw=", "ASTRO_GCP_STS_ENDPOINT": "http://127.0.0.1:9/sts"}
	a, err := platformGCP(parse(enc))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := platformGCP(parse(enc))
	if a.Identity.Issuer() != "http://localhost:8080" || !bytes.Equal(a.Identity.JWKS(), b.Identity.JWKS()) ||
		a.Endpoints.STS != "http://127.0.0.1:9/sts/" || a.Endpoints.IAMCredentials != "" ||
		a.ScriptBaseURL != "http://localhost:8080/api/v1/cloud/gcp/scripts/" {
		t.Fatalf("derived: %s %s %+v", a.Identity.Issuer(), a.Identity.JWKS(), a.Endpoints)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	f := filepath.Join(t.TempDir(), "gcp.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	enc["ASTRO_GCP_PLATFORM_KEY_FILE"], enc["ASTRO_GCP_PLATFORM_ISSUER"] = f, "https://id.astro.example"
	c, err := platformGCP(parse(enc))
	if err != nil || c.Identity.Issuer() != "https://id.astro.example" || bytes.Equal(c.Identity.JWKS(), a.Identity.JWKS()) {
		t.Fatalf("key file: %v", err)
	}
	enc["ASTRO_GCP_PLATFORM_KEY_FILE"] = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := platformGCP(parse(enc)); err == nil {
		t.Fatal("a missing key file is accepted")
	}
}
