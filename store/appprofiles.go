package store

import (
	"context"
	"time"
)

// AppProfile is an application profile: where an organization's applications run
// (an explicit cluster, the best cluster of a provider and region, or the nearest
// one) and with which availability tier and resources. Its name is unique in the
// organization; applications name it, and a profile in use is never deleted.
type AppProfile struct {
	ID               string `gorm:"primaryKey;size:36"`
	OrgID            string `gorm:"size:36;not null;uniqueIndex:idx_app_profiles_name,priority:1"`
	Name             string `gorm:"size:50;not null;uniqueIndex:idx_app_profiles_name,priority:2"`
	AvailabilityTier string `gorm:"size:20;not null"`
	// ClusterName is the explicit placement; it wins over Provider and Region.
	ClusterName string `gorm:"size:50"`
	Provider    string `gorm:"size:20"`
	Region      string `gorm:"size:50"`
	// Resources are the profile's resources as the API received them (JSON of
	// cpu/memory minimum and maximum); nil when it names none.
	Resources []byte
	CreatedAt time.Time
	UpdatedAt time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// CreateAppProfile records p; a profile of the same name in the organization is
// ErrConflict.
func (s *Store) CreateAppProfile(ctx context.Context, p *AppProfile) error {
	if p.ID == "" {
		p.ID = NewID()
	}
	return translate(s.db.WithContext(ctx).Create(p).Error)
}

// GetAppProfile returns orgID's profile whose ID or name is ref.
func (s *Store) GetAppProfile(ctx context.Context, orgID, ref string) (AppProfile, error) {
	var p AppProfile
	err := s.db.WithContext(ctx).Where("org_id = ? AND (id = ? OR name = ?)", orgID, ref, ref).Take(&p).Error
	return p, translate(err)
}

// ListAppProfiles returns orgID's profiles by name.
func (s *Store) ListAppProfiles(ctx context.Context, orgID string) ([]AppProfile, error) {
	out := []AppProfile{}
	err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Order("name").Find(&out).Error
	return out, translate(err)
}

// DeleteAppProfile removes orgID's profile id; ErrNotFound when there is none.
// Whether applications still use it is the caller's check (AppProfileUsers).
func (s *Store) DeleteAppProfile(ctx context.Context, orgID, id string) error {
	res := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Delete(&AppProfile{})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// AppProfileUsers returns the names of orgID's applications that use the profile
// named profile, by name.
func (s *Store) AppProfileUsers(ctx context.Context, orgID, profile string) ([]string, error) {
	out := []string{}
	err := s.db.WithContext(ctx).Model(&Application{}).Where("org_id = ? AND profile = ?", orgID, profile).
		Order("name").Pluck("name", &out).Error
	return out, translate(err)
}
