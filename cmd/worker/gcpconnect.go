package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/gcpconnect"
	"github.com/astropulse/astroplane/secrets"
)

// gcpConfig is the platform's GCP identity for GCP connections (workload identity
// federation): the issuer and key of the tokens customers' providers trust, and
// where Google's STS and iamcredentials APIs are.
type gcpConfig struct {
	// Issuer is the issuer URI of the platform's tokens (default ASTRO_PUBLIC_URL).
	// Customers' providers are given the public keys, so it need not be reachable.
	Issuer string `env:"ASTRO_GCP_PLATFORM_ISSUER"`
	// KeyFile is a PEM P-256 private key (openssl ecparam -name prime256v1 -genkey
	// -noout | openssl pkcs8 -topk8 -nocrypt). Unset: a key derived from
	// ASTRO_ENCRYPTION_KEY, enough for development but changing with it (every GCP
	// connection must then run its setup script again); unset both: GCP connections
	// fail saying so.
	KeyFile string `env:"ASTRO_GCP_PLATFORM_KEY_FILE"`
	// STSEndpoint and IAMCredentialsEndpoint replace Google's base URLs (a wire
	// server in development and tests).
	STSEndpoint            string `env:"ASTRO_GCP_STS_ENDPOINT"`
	IAMCredentialsEndpoint string `env:"ASTRO_GCP_IAMCREDENTIALS_ENDPOINT"`
}

// platformGCP is the worker's GCP identity; nil when it has no key to sign with.
func platformGCP(cfg Config) (*activities.GCPPlatform, error) {
	issuer := cfg.GCP.Issuer
	if issuer == "" {
		issuer = strings.TrimRight(cfg.PublicURL, "/")
	}
	var id *gcpconnect.Identity
	switch {
	case cfg.GCP.KeyFile != "":
		raw, err := os.ReadFile(cfg.GCP.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ASTRO_GCP_PLATFORM_KEY_FILE: %w", err)
		}
		if id, err = gcpconnect.IdentityFromPEM(issuer, raw); err != nil {
			return nil, fmt.Errorf("ASTRO_GCP_PLATFORM_KEY_FILE: %w", err)
		}
	case cfg.Keys.EncryptionKey != "":
		key, err := secrets.ParseKey(cfg.Keys.EncryptionKey)
		if err != nil {
			return nil, fmt.Errorf("ASTRO_ENCRYPTION_KEY: %w", err)
		}
		if id, err = gcpconnect.IdentityFromSecret(issuer, key); err != nil {
			return nil, fmt.Errorf("ASTRO_ENCRYPTION_KEY: %w", err)
		}
	default:
		return nil, nil
	}
	return &activities.GCPPlatform{Identity: id, Endpoints: gcpconnect.Endpoints{
		STS: withSlash(cfg.GCP.STSEndpoint), IAMCredentials: withSlash(cfg.GCP.IAMCredentialsEndpoint)},
		ScriptBaseURL: strings.TrimRight(cfg.PublicURL, "/") + "/api/v1/cloud/gcp/scripts/"}, nil
}

// withSlash ends a base URL with the slash the clients resolve paths against.
func withSlash(u string) string {
	if u == "" || strings.HasSuffix(u, "/") {
		return u
	}
	return u + "/"
}
