// Package testpg gives tests a real, throwaway PostgreSQL server: the one named by
// ASTRO_TEST_POSTGRES_URL, or else one it starts itself from the machine's PostgreSQL
// binaries (initdb + pg_ctl in a temporary directory) and stops when the tests end.
package testpg

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/astropulse/astroplane/internal/testreq"
)

// Server is a running PostgreSQL server.
type Server struct {
	// URL is the admin connection URL (database "postgres").
	URL  string
	stop func()
	// ctl runs pg_ctl on the server's data directory, with its options; nil for a
	// server named by ASTRO_TEST_POSTGRES_URL.
	ctl func(args ...string) error
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
	return s.ctl("-m", "immediate", "-w", "stop")
}

// Up starts a server Down stopped again, on the same data directory and port, and
// waits until it answers.
func (s *Server) Up(ctx context.Context) error {
	if !s.own {
		return fmt.Errorf("testpg: %s is not a server of the test's own", s.URL)
	}
	if err := s.ctl("-w", "-t", "60", "start"); err != nil {
		return err
	}
	return waitReady(ctx, s.URL)
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

// startLocal initialises a data directory in a new temporary directory and starts a
// server on it. Without fsync (an operating system crash is not what tests
// simulate); with synchronous commits when crashSafe, so that a commit survives
// the server's own crash (Down), and without them, faster, otherwise.
func startLocal(crashSafe bool) (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	port, err := testreq.Port()
	if err != nil {
		return nil, err
	}
	// The data directory's parent must be readable by the postgres user, so not a
	// 0700 t.TempDir().
	dir, err := os.MkdirTemp("", "astro-pg-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	asPostgres, err := runAs(dir)
	if err != nil {
		return nil, err
	}
	run := func(args ...string) error {
		out, err := asPostgres(args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", filepath.Base(args[0]), err, out)
		}
		return nil
	}
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off -c max_connections=200", port, dir)
	if !crashSafe {
		opts += " -c synchronous_commit=off"
	}
	ctl := func(args ...string) error {
		return run(append([]string{filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts}, args...)...)
	}
	if err := ctl("-w", "-t", "60", "start"); err != nil {
		return nil, err
	}
	stop := func() {
		_ = ctl("-m", "immediate", "-w", "stop")
		_ = os.RemoveAll(dir)
	}
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := waitReady(context.Background(), url); err != nil {
		stop()
		return nil, err
	}
	return &Server{URL: url, stop: stop, ctl: ctl}, nil
}

// findBin finds the newest PostgreSQL server binaries on the machine.
func findBin() (string, error) {
	if dir := os.Getenv("ASTRO_TEST_POSTGRES_BIN"); dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", fmt.Errorf("no initdb found (install PostgreSQL: apt-get install -y postgresql, or set ASTRO_TEST_POSTGRES_URL)")
	}
	sort.Strings(matches)
	return filepath.Dir(matches[len(matches)-1]), nil
}

// runAs returns a command builder that runs as the postgres user when we are root
// (initdb refuses to run as root), and as ourselves otherwise.
func runAs(dir string) (func(args ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	if out, err := exec.Command("chown", u.Uid+":"+u.Gid, dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chown %s: %w: %s", dir, err, out)
	}
	return func(args ...string) *exec.Cmd {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	}, nil
}

func waitReady(ctx context.Context, url string) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if err = db.PingContext(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
