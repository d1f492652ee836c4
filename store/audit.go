package store

import (
	"context"
	"time"

	"gorm.io/gorm"
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

// where narrows q to orgID's events matching f.
func (f AuditFilter) where(q *gorm.DB, orgID string) *gorm.DB {
	q = q.Where("org_id = ?", orgID)
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
		q = q.Where("created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("created_at <= ?", f.To.UTC())
	}
	return q
}

// ListAudit returns orgID's audit events, newest first, and how many match in all.
func (s *Store) ListAudit(ctx context.Context, orgID string, f AuditFilter, page Page) ([]AuditEvent, int64, error) {
	q := f.where(s.db.WithContext(ctx).Model(&AuditEvent{}), orgID)
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	events := []AuditEvent{}
	err := page.apply(q.Order("created_at DESC, id")).Find(&events).Error
	return events, total, translate(err)
}

// GetAudit returns orgID's audit event with id; ErrNotFound in another organization.
func (s *Store) GetAudit(ctx context.Context, orgID, id string) (AuditEvent, error) {
	var e AuditEvent
	err := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&e).Error
	return e, translate(err)
}

// StreamAudit calls fn with each of orgID's events matching f, newest first, one row
// at a time: memory stays flat however many events match. fn's error stops the walk
// and is returned. The event passed to fn is reused: copy what must outlive the call.
func (s *Store) StreamAudit(ctx context.Context, orgID string, f AuditFilter, fn func(*AuditEvent) error) error {
	rows, err := f.where(s.db.WithContext(ctx).Model(&AuditEvent{}), orgID).Order("created_at DESC, id").Rows()
	if err != nil {
		return translate(err)
	}
	defer func() { _ = rows.Close() }()
	var e AuditEvent
	for rows.Next() {
		e = AuditEvent{}
		if err := s.db.ScanRows(rows, &e); err != nil {
			return translate(err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return translate(rows.Err())
}

// AuditCount is one group of AuditStats.
type AuditCount struct {
	Key   string `gorm:"column:k"`
	Count int64  `gorm:"column:n"`
}

// AuditStats are the counts of orgID's events in a period.
type AuditStats struct {
	Total, Failed int64
	ByEventType   []AuditCount
	ByAction      []AuditCount
	// TopUsers are the users with most events, most first (at most 10).
	TopUsers []AuditCount
	// Daily counts events per UTC day ("2006-01-02"), oldest first.
	Daily []AuditCount
}

// AuditStatistics counts orgID's events from `from` to `to`. Failed counts events
// whose outcome is not SUCCESS.
func (s *Store) AuditStatistics(ctx context.Context, orgID string, from, to time.Time) (AuditStats, error) {
	f := AuditFilter{From: from, To: to}
	base := func() *gorm.DB { return f.where(s.db.WithContext(ctx).Model(&AuditEvent{}), orgID) }
	var st AuditStats
	if err := base().Count(&st.Total).Error; err != nil {
		return st, translate(err)
	}
	if err := base().Where("outcome <> ?", OutcomeSuccess).Count(&st.Failed).Error; err != nil {
		return st, translate(err)
	}
	group := func(col string, limit int, out *[]AuditCount) error {
		q := base().Select(col + " AS k, COUNT(*) AS n").Where(col + " <> ''").Group(col).Order("n DESC, k")
		if limit > 0 {
			q = q.Limit(limit)
		}
		*out = []AuditCount{}
		return translate(q.Scan(out).Error)
	}
	if err := group("event_type", 0, &st.ByEventType); err != nil {
		return st, err
	}
	if err := group("action", 0, &st.ByAction); err != nil {
		return st, err
	}
	if err := group("user_id", 10, &st.TopUsers); err != nil {
		return st, err
	}
	// Days are counted in Go: date functions differ between the databases, and a
	// period has at most 90 days of timestamps to read, one column.
	st.Daily = []AuditCount{}
	rows, err := base().Select("created_at").Order("created_at").Rows()
	if err != nil {
		return st, translate(err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var at time.Time
		if err := rows.Scan(&at); err != nil {
			return st, translate(err)
		}
		day := at.UTC().Format(time.DateOnly)
		if n := len(st.Daily); n > 0 && st.Daily[n-1].Key == day {
			st.Daily[n-1].Count++
		} else {
			st.Daily = append(st.Daily, AuditCount{Key: day, Count: 1})
		}
	}
	return st, translate(rows.Err())
}

// RecordAuditBatch appends events in one transaction, in batches: imports, tests and
// benchmarks that need many events at once.
func (s *Store) RecordAuditBatch(ctx context.Context, events []AuditEvent) error {
	for i := range events {
		if events[i].ID == "" {
			events[i].ID = NewID()
		}
	}
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return tx.CreateInBatches(events, 1000).Error
	}))
}
