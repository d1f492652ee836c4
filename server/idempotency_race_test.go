package server_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"go.temporal.io/sdk/worker"
	"gorm.io/gorm"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// liveEnvAt is liveEnv on an SQLite file whose path it returns, for tests that hold
// the database's write lock themselves.
func liveEnvAt(t *testing.T) (*env, string) {
	t.Helper()
	dev := testtemporal.Start(t)
	tc := dev.Client()
	path := filepath.Join(t.TempDir(), "astro.db")
	st, err := store.Open(context.Background(), "sqlite://"+path, nil)
	must(t, err)
	t.Cleanup(func() { _ = st.Close() })
	logs := &syncBuffer{}
	srv, err := server.New(server.Options{Store: st, Temporal: tc, TaskQueue: workflows.TaskQueue, MaxBodyBytes: 64 << 10,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	must(t, err)
	e := &env{t: t, tc: tc, srv: srv, store: st, logs: logs}
	e.orgID, e.userID, e.key = e.newOrg("acme", store.RoleAdmin)

	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	cloud := sim.New(0)
	workflows.Register(w, workflows.Dependencies{Cluster: &activities.Cluster{Store: st,
		Clouds:       sim.Registry(cloud),
		PollInterval: 20 * time.Millisecond},
		Notifier: &activities.Notifier{Store: st}})
	must(t, w.Start())
	t.Cleanup(w.Stop)
	return e, path
}

// holdWriteLock takes the SQLite file's write lock on a connection of its own (the
// store's writers then queue on their busy timeout) and returns its release.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(path+"?_pragma=busy_timeout(10000)"), &gorm.Config{})
	must(t, err)
	sqlDB, err := db.DB()
	must(t, err)
	conn, err := sqlDB.Conn(t.Context())
	must(t, err)
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	must(t, err)
	released := false
	release = func() {
		if released {
			return
		}
		released = true
		_, err := conn.ExecContext(context.Background(), "ROLLBACK")
		must(t, err)
		_ = conn.Close()
		_ = sqlDB.Close()
	}
	t.Cleanup(release)
	return release
}

// goroutinesIn counts the goroutines whose stack holds every one of frames.
func goroutinesIn(frames ...string) int {
	buf := make([]byte, 16<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
next:
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range frames {
			if !strings.Contains(g, f) {
				continue next
			}
		}
		n++
	}
	return n
}

// raceAtTheInsert sends n copies of a request at once while the store's write lock is
// held, waits until at least two of them wait to write in frames (so each has already
// looked the Idempotency-Key up and found it unused; the store's few connections keep
// the rest queued before their lookup), then lets them write: one records its
// operation, the others meet the unique index and must answer with that one.
func (e *env) raceAtTheInsert(t *testing.T, dbPath string, n int, frames []string, method, path string, body any, headers ...string) []answer {
	t.Helper()
	e.do("GET", "/api/v1/clusters", e.key, nil) // the key's last use is recorded now, not under the lock
	release := holdWriteLock(t, dbPath)
	return e.concurrently(t, n, method, path, body, func() {
		waitFor(t, 60*time.Second, func() (int, bool) { // a condition, not a window: generous for loaded machines
			got := goroutinesIn(frames...)
			return got, got >= 2
		})
		release()
	}, headers...)
}
