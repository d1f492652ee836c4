// Package pgserver starts a throwaway PostgreSQL server from the machine's binaries
// (initdb and pg_ctl in a directory of its own), as the tests (internal/testpg), the
// benchmark and the scale-out run need one.
package pgserver

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Options say where and how to start a server.
type Options struct {
	// BinDir holds initdb and pg_ctl; empty: FindBin's choice.
	BinDir string
	// Dir is the directory the server lives in (data directory, socket, log); it
	// must exist. Empty: a new temporary directory, removed by Stop.
	Dir string
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Settings are "name=value" server settings (-c), e.g. "fsync=off".
	Settings []string
}

// Server is a running server Start started.
type Server struct {
	// URL is the admin connection URL (database "postgres").
	URL string
	// ctl runs pg_ctl on the data directory, with the server's options.
	ctl       func(args ...string) error
	dir       string
	removeDir bool
}

// Start initialises a data directory and starts a server on it, then waits until it
// answers. When we are root, initdb and the server run as the postgres user (initdb
// refuses root). The server's commands are not bound to ctx, so Stop still runs after
// ctx ends.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin, err := FindBin(o.BinDir)
	if err != nil {
		return nil, err
	}
	s := &Server{dir: o.Dir, URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", o.Port)}
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "astro-pg-"); err != nil {
			return nil, err
		}
		s.removeDir = true
	}
	// The postgres user must reach the data directory inside.
	if err := os.Chmod(s.dir, 0o755); err != nil { //nolint:gosec // see above
		s.remove()
		return nil, err
	}
	asPostgres, err := runAs(s.dir)
	if err != nil {
		s.remove()
		return nil, err
	}
	run := func(args ...string) error {
		if out, err := asPostgres(args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", filepath.Base(args[0]), err, out)
		}
		return nil
	}
	data := filepath.Join(s.dir, "data")
	// --no-sync only skips initdb's own flush of the new cluster.
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		s.remove()
		return nil, err
	}
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s", o.Port, s.dir)
	for _, setting := range o.Settings {
		opts += " -c " + setting
	}
	s.ctl = func(args ...string) error {
		return run(append([]string{filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(s.dir, "log"), "-o", opts}, args...)...)
	}
	if err := s.Up(ctx); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Down stops the server the way a crash would (immediate shutdown: no checkpoint,
// clients cut off; the next start recovers from the WAL).
func (s *Server) Down() error { return s.ctl("-m", "immediate", "-w", "stop") }

// Up starts the server on its data directory and port, and waits until it answers.
func (s *Server) Up(ctx context.Context) error {
	if err := s.ctl("-w", "-t", "60", "start"); err != nil {
		return err
	}
	return WaitReady(ctx, s.URL)
}

// Stop stops the server (immediately: it is thrown away) and removes the directory
// Start made for it.
func (s *Server) Stop() {
	_ = s.Down()
	s.remove()
}

func (s *Server) remove() {
	if s.removeDir {
		_ = os.RemoveAll(s.dir)
	}
}

// PID is the process ID of the running server's postmaster (its backends are its
// children), from the first line of postmaster.pid in the data directory.
func (s *Server) PID() (int, error) {
	raw, err := os.ReadFile(filepath.Join(s.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	return strconv.Atoi(strings.TrimSpace(first))
}

// URLOf is the connection URL of database name on the server.
func (s *Server) URLOf(name string) string {
	return s.URL[:len(s.URL)-len("postgres?sslmode=disable")] + name + "?sslmode=disable"
}

// FindBin is dir, or else the newest PostgreSQL under /usr/lib/postgresql, or else
// initdb's directory on PATH.
func FindBin(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		sort.Strings(matches)
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no PostgreSQL server binaries (initdb) found: `make postgres` installs them")
}

// runAs builds commands that run as the postgres user when we are root, and as
// ourselves otherwise.
func runAs(dir string) (func(args ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }, nil //nolint:gosec,noctx // PostgreSQL's own binaries; stop runs after any ctx
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	if out, err := exec.Command("chown", u.Uid+":"+u.Gid, dir).CombinedOutput(); err != nil { //nolint:gosec,noctx // our own directory
		return nil, fmt.Errorf("chown %s: %w: %s", dir, err, out)
	}
	return func(args ...string) *exec.Cmd {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...) //nolint:gosec,noctx // PostgreSQL's own binaries
	}, nil
}

// WaitReady waits (30 s at most) until the server at url answers.
func WaitReady(ctx context.Context, url string) error {
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
