package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CreateClusterWithOperation inserts a new cluster and the operation that creates it,
// atomically. A live cluster of the same name in the org, or a reused idempotency key,
// is ErrConflict and nothing is written.
func (s *Store) CreateClusterWithOperation(ctx context.Context, c *Cluster, op *Operation) error {
	op.OrgID, op.ClusterID, op.ClusterName = c.OrgID, c.ID, c.Name
	return s.insertAll(ctx, c, op)
}

// CreateDeploy is CreateClusterWithOperation that also records ev, the audit event
// of the creation, all or none: on PostgreSQL in one round trip (insertAll), as a
// deploy is the API's hot path.
func (s *Store) CreateDeploy(ctx context.Context, c *Cluster, op *Operation, ev *AuditEvent) error {
	op.OrgID, op.ClusterID, op.ClusterName = c.OrgID, c.ID, c.Name
	if ev.ID == "" {
		ev.ID = NewID()
	}
	return s.insertAll(ctx, c, op, ev)
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

// ClusterNames returns the names of orgID's clusters among ids (deleted ones
// included), by ID, in one query.
func (s *Store) ClusterNames(ctx context.Context, orgID string, ids []string) (map[string]string, error) {
	names := map[string]string{}
	if len(ids) == 0 {
		return names, nil
	}
	var rows []Cluster
	err := s.db.WithContext(ctx).Select("id", "name").Where("org_id = ? AND id IN ?", orgID, ids).Find(&rows).Error
	for _, c := range rows {
		names[c.ID] = c.Name
	}
	return names, translate(err)
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

// ErrOperationClosed means the operation has already ended (it was recorded failed,
// cancelled or done), so nothing may act for it any more.
var ErrOperationClosed = errors.New("operation already closed")

// BeginOperation sets orgID's cluster's status and message as its operation
// operationID begins, unless that operation has already ended: then it is
// ErrOperationClosed and nothing is written (an operation the API recorded FAILED
// because its start seemed to fail must not go on to change the cluster). An
// operation the store does not hold does not stop it.
func (s *Store) BeginOperation(ctx context.Context, orgID, clusterID, operationID, status, message string) error {
	return s.InTx(ctx, func(tx *Store) error {
		op, err := tx.GetOperation(ctx, orgID, operationID)
		switch {
		case err == nil && op.EndedAt != nil:
			return fmt.Errorf("%w: %s ended %s", ErrOperationClosed, operationID, op.Status)
		case err != nil && !errors.Is(err, ErrNotFound):
			return err
		}
		return tx.SetClusterStatus(ctx, orgID, clusterID, status, message)
	})
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

// FinishOperation records the end of orgID's operation id and reports whether this
// call did it. Finishing twice keeps the first outcome, so a retried activity cannot
// overwrite it.
func (s *Store) FinishOperation(ctx context.Context, orgID, id, status, message string, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Operation{}).
		Where("org_id = ? AND id = ? AND ended_at IS NULL", orgID, id).
		Updates(map[string]any{"status": status, "message": message, "ended_at": at, "updated_at": at})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		_, err := s.GetOperation(ctx, orgID, id)
		return false, err
	}
	return true, nil
}

// StartOperation records a new operation on an existing cluster and makes it the
// cluster's last. A running operation on the cluster, or a reused idempotency key, is
// ErrConflict and nothing is written.
func (s *Store) StartOperation(ctx context.Context, op *Operation) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := translate(tx.db.WithContext(ctx).Create(op).Error); err != nil {
			return err
		}
		return translate(tx.db.WithContext(ctx).Model(&Cluster{}).
			Where("org_id = ? AND id = ?", op.OrgID, op.ClusterID).
			Updates(map[string]any{"last_operation_id": op.ID, "updated_at": time.Now().UTC()}).Error)
	})
}

// RunningOperation returns the operation running on orgID's cluster, if any.
func (s *Store) RunningOperation(ctx context.Context, orgID, clusterID string) (Operation, error) {
	var op Operation
	err := s.db.WithContext(ctx).Where("org_id = ? AND cluster_id = ? AND ended_at IS NULL", orgID, clusterID).Take(&op).Error
	return op, translate(err)
}

// ClusterFacts are what an operation learned of a cluster; zero fields are unchanged.
type ClusterFacts struct {
	ExternalID        string
	NetworkID         string
	Endpoint          string
	KubernetesVersion string
	State             []byte
}

