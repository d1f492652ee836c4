// Package testpg gives tests a real, throwaway PostgreSQL server: the one named by
// ASTRO_TEST_POSTGRES_URL, or else one it starts itself from the machine's PostgreSQL
// binaries (initdb + pg_ctl in a temporary directory) and stops when the tests end.
package testpg

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/astropulse/astroplane/internal/pgserver"
	"github.com/astropulse/astroplane/internal/testreq"
)

// Server is a running PostgreSQL server.
type Server struct {
	// URL is the admin connection URL (database "postgres").
	URL  string
	stop func()
	// local is the server this package started; nil for the one named by
	// ASTRO_TEST_POSTGRES_URL.
	local *pgserver.Server
	// own marks a server StartOwn started, which the test may stop and start.
	own bool
}

var (
	once   sync.Once
	shared *Server
	err    error
)

// Require returns the shared server, starting it on first use. When no server can be
// had the test fails, or skips under testreq.SkipEnv: the Postgres run must not
// silently vanish.
func Require(t testing.TB) *Server {
	t.Helper()
	once.Do(func() { shared, err = start() })
	if err != nil {
		testreq.Missing(t, fmt.Sprintf("PostgreSQL not available: %v", err),
			"install its server binaries (`make tools`) or set ASTRO_TEST_POSTGRES_URL")
	}
	return shared
}

// Stop stops a server this package started; call it from TestMain after m.Run.
func Stop() {
	if shared != nil && shared.stop != nil {
		shared.stop()
	}
}

// NewDatabase creates an empty database for one test, drops it when the test ends,
// and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	admin, err := sql.Open("pgx", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", s.URL)
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return strings.Replace(s.URL, "/postgres?", "/"+name+"?", 1)
}

// StartOwn starts a PostgreSQL server for the test alone, from the machine's binaries
// (never the one ASTRO_TEST_POSTGRES_URL names), which the test may stop and start
// again (Down, Up, Restart); it is removed when the test ends. Without the binaries
// the test fails, or skips under testreq.SkipEnv.
func StartOwn(t testing.TB) *Server {
	t.Helper()
	s, err := startLocal(true)
	if err != nil {
		testreq.Missing(t, fmt.Sprintf("PostgreSQL server binaries not available: %v", err), "install them (`make tools`)")
	}
	s.own = true
	t.Cleanup(s.stop)
	return s
}

// Down stops the server the way a crash would (immediate shutdown: no checkpoint,
// clients cut off; the next start recovers from the WAL). Only for a server
// StartOwn started.
func (s *Server) Down() error {
	if !s.own {
		return fmt.Errorf("testpg: %s is not a server of the test's own", s.URL)
	}
	return s.local.Down()
}

// Up starts a server Down stopped again, on the same data directory and port, and
// waits until it answers.
func (s *Server) Up(ctx context.Context) error {
	if !s.own {
		return fmt.Errorf("testpg: %s is not a server of the test's own", s.URL)
	}
	return s.local.Up(ctx)
}

// Restart is Down then Up.
func (s *Server) Restart(ctx context.Context) error {
	if err := s.Down(); err != nil {
		return err
	}
	return s.Up(ctx)
}

func start() (*Server, error) {
	if url := os.Getenv("ASTRO_TEST_POSTGRES_URL"); url != "" {
		return &Server{URL: url}, nil
	}
	return startLocal(false)
}

// startLocal starts a server of its own (pgserver). Without fsync (an operating
// system crash is not what tests simulate); with synchronous commits when crashSafe,
// so that a commit survives the server's own crash (Down), and without them, faster,
// otherwise.
func startLocal(crashSafe bool) (*Server, error) {
	port, err := testreq.Port()
	if err != nil {
		return nil, err
	}
	settings := []string{"fsync=off", "full_page_writes=off", "max_connections=200"}
	if !crashSafe {
		settings = append(settings, "synchronous_commit=off")
	}
	srv, err := pgserver.Start(context.Background(), pgserver.Options{BinDir: os.Getenv("ASTRO_TEST_POSTGRES_BIN"), Port: port, Settings: settings})
	if err != nil {
		return nil, fmt.Errorf("%w (or set ASTRO_TEST_POSTGRES_URL)", err)
	}
	return &Server{URL: srv.URL, stop: srv.Stop, local: srv}, nil
}
