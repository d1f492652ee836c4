package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/astropulse/astroplane/internal/pgserver"
)

// postgres is the PostgreSQL server the API's store runs on for the postgres rounds:
// one the benchmark starts from the machine's binaries with PostgreSQL's default
// settings (durable: fsync and synchronous_commit on, as the postgres image of
// docker-compose.yml runs it), or one named by -postgres.
type postgres struct {
	adminURL string // database "postgres"
	pid      int    // the postmaster's, for the CPU it costs; 0 for a server we do not own
	stop     func()
	made     []string // databases created, dropped at close on a server we do not own
}

// startPostgres starts a throwaway server (pgserver) with PostgreSQL's default,
// durable settings: not internal/testpg's fsync=off and friends, which only tests
// may use. settings ("name=value", -pg-setting) change them, to diagnose only.
func startPostgres(ctx context.Context, binDir string, settings []string) (*postgres, error) {
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	srv, err := pgserver.Start(ctx, pgserver.Options{BinDir: binDir, Port: port, Settings: settings})
	if err != nil {
		return nil, fmt.Errorf("%w; or name them with -pg-bin, pass a server with -postgres URL, or run -stores sqlite", err)
	}
	pid, err := srv.PID()
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("postgres server's PID: %w", err)
	}
	return &postgres{adminURL: srv.URL, pid: pid, stop: srv.Stop}, nil
}

// existingPostgres uses a server the caller runs; url names any database on it.
func existingPostgres(ctx context.Context, url string) (*postgres, error) {
	if err := pgserver.WaitReady(ctx, url); err != nil {
		return nil, err
	}
	return &postgres{adminURL: url}, nil
}

// newDatabase creates an empty database and returns its URL.
func (pg *postgres) newDatabase(ctx context.Context, name string) (string, error) {
	name = fmt.Sprintf("bench_%s_%d", strings.ReplaceAll(name, "-", "_"), time.Now().UnixNano())
	db, err := sql.Open("pgx", pg.adminURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
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
		_, _ = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") //nolint:gosec // a name newDatabase made, quoted as an identifier
	}
}
