package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// insertAll inserts rows (pointers to models), all or none. On PostgreSQL, outside
// a transaction, the inserts go as one pipelined batch: one round trip, which the
// server runs as one implicit transaction — where a transaction of its own would take
// BEGIN, each INSERT and COMMIT in turn. GORM builds each statement (a dry run: the
// same SQL, parameters and timestamps as Create); nothing else is sent, and nothing
// is read back (a column the database defaults keeps the zero the caller left).
func (s *Store) insertAll(ctx context.Context, rows ...any) error {
	if s.driver != "postgres" || s.inTx {
		return s.InTx(ctx, func(tx *Store) error {
			for _, r := range rows {
				if err := translate(tx.db.WithContext(ctx).Create(r).Error); err != nil {
					return err
				}
			}
			return nil
		})
	}
	batch := &pgx.Batch{}
	for _, r := range rows {
		stmt := s.db.WithContext(ctx).Session(&gorm.Session{DryRun: true}).Create(r).Statement
		if stmt.Error != nil {
			return stmt.Error
		}
		batch.Queue(stmt.SQL.String(), stmt.Vars...)
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
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres connection is a %T, not pgx's", dc)
		}
		return sc.Conn().SendBatch(ctx, batch).Close()
	})
	if t, ok := s.db.Dialector.(gorm.ErrorTranslator); ok && err != nil {
		err = t.Translate(err) // unique and foreign-key violations, as Create reports them
	}
	return translate(err)
}
