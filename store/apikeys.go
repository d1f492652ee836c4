package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
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
	s.keysChanged()
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
	err := translate(s.db.WithContext(ctx).Model(&APIKey{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", id, at.Add(-time.Minute)).
		Update("last_used_at", at).Error)
	if err == nil && s.keys != nil {
		s.keys.touched(id, at)
	}
	return err
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
	// One query, as authentication runs it on every request; none while a cached
	// answer is fresh (CacheKeyLookups).
	var gen uint64
	start := time.Now()
	if s.keys != nil && !s.inTx {
		owner, ok, g := s.keys.get(hash)
		if ok {
			return owner, nil
		}
		gen = g
	}
	var row struct {
		APIKey  `gorm:"embedded"`
		OrgName string
		Role    *string
	}
	err := s.db.WithContext(ctx).Table("api_keys").
		Select("api_keys.*, organizations.name AS org_name, memberships.role AS role").
		Joins("JOIN organizations ON organizations.id = api_keys.org_id").
		Joins("LEFT JOIN memberships ON memberships.org_id = api_keys.org_id AND memberships.user_id = api_keys.user_id").
		Where("api_keys.hash = ?", hash).Take(&row).Error
	if err != nil {
		return KeyOwner{}, translate(err)
	}
	owner := KeyOwner{Key: row.APIKey, OrgName: row.OrgName}
	if row.Role != nil {
		owner.Role = *row.Role
	}
	if s.keys != nil && !s.inTx {
		s.keys.put(hash, owner, gen, start)
	}
	return owner, nil
}

// APIKeyAddress records that a key was used from an IP address, once per address, so
// a use from a new address can be audited.
type APIKeyAddress struct {
	KeyID       string `gorm:"primaryKey;size:36"`
	IP          string `gorm:"primaryKey;size:64"`
	OrgID       string `gorm:"size:36;not null"`
	FirstSeenAt time.Time

	Key APIKey `gorm:"foreignKey:KeyID;constraint:OnDelete:CASCADE"`
}

// RecordKeyAddress records that key id of orgID was used from ip at `at`, and
// reports whether that address is new for the key. Recording an address twice
// keeps the first sighting.
func (s *Store) RecordKeyAddress(ctx context.Context, orgID, id, ip string, at time.Time) (bool, error) {
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&APIKeyAddress{KeyID: id, IP: ip, OrgID: orgID, FirstSeenAt: at})
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

// OrgAPIKey is an API key with its organization's name.
type OrgAPIKey struct {
	APIKey
	OrgName string
}

// ListAPIKeysForUser returns every key userID owns, in every organization, newest
// first, with the organizations' names.
func (s *Store) ListAPIKeysForUser(ctx context.Context, userID string) ([]OrgAPIKey, error) {
	keys := []OrgAPIKey{}
	err := s.db.WithContext(ctx).Table("api_keys").
		Select("api_keys.*, organizations.name AS org_name").
		Joins("JOIN organizations ON organizations.id = api_keys.org_id").
		Where("api_keys.user_id = ?", userID).
		Order("api_keys.created_at DESC, api_keys.id").Scan(&keys).Error
	return keys, translate(err)
}

// ListAPIKeysOfUserInOrg returns the keys userID owns in orgID, newest first.
func (s *Store) ListAPIKeysOfUserInOrg(ctx context.Context, orgID, userID string) ([]APIKey, error) {
	keys := []APIKey{}
	err := s.db.WithContext(ctx).Where("org_id = ? AND user_id = ?", orgID, userID).
		Order("created_at DESC, id").Find(&keys).Error
	return keys, translate(err)
}

// DeleteAPIKey removes the key with id from orgID and returns it as it was;
// ErrNotFound when orgID has no such key.
func (s *Store) DeleteAPIKey(ctx context.Context, orgID, id string) (APIKey, error) {
	var k APIKey
	err := s.InTx(ctx, func(tx *Store) error {
		var err error
		if k, err = tx.GetAPIKeyInOrg(ctx, orgID, id); err != nil {
			return err
		}
		tx.keysChanged()
		return translate(tx.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Delete(&APIKey{}).Error)
	})
	return k, err
}
