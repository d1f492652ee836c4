package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/azureconnect"
	"github.com/astropulse/astroplane/store"
)

// azureConfig is the platform's Azure identity for Azure connections (workload
// identity federation): the OIDC issuer and RSA key of the tokens customers'
// federated credentials trust, and where Microsoft Entra ID and Resource Manager are.
type azureConfig struct {
	// Issuer is the issuer URL of the platform's tokens (default ASTRO_PUBLIC_URL +
	// "/oidc/azure"). Microsoft Entra ID fetches Issuer + "/.well-known/openid-configuration"
	// and the keys it names, so it must be reachable over https: publish the two
	// documents there (DocsDir writes them).
	Issuer string `env:"ASTRO_AZURE_OIDC_ISSUER"`
	// KeyFile is a PEM RSA private key of 2048 bits or more (openssl genpkey -algorithm
	// RSA -pkeyopt rsa_keygen_bits:2048). Unset: a key made at start, enough for
	// development only (federated credentials trusting it stop working when the
	// worker restarts), which the worker says (a warning when ASTRO_CLOUDS has azure).
	KeyFile string `env:"ASTRO_AZURE_OIDC_KEY_FILE"`
	// DocsDir, when set, is where the worker writes the issuer's documents at start
	// (.well-known/openid-configuration and jwks), for a static host or storage
	// container serving Issuer.
	DocsDir string `env:"ASTRO_AZURE_OIDC_DOCS_DIR"`
	// AuthorityHost and ResourceManager replace Azure public cloud's
	// (https://login.microsoftonline.com/, https://management.azure.com): a
	// sovereign cloud, or a wire server in development.
	AuthorityHost   string `env:"ASTRO_AZURE_AUTHORITY_HOST"`
	ResourceManager string `env:"ASTRO_AZURE_RESOURCE_MANAGER_ENDPOINT"`
}

// platformAzure is the worker's Azure identity.
func platformAzure(cfg Config, log *slog.Logger) (*activities.AzurePlatform, error) {
	issuer := cfg.Azure.Issuer
	if issuer == "" {
		issuer = strings.TrimRight(cfg.PublicURL, "/") + "/oidc/azure"
	}
	var id *azureconnect.Identity
	if cfg.Azure.KeyFile != "" {
		raw, err := os.ReadFile(cfg.Azure.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ASTRO_AZURE_OIDC_KEY_FILE: %w", err)
		}
		if id, err = azureconnect.IdentityFromPEM(issuer, raw); err != nil {
			return nil, fmt.Errorf("ASTRO_AZURE_OIDC_KEY_FILE: %w", err)
		}
	} else {
		var err error
		if id, err = azureconnect.EphemeralIdentity(issuer); err != nil {
			return nil, err
		}
		// A development default: quiet unless Azure is provisioned for real.
		say := log.Info
		if slices.Contains(cfg.Clouds, "azure") {
			say = log.Warn
		}
		say("no ASTRO_AZURE_OIDC_KEY_FILE: Azure connections trust a key made for this run only (development)", "issuer", issuer)
	}
	if dir := cfg.Azure.DocsDir; dir != "" {
		if err := os.MkdirAll(filepath.Join(dir, ".well-known"), 0o755); err != nil { //nolint:gosec // public documents, served to anyone
			return nil, fmt.Errorf("ASTRO_AZURE_OIDC_DOCS_DIR: %w", err)
		}
		for name, doc := range map[string][]byte{".well-known/openid-configuration": id.Discovery(), "jwks": id.JWKS()} {
			if err := os.WriteFile(filepath.Join(dir, name), doc, 0o644); err != nil { //nolint:gosec // public documents, served to anyone
				return nil, fmt.Errorf("ASTRO_AZURE_OIDC_DOCS_DIR: %w", err)
			}
		}
	}
	return &activities.AzurePlatform{Identity: id, Endpoints: azureconnect.Endpoints{
		AuthorityHost: cfg.Azure.AuthorityHost, ResourceManager: cfg.Azure.ResourceManager},
		ScriptBaseURL: strings.TrimRight(cfg.PublicURL, "/") + "/api/v1/cloud/azure/scripts/"}, nil
}

// publishAzureIdentity puts the identity's OpenID discovery document and key set in
// the store, which the API serves at the issuer's URL (server/documents.go), when the
// issuer is the API's own /oidc/ path (the default, ASTRO_PUBLIC_URL/oidc/azure):
// Microsoft Entra ID fetches them from there to trust the tokens this worker signs.
// Workers sharing the store must share the key (ASTRO_AZURE_OIDC_KEY_FILE): each one
// publishes its own.
func publishAzureIdentity(ctx context.Context, st *store.Store, id *azureconnect.Identity) (published bool, err error) {
	u, err := url.Parse(id.Issuer())
	if err != nil {
		return false, fmt.Errorf("ASTRO_AZURE_OIDC_ISSUER: %w", err)
	}
	if !strings.HasPrefix(u.Path, "/oidc/") {
		return false, nil // served elsewhere (ASTRO_AZURE_OIDC_DOCS_DIR)
	}
	base := strings.TrimRight(u.Path, "/")
	now := time.Now()
	for path, body := range map[string][]byte{base + "/.well-known/openid-configuration": id.Discovery(), base + "/jwks": id.JWKS()} {
		if err := st.PutPublishedDocument(ctx, &store.PublishedDocument{Path: path, ContentType: "application/json", Body: body, UpdatedAt: now}); err != nil {
			return false, fmt.Errorf("publish the Azure identity's %s: %w", path, err)
		}
	}
	return true, nil
}
