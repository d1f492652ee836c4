package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// shared is the part of both processes' configuration this package defines.
type shared struct {
	Log      Log
	Store    Store
	Temporal Temporal
	Keys     Keys
	Relay    Relay
}

func (s shared) Validate() error {
	return errors.Join(s.Log.Validate(), s.Store.Validate(), s.Temporal.Validate(), s.Keys.Validate(), s.Relay.Validate())
}

const (
	encryptionKey = "kZb7aZJyKwZN/WSzEeQMb56oMhQCtuYqeDctmrDRcnU=" // 32 random bytes, base64
	signingKey    = "a-long-random-string-that-signs-approval-links"
)

func TestSharedDefaults(t *testing.T) {
	var c shared
	if err := ParseEnviron(&c, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	want := shared{
		Log:      Log{Format: "json", Level: "info"},
		Store:    Store{DatabaseURL: "sqlite://.data/astro.db"},
		Temporal: Temporal{Address: "localhost:7233", Namespace: "default", TaskQueue: "astro-plane"},
	}
	if c != want {
		t.Fatalf("defaults %+v, want %+v", c, want)
	}
	box, signer, guard, err := c.Keys.Open()
	if err != nil || box != nil || signer != nil || len(guard.Allow)+len(guard.AllowHosts) != 0 {
		t.Fatalf("Open without keys = %v %v %+v %v, want nothing configured", box, signer, guard, err)
	}
}

func TestSharedEveryVariable(t *testing.T) {
	var c shared
	err := ParseEnviron(&c, map[string]string{
		"ASTRO_LOG_FORMAT":           "text",
		"ASTRO_LOG_LEVEL":            "debug",
		"ASTRO_DATABASE_URL":         "postgres://astro:pw@db:5432/astro?sslmode=disable",
		"ASTRO_TEMPORAL_ADDRESS":     "temporal:7233",
		"ASTRO_TEMPORAL_NAMESPACE":   "astro",
		"ASTRO_TASK_QUEUE":           "astro-q",
		"ASTRO_ENCRYPTION_KEY":       encryptionKey,
		"ASTRO_APPROVAL_SIGNING_KEY": signingKey,
		"ASTRO_NOTIFY_ALLOWED_HOSTS": "127.0.0.0/8, ::1/128 ,hooks.internal",
		"ASTRO_SMTP_HOST":            "smtp.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := shared{
		Log:      Log{Format: "text", Level: "debug"},
		Store:    Store{DatabaseURL: "postgres://astro:pw@db:5432/astro?sslmode=disable"},
		Temporal: Temporal{Address: "temporal:7233", Namespace: "astro", TaskQueue: "astro-q"},
		Keys:     Keys{EncryptionKey: encryptionKey, SigningKey: signingKey, NotifyAllowedHosts: "127.0.0.0/8, ::1/128 ,hooks.internal"},
		Relay:    Relay{SMTPHost: "smtp.example.com"},
	}
	if c != want {
		t.Fatalf("parsed %+v, want %+v", c, want)
	}
	box, signer, guard, err := c.Keys.Open()
	if err != nil || box == nil || signer == nil {
		t.Fatalf("Open = %v %v %v", box, signer, err)
	}
	if len(guard.Allow) != 2 || len(guard.AllowHosts) != 1 || guard.AllowHosts[0] != "hooks.internal" {
		t.Fatalf("guard %+v", guard)
	}
	if _, err := c.Log.NewLogger(); err != nil {
		t.Fatal(err)
	}
}

// Each invalid value is refused, and the error names its variable.
func TestSharedInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		name, value string
	}{
		{"ASTRO_LOG_FORMAT", "xml"},
		{"ASTRO_LOG_LEVEL", "loud"},
		{"ASTRO_DATABASE_URL", "mysql://db/astro"},
		{"ASTRO_DATABASE_URL", "sqlite://"},
		{"ASTRO_DATABASE_URL", "postgres://"},
		{"ASTRO_TEMPORAL_ADDRESS", "localhost"},
		{"ASTRO_TEMPORAL_ADDRESS", "localhost:70000"},
		{"ASTRO_TEMPORAL_ADDRESS", "localhost:port"},
		{"ASTRO_TEMPORAL_NAMESPACE", " "},
		{"ASTRO_TASK_QUEUE", " "},
		{"ASTRO_ENCRYPTION_KEY", "c2hvcnQ="},
		{"ASTRO_ENCRYPTION_KEY", "not a key"},
		{"ASTRO_APPROVAL_SIGNING_KEY", "short"},
		{"ASTRO_NOTIFY_ALLOWED_HOSTS", "10.0.0.0/33"},
		{"ASTRO_NOTIFY_ALLOWED_HOSTS", "https://hooks.internal"},
		{"ASTRO_SMTP_HOST", "smtp.example.com:587"},
		{"ASTRO_SMTP_HOST", "smtp://relay.example.com"},
		{"ASTRO_SMTP_HOST", "mail relay"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			var c shared
			err := ParseEnviron(&c, map[string]string{tc.name: tc.value})
			if err == nil {
				t.Fatalf("%s=%q accepted", tc.name, tc.value)
			}
			if !strings.Contains(err.Error(), tc.name+": ") {
				t.Fatalf("error %q does not name %s", err, tc.name)
			}
			if strings.Count(err.Error(), "ASTRO_") != 1 {
				t.Fatalf("error %q blames other variables too", err)
			}
		})
	}
}

