package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite"

	"github.com/astropulse/astroplane/internal/config"
	"github.com/astropulse/astroplane/internal/testpg"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := config.ParseEnviron(&c, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.MaxBodyBytes != 1<<20 || c.ShutdownTimeout != 15*time.Second || c.StreamsPerKey != 50 || c.StreamsPerOrg != 500 ||
		c.BootstrapAPIKey != "" || c.BootstrapOrg != "default" || c.BootstrapAdminEmail != "admin@localhost" {
		t.Fatalf("defaults %+v", c)
	}
	if c.Log.Format != "json" || c.Store.DatabaseURL != "sqlite://.data/astro.db" || c.Temporal.Address != "localhost:7233" ||
		c.Relay.SMTPHost != "" {
		t.Fatalf("shared defaults %+v", c)
	}
}

func TestConfigEveryVariable(t *testing.T) {
	key := strings.Repeat("k", 40)
	var c Config
	err := config.ParseEnviron(&c, map[string]string{
		"ASTRO_HTTP_ADDR":             "127.0.0.1:9090",
		"ASTRO_MAX_BODY_BYTES":        "2048",
		"ASTRO_SHUTDOWN_TIMEOUT":      "1m30s",
		"ASTRO_STREAMS_PER_KEY":       "5",
		"ASTRO_STREAMS_PER_ORG":       "40",
		"ASTRO_KEY_CACHE_TTL":         "250ms",
		"ASTRO_CLOUD_CONNECT_TIMEOUT": "2h",
		"ASTRO_BOOTSTRAP_API_KEY":     key,
		"ASTRO_BOOTSTRAP_ORG":         "acme-corp",
		"ASTRO_BOOTSTRAP_ADMIN_EMAIL": "ops@acme.example",
		"ASTRO_LOG_FORMAT":            "text",
		"ASTRO_LOG_LEVEL":             "warn",
		"ASTRO_DATABASE_URL":          "postgres://u:p@db:5432/astro",
		"ASTRO_TEMPORAL_ADDRESS":      "temporal:7233",
		"ASTRO_TEMPORAL_NAMESPACE":    "ns",
		"ASTRO_TASK_QUEUE":            "q",
		"ASTRO_ENCRYPTION_KEY":        "kZb7aZJyKwZN/WSzEeQMb56oMhQCtuYqeDctmrDRcnU=",
		"ASTRO_APPROVAL_SIGNING_KEY":  "iLRwn3PIS69mFXezv1Kq38UZuJFO8zcma6y1-dDMHPnqj-qf",
		"ASTRO_NOTIFY_ALLOWED_HOSTS":  "127.0.0.0/8",
		"ASTRO_SMTP_HOST":             "smtp.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != "127.0.0.1:9090" || c.MaxBodyBytes != 2048 || c.ShutdownTimeout != 90*time.Second ||
		c.BootstrapAPIKey != key || c.BootstrapOrg != "acme-corp" || c.BootstrapAdminEmail != "ops@acme.example" ||
		c.Log.Format != "text" || c.Log.Level != "warn" || c.Store.DatabaseURL != "postgres://u:p@db:5432/astro" ||
		c.Temporal.Address != "temporal:7233" || c.Temporal.Namespace != "ns" || c.Temporal.TaskQueue != "q" ||
		c.Keys.EncryptionKey == "" || c.Keys.SigningKey == "" || c.Keys.NotifyAllowedHosts != "127.0.0.0/8" ||
		c.Relay.SMTPHost != "smtp.example.com" || c.StreamsPerKey != 5 || c.StreamsPerOrg != 40 ||
		c.KeyCacheTTL != 250*time.Millisecond || c.CloudConnectTimeout != 2*time.Hour {
		t.Fatalf("parsed %+v", c)
	}
	// Tests and e2e listen on a port the kernel picks.
	if err := config.ParseEnviron(&c, map[string]string{"ASTRO_HTTP_ADDR": "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
}

// Each invalid value is refused, and the error names its variable (and never echoes a
// secret).
func TestConfigInvalidValues(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"ASTRO_HTTP_ADDR", "8080"},
		{"ASTRO_HTTP_ADDR", ":99999"},
		{"ASTRO_MAX_BODY_BYTES", "1MB"},
		{"ASTRO_MAX_BODY_BYTES", "0"},
		{"ASTRO_MAX_BODY_BYTES", "-5"},
		{"ASTRO_SHUTDOWN_TIMEOUT", "15"},
		{"ASTRO_SHUTDOWN_TIMEOUT", "0s"},
		{"ASTRO_SHUTDOWN_TIMEOUT", "-1s"},
		{"ASTRO_STREAMS_PER_KEY", "0"},
		{"ASTRO_STREAMS_PER_ORG", "-1"},
		{"ASTRO_STREAMS_PER_ORG", "many"},
		{"ASTRO_KEY_CACHE_TTL", "-1s"},
		{"ASTRO_KEY_CACHE_TTL", "2m"},
		{"ASTRO_KEY_CACHE_TTL", "5"},
		{"ASTRO_CLOUD_CONNECT_TIMEOUT", "30s"},
		{"ASTRO_BOOTSTRAP_API_KEY", "tooshort"},
		{"ASTRO_BOOTSTRAP_API_KEY", strings.Repeat("k", 39) + "!"},
		{"ASTRO_BOOTSTRAP_ORG", "Acme"},
		{"ASTRO_BOOTSTRAP_ORG", "acme.corp"},
		{"ASTRO_BOOTSTRAP_ORG", " "},
		{"ASTRO_BOOTSTRAP_ADMIN_EMAIL", "admin"},
		{"ASTRO_BOOTSTRAP_ADMIN_EMAIL", "Admin <admin@x.example>"},
		{"ASTRO_METRICS_ADDR", ":9090"},
		{"ASTRO_METRICS_ADDR", "9090"},
		{"ASTRO_LOG_LEVEL", "verbose"},
		{"ASTRO_DATABASE_URL", "astro.db"},
		{"ASTRO_TEMPORAL_ADDRESS", "temporal"},
		{"ASTRO_ENCRYPTION_KEY", "0123"},
		{"ASTRO_APPROVAL_SIGNING_KEY", "short"},
		{"ASTRO_NOTIFY_ALLOWED_HOSTS", "::1/129"},
		{"ASTRO_SMTP_HOST", "smtp.example.com:25"},
		{"ASTRO_SMTP_HOST", "smtp://relay"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			var c Config
			err := config.ParseEnviron(&c, map[string]string{tc.name: tc.value})
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.name, tc.value)
			}
			if !strings.Contains(err.Error(), tc.name+": ") || strings.Count(err.Error(), "ASTRO_") != 1 {
				t.Fatalf("error %q does not name %s alone", err, tc.name)
			}
			if tc.name == "ASTRO_BOOTSTRAP_API_KEY" && strings.Contains(err.Error(), tc.value) {
				t.Fatalf("error %q echoes the key", err)
			}
		})
	}
}

