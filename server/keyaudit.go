package server

import (
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// keyAudit audits what authentication learns of API keys: a key used from an
// address it was never used from, and a known key refused (revoked, expired, its
// owner gone): a sign-in failure in the key's organization. Unknown and malformed
// keys name no organization, so they only count against the caller's rate limit.
type keyAudit struct {
	store *store.Store
	audit httpx.Audit

	mu sync.Mutex
	// seen caches (key, address) pairs already recorded, so a request from a known
	// address costs no write; bounded by forgetting everything past seenMax.
	seen map[string]struct{}
}

const seenMax = 100_000

func newKeyAudit(st *store.Store, a httpx.Audit) *keyAudit {
	return &keyAudit{store: st, audit: a, seen: map[string]struct{}{}}
}

// used notes that key k authenticated this request; the first use from an address
// is an audit event (API_KEY NEW_ADDRESS).
func (ka *keyAudit) used(c echo.Context, p httpx.Principal, k *store.APIKey) {
	ip := c.RealIP()
	id := k.ID + "\x00" + ip
	ka.mu.Lock()
	_, known := ka.seen[id]
	if !known {
		if len(ka.seen) >= seenMax {
			ka.seen = map[string]struct{}{}
		}
		ka.seen[id] = struct{}{}
	}
	ka.mu.Unlock()
	if known {
		return
	}
	ctx := c.Request().Context()
	isNew, err := ka.store.RecordKeyAddress(ctx, k.OrgID, k.ID, ip, time.Now().UTC())
	if err != nil || !isNew {
		return // a failed write is retried on the next request after a restart; never fails this one
	}
	ev := &store.AuditEvent{OrgID: p.OrgID, UserID: p.UserID, APIKeyID: k.ID, EventType: "API_KEY", Action: "NEW_ADDRESS",
		ResourceID: k.ID, Outcome: store.OutcomeSuccess,
		Details: httpx.MustJSON(map[string]string{"prefix": k.Prefix, "name": k.Name, "ip": ip})}
	ka.audit.RecordAside(c, ev)
}

// refused records that a known key was refused (revoked, expired, owner no longer a
// member): DENIED API_KEY SIGN_IN. Repeats from one address are deduplicated and
// the organization's share capped, as for any unauthenticated request.
func (ka *keyAudit) refused(c echo.Context, owner store.KeyOwner, reason string) {
	ev := &store.AuditEvent{OrgID: owner.Key.OrgID, UserID: owner.Key.UserID, APIKeyID: owner.Key.ID, EventType: "API_KEY",
		Action: "SIGN_IN", ResourceID: owner.Key.ID, Outcome: store.OutcomeDenied,
		Details: httpx.MustJSON(map[string]string{"reason": reason, "prefix": owner.Key.Prefix})}
	ka.audit.RecordPublic(c, ev)
}