// Every fault is reported at once.
func TestSharedReportsEveryFault(t *testing.T) {
	var c shared
	err := ParseEnviron(&c, map[string]string{"ASTRO_LOG_FORMAT": "xml", "ASTRO_TASK_QUEUE": " ", "ASTRO_ENCRYPTION_KEY": "x"})
	for _, name := range []string{"ASTRO_LOG_FORMAT", "ASTRO_TASK_QUEUE", "ASTRO_ENCRYPTION_KEY"} {
		if err == nil || !strings.Contains(err.Error(), name+": ") {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

// Values that do not parse as their field's type are refused naming the variable,
// not the Go field, nested structs included.
func TestParseErrorsNameTheVariable(t *testing.T) {
	var c struct {
		Timeout time.Duration `env:"ASTRO_X_TIMEOUT" envDefault:"5s"`
		Inner   struct {
			Port int `env:"ASTRO_X_PORT" envDefault:"1"`
		}
	}
	err := ParseEnviron(&c, map[string]string{"ASTRO_X_TIMEOUT": "soon", "ASTRO_X_PORT": "eighty"})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`ASTRO_X_TIMEOUT: unable to parse duration: time: invalid duration "soon"`, `ASTRO_X_PORT: "eighty" is not a valid number`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `field "Timeout"`) || strings.Contains(err.Error(), `field "Port"`) {
		t.Errorf("error %q names Go fields", err)
	}
	if err := ParseEnviron(&c, map[string]string{}); err != nil || c.Timeout != 5*time.Second || c.Inner.Port != 1 {
		t.Fatalf("defaults: %v %+v", err, c)
	}
}

func TestHostPort(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		anyPort bool
		ok      bool
	}{
		{"localhost:7233", false, true},
		{":8080", false, true},
		{"[::1]:443", false, true},
		{"127.0.0.1:0", true, true},
		{"127.0.0.1:0", false, false},
		{"localhost", false, false},
		{"localhost:65536", true, false},
		{"localhost:-1", true, false},
		{"localhost:http", true, false},
		{"", true, false},
	} {
		if err := HostPort(tc.addr, tc.anyPort); (err == nil) != tc.ok {
			t.Errorf("HostPort(%q, %v) = %v, want ok %v", tc.addr, tc.anyPort, err, tc.ok)
		}
	}
}

func TestNewLogger(t *testing.T) {
	for _, l := range []Log{{Format: "json", Level: "info"}, {Format: "TEXT", Level: "warn"}, {Format: "text", Level: "error"}} {
		if _, err := l.NewLogger(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
	if _, err := (Log{Format: "json", Level: "chatty"}).NewLogger(); err == nil || !strings.Contains(err.Error(), "ASTRO_LOG_LEVEL") {
		t.Errorf("bad level: %v", err)
	}
	if _, err := (Log{Format: "yaml", Level: "info"}).NewLogger(); err == nil || !strings.Contains(err.Error(), "ASTRO_LOG_FORMAT") {
		t.Errorf("bad format: %v", err)
	}
}

// A relay host is a host name or an IP address (IPv6 too), or unset.
func TestRelayHost(t *testing.T) {
	for _, host := range []string{"", "smtp.example.com", "10.0.0.25", "::1", "localhost"} {
		if err := (Relay{SMTPHost: host}).Validate(); err != nil {
			t.Errorf("ASTRO_SMTP_HOST=%q refused: %v", host, err)
		}
	}
}
