// Package bootstrap prepares a fresh install: the first organization, its admin, and
// the admin's first API key.
package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/store"
)

// Options name what a fresh install creates.
type Options struct {
	OrgName    string
	AdminEmail string
	// APIKey, when set, becomes the first key instead of a generated one, for
	// automation that must know it in advance.
	APIKey string
}

// Result says what Run did. Key is the new key in clear: show it once, never log it.
type Result struct {
	Created bool
	OrgID   string
	Key     string
}

// Run bootstraps st when it holds no organization yet; otherwise it changes nothing
// and reports Created false. A preset APIKey that does not look like a key is refused.
func Run(ctx context.Context, st *store.Store, opts Options) (Result, error) {
	key := opts.APIKey
	if key == "" {
		key = apikey.Generate()
	} else if err := apikey.Check(key); err != nil {
		return Result{}, fmt.Errorf("ASTRO_BOOTSTRAP_API_KEY: must be %d–%d letters, digits, '-' or '_'", apikey.MinLength, apikey.MaxLength)
	}
	b := &store.Bootstrap{
		Org:  store.Organization{ID: store.NewID(), Name: opts.OrgName, Title: "Default organization"},
		User: store.User{ID: store.NewID(), Email: opts.AdminEmail, Name: "Administrator"},
		Key:  store.APIKey{ID: store.NewID(), Name: "bootstrap", Source: "bootstrap", Hash: apikey.Hash(key)},
	}
	err := st.BootstrapInstall(ctx, b)
	if errors.Is(err, store.ErrAlreadyBootstrapped) {
		return Result{}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("bootstrap: %w", err)
	}
	_ = st.RecordAudit(ctx, &store.AuditEvent{OrgID: b.Org.ID, UserID: b.User.ID, APIKeyID: b.Key.ID,
		EventType: "API_KEY", Action: "CREATE", ResourceID: b.Key.ID, Outcome: store.OutcomeSuccess})
	return Result{Created: true, OrgID: b.Org.ID, Key: key}, nil
}
