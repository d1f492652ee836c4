package main

import (
	"testing"

	"github.com/astropulse/astroplane/internal/config"
	"github.com/astropulse/astroplane/internal/devissuer"
)

// TestCLISignIn: what GET /api/v1/auth/config tells astroctl: the development
// issuer's public client under ASTRO_DEV_OIDC, ASTRO_OIDC_CLI_CLIENT_ID at the
// configured issuer, and nothing without a client.
func TestCLISignIn(t *testing.T) {
	if s := cliSignIn(config.OIDC{}); s != nil {
		t.Fatalf("no OIDC: %+v", s)
	}
	if s := cliSignIn(config.OIDC{Issuer: "https://id.example.com/", Audience: "api"}); s != nil {
		t.Fatalf("an issuer without a CLI client: %+v", s)
	}
	s := cliSignIn(config.OIDC{Issuer: "https://id.example.com/", Audience: "api", CLIClientID: "cli"})
	if s == nil || s.Issuer != "https://id.example.com/" || s.ClientID != "cli" || s.Audience != "api" {
		t.Fatalf("issuer with a CLI client: %+v", s)
	}
	s = cliSignIn(config.OIDC{Dev: true, DevAddr: "127.0.0.1:8081"})
	if s == nil || s.Issuer != "http://localhost:8081" || s.ClientID != devissuer.ClientID || s.Audience != config.DevAudience {
		t.Fatalf("dev issuer: %+v", s)
	}
	if s := cliSignIn(config.OIDC{Dev: true, DevAddr: "127.0.0.1:9", Audience: "mine"}); s.Audience != "mine" {
		t.Fatalf("dev issuer with an audience: %+v", s)
	}
}
