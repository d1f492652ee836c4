package main

import (
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/internal/config"
)

func TestConfigDefaults(t *testing.T) {
	var c Config
	if err := config.ParseEnviron(&c, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8080" || c.MaxBodyBytes != 1<<20 || c.ShutdownTimeout != 15*time.Second ||
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
		c.Relay.SMTPHost != "smtp.example.com" {
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
