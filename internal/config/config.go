// Package config holds the configuration both processes share (logging, Temporal,
// store) and turns it into a logger and a Temporal client. Each process reads its own
// struct from the environment in main; nothing else reads the environment.
package config

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
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
	// SigningKey (at least 32 bytes, base64 or hex) signs approval and unsubscribe links.
	SigningKey string `env:"ASTRO_APPROVAL_SIGNING_KEY"`
	// NotifyAllowedHosts admits webhook destinations the SSRF guard refuses by
	// default (loopback, private ranges): CIDRs or host names, comma-separated.
	NotifyAllowedHosts string `env:"ASTRO_NOTIFY_ALLOWED_HOSTS"`
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
	return secrets.NewBox(key)
}

// Signer returns the signer of links, or nil when no key is set.
func (k Keys) Signer() (*approval.Signer, error) {
	if k.SigningKey == "" {
		return nil, nil
	}
	key, err := secrets.ParseKey(k.SigningKey)
	if err != nil {
		key = []byte(k.SigningKey) // a long random string is a key too
	}
	s, err := approval.NewSigner(key)
	if err != nil {
		return nil, fmt.Errorf("ASTRO_APPROVAL_SIGNING_KEY: %w", err)
	}
	return s, nil
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
	guard, err := k.Guard()
	return box, signer, guard, err
}

// Parse fills cfg (a struct pointer) from the environment.
func Parse(cfg any) error {
	if err := env.Parse(cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
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

// Dial connects to Temporal, logging through log.
func (t Temporal) Dial(ctx context.Context, log *slog.Logger) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  t.Address,
		Namespace: t.Namespace,
		Logger:    tlog.NewStructuredLogger(log.With("component", "temporal")),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s: %w", t.Address, err)
	}
	return c, nil
}
