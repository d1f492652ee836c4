package store

import (
	"context"
	"time"
)

// CreateAPIKey inserts k.
func (s *Store) CreateAPIKey(ctx context.Context, k *APIKey) error {
	return translate(s.db.WithContext(ctx).Create(k).Error)
}

// GetAPIKey returns the key with id in any organization; only authentication uses it,
// to find the organization a presented key belongs to.
func (s *Store) GetAPIKey(ctx context.Context, id string) (APIKey, error) {
	var k APIKey
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&k).Error
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
