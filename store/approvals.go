package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm/clause"
)

// Approval request statuses.
const (
	ApprovalPending   = "PENDING"
	ApprovalApproved  = "APPROVED"
	ApprovalRejected  = "REJECTED"
	ApprovalExpired   = "EXPIRED"
	ApprovalCancelled = "CANCELLED"
)

// ApprovalPolicy says which of an organization's cluster operations wait for approval,
// who may approve, and how long a request lives.
type ApprovalPolicy struct {
	OrgID         string `gorm:"primaryKey;size:36"`
	Operations    string `gorm:"size:100;not null"` // comma-separated: deploy,update,delete
	ApproverRoles string `gorm:"size:100;not null"` // comma-separated roles
	ExpiresIn     time.Duration
	// ExpiresText is ExpiresIn as the policy was given ("72h", "3d"), to echo it back;
	// empty for a policy stored before it was kept.
	ExpiresText string `gorm:"size:32"`
	// AllowSelfApproval lets the member who asked for an operation approve it; by
	// default (false) another approver must decide (separation of duties).
	AllowSelfApproval bool   `gorm:"not null;default:false"`
	UpdatedBy         string `gorm:"size:36"`
	CreatedAt         time.Time
	UpdatedAt         time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// ApprovalRequest is an operation waiting for (or past) its approval decision. Its ID
// is the operation's ID: one request per operation.
type ApprovalRequest struct {
	ID            string `gorm:"primaryKey;size:100"`
	OrgID         string `gorm:"size:36;not null;index"`
	ClusterID     string `gorm:"size:36;not null"`
	ClusterName   string `gorm:"size:50;not null"`
	OperationType string `gorm:"size:20;not null"`
	Status        string `gorm:"size:20;not null"`
	RequestedBy   string `gorm:"size:36"`
	Approvers     string `gorm:"size:2000"` // comma-separated emails the links went to
	ExpiresAt     time.Time
	DecidedBy     string `gorm:"size:300"`
	DecidedAt     *time.Time
	CreatedAt     time.Time

	Org Organization `gorm:"foreignKey:OrgID;constraint:OnDelete:CASCADE"`
}

// UsedToken records a single-use token's nonce once it has been used.
type UsedToken struct {
	Nonce   string `gorm:"primaryKey;size:64"`
	OrgID   string `gorm:"size:36;not null"`
	Purpose string `gorm:"size:20;not null"`
	UsedAt  time.Time
}

// GetApprovalPolicy returns orgID's policy; ErrNotFound means none (nothing waits).
// Every operation's start reads it, so it answers from the cache while an answer
// is fresh (CacheKeyLookups).
func (s *Store) GetApprovalPolicy(ctx context.Context, orgID string) (ApprovalPolicy, error) {
	cache := s.keys != nil && !s.inTx
	var gen uint64
	start := time.Now()
	if cache {
		a, ok, g := s.keys.policy(orgID)
		if ok {
			if !a.found {
				return ApprovalPolicy{}, ErrNotFound
			}
			return a.policy, nil
		}
		gen = g
	}
	var p ApprovalPolicy
	err := translate(s.db.WithContext(ctx).Where("org_id = ?", orgID).Take(&p).Error)
	if cache && (err == nil || errors.Is(err, ErrNotFound)) {
		s.keys.putPolicy(orgID, policyAnswer{policy: p, found: err == nil}, gen, start)
	}
	return p, err
}

// PutApprovalPolicy creates or replaces the organization's policy.
func (s *Store) PutApprovalPolicy(ctx context.Context, p *ApprovalPolicy) error {
	err := translate(s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "org_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"operations", "approver_roles", "expires_in", "expires_text", "allow_self_approval", "updated_by", "updated_at"}),
	}).Create(p).Error)
	s.keysChanged() // even on error: the write may have happened
	return err
}

// CreateApprovalRequest records a request; a request for the same operation already
// recorded (a retried activity) is kept as it is.
func (s *Store) CreateApprovalRequest(ctx context.Context, r *ApprovalRequest) error {
	return translate(s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(r).Error)
}

// GetApprovalRequest returns orgID's request for operation id.
func (s *Store) GetApprovalRequest(ctx context.Context, orgID, id string) (ApprovalRequest, error) {
	var r ApprovalRequest
	err := s.db.WithContext(ctx).Where("org_id = ? AND id = ?", orgID, id).Take(&r).Error
	return r, translate(err)
}

// DecideApprovalRequest records the decision on a pending request; deciding one that
// is no longer pending keeps the first decision.
func (s *Store) DecideApprovalRequest(ctx context.Context, orgID, id, status, decidedBy string, at time.Time) error {
	res := s.db.WithContext(ctx).Model(&ApprovalRequest{}).
		Where("org_id = ? AND id = ? AND status = ?", orgID, id, ApprovalPending).
		Updates(map[string]any{"status": status, "decided_by": decidedBy, "decided_at": at})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		_, err := s.GetApprovalRequest(ctx, orgID, id)
		return err
	}
	return nil
}

// ErrTokenUsed means a single-use token was used before.
var ErrTokenUsed = errors.New("token already used")

// UseToken marks a token's nonce used, atomically: the second use of a nonce is
// ErrTokenUsed, however close together the two arrive.
func (s *Store) UseToken(ctx context.Context, orgID, nonce, purpose string, at time.Time) error {
	err := translate(s.db.WithContext(ctx).Create(&UsedToken{Nonce: nonce, OrgID: orgID, Purpose: purpose, UsedAt: at}).Error)
	if errors.Is(err, ErrConflict) {
		return ErrTokenUsed
	}
	return err
}

// MembersWithRoles returns orgID's members whose role is one of roles.
func (s *Store) MembersWithRoles(ctx context.Context, orgID string, roles []string) ([]Member, error) {
	var members []Member
	err := s.db.WithContext(ctx).Table("users").
		Joins("JOIN memberships ON memberships.user_id = users.id").
		Where("memberships.org_id = ? AND memberships.role IN ?", orgID, roles).
		Order("users.email").
		Select("users.*, memberships.role AS role, memberships.created_at AS joined_at").
		Scan(&members).Error
	return members, translate(err)
}

// TokenUsed reports whether a token's nonce was used.
func (s *Store) TokenUsed(ctx context.Context, nonce string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&UsedToken{}).Where("nonce = ?", nonce).Count(&n).Error
	return n > 0, translate(err)
}
