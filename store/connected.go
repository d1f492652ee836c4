package store

import "context"

// ConnectedAccountRef is a connected cloud account: its provider and account (AWS
// account, GCP project, Azure subscription).
type ConnectedAccountRef struct {
	Provider  string
	AccountID string
}

// ConnectedAccounts lists orgID's connected accounts (those with a CONNECTED
// connection), each once, the most recently connected of a provider first. One
// query; empty for an organization that connected none.
func (s *Store) ConnectedAccounts(ctx context.Context, orgID string) ([]ConnectedAccountRef, error) {
	var rows []ConnectedAccountRef
	err := s.db.WithContext(ctx).Model(&CloudConnection{}).
		Select("provider, account_id, MAX(connected_at) AS last").
		Where("org_id = ? AND status = ? AND account_id <> ''", orgID, ConnectionConnected).
		Group("provider, account_id").Order("provider, last DESC").
		Scan(&rows).Error
	return rows, translate(err)
}
