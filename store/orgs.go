package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// ErrLastAdmin means a change would leave an organization without an admin: its last
// admin can be neither removed nor given another role.
var ErrLastAdmin = errors.New("the organization's last admin")

// CreateOrganizationWithAdmin creates org with userID as its admin, in one
// transaction; a user with no active organization gets this one. A taken name is
// ErrConflict; an unknown user is ErrNotFound.
func (s *Store) CreateOrganizationWithAdmin(ctx context.Context, org *Organization, userID string) error {
	return s.InTx(ctx, func(tx *Store) error {
		if _, err := tx.GetUser(ctx, userID); err != nil {
			return err
		}
		if err := tx.CreateOrganization(ctx, org); err != nil {
			return err
		}
		if err := tx.AddMember(ctx, org.ID, userID, RoleAdmin); err != nil {
			return err
		}
		return translate(tx.db.WithContext(ctx).Model(&User{}).
			Where("id = ? AND (active_org_id = '' OR active_org_id IS NULL)", userID).
			Update("active_org_id", org.ID).Error)
	})
}

// CountMembers returns how many members each of orgIDs has (absent: none).
func (s *Store) CountMembers(ctx context.Context, orgIDs ...string) (map[string]int, error) {
	var rows []struct {
		OrgID string
		N     int
	}
	err := s.db.WithContext(ctx).Model(&Membership{}).Select("org_id, COUNT(*) AS n").
		Where("org_id IN ?", orgIDs).Group("org_id").Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.OrgID] = r.N
	}
	return out, nil
}

// PutMember gives userID role in orgID: a new membership (created true), or a new role
// for a member. Demoting the organization's last admin is ErrLastAdmin; an unknown
// user or organization is ErrNotFound.
func (s *Store) PutMember(ctx context.Context, orgID, userID, role string) (created bool, err error) {
	err = s.InTx(ctx, func(tx *Store) error {
		if err := tx.lockOrg(ctx, orgID); err != nil {
			return err
		}
		if _, err := tx.GetUser(ctx, userID); err != nil {
			return err
		}
		m, err := tx.GetMembership(ctx, orgID, userID)
		if errors.Is(err, ErrNotFound) {
			created = true
			return tx.AddMember(ctx, orgID, userID, role)
		}
		if err != nil {
			return err
		}
		if m.Role == RoleAdmin && role != RoleAdmin {
			if err := tx.keepAnAdmin(ctx, orgID); err != nil {
				return err
			}
		}
		return tx.SetMemberRole(ctx, orgID, userID, role)
	})
	return created, err
}

// RemoveMember removes userID from orgID, with the API keys they hold there (a key
// acts for one organization on behalf of a member; without the membership it could
// not be used anyway). Removing the last admin is ErrLastAdmin; a user who is not a
// member is ErrNotFound.
func (s *Store) RemoveMember(ctx context.Context, orgID, userID string) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := tx.lockOrg(ctx, orgID); err != nil {
			return err
		}
		m, err := tx.GetMembership(ctx, orgID, userID)
		if err != nil {
			return err
		}
		if m.Role == RoleAdmin {
			if err := tx.keepAnAdmin(ctx, orgID); err != nil {
				return err
			}
		}
		db := tx.db.WithContext(ctx)
		tx.keysChanged()
		if err := db.Where("org_id = ? AND user_id = ?", orgID, userID).Delete(&Membership{}).Error; err != nil {
			return translate(err)
		}
		now := time.Now().UTC()
		return translate(db.Model(&APIKey{}).Where("org_id = ? AND user_id = ? AND revoked_at IS NULL", orgID, userID).
			Updates(map[string]any{"revoked_at": now, "revoke_reason": "owner removed from the organization"}).Error)
	})
}

// lockOrg takes the organization's row lock for the rest of the transaction, so two
// concurrent member changes of one organization run one after the other (and cannot
// both remove "one of two" admins); an unknown organization is ErrNotFound.
func (s *Store) lockOrg(ctx context.Context, orgID string) error {
	res := s.db.WithContext(ctx).Model(&Organization{}).Where("id = ?", orgID).
		UpdateColumn("updated_at", gorm.Expr("updated_at"))
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// keepAnAdmin is ErrLastAdmin when orgID has one admin or fewer, about to lose one.
func (s *Store) keepAnAdmin(ctx context.Context, orgID string) error {
	var admins int64
	err := s.db.WithContext(ctx).Model(&Membership{}).Where("org_id = ? AND role = ?", orgID, RoleAdmin).Count(&admins).Error
	if err != nil {
		return translate(err)
	}
	if admins <= 1 {
		return ErrLastAdmin
	}
	return nil
}
