package store

import "context"

// SetMemberRole changes userID's role in orgID; a user who is not a member is
// ErrNotFound. Decisions that depend on a role (approvals) read it again when they
// are taken, so a change applies at once.
func (s *Store) SetMemberRole(ctx context.Context, orgID, userID, role string) error {
	res := s.db.WithContext(ctx).Model(&Membership{}).Where("org_id = ? AND user_id = ?", orgID, userID).Update("role", role)
	s.keysChanged()
	if err := translate(res.Error); err != nil {
		return err
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}
