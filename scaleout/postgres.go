package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/astropulse/astroplane/internal/pgserver"
)

// postgres is the one PostgreSQL server of a run: the API store (database
// astroplane) and Temporal's persistence (temporal, temporal_visibility) live on it.
type postgres struct {
	srv  *pgserver.Server
	port int
	stop func()
}

// pgMaxConnections covers every pool on the server: 5 Astro processes × 20 (store's
// SetMaxOpenConns) and the Temporal server's pools (each service its own, up to
// maxConns each), with room to spare.
const pgMaxConnections = 400

// startPostgres starts a throwaway server (pgserver) in dir with the run's databases.
// fsync and synchronous commits are off: the run kills Astro processes, never the
// database, so durability on power loss is not what it measures.
func startPostgres(ctx context.Context, dir, binDir string) (*postgres, error) {
	port, err := freePort(ctx)
	if err != nil {
		return nil, err
	}
	pgDir := filepath.Join(dir, "postgres")
	if err := os.MkdirAll(pgDir, 0o755); err != nil { //nolint:gosec // the postgres user must reach its data directory's parent
		return nil, err
	}
	srv, err := pgserver.Start(ctx, pgserver.Options{BinDir: binDir, Dir: pgDir, Port: port, Settings: []string{
		"fsync=off", "synchronous_commit=off", "full_page_writes=off", fmt.Sprintf("max_connections=%d", pgMaxConnections)}})
	if err != nil {
		return nil, fmt.Errorf("%w, or pass -pg-bin", err)
	}
	pg := &postgres{srv: srv, port: port, stop: srv.Stop}
	if err := pg.createDatabases(ctx, "astroplane", "temporal", "temporal_visibility"); err != nil {
		pg.stop()
		return nil, err
	}
	return pg, nil
}

// url is the connection URL of database name.
func (p *postgres) url(name string) string { return p.srv.URLOf(name) }

func (p *postgres) createDatabases(ctx context.Context, names ...string) error {
	db, err := sql.Open("pgx", p.srv.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, n := range names {
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+n); err != nil {
			return fmt.Errorf("create database %s: %w", n, err)
		}
	}
	return nil
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
