package store

import (
	"context"
	"time"
)

// Kubeconfig grant states.
const (
	KubeconfigPending = "PENDING"
	KubeconfigReady   = "READY"
	KubeconfigFailed  = "FAILED"
)

// KubeconfigGrant is one kubeconfig a user asked for: made by a worker (which holds
// the cloud credentials) and handed to that user by the API. Sealed is the file,
// sealed bound to the grant's organization and ID (secrets.Box.SealBound), so it can
// be opened only as this grant; it never enters a workflow's history. A grant is
// the requesting user's alone, and worthless after ExpiresAt (the credentials in
// it expire then): PruneKubeconfigGrants removes it.
type KubeconfigGrant struct {
	ID        string `gorm:"primaryKey;size:100"` // also the ID of the workflow that makes it
	OrgID     string `gorm:"size:36;not null;index:idx_kubeconfig_grants_owner,priority:1"`
	ClusterID string `gorm:"size:36;not null;index:idx_kubeconfig_grants_owner,priority:2"`
	UserID    string `gorm:"size:36;not null;index:idx_kubeconfig_grants_owner,priority:3"`
	Status    string `gorm:"size:20;not null"`
	Message   string `gorm:"size:1000"`
	Context   string `gorm:"size:200"`
	Sealed    string `gorm:"type:text"`
	// Duration is how long the credentials in the file may last, as asked.
	Duration  time.Duration
	ExpiresAt *time.Time `gorm:"index"`
	CreatedAt time.Time  `gorm:"index:idx_kubeconfig_grants_owner,priority:4"`
	UpdatedAt time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// CreateKubeconfigGrant records a PENDING grant.
func (s *Store) CreateKubeconfigGrant(ctx context.Context, g *KubeconfigGrant) error {
	g.Status = KubeconfigPending
	return translate(s.db.WithContext(ctx).Create(g).Error)
}

// GetKubeconfigGrant returns orgID's grant id.
func (s *Store) GetKubeconfigGrant(ctx context.Context, orgID, id string) (KubeconfigGrant, error) {
	var g KubeconfigGrant
	err := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&g).Error
	return g, translate(err)
}

// LatestKubeconfigGrant returns the newest grant userID asked for on the cluster.
func (s *Store) LatestKubeconfigGrant(ctx context.Context, orgID, clusterID, userID string) (KubeconfigGrant, error) {
	var g KubeconfigGrant
	err := s.db.WithContext(ctx).Where("org_id = ? AND cluster_id = ? AND user_id = ?", orgID, clusterID, userID).
		Order("created_at DESC, id DESC").Take(&g).Error
	return g, translate(err)
}

// CompleteKubeconfigGrant makes a PENDING grant READY with its sealed file, or
// FAILED with message (sealed empty). A grant already ended is left as it is (a
// retried activity), and an unknown one is ErrNotFound.
func (s *Store) CompleteKubeconfigGrant(ctx context.Context, orgID, id, sealed, kubeContext, message string, expiresAt *time.Time) error {
	status := KubeconfigReady
	if sealed == "" {
		status = KubeconfigFailed
	}
	res := s.db.WithContext(ctx).Model(&KubeconfigGrant{}).
		Where("org_id = ? AND id = ? AND status = ?", orgID, id, KubeconfigPending).
		Updates(map[string]any{"status": status, "sealed": sealed, "context": kubeContext, "message": message, "expires_at": expiresAt})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		_, err := s.GetKubeconfigGrant(ctx, orgID, id)
		return err
	}
	return nil
}

// PruneKubeconfigGrants deletes the grants that expired before now and those that
// ended without a file or never ended more than a day ago; it returns how many.
func (s *Store) PruneKubeconfigGrants(ctx context.Context, now time.Time) (int64, error) {
	res := s.db.WithContext(ctx).
		Where("expires_at < ? OR (expires_at IS NULL AND created_at < ?)", now, now.Add(-24*time.Hour)).
		Delete(&KubeconfigGrant{})
	return res.RowsAffected, translate(res.Error)
}
