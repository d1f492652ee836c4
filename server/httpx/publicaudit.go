package httpx

import (
	"crypto/sha256"
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
	// publicDedupeWindow is how long the same event (see dedupeKey) from the same
	// address is recorded once.
	publicDedupeWindow = 10 * time.Minute
	// publicMaxTracked bounds the guard's memory; past it, old entries are swept.
	publicMaxTracked = 10_000
)

// publicGuard admits audit events of unauthenticated requests: one per identical
// event and address in publicDedupeWindow (identical as dedupeKey sees it: what
// tells one event from another, never its trace ID or time), and at most a token
// bucket's worth per organization.
type publicGuard struct {
	perMinute float64
	burst     int

	mu   sync.Mutex
	orgs map[string]*rate.Limiter
	seen map[[sha256.Size]byte]time.Time
}

func newPublicGuard(burst int, perMinute float64) *publicGuard {
	return &publicGuard{perMinute: perMinute, burst: burst, orgs: map[string]*rate.Limiter{}, seen: map[[sha256.Size]byte]time.Time{}}
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
	key := dedupeKey(ev)
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

// dedupeKey identifies an event for de-duplication: its organization, who acted (the
// user and API key a request carried, if any), what (type, action, target), how it
// ended (outcome) and why (details: the reason of a refusal and the approver a link
// names), from which address. Two refusals of one link differ when another key
// presented it or for another reason, and both are recorded; only a true repeat is
// dropped. Details of public events are written by the server (reasons, signed
// claims), never copied from the request, so a client cannot vary them to escape the
// de-duplication. Hashed, so an entry's size does not grow with its details.
func dedupeKey(ev *store.AuditEvent) [sha256.Size]byte {
	h := sha256.New()
	for _, f := range []string{ev.OrgID, ev.UserID, ev.APIKeyID, ev.EventType, ev.Action, ev.ResourceID, ev.Outcome,
		ev.IPAddress, string(ev.Details)} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}
