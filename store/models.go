package store

import "time"

// Roles of a member in an organization, from least to most privileged.
const (
	RoleViewer = "viewer"
	RoleEditor = "editor"
	RoleAdmin  = "admin"
)

// Cluster statuses. A DELETED cluster is kept for history; its name is free again.
const (
	ClusterPending            = "PENDING"
	ClusterProvisioning       = "PROVISIONING"
	ClusterReady              = "READY"
	ClusterUpdating           = "UPDATING"
	ClusterDeleting           = "DELETING"
	ClusterDeleted            = "DELETED"
	ClusterFailed             = "FAILED"
	ClusterCancelled          = "CANCELLED"
	ClusterWaitingForApproval = "WAITING_FOR_APPROVAL"
	ClusterRejected           = "REJECTED"
	ClusterExpired            = "EXPIRED"
)

// Operation statuses.
const (
	OperationRunning   = "RUNNING"
	OperationSucceeded = "SUCCEEDED"
	OperationFailed    = "FAILED"
	OperationCancelled = "CANCELLED"
	OperationRejected  = "REJECTED"
	OperationExpired   = "EXPIRED"
)

// Organization is a tenant; every other record belongs to one.
type Organization struct {
	ID        string `gorm:"primaryKey;size:36"`
	Name      string `gorm:"size:50;not null;uniqueIndex"`
	Title     string `gorm:"size:200"`
	Plan      string `gorm:"size:50;not null;default:free"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// User is a person (or an automation identity) that holds memberships and API keys.
type User struct {
	ID          string  `gorm:"primaryKey;size:36"`
	Email       string  `gorm:"size:320;not null;uniqueIndex"`
	Name        string  `gorm:"size:200"`
	Issuer      *string `gorm:"size:300;uniqueIndex:idx_users_identity,priority:1"` // OIDC issuer (iss) of the user's sign-ins
	Subject     *string `gorm:"size:200;uniqueIndex:idx_users_identity,priority:2"` // OIDC subject (sub) there; nil until the first sign-in
	ActiveOrgID string  `gorm:"size:36"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Membership gives a user a role in an organization.
type Membership struct {
	OrgID     string `gorm:"primaryKey;size:36"`
	UserID    string `gorm:"primaryKey;size:36;index"`
	Role      string `gorm:"size:20;not null"`
	CreatedAt time.Time

	Org  Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
	User User         `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

// APIKey authenticates requests for one organization on behalf of one user. Only the
// SHA-256 hash of the key is stored; the key itself is shown once, at creation.
type APIKey struct {
	ID           string `gorm:"primaryKey;size:36"` // public key ID; not derivable from the key
	OrgID        string `gorm:"size:36;not null;index"`
	UserID       string `gorm:"size:36;not null;index"`
	Name         string `gorm:"size:200"`
	Source       string `gorm:"size:10;not null"`     // cli, ui or bootstrap
	Hash         []byte `gorm:"not null;uniqueIndex"` // SHA-256 of the key
	Prefix       string `gorm:"size:20"`              // the key's first characters (apikey.Display), to recognise it
	ExpiresAt    *time.Time
	RevokedAt    *time.Time
	RevokeReason string `gorm:"size:500"`
	LastUsedAt   *time.Time
	CreatedAt    time.Time

	Org  Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
	User User         `gorm:"foreignKey:UserID;constraint:OnDelete:CASCADE"`
}

// Cluster is a Kubernetes cluster the platform manages. Spec holds the manifest's spec
// as JSON with every secret removed.
type Cluster struct {
	ID                string `gorm:"primaryKey;size:36"`
	OrgID             string `gorm:"size:36;not null;index;uniqueIndex:idx_clusters_live_name,where:status <> 'DELETED'"`
	Name              string `gorm:"size:50;not null;uniqueIndex:idx_clusters_live_name,where:status <> 'DELETED'"`
	Provider          string `gorm:"size:20;not null"`
	ProvisionerType   string `gorm:"size:20;not null"`
	Region            string `gorm:"size:50"`
	AccountID         string `gorm:"size:100"`
	KubernetesVersion string `gorm:"size:50"`
	Status            string `gorm:"size:30;not null;index"`
	StatusMessage     string `gorm:"size:1000"`
	Spec              []byte // the manifest's spec as created, secrets removed
	State             []byte // the cluster as the workflows last left it (activities.ClusterSpec)
	ExternalID        string `gorm:"size:300"`
	NetworkID         string `gorm:"size:300"`
	Endpoint          string `gorm:"size:500"`
	LastOperationID   string `gorm:"size:100"`
	CreatedAt         time.Time
	UpdatedAt         time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// Operation is one long-running change of a cluster, carried out by a workflow whose ID
// is WorkflowID. IdempotencyKey, when set, is unique in the organization. At most one
// operation per cluster is running (EndedAt NULL): a unique index enforces it, so two
// concurrent requests can never both start one.
type Operation struct {
	ID             string `gorm:"primaryKey;size:100"`
	OrgID          string `gorm:"size:36;not null;index;uniqueIndex:idx_operations_idem,where:idempotency_key <> '';uniqueIndex:idx_operations_running,where:ended_at IS NULL"`
	ClusterID      string `gorm:"size:36;not null;index;uniqueIndex:idx_operations_running,where:ended_at IS NULL"`
	ClusterName    string `gorm:"size:50;not null"`
	Type           string `gorm:"size:20;not null"`
	Status         string `gorm:"size:20;not null"`
	WorkflowID     string `gorm:"size:300;not null"`
	IdempotencyKey string `gorm:"size:200;not null;default:'';uniqueIndex:idx_operations_idem,where:idempotency_key <> ''"`
	RequestHash    string `gorm:"size:64"`
	CreatedBy      string `gorm:"size:36"`
	Message        string `gorm:"size:1000"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
	EndedAt        *time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// AuditEvent records who did what, when, and with which outcome.
type AuditEvent struct {
	ID         string `gorm:"primaryKey;size:36"`
	OrgID      string `gorm:"size:36;not null;index:idx_audit_org_time,priority:1"`
	UserID     string `gorm:"size:36;index"`
	APIKeyID   string `gorm:"size:36"`
	EventType  string `gorm:"size:30;not null"` // API_KEY, CLUSTER, APPLICATION, ORGANIZATION, …
	Action     string `gorm:"size:30;not null"` // CREATE, UPDATE, DELETE, REVOKE, APPROVE, …
	ResourceID string `gorm:"size:300"`
	Outcome    string `gorm:"size:20;not null"` // SUCCESS, FAILURE, DENIED
	Details    []byte
	TraceID    string    `gorm:"size:64"`
	IPAddress  string    `gorm:"size:64"`  // client address, as the trusted proxies report it
	UserAgent  string    `gorm:"size:300"` // client user agent, truncated
	Source     string    `gorm:"size:10"`  // api, cli, ui or system
	CreatedAt  time.Time `gorm:"index:idx_audit_org_time,priority:2"`

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

func allModels() []any {
	return []any{&Organization{}, &User{}, &Membership{}, &APIKey{}, &Cluster{}, &Operation{}, &AuditEvent{},
		&ApprovalPolicy{}, &ApprovalRequest{}, &UsedToken{}, &NotificationIntegration{}, &NotificationSubscription{},
		&APIKeyAddress{}, &NotificationOptOut{}, &ProgressReport{},
		&CloudExternalID{}, &CloudConnection{}, &SelfHostedCredential{}, &KubeconfigGrant{}, &AppProfile{}, &Application{},
		&ClusterAgent{}, &PublishedDocument{}, &GithubInstallation{}}
}
