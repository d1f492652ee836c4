package main

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
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// postgres is the PostgreSQL server the API's store runs on for the postgres rounds:
// one the benchmark starts from the machine's binaries with PostgreSQL's default
// settings (durable: fsync and synchronous_commit on, as the postgres image of
// docker-compose.yml runs it), or one named by -postgres.
type postgres struct {
	adminURL string // database "postgres"
	stop     func()
	made     []string // databases created, dropped at close on a server we do not own
}

// startPostgres starts a throwaway server in a temporary directory (as internal/testpg
// does, but without testpg's fsync=off and friends, which only tests may use).
func startPostgres(ctx context.Context, binDir string) (*postgres, error) {
	bin, err := findPGBin(binDir)
	if err != nil {
		return nil, err
	}
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	// The data directory's parent must be readable by the postgres user.
	dir, err := os.MkdirTemp("", "astro-bench-pg-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // the postgres user must reach the data directory inside
		return nil, err
	}
	// Not cancelled with ctx: the server is stopped with these commands on the way out.
	asPostgres, err := runAs(context.WithoutCancel(ctx), dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	run := func(args ...string) error {
		out, err := asPostgres(args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", filepath.Base(args[0]), err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	// --no-sync only skips initdb's own flush of the new cluster; the server runs durable.
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s", port, dir)
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	pg := &postgres{
		adminURL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		stop: func() {
			_ = run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop")
			_ = os.RemoveAll(dir)
		},
	}
	if err := pg.waitReady(ctx); err != nil {
		pg.stop()
		return nil, err
	}
	return pg, nil
}

// existingPostgres uses a server the caller runs; url names any database on it.
func existingPostgres(ctx context.Context, url string) (*postgres, error) {
	pg := &postgres{adminURL: url}
	if err := pg.waitReady(ctx); err != nil {
		return nil, err
	}
	return pg, nil
}

// newDatabase creates an empty database and returns its URL.
func (pg *postgres) newDatabase(ctx context.Context, name string) (string, error) {
	name = fmt.Sprintf("bench_%s_%d", strings.ReplaceAll(name, "-", "_"), time.Now().UnixNano())
	db, err := sql.Open("pgx", pg.adminURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	pg.made = append(pg.made, name)
	base, query, _ := strings.Cut(pg.adminURL, "?")
	base = base[:strings.LastIndex(base, "/")+1] + name
	if query != "" {
		base += "?" + query
	}
	return base, nil
}

// close stops a server we started, or drops the databases we made on one we did not.
func (pg *postgres) close(ctx context.Context) {
	if pg.stop != nil {
		pg.stop()
		return
	}
	db, err := sql.Open("pgx", pg.adminURL)
	if err != nil {
		return
	}
	defer db.Close()
	for _, name := range pg.made {
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
}

func (pg *postgres) waitReady(ctx context.Context) error {
	db, err := sql.Open("pgx", pg.adminURL)
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

// findPGBin finds the newest PostgreSQL server binaries on the machine.
func findPGBin(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
		return "", errors.New("no PostgreSQL server binaries (initdb) found: install them (apt-get install -y postgresql), " +
			"name them with -pg-bin, pass a server with -postgres URL, or run -stores sqlite")
	}
	sort.Strings(matches)
	return filepath.Dir(matches[len(matches)-1]), nil
}

// runAs returns a command builder that runs as the postgres user when we are root
// (initdb refuses to run as root), and as ourselves otherwise.
func runAs(ctx context.Context, dir string) (func(args ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return func(args ...string) *exec.Cmd { return exec.CommandContext(ctx, args[0], args[1:]...) }, nil //nolint:gosec // PostgreSQL's own binaries
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "chown", u.Uid+":"+u.Gid, dir).CombinedOutput(); err != nil { //nolint:gosec // our own temporary directory
		return nil, fmt.Errorf("chown %s: %w: %s", dir, err, out)
	}
	return func(args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--"}, args...)...) //nolint:gosec // PostgreSQL's own binaries
	}, nil
}
