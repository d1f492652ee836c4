package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Cloud connection statuses (the contract's CloudConnectionStatus.status).
const (
	ConnectionPending            = "PENDING"
	ConnectionRunning            = "RUNNING"
	ConnectionWaitingForCustomer = "WAITING_FOR_CUSTOMER"
	ConnectionConnected          = "CONNECTED"
	ConnectionFailed             = "FAILED"
	ConnectionCancelled          = "CANCELLED"
)

// CloudExternalID is an organization's AWS external ID: generated once, kept for good,
// and required by the trust policy of every role the organization connects. Not a
// secret, but unique per organization, so no other tenant can make the platform
// assume this organization's roles (the confused deputy).
type CloudExternalID struct {
	OrgID      string `gorm:"primaryKey;size:36"`
	ExternalID string `gorm:"size:100;not null;uniqueIndex"`
	CreatedAt  time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// CloudConnection is one run of a cloud account connection (its ID is the workflow's):
// what the customer must do (the template and its quick-create link), how far it got
// (Status, Message, Steps) and, once connected, the account and role the platform
// assumes. It holds no credentials. At most one connection per cluster and provider
// runs at a time (EndedAt NULL), which a unique index enforces.
type CloudConnection struct {
	ID          string `gorm:"primaryKey;size:200"`
	OrgID       string `gorm:"size:36;not null;index;uniqueIndex:idx_cloud_connections_running,where:ended_at IS NULL"`
	Provider    string `gorm:"size:10;not null;uniqueIndex:idx_cloud_connections_running,where:ended_at IS NULL"`
	ClusterName string `gorm:"size:50;not null;uniqueIndex:idx_cloud_connections_running,where:ended_at IS NULL"`
	Level       string `gorm:"size:10;not null"`
	Status      string `gorm:"size:30;not null"`
	Message     string `gorm:"size:1000"`
	Steps       []byte // JSON list of the workflow's steps (name, status, message, times)
	AccountID   string `gorm:"size:100"`
	Region      string `gorm:"size:50"`
	RoleName    string `gorm:"size:64"`
	RoleARN     string `gorm:"size:300"`
	StackName   string `gorm:"size:128"`
	StackID     string `gorm:"size:300"`
	SetupURL    string `gorm:"size:4000"`
	Template    []byte // the CloudFormation template (JSON) the setup link points at
	// TemplateToken is the unguessable token of the setup template's or script's URL
	// (kept as it is: SetupURL, shown to the organization, holds it too). It lets
	// whoever holds it read that template or script, which carries no secret.
	TemplateToken string `gorm:"size:64;index"`
	// GCP connections (AccountID is the project ID, Template the setup script): the
	// project number, the workload identity pool provider's full resource name and
	// the service account the platform impersonates.
	GCPProjectNumber  string `gorm:"size:30"`
	GCPPoolProvider   string `gorm:"size:300"`
	GCPServiceAccount string `gorm:"size:200"`
	// Azure connections (AccountID is the subscription ID, Template the az CLI setup
	// script, TemplateToken the token of its URL): the Entra tenant, the resource
	// group when the role is assigned on one (empty: the subscription), the managed
	// identity the script creates and the client ID it reports, and the role.
	AzureTenantID      string `gorm:"size:36"`
	AzureResourceGroup string `gorm:"size:90"`
	AzureIdentityName  string `gorm:"size:128"`
	AzureClientID      string `gorm:"size:36"`
	AzureRole          string `gorm:"size:100"`
	CreatedBy          string `gorm:"size:36"`
	Deadline           *time.Time
	ConnectedAt        *time.Time
	EndedAt            *time.Time
	CreatedAt          time.Time
	UpdatedAt          time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// SelfHostedCredential is a self-hosted cluster's cloud credentials in the vault:
// Sealed is their JSON sealed by the caller (secrets.Box, bound to OrgID and ID) under
// the key named KeyID; CredentialKeys lists the names of the values, never the values.
type SelfHostedCredential struct {
	ID             string `gorm:"primaryKey;size:36"`
	OrgID          string `gorm:"size:36;not null;uniqueIndex:idx_self_hosted_credentials_cluster"`
	ClusterName    string `gorm:"size:50;not null;uniqueIndex:idx_self_hosted_credentials_cluster"`
	Provider       string `gorm:"size:10;not null"`
	AccountID      string `gorm:"size:100;not null"`
	BucketName     string `gorm:"size:255;not null"`
	Region         string `gorm:"size:50;not null"`
	CredentialKeys string `gorm:"size:1000"` // comma-separated
	Sealed         string `gorm:"type:text;not null"`
	KeyID          string `gorm:"size:40"`
	UpdatedBy      string `gorm:"size:36"`
	CreatedAt      time.Time
	UpdatedAt      time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// EnsureExternalID returns orgID's external ID, recording candidate as it when the
// organization has none yet: the first call wins, every later one (even a concurrent
// one) gets the first's.
func (s *Store) EnsureExternalID(ctx context.Context, orgID, candidate string) (string, error) {
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&CloudExternalID{OrgID: orgID, ExternalID: candidate}).Error
	if err != nil {
		return "", translate(err)
	}
	var x CloudExternalID
	if err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Take(&x).Error; err != nil {
		return "", translate(err)
	}
	return x.ExternalID, nil
}

// CreateCloudConnection records a new connection; ErrConflict when one is already
// running for its organization, provider and cluster.
func (s *Store) CreateCloudConnection(ctx context.Context, c *CloudConnection) error {
	return translate(s.db.WithContext(ctx).Create(c).Error)
}

// GetCloudConnection returns orgID's connection id.
func (s *Store) GetCloudConnection(ctx context.Context, orgID, id string) (CloudConnection, error) {
	var c CloudConnection
	err := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&c).Error
	return c, translate(err)
}

// CloudConnectionByTemplateToken returns the connection whose template or script URL
// carries token, of any organization: the token is the proof.
func (s *Store) CloudConnectionByTemplateToken(ctx context.Context, token string) (CloudConnection, error) {
	var c CloudConnection
	if token == "" {
		return c, ErrNotFound
	}
	err := s.db.WithContext(ctx).Where("template_token = ?", token).Take(&c).Error
	return c, translate(err)
}

// LatestCloudConnection returns orgID's newest connection of provider for cluster,
// only among those with one of statuses when any are given.
func (s *Store) LatestCloudConnection(ctx context.Context, orgID, provider, cluster string, statuses ...string) (CloudConnection, error) {
	var c CloudConnection
	q := s.db.WithContext(ctx).Where("org_id = ? AND provider = ? AND cluster_name = ?", orgID, provider, cluster)
	if len(statuses) > 0 {
		q = q.Where("status IN ?", statuses)
	}
	err := q.Order("created_at DESC").Take(&c).Error
	return c, translate(err)
}

// ConnectedAccount returns orgID's newest CONNECTED connection of provider to
// accountID (any cluster).
func (s *Store) ConnectedAccount(ctx context.Context, orgID, provider, accountID string) (CloudConnection, error) {
	var c CloudConnection
	err := s.db.WithContext(ctx).
		Where("org_id = ? AND provider = ? AND account_id = ? AND status = ?", orgID, provider, accountID, ConnectionConnected).
		Order("connected_at DESC").Take(&c).Error
	return c, translate(err)
}

// UpdateCloudConnection sets fields (column name → value) of orgID's connection id.
func (s *Store) UpdateCloudConnection(ctx context.Context, orgID, id string, fields map[string]any) error {
	res := s.db.WithContext(ctx).Model(&CloudConnection{}).Where("org_id = ? AND id = ?", orgID, id).Updates(fields)
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// CreateSelfHostedCredential stores new credentials; ErrConflict when the cluster
// already has some.
func (s *Store) CreateSelfHostedCredential(ctx context.Context, c *SelfHostedCredential) error {
	return translate(s.db.WithContext(ctx).Create(c).Error)
}

// ReplaceSelfHostedCredential overwrites the record c.ID of c.OrgID with c (its ID and
// creation time stay); ErrNotFound when it is gone.
func (s *Store) ReplaceSelfHostedCredential(ctx context.Context, c *SelfHostedCredential) error {
	res := s.db.WithContext(ctx).Model(&SelfHostedCredential{}).Where("org_id = ? AND id = ?", c.OrgID, c.ID).
		Updates(map[string]any{"provider": c.Provider, "account_id": c.AccountID, "bucket_name": c.BucketName,
			"region": c.Region, "credential_keys": c.CredentialKeys, "sealed": c.Sealed, "key_id": c.KeyID,
			"updated_by": c.UpdatedBy, "updated_at": gorm.Expr("CURRENT_TIMESTAMP")})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// GetSelfHostedCredential returns orgID's credentials of cluster.
func (s *Store) GetSelfHostedCredential(ctx context.Context, orgID, cluster string) (SelfHostedCredential, error) {
	var c SelfHostedCredential
	err := s.db.WithContext(ctx).Where("org_id = ? AND cluster_name = ?", orgID, cluster).Take(&c).Error
	return c, translate(err)
}

// GetSelfHostedCredentialByID returns orgID's credentials record id.
func (s *Store) GetSelfHostedCredentialByID(ctx context.Context, orgID, id string) (SelfHostedCredential, error) {
	var c SelfHostedCredential
	err := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&c).Error
	return c, translate(err)
}

// DeleteSelfHostedCredential removes orgID's credentials of cluster.
func (s *Store) DeleteSelfHostedCredential(ctx context.Context, orgID, cluster string) error {
	res := s.db.WithContext(ctx).Where("org_id = ? AND cluster_name = ?", orgID, cluster).Delete(&SelfHostedCredential{})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// ResealSelfHostedCredential replaces the sealed value of orgID's record id with
// sealed (under keyID) if it still holds old: a key rotation re-sealing what an older
// key sealed, never overwriting a value replaced meanwhile. It reports whether it did.
func (s *Store) ResealSelfHostedCredential(ctx context.Context, orgID, id, old, sealed, keyID string) (bool, error) {
	res := s.db.WithContext(ctx).Model(&SelfHostedCredential{}).Where("org_id = ? AND id = ? AND sealed = ?", orgID, id, old).
		Updates(map[string]any{"sealed": sealed, "key_id": keyID})
	return res.RowsAffected == 1, translate(res.Error)
}