// The metrics listener is off by default, and never the API's own.
func TestConfigMetricsAddr(t *testing.T) {
	var c Config
	if err := config.ParseEnviron(&c, map[string]string{}); err != nil || c.Telemetry.MetricsAddr != "" {
		t.Fatalf("default %q, %v: want no metrics listener", c.Telemetry.MetricsAddr, err)
	}
	if err := config.ParseEnviron(&c, map[string]string{"ASTRO_METRICS_ADDR": "127.0.0.1:9464"}); err != nil || c.Telemetry.MetricsAddr != "127.0.0.1:9464" {
		t.Fatalf("parsed %q, %v", c.Telemetry.MetricsAddr, err)
	}
	err := config.ParseEnviron(&c, map[string]string{"ASTRO_HTTP_ADDR": "127.0.0.1:8080", "ASTRO_METRICS_ADDR": "127.0.0.1:8080"})
	if err == nil || !strings.Contains(err.Error(), "ASTRO_METRICS_ADDR: ") || !strings.Contains(err.Error(), "a listener of their own") {
		t.Fatalf("metrics on the API's address: %v", err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testpg.Stop()
	os.Exit(code)
}

// `api -migrate` creates the schema and returns, on SQLite and on PostgreSQL, reading
// only the store and log variables: a Temporal address it cannot use, or keys it
// would refuse, do not stop a migrations job. It bootstraps nothing.
func TestMigrateCreatesTheSchemaAndExits(t *testing.T) {
	pg := func(t *testing.T) (string, string, string) {
		u := testpg.Require(t).NewDatabase(t)
		return u, "pgx", u
	}
	sqlite := func(t *testing.T) (string, string, string) {
		path := filepath.Join(t.TempDir(), "nested", "astro.db")
		return "sqlite://" + path, "sqlite", path
	}
	for name, db := range map[string]func(*testing.T) (url, driver, dsn string){"sqlite": sqlite, "postgres": pg} {
		t.Run(name, func(t *testing.T) {
			url, driver, dsn := db(t)
			t.Setenv("ASTRO_DATABASE_URL", url)
			t.Setenv("ASTRO_LOG_LEVEL", "warn")
			t.Setenv("ASTRO_TEMPORAL_ADDRESS", "not-a-host-port")
			t.Setenv("ASTRO_ENCRYPTION_KEY", "0123")
			t.Setenv("ASTRO_HTTP_ADDR", "127.0.0.1:1") // would fail to listen: -migrate serves nothing

			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			if err := dispatch(ctx, []string{"-migrate"}); err != nil {
				t.Fatalf("api -migrate: %v", err)
			}

			sqlDB, err := sql.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer sqlDB.Close()
			for _, table := range []string{"organizations", "api_keys", "clusters", "operations", "audit_events"} {
				var n int
				if err := sqlDB.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
					t.Errorf("table %s after -migrate: %v", table, err)
				} else if n != 0 {
					t.Errorf("table %s has %d rows after -migrate; a migration bootstraps nothing", table, n)
				}
			}
		})
	}
}

// Without -migrate, the API reads its whole configuration; a bad command line or a
// bad store URL is refused with the reason.
func TestDispatchRefuses(t *testing.T) {
	t.Setenv("ASTRO_DATABASE_URL", "mysql://db/astro")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-migrate"}, "ASTRO_DATABASE_URL: "},
		{[]string{"-migrate", "now"}, "unexpected arguments"},
		{[]string{"migrate"}, "unexpected arguments"},
		{[]string{"-serve"}, "flag provided but not defined"},
		{nil, "ASTRO_DATABASE_URL: "}, // the API itself
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := dispatch(t.Context(), tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("api %v: %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
	if err := dispatch(t.Context(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("api -h: %v, want flag.ErrHelp (exit 0)", err)
	}
}
