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

// EnsureDir creates the directory of a sqlite:// database file, so a fresh checkout
// runs without setup.
func (s Store) EnsureDir() error {
	path, ok := strings.CutPrefix(s.DatabaseURL, "sqlite://")
	if !ok || path == ":memory:" {
		return nil
	}
	path, _, _ = strings.Cut(path, "?")
	if i := strings.LastIndex(path, "/"); i > 0 {
		return os.MkdirAll(path[:i], 0o755)
	}
	return nil
}
