package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSaveIsPrivateAndRoundTrips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config.yaml")
	c := &Config{}
	c.Set(Context{Name: "prod", Server: "https://api.example.com", Org: "acme", APIKey: "astro_secret"})
	c.Set(Context{Name: "dev", Server: "http://localhost:8080", APIKey: "astro_dev"})
	c.CurrentContext = "prod"
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Fatalf("config dir mode %v, want 0700", di.Mode().Perm())
	}
	// A wider file is narrowed on the next save.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("after re-save mode %v", fi.Mode().Perm())
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := back.Current("")
	if err != nil || cur.APIKey != "astro_secret" || cur.Org != "acme" {
		t.Fatalf("current: %+v %v", cur, err)
	}
	if dev, err := back.Current("dev"); err != nil || dev.Server != "http://localhost:8080" {
		t.Fatalf("override: %+v %v", dev, err)
	}
	if _, err := back.Current("nope"); err == nil {
		t.Fatal("unknown context accepted")
	}
	if !back.Delete("prod") || back.CurrentContext != "" {
		t.Fatalf("delete current: %+v", back)
	}
	if _, err := back.Current(""); !errors.Is(err, ErrNoContext) {
		t.Fatalf("no current context: %v", err)
	}
}

func TestPathOverride(t *testing.T) {
	t.Setenv(EnvPath, "/tmp/x/astro.yaml")
	if p, _ := Path(); p != "/tmp/x/astro.yaml" {
		t.Fatalf("path %s", p)
	}
	t.Setenv(EnvPath, "")
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg")
	if p, _ := Path(); p != "/tmp/xdg/astroctl/config.yaml" {
		t.Fatalf("path %s", p)
	}
}

func TestLoadMissingIsEmpty(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err != nil || len(c.Contexts) != 0 {
		t.Fatalf("%+v %v", c, err)
	}
}
