package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// ProgressReport is one progress report of a running provider call, as the worker
// saw it (what the cloud said the call was doing, and when). The worker appends
// them; every API process reads the new ones in ID order and pushes them to the
// progress streams open on their operations, so a heartbeat detail reaches a
// client in milliseconds, on any API replica, without waiting for Temporal's
// throttled heartbeats. Rows are kept for minutes only (PruneProgressReports).
type ProgressReport struct {
	// ID grows with every insert; readers resume after the last one they saw.
	ID          uint64 `gorm:"primaryKey;autoIncrement"`
	OrgID       string `gorm:"size:36;not null"`
	OperationID string `gorm:"size:100;not null"` // the operation's (workflow's) ID
	// Activity and ActivityID name the activity that reported, Attempt its attempt.
	Activity string `gorm:"size:100;not null"`
	// Step is the step of the operation the call serves, as the workflow named it
	// in the call (a rollback's call may name the step it undoes).
	Step       string `gorm:"size:100;not null;default:''"`
	ActivityID string `gorm:"size:100;not null"`
	Attempt    int32
	Detail     string `gorm:"size:2000;not null"`
	// At is when the provider reported, on the worker's clock.
	At time.Time `gorm:"not null;index"`
}

// progressFeedChannel is the PostgreSQL notification channel that tells readers of
// the feed that reports were added.
const progressFeedChannel = "astro_progress_feed"

// ErrNoNotifications means the database cannot notify readers of the feed (SQLite);
// they poll.
var ErrNoNotifications = errors.New("the database has no notifications: poll the progress feed")

// AddProgressReports appends reports to the feed, assigning their IDs, and on
// PostgreSQL notifies the readers listening (ListenProgressFeed).
func (s *Store) AddProgressReports(ctx context.Context, reports []ProgressReport) error {
	if len(reports) == 0 {
		return nil
	}
	if s.driver != "postgres" {
		return translate(s.db.WithContext(ctx).CreateInBatches(&reports, 200).Error)
	}
	// The feed is minutes of progress details, there to be fast: its commits do not
	// wait for the WAL to reach the disk (a crash may lose the last milliseconds of
	// reports, which Temporal's heartbeats still carry). The notification goes out
	// with the commit.
	return translate(s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SET LOCAL synchronous_commit = off").Error; err != nil {
			return err
		}
		if err := tx.CreateInBatches(&reports, 200).Error; err != nil {
			return err
		}
		return tx.Exec("SELECT pg_notify(?, '')", progressFeedChannel).Error
	}))
}

// ListenProgressFeed calls added each time reports were added to the feed (by any
// process), until ctx ends or the connection fails; it holds one connection of the
// pool meanwhile. On SQLite it returns ErrNoNotifications at once.
func (s *Store) ListenProgressFeed(ctx context.Context, added func()) error {
	if s.driver != "postgres" {
		return ErrNoNotifications
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("listen for progress reports: a %T is not a pgx connection", dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+progressFeedChannel); err != nil {
			return fmt.Errorf("listen for progress reports: %w", err)
		}
		// A wait cut short by ctx closes the connection (the pool drops it);
		// otherwise it goes back to the pool listening to nothing.
		defer func() { _, _ = pc.Exec(context.WithoutCancel(ctx), "UNLISTEN *") }()
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				return err
			}
			added()
		}
	})
}

// ProgressReportsAfter returns up to limit reports with an ID above after, in ID
// order.
func (s *Store) ProgressReportsAfter(ctx context.Context, after uint64, limit int) ([]ProgressReport, error) {
	reports := []ProgressReport{}
	err := s.db.WithContext(ctx).Where("id > ?", after).Order("id").Limit(limit).Find(&reports).Error
	return reports, translate(err)
}

// ProgressReportsByID returns the reports among ids that exist, in ID order.
// Readers use it for the IDs they skipped: a PostgreSQL sequence hands out IDs
// before the inserting transaction commits, so a lower ID can become visible after
// a higher one.
func (s *Store) ProgressReportsByID(ctx context.Context, ids []uint64) ([]ProgressReport, error) {
	reports := []ProgressReport{}
	if len(ids) == 0 {
		return reports, nil
	}
	err := s.db.WithContext(ctx).Where("id IN ?", ids).Order("id").Find(&reports).Error
	return reports, translate(err)
}

// ProgressFeedPosition returns the ID a reader starting now should read after: the
// last report older than since (so the reader still gets what was reported from
// since on), or the newest report when none is that recent.
func (s *Store) ProgressFeedPosition(ctx context.Context, since time.Time) (uint64, error) {
	var first *uint64
	err := s.db.WithContext(ctx).Model(&ProgressReport{}).Where("at >= ?", since).Select("MIN(id)").Scan(&first).Error
	if err != nil {
		return 0, translate(err)
	}
	if first != nil {
		return *first - 1, nil
	}
	var last *uint64
	err = s.db.WithContext(ctx).Model(&ProgressReport{}).Select("MAX(id)").Scan(&last).Error
	if err != nil || last == nil {
		return 0, translate(err)
	}
	return *last, nil
}

// PruneProgressReports deletes the reports made before `before` and returns how
// many it deleted.
func (s *Store) PruneProgressReports(ctx context.Context, before time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("at < ?", before).Delete(&ProgressReport{})
	return res.RowsAffected, translate(res.Error)
}

// UsableAPIKeys returns which of the keys ids still authenticate at now: they
// exist, are neither revoked nor expired, and their owner is still a member of
// the key's organization. One query, whatever the number of keys; open progress
// streams close when their key drops out.
func (s *Store) UsableAPIKeys(ctx context.Context, ids []string, now time.Time) (map[string]bool, error) {
	usable := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return usable, nil
	}
	var found []string
	err := s.db.WithContext(ctx).Table("api_keys").
		Joins("JOIN memberships ON memberships.org_id = api_keys.org_id AND memberships.user_id = api_keys.user_id").
		Where("api_keys.id IN ? AND api_keys.revoked_at IS NULL AND (api_keys.expires_at IS NULL OR api_keys.expires_at > ?)", ids, now).
		Pluck("api_keys.id", &found).Error
	if err != nil {
		return nil, translate(err)
	}
	for _, id := range found {
		usable[id] = true
	}
	return usable, nil
}
