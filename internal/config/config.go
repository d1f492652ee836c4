// Package config holds the configuration both processes share (logging, Temporal,
// store) and turns it into a logger and a Temporal client. Each process reads its own
// struct from the environment in main; nothing else reads the environment.
package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/caarlos0/env/v11"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
)

// Log configures logging.
type Log struct {
	// Format is json (production) or text (make run).
	Format string `env:"ASTRO_LOG_FORMAT" envDefault:"json"`
	// Level is debug, info, warn or error.
	Level string `env:"ASTRO_LOG_LEVEL" envDefault:"info"`
}

// Temporal configures the Temporal client.
type Temporal struct {
	Address   string `env:"ASTRO_TEMPORAL_ADDRESS" envDefault:"localhost:7233"`
	Namespace string `env:"ASTRO_TEMPORAL_NAMESPACE" envDefault:"default"`
	TaskQueue string `env:"ASTRO_TASK_QUEUE" envDefault:"astro-plane"`
	// TLS is TLS and credentials towards the frontend (ASTRO_TEMPORAL_TLS*, ASTRO_TEMPORAL_API_KEY).
	TLS TemporalTLS
}

// Store configures the database.
type Store struct {
	// DatabaseURL is postgres://… or sqlite://PATH.
	DatabaseURL string `env:"ASTRO_DATABASE_URL" envDefault:"sqlite://.data/astro.db"`
}

// Keys are the secrets both processes share: the key that seals integration secrets
// at rest and the key that signs approval and unsubscribe links.
type Keys struct {
	// EncryptionKey (32 bytes, base64 or hex) seals webhook URLs and SMTP passwords.
	EncryptionKey string `env:"ASTRO_ENCRYPTION_KEY"`
	// EncryptionKeysOld are earlier encryption keys (comma-separated), kept so what
	// they sealed still opens after a rotation: make a new ASTRO_ENCRYPTION_KEY and
	// move the old one here. New values are always sealed with ASTRO_ENCRYPTION_KEY.
	EncryptionKeysOld string `env:"ASTRO_ENCRYPTION_KEYS_OLD"`
	// SigningKey (at least 32 bytes, base64 or hex) signs approval and unsubscribe links.
	SigningKey string `env:"ASTRO_APPROVAL_SIGNING_KEY"`
	// NotifyAllowedHosts admits webhook destinations the SSRF guard refuses by
	// default (loopback, private ranges): CIDRs or host names, comma-separated.
	NotifyAllowedHosts string `env:"ASTRO_NOTIFY_ALLOWED_HOSTS"`
}

// Relay is the server-wide mail relay as far as both processes need it: the worker
// sends email through it (with the rest of its SMTP settings), and the API, knowing
// whether there is one, refuses an email integration that has no relay at all.
type Relay struct {
	// SMTPHost is the server's SMTP relay; empty: none, each organization's email
	// integration brings its own.
	SMTPHost string `env:"ASTRO_SMTP_HOST"`
}

// Validate reports a relay host that is not a host name or IP address (a port or a
// URL belongs elsewhere: ASTRO_SMTP_PORT).
func (r Relay) Validate() error {
	if r.SMTPHost != "" && strings.ContainsAny(r.SMTPHost, " \t\r\n/:@") && net.ParseIP(r.SMTPHost) == nil {
		return fmt.Errorf("ASTRO_SMTP_HOST: %q is not a host name or IP address", r.SMTPHost)
	}
	return nil
}

// Box returns the sealer of integration secrets, or nil when no key is set.
func (k Keys) Box() (*secrets.Box, error) {
	if k.EncryptionKey == "" {
		return nil, nil
	}
	key, err := secrets.ParseKey(k.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("ASTRO_ENCRYPTION_KEY: %w", err)
	}
	if err := CheckKeyStrength(key); err != nil {
		return nil, fmt.Errorf("ASTRO_ENCRYPTION_KEY: %w (make one with: openssl rand -base64 32)", err)
	}
	var older [][]byte
	for i, s := range strings.Split(k.EncryptionKeysOld, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		old, err := secrets.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("ASTRO_ENCRYPTION_KEYS_OLD: key %d: %w", i+1, err)
		}
		older = append(older, old)
	}
	return secrets.NewKeyring(key, older...)
}

