package activities

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/astropulse/astroplane/store"
)

// ProgressFeed writes the provider calls' progress reports to the store's progress
// feed (store.ProgressReport), from which every API process pushes them to the open
// progress streams within milliseconds; Temporal's heartbeats, throttled by the SDK,
// reach DescribeWorkflowExecution seconds late.
//
// Publish never blocks an activity and never fails it: reports queue in memory and
// one goroutine writes them in batches. While a write is under way, a newer report
// of the same operation replaces the one still queued (a burst is coalesced to its
// latest), and when more than MaxPending operations wait, new ones are dropped and
// counted. Rows older than Keep are pruned every PruneEvery. It is safe for
// concurrent use.
type ProgressFeed struct {
	st  *store.Store
	log *slog.Logger
	// MaxPending bounds the operations whose reports wait to be written; default 10000.
	MaxPending int
	// Keep is how long reports stay in the feed; default 5 minutes.
	Keep time.Duration
	// PruneEvery is how often old reports are deleted; default 30s.
	PruneEvery time.Duration

	mu      sync.Mutex
	pending map[string]store.ProgressReport // by operation ID
	order   []string                        // operation IDs in the order they were queued
	wake    chan struct{}

	published, written, coalesced, dropped, failed atomic.Int64
}

// NewProgressFeed returns a feed writing to st, logging write failures to log
// (nil: discarded). Run must be running for reports to be written.
func NewProgressFeed(st *store.Store, log *slog.Logger) *ProgressFeed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ProgressFeed{st: st, log: log, pending: map[string]store.ProgressReport{}, wake: make(chan struct{}, 1)}
}

// ProgressFeedStats counts what a feed did with the reports published to it.
type ProgressFeedStats struct {
	Published int64 // reports received
	Written   int64 // rows written
	Coalesced int64 // replaced, still queued, by a newer report of the same operation
	Dropped   int64 // refused because too many operations were waiting
	Failed    int64 // lost to a failed write
}

// Stats returns the feed's counters.
func (f *ProgressFeed) Stats() ProgressFeedStats {
	return ProgressFeedStats{Published: f.published.Load(), Written: f.written.Load(), Coalesced: f.coalesced.Load(),
		Dropped: f.dropped.Load(), Failed: f.failed.Load()}
}

// Publish queues r (its ID is assigned when written).
func (f *ProgressFeed) Publish(r store.ProgressReport) {
	f.published.Add(1)
	maxPending := f.MaxPending
	if maxPending <= 0 {
		maxPending = 10000
	}
	f.mu.Lock()
	if _, queued := f.pending[r.OperationID]; queued {
		f.coalesced.Add(1)
	} else if len(f.order) >= maxPending {
		f.mu.Unlock()
		f.dropped.Add(1)
		return
	} else {
		f.order = append(f.order, r.OperationID)
	}
	f.pending[r.OperationID] = r
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run writes queued reports until ctx ends, then writes what is still queued.
func (f *ProgressFeed) Run(ctx context.Context) {
	keep, pruneEvery := f.Keep, f.PruneEvery
	if keep <= 0 {
		keep = 5 * time.Minute
	}
	if pruneEvery <= 0 {
		pruneEvery = 30 * time.Second
	}
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			f.flush(wctx)
			cancel()
			return
		case <-f.wake:
			if ctx.Err() == nil { // else the next turn flushes on a live context and returns
				f.flush(ctx)
			}
		case <-prune.C:
			if _, err := f.st.PruneProgressReports(ctx, time.Now().Add(-keep)); err != nil && ctx.Err() == nil {
				f.log.WarnContext(ctx, "pruning the progress feed", "err", err)
			}
		}
	}
}

// flush writes everything queued, in the order it was queued.
func (f *ProgressFeed) flush(ctx context.Context) {
	f.mu.Lock()
	batch := make([]store.ProgressReport, 0, len(f.order))
	for _, op := range f.order {
		batch = append(batch, f.pending[op])
	}
	clear(f.pending)
	f.order = f.order[:0]
	f.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := f.st.AddProgressReports(ctx, batch); err != nil {
		// The stream falls back to Temporal's heartbeats; the activity goes on.
		f.failed.Add(int64(len(batch)))
		f.log.WarnContext(ctx, "writing the progress feed", "err", err, "reports", len(batch))
		return
	}
	f.written.Add(int64(len(batch)))
}

type progressFeedKey struct{}

// WithProgressFeed returns ctx carrying f. The worker passes it as its
// BackgroundActivityContext, so every provider call's progress reports go to f.
func WithProgressFeed(ctx context.Context, f *ProgressFeed) context.Context {
	return context.WithValue(ctx, progressFeedKey{}, f)
}

// publishProgress sends a provider call's progress report to the activity's
// progress feed, if its context carries one (see WithProgressFeed). orgID is the
// operation's organization, step the step the call serves; the operation is the
// activity's workflow.
func publishProgress(ctx context.Context, orgID, step, detail string) {
	f, _ := ctx.Value(progressFeedKey{}).(*ProgressFeed)
	if f == nil {
		return
	}
	info := activity.GetInfo(ctx)
	f.Publish(store.ProgressReport{OrgID: orgID, OperationID: info.WorkflowExecution.ID, Activity: info.ActivityType.Name, Step: step,
		ActivityID: info.ActivityID, Attempt: info.Attempt, Detail: truncate(detail, 2000), At: time.Now().UTC()})
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
