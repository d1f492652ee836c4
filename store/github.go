package store

import (
	"context"
	"time"
)

// GithubInstallation is a GitHub App installation linked to an organization. One
// installation may be linked to several organizations (mapped by someone who is an
// admin of both); each link is its own record.
type GithubInstallation struct {
	OrgID               string `gorm:"primaryKey;size:36"`
	InstallationID      int64  `gorm:"primaryKey;autoIncrement:false;index"`
	AccountLogin        string `gorm:"size:100;not null"`
	AccountType         string `gorm:"size:20;not null"`
	RepositorySelection string `gorm:"size:20"`
	Permissions         string `gorm:"size:2000"` // JSON object, e.g. {"contents":"read"}
	Suspended           bool   `gorm:"not null;default:false"`
	SyncStatus          string `gorm:"size:20;not null"`
	LinkedBy            string `gorm:"size:36"`
	LastSyncedAt        *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// CreateGithubInstallation links in.InstallationID to in.OrgID; ErrConflict when
// it is linked there already.
func (s *Store) CreateGithubInstallation(ctx context.Context, in *GithubInstallation) error {
	return translate(s.db.WithContext(ctx).Create(in).Error)
}

// SaveGithubInstallation updates a link's fields.
func (s *Store) SaveGithubInstallation(ctx context.Context, in *GithubInstallation) error {
	return translate(s.db.WithContext(ctx).Save(in).Error)
}

// ListGithubInstallations returns orgID's linked installations by ID.
func (s *Store) ListGithubInstallations(ctx context.Context, orgID string) ([]GithubInstallation, error) {
	var out []GithubInstallation
	err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Order("installation_id").Find(&out).Error
	return out, translate(err)
}

// GithubInstallationLinks returns every organization's link of installation id.
func (s *Store) GithubInstallationLinks(ctx context.Context, id int64) ([]GithubInstallation, error) {
	var out []GithubInstallation
	err := s.db.WithContext(ctx).Where("installation_id = ?", id).Order("org_id").Find(&out).Error
	return out, translate(err)
}

// GetGithubInstallation returns orgID's link of installation id; ErrNotFound when
// there is none.
func (s *Store) GetGithubInstallation(ctx context.Context, orgID string, id int64) (GithubInstallation, error) {
	var in GithubInstallation
	err := s.db.WithContext(ctx).Where("org_id = ? AND installation_id = ?", orgID, id).First(&in).Error
	return in, translate(err)
}

// DeleteGithubInstallation removes orgID's link of installation id; ErrNotFound
// when there is none.
func (s *Store) DeleteGithubInstallation(ctx context.Context, orgID string, id int64) error {
	res := s.db.WithContext(ctx).Where("org_id = ? AND installation_id = ?", orgID, id).Delete(&GithubInstallation{})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
