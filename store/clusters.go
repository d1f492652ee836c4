package store

import (
	"context"
	"time"
)

// CreateClusterWithOperation inserts a new cluster and the operation that creates it,
// atomically. A live cluster of the same name in the org, or a reused idempotency key,
// is ErrConflict and nothing is written.
func (s *Store) CreateClusterWithOperation(ctx context.Context, c *Cluster, op *Operation) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := translate(tx.db.WithContext(ctx).Create(c).Error); err != nil {
			return err
		}
		op.OrgID, op.ClusterID, op.ClusterName = c.OrgID, c.ID, c.Name
		return translate(tx.db.WithContext(ctx).Create(op).Error)
	})
}

// GetCluster returns the cluster of orgID whose ID is ref, or else the live (not
// DELETED) cluster whose name is ref.
func (s *Store) GetCluster(ctx context.Context, orgID, ref string) (Cluster, error) {
	var c Cluster
	err := s.db.WithContext(ctx).
		Where("org_id = ? AND (id = ? OR (name = ? AND status <> ?))", orgID, ref, ref, ClusterDeleted).
		Order("created_at DESC").Take(&c).Error
	return c, translate(err)
}

// ClusterFilter narrows ListClusters; zero fields match everything.
type ClusterFilter struct {
	Provider       string
	IncludeDeleted bool
}

// ListClusters returns orgID's clusters by name.
func (s *Store) ListClusters(ctx context.Context, orgID string, f ClusterFilter) ([]Cluster, error) {
	q := s.db.WithContext(ctx).Where("org_id = ?", orgID)
	if f.Provider != "" {
		q = q.Where("provider = ?", f.Provider)
	}
	if !f.IncludeDeleted {
		q = q.Where("status <> ?", ClusterDeleted)
	}
	clusters := []Cluster{}
	err := q.Order("name, created_at").Find(&clusters).Error
	return clusters, translate(err)
}

// SetClusterStatus sets the status and message of orgID's cluster id.
func (s *Store) SetClusterStatus(ctx context.Context, orgID, id, status, message string) error {
	res := s.db.WithContext(ctx).Model(&Cluster{}).Where("org_id = ? AND id = ?", orgID, id).
		Updates(map[string]any{"status": status, "status_message": message, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// GetOperation returns orgID's operation id.
func (s *Store) GetOperation(ctx context.Context, orgID, id string) (Operation, error) {
	var op Operation
	err := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&op).Error
	return op, translate(err)
}

// GetOperationByIdempotencyKey returns orgID's operation started with key.
func (s *Store) GetOperationByIdempotencyKey(ctx context.Context, orgID, key string) (Operation, error) {
	var op Operation
	err := s.db.WithContext(ctx).Where("org_id = ? AND idempotency_key = ?", orgID, key).Take(&op).Error
	return op, translate(err)
}

// FinishOperation records the end of orgID's operation id. Finishing twice keeps the
// first outcome, so a retried activity cannot overwrite it.
func (s *Store) FinishOperation(ctx context.Context, orgID, id, status, message string, at time.Time) error {
	res := s.db.WithContext(ctx).Model(&Operation{}).
		Where("org_id = ? AND id = ? AND ended_at IS NULL", orgID, id).
		Updates(map[string]any{"status": status, "message": message, "ended_at": at, "updated_at": at})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		_, err := s.GetOperation(ctx, orgID, id)
		return err
	}
	return nil
}

// DeleteClusterWithOperations removes a cluster and its operations outright. It only
// undoes a create whose workflow never started; clusters that existed are marked
// DELETED instead, to keep their history.
func (s *Store) DeleteClusterWithOperations(ctx context.Context, orgID, id string) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := tx.db.WithContext(ctx).Where("org_id = ? AND cluster_id = ?", orgID, id).Delete(&Operation{}).Error; err != nil {
			return translate(err)
		}
		return translate(tx.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Delete(&Cluster{}).Error)
	})
}
