package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// eventTypes names the audit event type of each group of the contract.
var eventTypes = map[string]string{
	"APIKeys": "API_KEY", "Application": "APPLICATION", "ApplicationProfile": "APPLICATION_PROFILE",
	"Audit": "AUDIT", "AvailabilityTiers": "AVAILABILITY_TIER", "Cloud": "CLOUD_ACCOUNT", "Clusters": "CLUSTER",
	"Integrations": "INTEGRATION", "Notifications": "NOTIFICATION", "Organizations": "ORGANIZATION",
	"Pricing": "PRICING", "CloudProvider": "CLOUD_PROVIDER", "UserProfiles": "USER",
}

// actions names the audit action of each mutating method.
var actions = map[string]string{
	http.MethodPost: "CREATE", http.MethodPut: "UPDATE", http.MethodPatch: "UPDATE", http.MethodDelete: "DELETE",
}

// auditMutations makes every mutating call of an authenticated caller an audit event:
// when the handler recorded none of its own (refused, failed, or a group that records
// nothing), one is written here with the operation, the answer's status and the
// outcome (DENIED for 401 and 403, FAILURE for other errors). Calls without an
// organization (a user before any) have no audit log to go to; unauthenticated
// routes record their own events through the flood guard (httpx.Audit.RecordPublic).
func (s *Server) auditMutations(a httpx.Audit) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			action, mutating := actions[c.Request().Method]
			if !mutating || httpx.Audited(c) {
				return err
			}
			p, ok := httpx.PrincipalOf(c)
			op, known := s.contract.lookup(c)
			if !ok || !known || p.OrgID == "" {
				return err
			}
			status := c.Response().Status
			if err != nil {
				status = httpx.ToAPIError(err).Status
			}
			outcome := store.OutcomeSuccess
			switch {
			case status == http.StatusUnauthorized || status == http.StatusForbidden:
				outcome = store.OutcomeDenied
			case status >= 400:
				outcome = store.OutcomeFailure
			}
			eventType := "API"
			if len(op.op.Tags) > 0 && eventTypes[op.op.Tags[0]] != "" {
				eventType = eventTypes[op.op.Tags[0]]
			}
			ev := httpx.NewAuditEvent(c, p, eventType, action, c.Request().URL.Path, outcome)
			ev.Details = httpx.MustJSON(map[string]any{"apiOperation": op.id, "method": c.Request().Method, "status": status})
			a.RecordEvent(c, ev)
			return err
		}
	}
}
