// Package store keeps the control plane's durable records (organizations, users,
// memberships, API keys, clusters, operations, audit events) in PostgreSQL or in an
// embedded SQLite file, through GORM. Every read and write of org-owned data takes the
// organization ID, so a caller can never reach another organization's rows.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Errors the repositories return; callers test them with errors.Is.
var (
	// ErrNotFound means no row matched (in the caller's organization).
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
)

// Store is the repository set over one database. It is safe for concurrent use.
type Store struct {
	db     *gorm.DB
	driver string
	// writers queues this process's SQLite write transactions in Go: SQLite has one
	// writer, and a transaction that finds the file locked sleeps in SQLite's busy
	// handler (1, 2, 5, 10… ms) instead of starting when the holder commits. Nil on
	// PostgreSQL and inside a transaction.
	writers *sync.Mutex
	inTx    bool // bound to a transaction (InTx)
	// keys keeps API key lookups and approval policies for a short time
	// (CacheKeyLookups); nil: every read queries.
	keys *readCache
	// keysChangedInTx, inside a transaction, notes a write that changes what
	// LookupAPIKey or GetApprovalPolicy answers: InTx drops the cached answers once
	// the transaction ends.
	keysChangedInTx *bool
}

// CacheKeyLookups makes LookupAPIKey and GetApprovalPolicy keep their answers for
// ttl (zero: never). Changes made through this Store are seen at once; changes made
// by other processes sharing the database (other API replicas) within ttl. Call it
// before the Store is used.
func (s *Store) CacheKeyLookups(ttl time.Duration) {
	s.keys = nil
	if ttl > 0 {
		s.keys = newReadCache(ttl)
	}
}

// keysChanged records a write that changes what LookupAPIKey or GetApprovalPolicy
// answers (a key revoked or deleted, a member's role, a membership, a policy).
func (s *Store) keysChanged() {
	switch {
	case s.keysChangedInTx != nil:
		*s.keysChangedInTx = true
	case s.keys != nil:
		s.keys.changed()
	}
}

// Open connects to the database named by url and migrates the schema.
// url is "postgres://…" (or "postgresql://…") for PostgreSQL, or "sqlite://PATH" for an
// embedded SQLite file ("sqlite://:memory:" for a private in-memory database).
func Open(ctx context.Context, url string, log *slog.Logger) (*Store, error) {
	var (
		dialector gorm.Dialector
		driver    string
	)
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		dialector, driver = postgres.Open(url), "postgres"
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		if err := ensureDir(path); err != nil {
			return nil, err
		}
		dialector, driver = sqlite.Open(sqliteDSN(path)), "sqlite"
	default:
		return nil, fmt.Errorf("database url %q: want postgres://… or sqlite://PATH", redactURL(url))
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		TranslateError: true,
		// Single statements are atomic already; multi-statement writes use InTx.
		SkipDefaultTransaction: true,
		Logger:                 newGormLogger(log),
		NowFunc:                func() time.Time { return time.Now().UTC() },
		// A transaction inside a transaction joins it instead of taking a savepoint
		// (two more round trips): no caller recovers from an inner failure and goes
		// on, every one returns it, which rolls back the whole.
		DisableNestedTransaction: true,
		// SQLite parses each statement anew without it (a tenth of a deploy's CPU);
		// PostgreSQL's driver caches prepared statements itself.
		PrepareStmt: driver == "sqlite",
		// Bounded: IN lists of varying length are statements of their own.
		PrepareStmtMaxSize: 256,
		PrepareStmtTTL:     time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", driver, err)
	}
	conns := 20
	if driver == "sqlite" {
		// WAL lets readers run beside the one writer; transactions begin IMMEDIATE so
		// writers queue on busy_timeout instead of failing on a lock upgrade.
		conns = 8 // readers run beside the writer (WAL); a request may read while it writes
		if strings.Contains(url, ":memory:") {
			conns = 1 // each connection would get its own empty database
		}
	}
	sqlDB.SetMaxOpenConns(conns)
	// As many idle as open: database/sql keeps 2 by default, so under concurrent
	// requests every connection beyond two was closed after each use and opened
	// again (a PostgreSQL backend forked, SQLite's pragmas rerun, statements
	// prepared anew) — the largest cost of a request on the store.
	sqlDB.SetMaxIdleConns(conns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, driver: driver}
	if driver == "sqlite" {
		s.writers = &sync.Mutex{}
	}
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	return s, nil
}

// ensureDir creates the directory of an SQLite file, so a fresh checkout runs
// without setup.
func ensureDir(path string) error {
	path, _, _ = strings.Cut(path, "?")
	if path == ":memory:" || !strings.Contains(path, "/") {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil { // holds the store: not for other users
		return fmt.Errorf("create the directory of %s: %w", path, err)
	}
	return nil
}

// sqliteDSN adds the pragmas every connection needs: foreign keys, WAL so the worker
// and the API can share the file, and a busy timeout instead of immediate lock errors.
func sqliteDSN(path string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

// redactURL drops the password of a database URL so it can appear in errors and logs.
func redactURL(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	userinfo := url[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return url[:scheme+3] + user + ":xxxxx" + url[at:]
	}
	return url
}

// Driver names the database behind the store: "postgres" or "sqlite".
func (s *Store) Driver() string { return s.driver }

// Ping checks that the database answers; readiness probes call it.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Close releases the database connections.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// migrationLock is the PostgreSQL advisory lock that serializes schema migrations.
const migrationLock = 0x617374726f // "astro"

// migrate brings the schema up to date in one transaction, holding a lock so the API
// and the worker starting together never migrate at the same time.
func (s *Store) migrate(ctx context.Context) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if s.driver == "postgres" {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", migrationLock).Error; err != nil {
				return err
			}
		}
		if err := tx.AutoMigrate(allModels()...); err != nil {
			return err
		}
		return dropRetiredIndexes(tx)
	})
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

// translate maps GORM and driver errors to the store's errors.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey), errors.Is(err, gorm.ErrForeignKeyViolated):
		return fmt.Errorf("%w: %v", ErrConflict, err) //nolint:errorlint // callers see ErrConflict, never the driver's error
	default:
		return err
	}
}

// gormLogger sends GORM's slow-query and error lines to slog; it never logs SQL
// arguments, which may hold secrets.
type gormLogger struct{ log *slog.Logger }

func newGormLogger(log *slog.Logger) logger.Interface {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return gormLogger{log: log}
}

func (l gormLogger) LogMode(logger.LogLevel) logger.Interface { return l }
func (l gormLogger) Info(ctx context.Context, msg string, args ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(msg, args...))
}
func (l gormLogger) Warn(ctx context.Context, msg string, args ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(msg, args...))
}
func (l gormLogger) Error(ctx context.Context, msg string, args ...any) {
	l.log.ErrorContext(ctx, fmt.Sprintf(msg, args...))
}
func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, gorm.ErrDuplicatedKey):
		l.log.WarnContext(ctx, "query failed", "err", err, "elapsed", elapsed)
	case elapsed > 500*time.Millisecond:
		_, rows := fc() // the SQL itself is not logged: its arguments may hold secrets
		l.log.WarnContext(ctx, "slow query", "rows", rows, "elapsed", elapsed)
	}
}
