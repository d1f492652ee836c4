package store

import (
	"context"
	"time"
)

// Application statuses.
const (
	AppPending   = "PENDING"   // recorded, its deploy not started yet
	AppDeploying = "DEPLOYING" // a deploy workflow is writing it or waiting for it
	AppDeployed  = "DEPLOYED"  // Synced and Healthy when last deployed
	AppFailed    = "FAILED"    // the last deploy failed (StatusMessage says why)
	AppDeleting  = "DELETING"  // its delete workflow is removing it
)

// Application is an application an organization deploys onto a cluster through a
// profile. Its name is unique in the organization; Profile and SourceType never
// change once recorded (the API refuses a change). Spec is the request's
// specification as sent (the API's getApplicationSpec answers it).
type Application struct {
	ID         string `gorm:"primaryKey;size:36"`
	OrgID      string `gorm:"size:36;not null;uniqueIndex:idx_applications_name,priority:1;index:idx_applications_profile,priority:1;index:idx_applications_idem,priority:1"`
	Name       string `gorm:"size:50;not null;uniqueIndex:idx_applications_name,priority:2"`
	Profile    string `gorm:"size:50;not null;index:idx_applications_profile,priority:2"`
	SourceType string `gorm:"size:20;not null"`
	Namespace  string `gorm:"size:63;not null"`
	SyncType   string `gorm:"size:10;not null"`
	Spec       []byte
	// Desired is what a deploy writes, as the API resolved it from Spec
	// (activities.AppSpec as JSON).
	Desired []byte
	// ClusterID is the cluster the last deploy placed it on ("" before).
	ClusterID       string `gorm:"size:36;index"`
	Status          string `gorm:"size:20;not null"`
	StatusMessage   string `gorm:"size:1000"`
	SyncStatus      string `gorm:"size:20"`
	HealthStatus    string `gorm:"size:20"`
	LastOperationID string `gorm:"size:300"`
	// IdempotencyKey and RequestHash are the Idempotency-Key and the request's hash
	// (internal/idempotency) of the last deploy ("" when it had no key).
	IdempotencyKey string `gorm:"size:200;not null;default:'';index:idx_applications_idem,priority:2"`
	RequestHash    string `gorm:"size:64;not null;default:''"`
	CreatedAt      time.Time
	UpdatedAt      time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// CreateApplication records a; a taken name is ErrConflict, and a profile that does
// not exist (or is being deleted: its row lock is held) ErrNotFound.
func (s *Store) CreateApplication(ctx context.Context, a *Application) error {
	if a.ID == "" {
		a.ID = NewID()
	}
	return s.InTx(ctx, func(tx *Store) error {
		if _, err := tx.lockAppProfile(ctx, a.OrgID, a.Profile); err != nil {
			return err
		}
		return translate(tx.db.WithContext(ctx).Create(a).Error)
	})
}

// GetApplication returns orgID's application whose ID or name is ref.
func (s *Store) GetApplication(ctx context.Context, orgID, ref string) (Application, error) {
	var a Application
	err := s.db.WithContext(ctx).Where("org_id = ? AND (id = ? OR name = ?)", orgID, ref, ref).Take(&a).Error
	return a, translate(err)
}

// ApplicationByIdempotencyKey returns orgID's application whose last deploy
// carried Idempotency-Key key (the newest, should two); ErrNotFound when none did.
func (s *Store) ApplicationByIdempotencyKey(ctx context.Context, orgID, key string) (Application, error) {
	var a Application
	if key == "" {
		return a, ErrNotFound
	}
	err := s.db.WithContext(ctx).Where("org_id = ? AND idempotency_key = ?", orgID, key).Order("updated_at DESC").Take(&a).Error
	return a, translate(err)
}

// ListApplications returns orgID's applications by name.
func (s *Store) ListApplications(ctx context.Context, orgID string) ([]Application, error) {
	out := []Application{}
	err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Order("name").Find(&out).Error
	return out, translate(err)
}

// UpdateApplication writes the fields of changes (column name → value) of orgID's
// application id; ErrNotFound when there is none.
func (s *Store) UpdateApplication(ctx context.Context, orgID, id string, changes map[string]any) error {
	changes["updated_at"] = time.Now().UTC()
	res := s.db.WithContext(ctx).Model(&Application{}).Where("org_id = ? AND id = ?", orgID, id).Updates(changes)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteApplication removes orgID's application id; one already gone is no error.
func (s *Store) DeleteApplication(ctx context.Context, orgID, id string) error {
	return translate(s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Delete(&Application{}).Error)
}

// ApplicationsPerCluster counts orgID's applications by the cluster they run on.
func (s *Store) ApplicationsPerCluster(ctx context.Context, orgID string) (map[string]int, error) {
	var rows []struct {
		ClusterID string
		N         int
	}
	err := s.db.WithContext(ctx).Model(&Application{}).Select("cluster_id, count(*) AS n").
		Where("org_id = ? AND cluster_id <> ''", orgID).Group("cluster_id").Scan(&rows).Error
	out := map[string]int{}
	for _, r := range rows {
		out[r.ClusterID] = r.N
	}
	return out, translate(err)
}
