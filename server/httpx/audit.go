package httpx

import (
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/store"
)

// Audit records audit events of requests, with their trace ID, client address, user
// agent and source. A failure to record is logged, not returned: the audited action
// already happened.
type Audit struct {
	store *store.Store
	log   *slog.Logger
	// public keeps unauthenticated requests (approval pages, unsubscribe links) from
	// flooding an organization's audit log; shared by the copies of an Audit.
	public *publicGuard
}

// NewAudit returns an Audit recording into st and logging its own failures to log.
func NewAudit(st *store.Store, log *slog.Logger) Audit {
	return Audit{store: st, log: log, public: newPublicGuard(PublicAuditBurst, PublicAuditPerMinute)}
}

const auditedKey = "astro.audited"

// MarkAudited records that the request's handler wrote its own audit event, so the
// catch-all event of mutating calls is not written too.
func MarkAudited(c echo.Context) { c.Set(auditedKey, true) }

// Audited reports whether the request's handler wrote its own audit event.
func Audited(c echo.Context) bool {
	done, _ := c.Get(auditedKey).(bool)
	return done
}

// Record records what p did through this request.
func (a Audit) Record(c echo.Context, p Principal, eventType, action, resource, outcome string) {
	a.RecordEvent(c, NewAuditEvent(c, p, eventType, action, resource, outcome))
}

// NewAuditEvent is the audit event of what p did through this request, for callers
// that record it in their own transaction.
// The request counts as audited from then on (see MarkAudited).
func NewAuditEvent(c echo.Context, p Principal, eventType, action, resource, outcome string) *store.AuditEvent {
	ev := &store.AuditEvent{OrgID: p.OrgID, UserID: p.UserID, APIKeyID: p.KeyID, EventType: eventType, Action: action,
		ResourceID: resource, Outcome: outcome}
	stamp(c, ev)
	return ev
}

// stamp fills what the request says of an event: trace ID, client address (as Echo's
// IP extractor trusts it: X-Forwarded-For only from the configured trusted proxies),
// user agent and source; and marks the request audited.
func stamp(c echo.Context, ev *store.AuditEvent) {
	ev.TraceID = TraceID(c)
	if ev.IPAddress == "" {
		ev.IPAddress = c.RealIP()
	}
	if ev.UserAgent == "" {
		ev.UserAgent = truncate(c.Request().UserAgent(), 300)
	}
	if ev.Source == "" {
		ev.Source = "api"
	}
	MarkAudited(c)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// RecordEvent records ev, stamped with the request's trace ID, address, user agent
// and source.
func (a Audit) RecordEvent(c echo.Context, ev *store.AuditEvent) {
	stamp(c, ev)
	if err := a.store.RecordAudit(c.Request().Context(), ev); err != nil {
		a.log.ErrorContext(c.Request().Context(), "record audit event", "err", err, "traceID", ev.TraceID)
	}
}

// RecordAside records ev, an event beside the call's own (a key's new address), so
// the request does not count as audited for it.
func (a Audit) RecordAside(c echo.Context, ev *store.AuditEvent) {
	was := Audited(c)
	a.RecordEvent(c, ev)
	c.Set(auditedKey, was)
}

// RecordPublic records ev, the event of an unauthenticated request (an approval
// page, an unsubscribe link), unless the organization already received too many such
// events lately, or this same event from the same address: anyone can send those
// requests, and they must not be able to flood an organization's audit log. What is
// dropped is counted in the log.
func (a Audit) RecordPublic(c echo.Context, ev *store.AuditEvent) {
	stamp(c, ev)
	if a.public != nil && !a.public.admit(ev, time.Now()) {
		a.log.WarnContext(c.Request().Context(), "audit event of an unauthenticated request dropped (flood guard)",
			"orgID", ev.OrgID, "action", ev.Action, "traceID", ev.TraceID)
		return
	}
	if err := a.store.RecordAudit(c.Request().Context(), ev); err != nil {
		a.log.ErrorContext(c.Request().Context(), "record audit event", "err", err, "traceID", ev.TraceID)
	}
}

// RefusedToken records a refused signed link (approval or unsubscribe) against the
// organization it names (when that organization exists). When the request carried a
// credential (an approver deciding with their API key, even one of another
// organization), the event names its user and key: who tried, not only which link.
// Its details say which request was refused (method: GET opens a link's page, POST
// decides), so a decision attempt is not taken for a repeat of a page view.
func (a Audit) RefusedToken(c echo.Context, orgID string, claims approval.Claims, reason string) {
	if claims.OrgID != "" {
		orgID = claims.OrgID
	}
	ctx := c.Request().Context()
	if _, err := a.store.GetOrganization(ctx, orgID); err != nil {
		a.log.WarnContext(ctx, "refused approval token for an unknown organization", "reason", reason, "traceID", TraceID(c))
		return
	}
	ev := &store.AuditEvent{OrgID: orgID, EventType: "APPROVAL", Action: "TOKEN_REFUSED",
		ResourceID: claims.OperationID, Outcome: store.OutcomeDenied,
		Details: MustJSON(map[string]string{"reason": reason, "approver": claims.Approver, "ip": c.RealIP(),
			"method": c.Request().Method})}
	if p, ok := PrincipalOf(c); ok {
		ev.UserID, ev.APIKeyID = p.UserID, p.KeyID
	}
	a.RecordPublic(c, ev)
}

// MustJSON marshals v, one of our own types, for an audit event's details.
func MustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types are marshalled here
	}
	return b
}
