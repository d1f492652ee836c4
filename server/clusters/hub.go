package clusters

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// StreamLimits configure the progress streams of one API process. Caps count the
// streams open on this process: with several replicas, a key may hold its cap on
// each (as the request rate limits are per process too).
type StreamLimits struct {
	// PerKey caps the streams open per API key (per user for bearer tokens); default 50.
	PerKey int
	// PerOrg caps the streams open per organization; default 500.
	PerOrg int
	// PollEvery is how often the store's progress feed is read while a stream is
	// open; default 20ms. Nothing reads it while none is.
	PollEvery time.Duration
	// KeyCheckEvery is how often the API keys of open streams are checked (one
	// query for all); a stream whose key was revoked, deleted or expired, on any
	// replica, closes. Default 1s.
	KeyCheckEvery time.Duration
}

func (l StreamLimits) withDefaults() StreamLimits {
	if l.PerKey <= 0 {
		l.PerKey = 50
	}
	if l.PerOrg <= 0 {
		l.PerOrg = 500
	}
	if l.PollEvery <= 0 {
		l.PollEvery = 20 * time.Millisecond
	}
	if l.KeyCheckEvery <= 0 {
		l.KeyCheckEvery = time.Second
	}
	return l
}

// SetStreamLimits sets the limits of the progress streams; call it before serving.
func (s *Server) SetStreamLimits(l StreamLimits) {
	s.streamHub().setLimits(l)
}

// streamHub returns the server's hub, made on first use.
func (s *Server) streamHub() *hub {
	s.hubOnce.Do(func() { s.hub = newHub(s.store, s.log) })
	return s.hub
}

// hub is the one reader of the progress feed in an API process: while at least one
// progress stream is open, it reads the reports added since its last read (one
// indexed query per PollEvery, and at once when PostgreSQL notifies that reports
// were added) and hands each to the streams of its operation, and checks the
// streams' API keys once per KeyCheckEvery.
type hub struct {
	st  *store.Store
	log *slog.Logger

	mu      sync.Mutex
	limits  StreamLimits
	byOp    map[string]map[*subscription]struct{}
	perKey  map[string]int
	perOrg  map[string]int
	open    int
	running bool
}

func newHub(st *store.Store, log *slog.Logger) *hub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &hub{st: st, log: log, limits: StreamLimits{}.withDefaults(), byOp: map[string]map[*subscription]struct{}{},
		perKey: map[string]int{}, perOrg: map[string]int{}}
}

func (h *hub) setLimits(l StreamLimits) {
	h.mu.Lock()
	h.limits = l.withDefaults()
	h.mu.Unlock()
}

// maxQueued is how many reports a stream keeps while it is busy writing; beyond
// it, the oldest are dropped (a stalled client gets the latest).
const maxQueued = 256

// subscription is one stream's registration with the hub.
type subscription struct {
	h                        *hub
	opID, orgID, credential  string
	keyID                    string // empty for a bearer token
	mu                       sync.Mutex
	queue                    []store.ProgressReport
	ready                    chan struct{} // a report is queued
	ended                    chan struct{} // closed when the stream must end (endReason says why)
	endReason                string
	endOnce, unsubscribeOnce sync.Once
}

// subscribe registers a stream of operation opID (its workflow ID) for p, or
// answers 429 when p's key or organization already holds its cap of streams.
func (h *hub) subscribe(p httpx.Principal, opID string) (*subscription, error) {
	credential := "key:" + p.KeyID
	if p.KeyID == "" {
		credential = "user:" + p.UserID
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.perKey[credential] >= h.limits.PerKey:
		what := "API key"
		if p.KeyID == "" {
			what = "user"
		}
		return nil, tooManyStreams(fmt.Sprintf("this %s already has %d progress streams open, its cap (per key): close one first", what, h.limits.PerKey), "perKey", h.limits.PerKey)
	case h.perOrg[p.OrgID] >= h.limits.PerOrg:
		return nil, tooManyStreams(fmt.Sprintf("the organization already has %d progress streams open, its cap (per organization): close one first", h.limits.PerOrg), "perOrganization", h.limits.PerOrg)
	}
	sub := &subscription{h: h, opID: opID, orgID: p.OrgID, credential: credential, keyID: p.KeyID,
		ready: make(chan struct{}, 1), ended: make(chan struct{})}
	if h.byOp[opID] == nil {
		h.byOp[opID] = map[*subscription]struct{}{}
	}
	h.byOp[opID][sub] = struct{}{}
	h.perKey[credential]++
	h.perOrg[p.OrgID]++
	h.open++
	if !h.running {
		h.running = true
		go h.run()
	}
	return sub, nil
}

func tooManyStreams(msg, limit string, value int) error {
	return &httpx.APIError{Status: http.StatusTooManyRequests, Code: httpx.CodeTooManyRequests, Message: msg,
		Details: map[string]any{"limit": limit, "maxStreams": value}}
}

// unsubscribe removes the stream; calling it again does nothing.
func (sub *subscription) unsubscribe() {
	sub.unsubscribeOnce.Do(func() {
		h := sub.h
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.byOp[sub.opID], sub)
		if len(h.byOp[sub.opID]) == 0 {
			delete(h.byOp, sub.opID)
		}
		h.perKey[sub.credential]--
		if h.perKey[sub.credential] <= 0 {
			delete(h.perKey, sub.credential)
		}
		h.perOrg[sub.orgID]--
		if h.perOrg[sub.orgID] <= 0 {
			delete(h.perOrg, sub.orgID)
		}
		h.open--
	})
}

