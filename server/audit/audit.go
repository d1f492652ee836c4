// Package audit answers the Audit group: list, get, export (CSV or JSON, streamed
// row by row so memory stays flat however many events match) and statistics of an
// organization's audit events. Every operation needs an organization admin and a plan
// that unlocks the audit log (enterprise), as the reference says.
package audit

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/astropulse/astroplane/plans"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// Server answers the Audit group.
type Server struct {
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
}

// NewServer returns the Audit group over st.
func NewServer(st *store.Store, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{store: st, log: log, now: time.Now}
}

// gate admits an admin of an organization whose plan unlocks the audit log. The role
// middleware checks the role already (x-astro-role: admin); it is checked again here
// so the audit log never depends on one line of openapi.yaml. A plan that does not
// unlock it is a 403 with its own code, PLAN_REQUIRED (details plan and
// requiredPlan), so it is never mistaken for a role refusal (FORBIDDEN, requiredRole).
func (s *Server) gate(c echo.Context) (httpx.Principal, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return p, err
	}
	if p.Role != store.RoleAdmin {
		return p, httpx.Forbidden("the audit log needs an organization admin")
	}
	org, err := s.store.GetOrganization(c.Request().Context(), p.OrgID)
	if err != nil {
		return p, err
	}
	if !plans.Allows(org.Plan, plans.FeatureAudit) {
		return p, &httpx.APIError{Status: http.StatusForbidden, Code: httpx.CodePlanRequired,
			Message: fmt.Sprintf("the audit log needs the %s plan; organization %s is on %s", plans.Cheapest(plans.FeatureAudit), org.Name, plans.Of(org.Plan).ID),
			Details: map[string]any{"plan": plans.Of(org.Plan).ID, "requiredPlan": plans.Cheapest(plans.FeatureAudit)}}
	}
	return p, nil
}

// ListAuditEvents answers one page of the organization's events, newest first.
func (s *Server) ListAuditEvents(c echo.Context, params api.ListAuditEventsParams) error {
	p, err := s.gate(c)
	if err != nil {
		return err
	}
	f, err := filter(params.EventType, params.Action, params.UserId, params.StartDate, params.EndDate)
	if err != nil {
		return err
	}
	page, size := 1, 50
	if params.Page != nil {
		page = *params.Page
	}
	if params.PageSize != nil {
		size = *params.PageSize
	}
	if page > math.MaxInt32/size {
		return httpx.ValidationFailed(map[string]any{"query.page": "too large"})
	}
	events, total, err := s.store.ListAudit(c.Request().Context(), p.OrgID, f, store.Page{Number: page, Size: size})
	if err != nil {
		return err
	}
	out := api.AuditEventPage{Events: make([]api.AuditEvent, 0, len(events)), Page: page, PageSize: size,
		Total: int(total), TotalPages: int((total + int64(size) - 1) / int64(size))}
	for i := range events {
		out.Events = append(out.Events, toAPI(&events[i]))
	}
	return httpx.OK(c, out, httpx.Count(int(total), "audit event", "audit events"))
}

// GetAuditEvent answers one event of the organization; another organization's is 404.
func (s *Server) GetAuditEvent(c echo.Context, eventID string, _ api.GetAuditEventParams) error {
	p, err := s.gate(c)
	if err != nil {
		return err
	}
	ev, err := s.store.GetAudit(c.Request().Context(), p.OrgID, eventID)
	if err != nil {
		return err
	}
	return httpx.OK(c, toAPI(&ev), "audit event "+ev.ID)
}

// ExportAuditEvents streams the matching events as a CSV or JSON download.
func (s *Server) ExportAuditEvents(c echo.Context, params api.ExportAuditEventsParams) error {
	p, err := s.gate(c)
	if err != nil {
		return err
	}
	f, err := filter(params.EventType, params.Action, params.UserId, params.StartDate, params.EndDate)
	if err != nil {
		return err
	}
	format := FormatJSON
	if params.Format != nil {
		format = Format(*params.Format)
	}
	w := c.Response()
	name := "audit-events-" + s.now().UTC().Format(time.DateOnly) + "." + string(format)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set(echo.HeaderContentType, format.ContentType())
	w.WriteHeader(http.StatusOK)
	n, err := Export(c.Request().Context(), s.store, p.OrgID, f, format, httpx.TraceID(c), w)
	if err != nil {
		// The status is sent: the download ends short (invalid JSON, or CSV without
		// its last rows), and the cause is in the log.
		s.log.ErrorContext(c.Request().Context(), "export audit events", "err", err, "events", n, "traceID", httpx.TraceID(c))
	}
	return nil
}