// RecordClusterOutcome sets the cluster's status and message and what the operation
// learned of it.
func (s *Store) RecordClusterOutcome(ctx context.Context, orgID, id, status, message string, f ClusterFacts) error {
	updates := map[string]any{"status": status, "status_message": message, "updated_at": time.Now().UTC()}
	for col, v := range map[string]string{"external_id": f.ExternalID, "network_id": f.NetworkID, "endpoint": f.Endpoint, "kubernetes_version": f.KubernetesVersion} {
		if v != "" {
			updates[col] = v
		}
	}
	if f.State != nil {
		updates["state"] = f.State
	}
	res := s.db.WithContext(ctx).Model(&Cluster{}).Where("org_id = ? AND id = ?", orgID, id).Updates(updates)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
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

// FirstOperation returns the first operation of orgID's cluster: the deploy that
// created it.
func (s *Store) FirstOperation(ctx context.Context, orgID, clusterID string) (Operation, error) {
	var op Operation
	err := s.db.WithContext(ctx).Where("org_id = ? AND cluster_id = ?", orgID, clusterID).Order("created_at, id").Take(&op).Error
	return op, translate(err)
}

// ClusterLocation is where a cluster lived, for finding it after deletion.
type ClusterLocation struct {
	Name, Provider, ProvisionerType, AccountID, Region string
}

// FindDeletedCluster returns orgID's most recently deleted cluster at loc.
func (s *Store) FindDeletedCluster(ctx context.Context, orgID string, loc ClusterLocation) (Cluster, error) {
	var c Cluster
	err := s.db.WithContext(ctx).
		Where("org_id = ? AND status = ? AND name = ? AND provider = ? AND provisioner_type = ? AND account_id = ? AND region = ?",
			orgID, ClusterDeleted, loc.Name, loc.Provider, loc.ProvisionerType, loc.AccountID, loc.Region).
		Order("updated_at DESC").Take(&c).Error
	return c, translate(err)
}

// RetireCluster marks orgID's cluster id DELETED with message, freeing its name, if it
// is still in status with lastOperationID its last operation; it reports whether it
// did. It retires the record of a deploy that ended without a cluster, for a new
// deploy of the same name.
func (s *Store) RetireCluster(ctx context.Context, orgID, id, status, lastOperationID, message string) (bool, error) {
	res := s.db.WithContext(ctx).Model(&Cluster{}).
		Where("org_id = ? AND id = ? AND status = ? AND last_operation_id = ?", orgID, id, status, lastOperationID).
		Updates(map[string]any{"status": ClusterDeleted, "status_message": message, "updated_at": time.Now().UTC()})
	return res.RowsAffected > 0, translate(res.Error)
}

// LastDeletedCluster returns orgID's most recently deleted cluster named name.
func (s *Store) LastDeletedCluster(ctx context.Context, orgID, name string) (Cluster, error) {
	var c Cluster
	err := s.db.WithContext(ctx).Where("org_id = ? AND status = ? AND name = ?", orgID, ClusterDeleted, name).
		Order("updated_at DESC").Take(&c).Error
	return c, translate(err)
}

// ErrBadPageToken means a page token was not made by this store.
var ErrBadPageToken = errors.New("bad page token")

// ListOperations returns a page of orgID's cluster's operations, newest first, and the
// token of the next page ("" on the last). Tokens are keyset positions, so pages stay
// stable while new operations start.
func (s *Store) ListOperations(ctx context.Context, orgID, clusterID, pageToken string, limit int) ([]Operation, string, error) {
	q := s.db.WithContext(ctx).Where("org_id = ? AND cluster_id = ?", orgID, clusterID)
	if pageToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil {
			return nil, "", ErrBadPageToken
		}
		nanos, id, ok := strings.Cut(string(raw), "|")
		n, perr := strconv.ParseInt(nanos, 10, 64)
		if !ok || perr != nil {
			return nil, "", ErrBadPageToken
		}
		at := time.Unix(0, n).UTC()
		q = q.Where("created_at < ? OR (created_at = ? AND id < ?)", at, at, id)
	}
	ops := []Operation{}
	if err := q.Order("created_at DESC, id DESC").Limit(limit + 1).Find(&ops).Error; err != nil {
		return nil, "", translate(err)
	}
	if len(ops) <= limit {
		return ops, "", nil
	}
	last := ops[limit-1]
	next := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d|%s", last.CreatedAt.UnixNano(), last.ID)))
	return ops[:limit], next, nil
}
