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
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// postgres is the one PostgreSQL server of a run: the API store (database
// astroplane) and Temporal's persistence (temporal, temporal_visibility) live on it.
type postgres struct {
	port  int
	admin string // URL of the postgres database, for CREATE DATABASE
	stop  func()
}

// pgMaxConnections covers every pool on the server: 5 Astro processes × 20 (store's
// SetMaxOpenConns) and the Temporal server's pools (each service its own, up to
// maxConns each), with room to spare.
const pgMaxConnections = 400

// startPostgres starts a throwaway server from the machine's binaries in dir (initdb
// refuses root, so it runs as the postgres user then, as internal/testpg does).
// fsync and synchronous commits are off: the run kills Astro processes, never the
// database, so durability on power loss is not what it measures.
func startPostgres(ctx context.Context, dir, binDir string) (*postgres, error) {
	bin, err := pgBinDir(binDir)
	if err != nil {
		return nil, err
	}
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	pgDir := filepath.Join(dir, "postgres")
	if err := os.MkdirAll(pgDir, 0o755); err != nil { //nolint:gosec // the postgres user must reach its data directory's parent
		return nil, err
	}
	asPG, err := runAs(ctx, pgDir)
	if err != nil {
		return nil, err
	}
	run := func(args ...string) error {
		if out, err := asPG(args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w\n%s", filepath.Base(args[0]), err, out)
		}
		return nil
	}
	data := filepath.Join(pgDir, "data")
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"); err != nil {
		return nil, err
	}
	opts := fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=%d",
		port, pgDir, pgMaxConnections)
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(pgDir, "log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		return nil, err
	}
	pg := &postgres{port: port, admin: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)}
	pg.stop = func() { _ = run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop") }
	if err := pg.createDatabases(ctx, "astroplane", "temporal", "temporal_visibility"); err != nil {
		pg.stop()
		return nil, err
	}
	return pg, nil
}

// url is the connection URL of database name.
func (p *postgres) url(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, name)
}

func (p *postgres) createDatabases(ctx context.Context, names ...string) error {
	db, err := sql.Open("pgx", p.admin)
	if err != nil {
		return err
	}
	defer db.Close()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if err = db.PingContext(wait); err == nil {
			break
		}
		select {
		case <-wait.Done():
			return fmt.Errorf("postgres not ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, n := range names {
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+n); err != nil {
			return fmt.Errorf("create database %s: %w", n, err)
		}
	}
	return nil
}

// pgBinDir is dir, or the newest PostgreSQL under /usr/lib/postgresql, or initdb's
// directory on PATH.
func pgBinDir(dir string) (string, error) {
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
	return "", errors.New("no PostgreSQL server binaries (initdb) found: `make postgres` installs them, or pass -pg-bin")
}

// runAs builds commands that run as the postgres user when we are root, else as us.
func runAs(ctx context.Context, dir string) (func(args ...string) *exec.Cmd, error) {
	if os.Geteuid() != 0 {
		return func(args ...string) *exec.Cmd { return exec.CommandContext(ctx, args[0], args[1:]...) }, nil //nolint:gosec // PostgreSQL's own binaries
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
	}
	if out, err := exec.CommandContext(ctx, "chown", u.Uid+":"+u.Gid, dir).CombinedOutput(); err != nil { //nolint:gosec // our own directory
		return nil, fmt.Errorf("chown %s: %w: %s", dir, err, out)
	}
	return func(args ...string) *exec.Cmd {
		// Not bound to ctx: stop must still run after the run was interrupted.
		return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...) //nolint:gosec,noctx // PostgreSQL's own binaries
	}, nil
}

// count counts the rows of each table of database db, in order.
func (p *postgres) count(ctx context.Context, db string, tables ...string) ([]int, error) {
	conn, err := sql.Open("pgx", p.url(db))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	counts := make([]int, len(tables))
	for i, t := range tables {
		if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&counts[i]); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
	}
	return counts, nil
}
