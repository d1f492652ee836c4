package store

import (
	"context"
	"time"
)

// Audit outcomes.
const (
	OutcomeSuccess = "SUCCESS"
	OutcomeFailure = "FAILURE"
	OutcomeDenied  = "DENIED"
)

// RecordAudit appends e to the audit log, giving it an ID when it has none.
func (s *Store) RecordAudit(ctx context.Context, e *AuditEvent) error {
	if e.ID == "" {
		e.ID = NewID()
	}
	return translate(s.db.WithContext(ctx).Create(e).Error)
}

// AuditFilter narrows ListAudit; zero fields match everything.
type AuditFilter struct {
	EventType string
	Action    string
	UserID    string
	From, To  time.Time
}

// ListAudit returns orgID's audit events, newest first, and how many match in all.
func (s *Store) ListAudit(ctx context.Context, orgID string, f AuditFilter, page Page) ([]AuditEvent, int64, error) {
	q := s.db.WithContext(ctx).Model(&AuditEvent{}).Where("org_id = ?", orgID)
	if f.EventType != "" {
		q = q.Where("event_type = ?", f.EventType)
	}
	if f.Action != "" {
		q = q.Where("action = ?", f.Action)
	}
	if f.UserID != "" {
		q = q.Where("user_id = ?", f.UserID)
	}
	if !f.From.IsZero() {
		q = q.Where("created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		q = q.Where("created_at <= ?", f.To)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	events := []AuditEvent{}
	err := page.apply(q.Order("created_at DESC, id")).Find(&events).Error
	return events, total, translate(err)
}