// GetAuditStats answers counts of the organization's events over 7, 30 or 90 days.
func (s *Server) GetAuditStats(c echo.Context, params api.GetAuditStatsParams) error {
	p, err := s.gate(c)
	if err != nil {
		return err
	}
	period := api.GetAuditStatsParamsPeriodN30d
	if params.Period != nil {
		period = *params.Period
	}
	days := map[api.GetAuditStatsParamsPeriod]int{api.GetAuditStatsParamsPeriodN7d: 7, api.GetAuditStatsParamsPeriodN30d: 30, api.GetAuditStatsParamsPeriodN90d: 90}[period]
	if days == 0 {
		return httpx.ValidationFailed(map[string]any{"query.period": "must be 7d, 30d or 90d"})
	}
	end := s.now().UTC()
	start := end.AddDate(0, 0, -days)
	st, err := s.store.AuditStatistics(c.Request().Context(), p.OrgID, start, end)
	if err != nil {
		return err
	}
	byType, byAction := counts(st.ByEventType), counts(st.ByAction)
	out := api.AuditStats{Period: api.AuditStatsPeriod(period), StartDate: &start, EndDate: &end, TotalEvents: int(st.Total),
		FailedEvents: ptr(int(st.Failed)), ByEventType: &byType, ByAction: &byAction}
	top := make([]struct {
		Count     int     `json:"count"`
		UserEmail *string `json:"userEmail,omitempty"`
		UserId    string  `json:"userId"` //nolint:revive // the generated type's field name
	}, len(st.TopUsers))
	for i, u := range st.TopUsers {
		top[i].Count, top[i].UserId = int(u.Count), u.Key
	}
	daily := make([]struct {
		Count int                `json:"count"`
		Date  openapi_types.Date `json:"date"`
	}, len(st.Daily))
	for i, d := range st.Daily {
		day, err := time.Parse(time.DateOnly, d.Key)
		if err != nil {
			return err
		}
		daily[i].Count, daily[i].Date = int(d.Count), openapi_types.Date{Time: day}
	}
	out.TopUsers, out.Daily = &top, &daily
	return httpx.OK(c, out, fmt.Sprintf("%s of the last %d days", httpx.Count(int(st.Total), "audit event", "audit events"), days))
}

func counts(in []store.AuditCount) map[string]int {
	out := make(map[string]int, len(in))
	for _, c := range in {
		out[c.Key] = int(c.Count)
	}
	return out
}

// filter turns the query's filters into the store's, refusing dates it cannot read.
func filter(eventType, action, userID, startDate, endDate *string) (store.AuditFilter, error) {
	var f store.AuditFilter
	f.EventType, f.Action, f.UserID = deref(eventType), deref(action), deref(userID)
	details := map[string]any{}
	if startDate != nil && *startDate != "" {
		t, _, err := ParseDate(*startDate)
		if err != nil {
			details["query.startDate"] = err.Error()
		}
		f.From = t
	}
	if endDate != nil && *endDate != "" {
		t, dayOnly, err := ParseDate(*endDate)
		if err != nil {
			details["query.endDate"] = err.Error()
		}
		if dayOnly {
			t = t.Add(24*time.Hour - time.Nanosecond) // the whole day
		}
		f.To = t
	}
	if len(details) == 0 && !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		details["query.endDate"] = "is before startDate"
	}
	if len(details) > 0 {
		return f, httpx.ValidationFailed(details)
	}
	return f, nil
}

// dateLayouts are the date forms the filters take, most precise first.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", time.DateOnly}

// ParseDate reads a filter date: 2024-01-15, 2024-01-15T00:00:00Z, 2024-01-15T00:00:00
// or 2024-01-15 00:00:00 (UTC unless the value has an offset), or Unix seconds. dayOnly
// reports a bare date, which as an end date means the whole day.
func ParseDate(v string) (t time.Time, dayOnly bool, err error) {
	v = strings.TrimSpace(v)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), layout == time.DateOnly, nil
		}
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		return time.Unix(secs, 0).UTC(), false, nil
	}
	return time.Time{}, false, fmt.Errorf("%q is not a date (2024-01-15, 2024-01-15T00:00:00Z, …)", v)
}

// toAPI is the answer's form of an event.
func toAPI(e *store.AuditEvent) api.AuditEvent {
	out := api.AuditEvent{Id: e.ID, OrgId: e.OrgID, EventType: e.EventType, Action: e.Action, Timestamp: e.CreatedAt.UTC(),
		ResourceId: opt(e.ResourceID), UserId: opt(e.UserID), ApiKeyId: opt(e.APIKeyID), IpAddress: opt(e.IPAddress),
		UserAgent: opt(e.UserAgent), TraceId: opt(e.TraceID)}
	if e.Outcome != "" {
		o := api.AuditEventOutcome(e.Outcome)
		out.Outcome = &o
	}
	if e.Source != "" {
		src := api.AuditEventSource(e.Source)
		out.Source = &src
	}
	if len(e.Details) > 0 {
		var d map[string]any
		if json.Unmarshal(e.Details, &d) == nil {
			out.Details = &d
			if op, ok := d["operationId"].(string); ok {
				out.OperationId = &op
			}
		}
	}
	return out
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr[T any](v T) *T { return &v }