// deliver queues r for the stream and wakes it.
func (sub *subscription) deliver(r store.ProgressReport) {
	sub.mu.Lock()
	sub.queue = append(sub.queue, r)
	if len(sub.queue) > maxQueued {
		sub.queue = slices.Delete(sub.queue, 0, len(sub.queue)-maxQueued)
	}
	sub.mu.Unlock()
	select {
	case sub.ready <- struct{}{}:
	default:
	}
}

// take returns the queued reports, oldest first, and empties the queue.
func (sub *subscription) take() []store.ProgressReport {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	q := sub.queue
	sub.queue = nil
	return q
}

// end tells the stream to close, saying why; the first reason wins.
func (sub *subscription) end(reason string) {
	sub.endOnce.Do(func() {
		sub.endReason = reason
		close(sub.ended)
	})
}

// run reads the feed and checks keys until no stream is open.
func (h *hub) run() {
	ctx := context.Background()
	h.mu.Lock()
	limits := h.limits
	h.mu.Unlock()
	poll := time.NewTicker(limits.PollEvery)
	defer poll.Stop()
	keys := time.NewTicker(limits.KeyCheckEvery)
	defer keys.Stop()
	// On PostgreSQL the writers' notifications wake the hub at once; polling stays,
	// for SQLite and for a notification lost with its connection.
	added := make(chan struct{}, 1)
	lctx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	go func() {
		err := h.st.ListenProgressFeed(lctx, func() {
			select {
			case added <- struct{}{}:
			default:
			}
		})
		if err != nil && lctx.Err() == nil && !errors.Is(err, store.ErrNoNotifications) {
			h.log.WarnContext(ctx, "progress feed: listening for notifications; polling only", "err", err)
		}
	}()
	var cur *feedCursor
	for {
		select {
		case <-poll.C:
		case <-added:
		case <-keys.C:
			h.checkKeys(ctx)
			continue
		}
		h.mu.Lock()
		if h.open == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		h.mu.Unlock()
		if cur == nil {
			// Reports of the last seconds too: a stream that subscribed a moment
			// before the hub started must not miss what was reported meanwhile.
			pos, err := h.st.ProgressFeedPosition(ctx, time.Now().Add(-5*time.Second))
			if err != nil {
				h.log.WarnContext(ctx, "progress feed: finding where to start", "err", err)
				continue
			}
			cur = &feedCursor{last: pos, gaps: map[uint64]time.Time{}}
		}
		reports, err := cur.read(ctx, h.st)
		if err != nil {
			h.log.WarnContext(ctx, "progress feed: reading", "err", err)
			continue
		}
		if len(reports) == 0 {
			continue
		}
		h.mu.Lock()
		for _, r := range reports {
			for sub := range h.byOp[r.OperationID] {
				if r.OrgID == "" || r.OrgID == sub.orgID {
					sub.deliver(r)
				}
			}
		}
		h.mu.Unlock()
	}
}

// checkKeys ends the streams whose API key no longer authenticates.
func (h *hub) checkKeys(ctx context.Context) {
	h.mu.Lock()
	var ids []string
	seen := map[string]bool{}
	for _, subs := range h.byOp {
		for sub := range subs {
			if sub.keyID != "" && !seen[sub.keyID] {
				seen[sub.keyID] = true
				ids = append(ids, sub.keyID)
			}
		}
	}
	h.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	usable, err := h.st.UsableAPIKeys(ctx, ids, time.Now())
	if err != nil {
		h.log.WarnContext(ctx, "progress streams: checking their API keys", "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, subs := range h.byOp {
		for sub := range subs {
			if sub.keyID != "" && !usable[sub.keyID] {
				sub.end(reasonKeyRevoked)
			}
		}
	}
}

// reasonKeyRevoked is the close reason of a stream whose key stopped authenticating.
const reasonKeyRevoked = "API key revoked"

// feedBatch is how many reports one read of the feed returns at most.
const feedBatch = 2000

// gapWait is how long a skipped feed ID is looked for before it is taken for a
// rolled-back insert. PostgreSQL hands out sequence values before the inserting
// transaction commits, so a lower ID can become visible after a higher one.
const gapWait = 2 * time.Second

// maxGaps bounds the skipped IDs tracked at once.
const maxGaps = 10000

// feedCursor is where a reader of the feed is: the highest ID it has read, and the
// lower IDs it has not seen yet (with when it noticed they were missing).
type feedCursor struct {
	last uint64
	gaps map[uint64]time.Time
}

// read returns the reports not read before: late commits of skipped IDs, then the
// reports after the highest ID read, in ID order.
func (c *feedCursor) read(ctx context.Context, st *store.Store) ([]store.ProgressReport, error) {
	var out []store.ProgressReport
	now := time.Now()
	if len(c.gaps) > 0 {
		ids := make([]uint64, 0, len(c.gaps))
		for id := range c.gaps {
			ids = append(ids, id)
		}
		late, err := st.ProgressReportsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range late {
			delete(c.gaps, r.ID)
			out = append(out, r)
		}
		for id, since := range c.gaps {
			if now.Sub(since) > gapWait {
				delete(c.gaps, id)
			}
		}
	}
	reports, err := st.ProgressReportsAfter(ctx, c.last, feedBatch)
	if err != nil {
		return out, err
	}
	for _, r := range reports {
		for id := c.last + 1; id < r.ID && len(c.gaps) < maxGaps; id++ {
			c.gaps[id] = now
		}
		c.last = r.ID
		out = append(out, r)
	}
	return out, nil
}
