// Package bootstrap prepares a fresh install: the first organization, its admin, and
// the admin's first API key.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// Created: the store was fresh and is now bootstrapped.
	Created bool
	// Adopted: the store was bootstrapped before and the preset key was unknown to
	// it; it is now a key of the organization's first admin.
	Adopted bool
	OrgID   string
	Key     string
}

// Run bootstraps st when it holds no organization yet. On a store bootstrapped before
// it changes nothing, except that a preset APIKey the store has never seen is adopted
// as a new key of the first admin of OrgName: a preset key always works, whether the
// store is new or not. A preset key that is revoked, expired or whose owner left is
// an error saying so, and so is one that does not look like a key.
func Run(ctx context.Context, st *store.Store, opts Options) (Result, error) {
	key := opts.APIKey
	if key == "" {
		key = apikey.Generate()
	} else if err := apikey.Check(key); err != nil {
		return Result{}, fmt.Errorf("ASTRO_BOOTSTRAP_API_KEY: must be %d–%d letters, digits, '-' or '_' (a key starting with %s must carry its checksum: take one from a key this server made)", apikey.MinLength, apikey.MaxLength, apikey.Prefix)
	}
	b := &store.Bootstrap{
		Org:  store.Organization{ID: store.NewID(), Name: opts.OrgName, Title: "Default organization"},
		User: store.User{ID: store.NewID(), Email: opts.AdminEmail, Name: "Administrator"},
		Key:  store.APIKey{ID: store.NewID(), Name: "bootstrap", Source: "bootstrap", Hash: apikey.Hash(key)},
	}
	err := st.BootstrapInstall(ctx, b)
	if errors.Is(err, store.ErrAlreadyBootstrapped) {
		if opts.APIKey == "" {
			return Result{}, nil
		}
		return adopt(ctx, st, opts)
	}
	if err != nil {
		return Result{}, fmt.Errorf("bootstrap: %w", err)
	}
	_ = st.RecordAudit(ctx, &store.AuditEvent{OrgID: b.Org.ID, UserID: b.User.ID, APIKeyID: b.Key.ID,
		EventType: "API_KEY", Action: "CREATE", ResourceID: b.Key.ID, Outcome: store.OutcomeSuccess})
	return Result{Created: true, OrgID: b.Org.ID, Key: key}, nil
}

// adopt makes sure the preset key works on a store bootstrapped before: a usable key
// is left as it is, an unknown one becomes a key of the first admin of OrgName.
func adopt(ctx context.Context, st *store.Store, opts Options) (Result, error) {
	const fix = "set ASTRO_BOOTSTRAP_API_KEY to another key (make run: remove .data/bootstrap-api-key and a new one is made)"
	owner, err := st.LookupAPIKey(ctx, apikey.Hash(opts.APIKey))
	switch {
	case err == nil && owner.Key.RevokedAt != nil:
		return Result{}, fmt.Errorf("ASTRO_BOOTSTRAP_API_KEY was revoked on %s (%s): it would answer 401; %s",
			owner.Key.RevokedAt.UTC().Format(time.RFC3339), owner.Key.RevokeReason, fix)
	case err == nil && owner.Key.ExpiresAt != nil && !owner.Key.ExpiresAt.After(time.Now()):
		return Result{}, fmt.Errorf("ASTRO_BOOTSTRAP_API_KEY expired on %s: it would answer 401; %s",
			owner.Key.ExpiresAt.UTC().Format(time.RFC3339), fix)
	case err == nil && owner.Role == "":
		return Result{}, fmt.Errorf("ASTRO_BOOTSTRAP_API_KEY belongs to a user who is no longer a member of %q: it would answer 401; %s", owner.OrgName, fix)
	case err == nil:
		return Result{OrgID: owner.Key.OrgID}, nil
	case !errors.Is(err, store.ErrNotFound):
		return Result{}, fmt.Errorf("look up ASTRO_BOOTSTRAP_API_KEY: %w", err)
	}

	org, err := st.GetOrganizationByName(ctx, opts.OrgName)
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, fmt.Errorf("ASTRO_BOOTSTRAP_API_KEY is unknown to this store and ASTRO_BOOTSTRAP_ORG %q does not exist in it, so the key cannot be adopted: set ASTRO_BOOTSTRAP_ORG to an existing organization", opts.OrgName)
	}
	if err != nil {
		return Result{}, fmt.Errorf("adopt ASTRO_BOOTSTRAP_API_KEY: %w", err)
	}
	admins, err := st.MembersWithRoles(ctx, org.ID, []string{store.RoleAdmin})
	if err != nil {
		return Result{}, fmt.Errorf("adopt ASTRO_BOOTSTRAP_API_KEY: %w", err)
	}
	if len(admins) == 0 {
		return Result{}, fmt.Errorf("ASTRO_BOOTSTRAP_API_KEY is unknown to this store and organization %q has no admin to own it", opts.OrgName)
	}
	k := store.APIKey{ID: store.NewID(), OrgID: org.ID, UserID: admins[0].ID, Name: "bootstrap", Source: "bootstrap", Hash: apikey.Hash(opts.APIKey)}
	if err := st.CreateAPIKey(ctx, &k); err != nil {
		return Result{}, fmt.Errorf("adopt ASTRO_BOOTSTRAP_API_KEY: %w", err)
	}
	_ = st.RecordAudit(ctx, &store.AuditEvent{OrgID: org.ID, UserID: k.UserID, APIKeyID: k.ID,
		EventType: "API_KEY", Action: "CREATE", ResourceID: k.ID, Outcome: store.OutcomeSuccess})
	return Result{Adopted: true, OrgID: org.ID, Key: opts.APIKey}, nil
}
