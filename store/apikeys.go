package store

import (
	"context"
	"time"
)

// CreateAPIKey inserts k.
func (s *Store) CreateAPIKey(ctx context.Context, k *APIKey) error {
	return translate(s.db.WithContext(ctx).Create(k).Error)
}

// GetAPIKey returns the key with id in any organization.
func (s *Store) GetAPIKey(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&k).Error
	return k, translate(err)
}

// GetAPIKeyByHash returns the key whose hash is hash, in any organization;
// authentication uses it to find the organization a presented key belongs to.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash []byte) (APIKey, error) {
	var k APIKey
	err := s.db.WithContext(ctx).Where("hash = ?", hash).Take(&k).Error
	return k, translate(err)
}

// GetAPIKeyInOrg returns the key with id in orgID.
func (s *Store) GetAPIKeyInOrg(ctx context.Context, orgID, id string) (APIKey, error) {
	var k APIKey
	err := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&k).Error
	return k, translate(err)
}

// RevokeAPIKey marks the key revoked at `at`; the row stays for audit. Revoking an
// already revoked key keeps the first revocation.
func (s *Store) RevokeAPIKey(ctx context.Context, orgID, id, reason string, at time.Time) error {
	res := s.db.WithContext(ctx).Model(&APIKey{}).
		Where("org_id = ? AND id = ?", orgID, id).
		Where("revoked_at IS NULL").
		Updates(map[string]any{"revoked_at": at, "revoke_reason": reason})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		_, err := s.GetAPIKeyInOrg(ctx, orgID, id) // not found, or already revoked (fine)
		return err
	}
	return nil
}

// TouchAPIKey records that the key was used at `at`, at most once per minute so
// authentication does not write on every request.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	return translate(s.db.WithContext(ctx).Model(&APIKey{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, at.Add(-time.Minute)).
		Update("last_used_at", at).Error)
}

// KeyOwner is an API key with what authentication needs to know of its owner.
type KeyOwner struct {
	Key     APIKey
	OrgName string
	// Role is the owner's role in the key's organization; empty when the owner is no
	// longer a member (the key must then be refused).
	Role string
}

// LookupAPIKey finds the key whose hash is hash, in any organization, with its
// organization's name and its owner's current role there.
func (s *Store) LookupAPIKey(ctx context.Context, hash []byte) (KeyOwner, error) {
	k, err := s.GetAPIKeyByHash(ctx, hash)
	if err != nil {
		return KeyOwner{}, err
	}
	var row struct {
		Name string
		Role *string
	}
	err = s.db.WithContext(ctx).Table("organizations").
		Select("organizations.name AS name, memberships.role AS role").
		Joins("LEFT JOIN memberships ON memberships.org_id = organizations.id AND memberships.user_id = ?", k.UserID).
		Where("organizations.id = ?", k.OrgID).Take(&row).Error
	if err != nil {
		return KeyOwner{}, translate(err)
	}
	owner := KeyOwner{Key: k, OrgName: row.Name}
	if row.Role != nil {
		owner.Role = *row.Role
	}
	return owner, nil
}
