package bootstrap_test

import (
	"context"
	"path/filepath"
	"testing"

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