// Signer returns the signer of links, or nil when no key is set.
func (k Keys) Signer() (*approval.Signer, error) {
	if k.SigningKey == "" {
		return nil, nil
	}
	key := k.signingKeyBytes()
	if err := CheckKeyStrength(key); err != nil {
		return nil, fmt.Errorf("ASTRO_APPROVAL_SIGNING_KEY: %w (make one with: openssl rand -base64 32)", err)
	}
	s, err := approval.NewSigner(key)
	if err != nil {
		return nil, fmt.Errorf("ASTRO_APPROVAL_SIGNING_KEY: %w", err)
	}
	return s, nil
}

// signingKeyBytes is the signing key as configured: base64 or hex decoded, else the
// string itself (a long random string is a key too).
func (k Keys) signingKeyBytes() []byte {
	key, err := secrets.ParseKey(k.SigningKey)
	if err != nil {
		return []byte(k.SigningKey)
	}
	return key
}

// checkDistinct refuses one value serving as both keys: a leak of either would
// then give both powers (reading sealed secrets and forging links).
func (k Keys) checkDistinct() error {
	if k.EncryptionKey == "" || k.SigningKey == "" {
		return nil
	}
	enc, _ := secrets.ParseKey(k.EncryptionKey)
	if sameKey(strings.TrimSpace(k.EncryptionKey), strings.TrimSpace(k.SigningKey), enc, k.signingKeyBytes()) {
		return errors.New("ASTRO_APPROVAL_SIGNING_KEY: the same value as ASTRO_ENCRYPTION_KEY; each needs its own random key")
	}
	return nil
}

// Guard returns the SSRF guard for outbound webhook URLs.
func (k Keys) Guard() (notify.Guard, error) {
	g, err := notify.ParseAllowList(k.NotifyAllowedHosts)
	if err != nil {
		return notify.Guard{}, fmt.Errorf("ASTRO_NOTIFY_ALLOWED_HOSTS: %w", err)
	}
	return g, nil
}

// Open returns the sealer, the link signer and the webhook guard the keys configure
// (the first two nil when their key is unset).
func (k Keys) Open() (*secrets.Box, *approval.Signer, notify.Guard, error) {
	box, err := k.Box()
	if err != nil {
		return nil, nil, notify.Guard{}, err
	}
	signer, err := k.Signer()
	if err != nil {
		return nil, nil, notify.Guard{}, err
	}
	if err := k.checkDistinct(); err != nil {
		return nil, nil, notify.Guard{}, err
	}
	guard, err := k.Guard()
	return box, signer, guard, err
}

// Parse fills cfg (a struct pointer) from the process's environment and validates
// it; see ParseEnviron.
func Parse(cfg any) error {
	return ParseEnviron(cfg, env.ToMap(os.Environ()))
}

// ParseEnviron fills cfg (a struct pointer) from environ, the variables named by its
// `env` tags, then calls its Validate method when it has one. Every error names the
// variable at fault (`ASTRO_SHUTDOWN_TIMEOUT: unable to parse duration: time:
// invalid duration "soon"`), and all faults are reported at once.
func ParseEnviron(cfg any, environ map[string]string) error {
	if err := env.ParseWithOptions(cfg, env.Options{Environment: environ}); err != nil {
		return fmt.Errorf("configuration: %w", nameVariables(cfg, err))
	}
	if v, ok := cfg.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
	}
	return nil
}

// nameVariables rewrites the parse errors of env.Parse, which name the Go field, to
// name the environment variable instead.
func nameVariables(cfg any, err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	keys := map[string][]string{}
	collectKeys(reflect.TypeOf(cfg), keys)
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) && len(keys[pe.Name]) > 0 {
			e = fmt.Errorf("%s: %w", strings.Join(keys[pe.Name], " or "), unwrapParse(pe.Err))
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// unwrapParse words a number that does not parse without strconv's function name.
func unwrapParse(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Errorf("%q is not a valid number: %w", ne.Num, ne.Err)
	}
	return err
}

// collectKeys maps each field name of t (a struct, or pointer to one, nested structs
// included) to the environment variables its `env` tags name.
func collectKeys(t reflect.Type, keys map[string][]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("env"), ","); tag != "" {
			keys[f.Name] = append(keys[f.Name], tag)
			continue
		}
		collectKeys(f.Type, keys)
	}
}

