package httpx

import (
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/astropulse/astroplane/store"
)

// Limits of the audit events of unauthenticated requests (see Audit.RecordPublic).
const (
	// PublicAuditPerMinute is how many such events an organization receives per
	// minute, sustained.
	PublicAuditPerMinute = 30
	// PublicAuditBurst is how many it may receive at once.
	PublicAuditBurst = 60
	// publicDedupeWindow is how long the same event (organization, action, resource,
	// outcome, address) is recorded once.
	publicDedupeWindow = 10 * time.Minute
	// publicMaxTracked bounds the guard's memory; past it, old entries are swept.
	publicMaxTracked = 10_000
)

// publicGuard admits audit events of unauthenticated requests: one per identical
// event and address in publicDedupeWindow, and at most a token bucket's worth per
// organization.
type publicGuard struct {
	perMinute float64
	burst     int

	mu   sync.Mutex
	orgs map[string]*rate.Limiter
	seen map[string]time.Time
}

func newPublicGuard(burst int, perMinute float64) *publicGuard {
	return &publicGuard{perMinute: perMinute, burst: burst, orgs: map[string]*rate.Limiter{}, seen: map[string]time.Time{}}
}

func (g *publicGuard) admit(ev *store.AuditEvent, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.seen) > publicMaxTracked {
		for k, at := range g.seen {
			if now.Sub(at) > publicDedupeWindow {
				delete(g.seen, k)
			}
		}
	}
	if len(g.orgs) > publicMaxTracked {
		g.orgs = map[string]*rate.Limiter{} // buckets refill in minutes; starting afresh only forgets a burst
	}
	key := ev.OrgID + "\x00" + ev.Action + "\x00" + ev.ResourceID + "\x00" + ev.Outcome + "\x00" + ev.IPAddress
	if at, ok := g.seen[key]; ok && now.Sub(at) < publicDedupeWindow {
		return false
	}
	lim, ok := g.orgs[ev.OrgID]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(g.perMinute/60), g.burst)
		g.orgs[ev.OrgID] = lim
	}
	if !lim.AllowN(now, 1) {
		return false
	}
	g.seen[key] = now
	return true
}
