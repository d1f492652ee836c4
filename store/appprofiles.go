package store

import (
	"context"
	"time"

	"gorm.io/gorm"
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

// DeleteAppProfile removes orgID's profile id, whoever uses it; ErrNotFound when
// there is none. DeleteUnusedAppProfile is the delete the API makes.
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

// DeleteUnusedAppProfile removes orgID's profile id unless applications use it:
// then it returns their names and ErrConflict, and keeps it. The check and the
// delete hold the profile's row lock, which CreateApplication takes too, so an
// application created meanwhile either sees the profile gone (ErrNotFound) or keeps
// it in use.
func (s *Store) DeleteUnusedAppProfile(ctx context.Context, orgID, id string) (users []string, err error) {
	err = s.InTx(ctx, func(tx *Store) error {
		p, err := tx.lockAppProfile(ctx, orgID, id)
		if err != nil {
			return err
		}
		if users, err = tx.AppProfileUsers(ctx, orgID, p.Name); err != nil {
			return err
		}
		if len(users) > 0 {
			return ErrConflict
		}
		return tx.DeleteAppProfile(ctx, orgID, p.ID)
	})
	return users, err
}

// lockAppProfile takes the row lock of orgID's profile whose ID or name is ref for
// the rest of the transaction and returns it; ErrNotFound when there is none.
func (s *Store) lockAppProfile(ctx context.Context, orgID, ref string) (AppProfile, error) {
	res := s.db.WithContext(ctx).Model(&AppProfile{}).Where("org_id = ? AND (id = ? OR name = ?)", orgID, ref, ref).
		UpdateColumn("updated_at", gorm.Expr("updated_at"))
	if res.Error != nil {
		return AppProfile{}, translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return AppProfile{}, ErrNotFound
	}
	return s.GetAppProfile(ctx, orgID, ref)
}
