package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // the driver the store's SQLite dialector uses

	"github.com/astropulse/astroplane/store"
)

// seedEvents opens a fresh SQLite store with one organization holding n events. The
// events are inserted by one INSERT … SELECT over a recursive sequence, straight into
// the file the store migrated: 100,000 rows in well under a second, where inserting
// them through the store would take most of a minute on a loaded machine.
func seedEvents(tb testing.TB, n int) (*store.Store, string) {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "astro.db")
	st, err := store.Open(ctx, "sqlite://"+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme", Plan: "enterprise"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		tb.Fatal(err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	_, err = db.ExecContext(ctx, `
		INSERT INTO audit_events (id, org_id, user_id, api_key_id, event_type, action, resource_id, outcome, details,
			trace_id, ip_address, user_agent, source, created_at)
		WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
		SELECT printf('ev-%08d', n), ?, 'user-1', 'key-1', 'CLUSTER', 'UPDATE', 'cluster-' || (n % 26), 'SUCCESS',
			CAST('{"operationId":"acme.demo.update.7dfc085759","method":"PUT","status":202}' AS BLOB),
			'trace-0123456789abcdef', '203.0.113.9', 'astroctl/1.4 (linux; amd64)', 'cli',
			strftime('%Y-%m-%d %H:%M:%f+00:00', 'now', '-' || n || ' seconds')
		FROM seq`, n, org.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return st, org.ID
}

// countingWriter counts what it is given and keeps nothing.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

// peakHeap runs fn while sampling the live heap, and returns the highest heap in
// use above what was in use before fn started.
func peakHeap(fn func()) (growth uint64) {
	// Collect garbage eagerly while measuring, so the peak is what the export keeps
	// live, not how far the collector let garbage pile up on a loaded machine.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	baseline := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	fn()
	close(done)
	wg.Wait()
	if p := peak.Load(); p > baseline {
		return p - baseline
	}
	return 0
}

// flatBound is the most the heap may grow while 100,000 events are exported: far
// below the export's own size (about 40 MB of JSON), so an export that held its
// events, or its output, in memory fails.
const flatBound = 8 << 20

// TestExportOf100kEventsKeepsMemoryFlat exports 100,000 events in each format and
// asserts the heap grew by less than flatBound while the output was several times
// larger: the export streams, it never holds the events.
func TestExportOf100kEventsKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 events")
	}
	const n = 100_000
	st, orgID := seedEvents(t, n)
	for _, format := range []Format{FormatJSON, FormatCSV} {
		t.Run(string(format), func(t *testing.T) {
			w := &countingWriter{}
			var written int
			var err error
			growth := peakHeap(func() {
				written, err = Export(context.Background(), st, orgID, store.AuditFilter{}, format, "trace-x", w)
			})
			if err != nil || written != n {
				t.Fatalf("exported %d events: %v", written, err)
			}
			size := w.n.Load()
			t.Logf("%s: %d events, %.1f MB written, heap grew by at most %.1f MB", format, n, float64(size)/(1<<20), float64(growth)/(1<<20))
			if size < 3*flatBound {
				t.Fatalf("output of %d bytes is too small for the bound to mean anything", size)
			}
			if growth > flatBound {
				t.Fatalf("heap grew by %d bytes exporting %d events (bound %d): the export is not streaming", growth, n, flatBound)
			}
		})
	}
}

// BenchmarkExport100k measures exporting 100,000 events as JSON: time, allocations,
// and the peak heap growth (peak-heap-MB), which must stay flat.
func BenchmarkExport100k(b *testing.B) {
	const n = 100_000
	st, orgID := seedEvents(b, n)
	for _, format := range []Format{FormatJSON, FormatCSV} {
		b.Run(string(format), func(b *testing.B) {
			b.ReportAllocs()
			var worst uint64
			for b.Loop() {
				w := &countingWriter{}
				growth := peakHeap(func() {
					if _, err := Export(context.Background(), st, orgID, store.AuditFilter{}, format, "trace-x", w); err != nil {
						b.Fatal(err)
					}
				})
				worst = max(worst, growth)
				b.SetBytes(w.n.Load())
			}
			b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MB")
		})
	}
}

// The JSON export is the success envelope with every event, valid as a whole; the
// CSV has the header and one row per event; a formula-looking cell is defused.
func TestExportFormats(t *testing.T) {
	st, orgID := seedEvents(t, 3)
	ctx := context.Background()
	if err := st.RecordAudit(ctx, &store.AuditEvent{OrgID: orgID, EventType: "API_KEY", Action: "CREATE", Outcome: store.OutcomeSuccess,
		UserAgent: "=HYPERLINK(\"http://evil\")"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := Export(ctx, st, orgID, store.AuditFilter{}, FormatJSON, "trace-1", &out)
	if err != nil || n != 4 {
		t.Fatalf("json: %d %v", n, err)
	}
	var env struct {
		Data    []map[string]any `json:"data"`
		ID      string           `json:"id"`
		Message string           `json:"message"`
		Status  string           `json:"status"`
	}
	if err := json.Unmarshal(out.Bytes(), &env); err != nil {
		t.Fatalf("json export is not valid JSON: %v\n%s", err, out.String())
	}
	if len(env.Data) != 4 || env.ID != "trace-1" || env.Status != "success" || env.Message != "4 audit events" {
		t.Fatalf("envelope: %+v", env)
	}
	out.Reset()
	if n, err := Export(ctx, st, orgID, store.AuditFilter{EventType: "API_KEY"}, FormatCSV, "", &out); err != nil || n != 1 {
		t.Fatalf("csv: %d %v", n, err)
	}
	rows, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "id" {
		t.Fatalf("csv rows: %v %v", rows, err)
	}
	if ua := rows[1][10]; ua != "'=HYPERLINK(\"http://evil\")" {
		t.Fatalf("user agent cell %q not defused", ua)
	}
	// Empty exports are valid too.
	out.Reset()
	if _, err := Export(ctx, st, orgID, store.AuditFilter{EventType: "NONE"}, FormatJSON, "t", &out); err != nil || !json.Valid(out.Bytes()) {
		t.Fatalf("empty json export %q: %v", out.String(), err)
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2024-01-15":                "2024-01-15T00:00:00Z",
		"2024-01-15T10:11:12Z":      "2024-01-15T10:11:12Z",
		"2024-01-15T10:11:12+02:00": "2024-01-15T08:11:12Z",
		"2024-01-15T10:11:12":       "2024-01-15T10:11:12Z",
		"2024-01-15 10:11:12":       "2024-01-15T10:11:12Z",
		"1705312800":                "2024-01-15T10:00:00Z",
	} {
		got, _, err := ParseDate(in)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("ParseDate(%q) = %v %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "2024-13-01", "15/01/2024", ""} {
		if _, _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted", bad)
		}
	}
}
