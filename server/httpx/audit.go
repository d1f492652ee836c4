package httpx

import (
	"encoding/json"
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/store"
)

// Audit records audit events of requests, with their trace ID. A failure to record is
// logged, not returned: the audited action already happened.
type Audit struct {
	store *store.Store
	log   *slog.Logger
}

// NewAudit returns an Audit recording into st and logging its own failures to log.
func NewAudit(st *store.Store, log *slog.Logger) Audit { return Audit{store: st, log: log} }

// Record records what p did through this request.
func (a Audit) Record(c echo.Context, p Principal, eventType, action, resource, outcome string) {
	a.RecordEvent(c, NewAuditEvent(c, p, eventType, action, resource, outcome))
}

// NewAuditEvent is the audit event of what p did through this request, for callers
// that record it in their own transaction.
func NewAuditEvent(c echo.Context, p Principal, eventType, action, resource, outcome string) *store.AuditEvent {
	return &store.AuditEvent{OrgID: p.OrgID, UserID: p.UserID, APIKeyID: p.KeyID, EventType: eventType, Action: action,
		ResourceID: resource, Outcome: outcome, TraceID: TraceID(c)}
}

// RecordEvent records ev, stamped with the request's trace ID.
func (a Audit) RecordEvent(c echo.Context, ev *store.AuditEvent) {
	ev.TraceID = TraceID(c)
	if err := a.store.RecordAudit(c.Request().Context(), ev); err != nil {
		a.log.ErrorContext(c.Request().Context(), "record audit event", "err", err, "traceID", ev.TraceID)
	}
}

// RefusedToken records a refused signed link (approval or unsubscribe) against the
// organization it names (when that organization exists).
func (a Audit) RefusedToken(c echo.Context, orgID string, claims approval.Claims, reason string) {
	if claims.OrgID != "" {
		orgID = claims.OrgID
	}
	ctx := c.Request().Context()
	if _, err := a.store.GetOrganization(ctx, orgID); err != nil {
		a.log.WarnContext(ctx, "refused approval token for an unknown organization", "reason", reason, "traceID", TraceID(c))
		return
	}
	a.RecordEvent(c, &store.AuditEvent{OrgID: orgID, EventType: "APPROVAL", Action: "TOKEN_REFUSED",
		ResourceID: claims.OperationID, Outcome: store.OutcomeDenied,
		Details: MustJSON(map[string]string{"reason": reason, "approver": claims.Approver, "ip": c.RealIP()})})
}

// MustJSON marshals v, one of our own types, for an audit event's details.
func MustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types are marshalled here
	}
	return b
}