// Validate reports a log format or level that NewLogger would refuse.
func (l Log) Validate() error {
	var errs []error
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		errs = append(errs, fmt.Errorf("ASTRO_LOG_LEVEL: %q is not debug, info, warn or error", l.Level))
	}
	switch strings.ToLower(l.Format) {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("ASTRO_LOG_FORMAT: %q is neither json nor text", l.Format))
	}
	return errors.Join(errs...)
}

// Validate reports a Temporal address that is not host:port, or an empty namespace
// or task queue.
func (t Temporal) Validate() error {
	var errs []error
	if err := HostPort(t.Address, false); err != nil {
		errs = append(errs, fmt.Errorf("ASTRO_TEMPORAL_ADDRESS: %w", err))
	}
	if strings.TrimSpace(t.Namespace) == "" {
		errs = append(errs, errors.New("ASTRO_TEMPORAL_NAMESPACE: empty"))
	}
	if strings.TrimSpace(t.TaskQueue) == "" {
		errs = append(errs, errors.New("ASTRO_TASK_QUEUE: empty"))
	}
	errs = append(errs, t.TLS.Validate())
	return errors.Join(errs...)
}

// Validate reports a database URL the store cannot open.
func (s Store) Validate() error {
	u := s.DatabaseURL
	switch {
	case strings.HasPrefix(u, "sqlite://"):
		if strings.TrimPrefix(u, "sqlite://") == "" {
			return errors.New("ASTRO_DATABASE_URL: sqlite:// without a path")
		}
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			return errors.New("ASTRO_DATABASE_URL: not a postgres://user:pass@host:5432/db URL")
		}
	default:
		scheme, _, _ := strings.Cut(u, ":")
		return fmt.Errorf("ASTRO_DATABASE_URL: scheme %q: want postgres://… or sqlite://PATH", scheme)
	}
	return nil
}

// Validate reports keys that do not parse and an allow list that does not.
func (k Keys) Validate() error {
	_, err1 := k.Box()
	_, err2 := k.Signer()
	_, err3 := k.Guard()
	return errors.Join(err1, err2, err3, k.checkDistinct())
}

// Telemetry is where a process serves its Prometheus metrics. Traces are configured
// by the standard OTEL_EXPORTER_OTLP_* variables (see internal/telemetry).
type Telemetry struct {
	// MetricsAddr is the host:port of the metrics listener (GET /metrics), apart from
	// the API's own: empty, no listener. Its host must be named (127.0.0.1 for this
	// machine only, 0.0.0.0 or [::] for every interface), so /metrics is never public
	// because a port alone was written.
	MetricsAddr string `env:"ASTRO_METRICS_ADDR"`
}

// Validate reports a metrics address that is not host:port, or names no host.
func (t Telemetry) Validate() error {
	if t.MetricsAddr == "" {
		return nil
	}
	if err := HostPort(t.MetricsAddr, true); err != nil {
		return fmt.Errorf("ASTRO_METRICS_ADDR: %w", err)
	}
	if host, _, _ := net.SplitHostPort(t.MetricsAddr); host == "" {
		return fmt.Errorf("ASTRO_METRICS_ADDR: %q names no host: write 127.0.0.1%s for this machine only, or 0.0.0.0%s for every interface", t.MetricsAddr, t.MetricsAddr, t.MetricsAddr)
	}
	return nil
}

// HostPort reports whether addr is host:port with a port in 1–65535 (0 too, the
// kernel's choice, when anyPort). The host may be empty (all interfaces).
func HostPort(addr string, anyPort bool) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !anyPort) {
		return fmt.Errorf("port %q of %q is not a port number", port, addr)
	}
	return nil
}

// NewLogger returns the process's logger.
func (l Log) NewLogger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		return nil, fmt.Errorf("ASTRO_LOG_LEVEL: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(l.Format) {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	default:
		return nil, fmt.Errorf("ASTRO_LOG_FORMAT: %q is neither json nor text", l.Format)
	}
}

// Dial connects to Temporal, logging through log; each of extra adjusts the client's
// options first (interceptors, metrics handler).
func (t Temporal) Dial(ctx context.Context, log *slog.Logger, extra ...func(*client.Options)) (client.Client, error) {
	opts := client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
		Logger:    tlog.NewStructuredLogger(log.With("component", "temporal")),
	}
	if err := t.TLS.apply(&opts); err != nil {
		return nil, err
	}
	for _, f := range extra {
		f(&opts)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s: %w", t.Address, err)
	}
	return c, nil
}
