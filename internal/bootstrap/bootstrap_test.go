package bootstrap_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/bootstrap"
	"github.com/astropulse/astroplane/store"
)

func TestRunBootstrapsOnceWithAWorkingKey(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := bootstrap.Options{OrgName: "default", AdminEmail: "admin@localhost"}

	first, err := bootstrap.Run(ctx, st, opts)
	if err != nil || !first.Created || first.Key == "" {
		t.Fatalf("first run: %+v, %v", first, err)
	}
	owner, err := st.LookupAPIKey(ctx, apikey.Hash(first.Key))
	if err != nil || owner.Role != store.RoleAdmin || owner.OrgName != "default" {
		t.Fatalf("the printed key does not authenticate an admin of default: %+v, %v", owner, err)
	}
	if string(owner.Key.Hash) == first.Key {
		t.Fatal("the key is stored in clear")
	}
	second, err := bootstrap.Run(ctx, st, opts)
	if err != nil || second.Created || second.Key != "" {
		t.Fatalf("second run must change nothing: %+v, %v", second, err)
	}
}

func TestRunTakesAPresetKeyAndRefusesABadOne(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := bootstrap.Run(ctx, st, bootstrap.Options{OrgName: "default", AdminEmail: "a@b", APIKey: "short"}); err == nil {
		t.Fatal("a malformed preset key was accepted")
	}
	preset := "ci_" + "0123456789abcdef0123456789abcdef"
	res, err := bootstrap.Run(ctx, st, bootstrap.Options{OrgName: "default", AdminEmail: "a@b", APIKey: preset})
	if err != nil || !res.Created || res.Key != preset {
		t.Fatalf("preset: %+v, %v", res, err)
	}
	if _, err := st.LookupAPIKey(ctx, apikey.Hash(preset)); err != nil {
		t.Fatalf("preset key does not authenticate: %v", err)
	}
}

// A preset key on a store bootstrapped before (by another key, or a lost key file) is
// adopted as a key of the organization's first admin, so the key a start-up prints
// always works; a revoked or expired one is refused at start-up, saying what to do.
func TestRunAdoptsAnUnknownPresetKeyOnAnExistingStore(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	opts := bootstrap.Options{OrgName: "default", AdminEmail: "admin@localhost"}
	first, err := bootstrap.Run(ctx, st, opts)
	if err != nil || !first.Created {
		t.Fatalf("first run: %+v, %v", first, err)
	}

	opts.APIKey = apikey.Generate()
	res, err := bootstrap.Run(ctx, st, opts)
	if err != nil || res.Created || !res.Adopted || res.OrgID != first.OrgID {
		t.Fatalf("unknown preset key on an existing store: %+v, %v", res, err)
	}
	owner, err := st.LookupAPIKey(ctx, apikey.Hash(opts.APIKey))
	if err != nil || owner.Role != store.RoleAdmin || owner.OrgName != "default" || owner.Key.Source != "bootstrap" {
		t.Fatalf("the adopted key does not authenticate an admin of default: %+v, %v", owner, err)
	}
	if events, _, err := st.ListAudit(ctx, first.OrgID, store.AuditFilter{EventType: "API_KEY"}, store.Page{}); err != nil || len(events) != 2 {
		t.Fatalf("adoption not audited: %d events, %v", len(events), err)
	}

	// Known and usable: nothing changes.
	again, err := bootstrap.Run(ctx, st, opts)
	if err != nil || again.Adopted || again.Created || again.OrgID != first.OrgID {
		t.Fatalf("a known key: %+v, %v", again, err)
	}

	// Revoked: refused, never re-adopted behind the revocation's back.
	must(t, st.RevokeAPIKey(ctx, first.OrgID, owner.Key.ID, "leaked", time.Now()))
	if _, err := bootstrap.Run(ctx, st, opts); err == nil || !strings.Contains(err.Error(), "revoked") || !strings.Contains(err.Error(), "ASTRO_BOOTSTRAP_API_KEY") {
		t.Fatalf("a revoked preset key: %v", err)
	}

	// Expired: refused too.
	expired := apikey.Generate()
	past := time.Now().Add(-time.Hour)
	must(t, st.CreateAPIKey(ctx, &store.APIKey{ID: store.NewID(), OrgID: first.OrgID, UserID: owner.Key.UserID, Source: "cli", Hash: apikey.Hash(expired), ExpiresAt: &past}))
	opts.APIKey = expired
	if _, err := bootstrap.Run(ctx, st, opts); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired preset key: %v", err)
	}

	// No such organization: said plainly.
	opts.APIKey, opts.OrgName = apikey.Generate(), "elsewhere"
	if _, err := bootstrap.Run(ctx, st, opts); err == nil || !strings.Contains(err.Error(), `"elsewhere"`) {
		t.Fatalf("preset key for an organization that does not exist: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
