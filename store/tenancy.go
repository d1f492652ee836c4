package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// NewID returns a new random identifier for a record.
func NewID() string { return uuid.NewString() }

// InTx runs fn with a Store bound to one transaction; fn's error rolls it back.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.writers != nil {
		s.writers.Lock()
		defer s.writers.Unlock()
	}
	changed := s.keysChangedInTx // a nested InTx reports to the outermost one
	if changed == nil {
		changed = new(bool)
		defer func() {
			if *changed && s.keys != nil {
				s.keys.changed() // after the commit (or the rollback): lookups see it now
			}
		}()
	}
	return translate(s.db.WithContext(ctx).Transaction(func(db *gorm.DB) error {
		// writers nil: a nested InTx joins this one
		return fn(&Store{db: db, driver: s.driver, inTx: true, keys: s.keys, keysChangedInTx: changed})
	}))
}

// CreateOrganization inserts org; a taken name is ErrConflict.
func (s *Store) CreateOrganization(ctx context.Context, org *Organization) error {
	return translate(s.db.WithContext(ctx).Create(org).Error)
}

// GetOrganization returns the organization with id.
func (s *Store) GetOrganization(ctx context.Context, id string) (Organization, error) {
	var org Organization
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&org).Error
	return org, translate(err)
}

// GetOrganizationByName returns the organization named name.
func (s *Store) GetOrganizationByName(ctx context.Context, name string) (Organization, error) {
	var org Organization
	err := s.db.WithContext(ctx).Where("name = ?", name).Take(&org).Error
	return org, translate(err)
}

// CountOrganizations returns how many organizations exist.
func (s *Store) CountOrganizations(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Organization{}).Count(&n).Error
	return n, translate(err)
}

// Page selects a slice of a list: Number counts from 1.
type Page struct {
	Number int
	Size   int
}

func (p Page) apply(db *gorm.DB) *gorm.DB {
	size := p.Size
	if size <= 0 {
		size = 50
	}
	n := p.Number
	if n <= 0 {
		n = 1
	}
	return db.Limit(size).Offset((n - 1) * size)
}

// ListOrganizationsForUser returns the organizations userID is a member of, by name,
// and how many there are in all.
func (s *Store) ListOrganizationsForUser(ctx context.Context, userID string, page Page) ([]Organization, int64, error) {
	q := s.db.WithContext(ctx).Model(&Organization{}).
		Joins("JOIN memberships ON memberships.org_id = organizations.id").
		Where("memberships.user_id = ?", userID)
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	var orgs []Organization
	err := page.apply(q.Order("organizations.name")).Find(&orgs).Error
	return orgs, total, translate(err)
}

// CreateUser inserts u; a taken email or subject is ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	return translate(s.db.WithContext(ctx).Create(u).Error)
}

// GetUser returns the user with id.
func (s *Store) GetUser(ctx context.Context, id string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error
	return u, translate(err)
}

// AddMember gives userID role in orgID; an existing membership is ErrConflict.
func (s *Store) AddMember(ctx context.Context, orgID, userID, role string) error {
	err := translate(s.db.WithContext(ctx).Create(&Membership{OrgID: orgID, UserID: userID, Role: role}).Error)
	s.keysChanged() // the user's keys in orgID had no role
	return err
}

// GetMembership returns userID's membership in orgID.
func (s *Store) GetMembership(ctx context.Context, orgID, userID string) (Membership, error) {
	var m Membership
	err := s.db.WithContext(ctx).Where("org_id = ? AND user_id = ?", orgID, userID).Take(&m).Error
	return m, translate(err)
}

// Member is a user with their role in one organization.
type Member struct {
	User
	Role     string
	JoinedAt time.Time
}

// ListMembers returns orgID's members by email, and how many there are in all.
func (s *Store) ListMembers(ctx context.Context, orgID string, page Page) ([]Member, int64, error) {
	q := s.db.WithContext(ctx).Table("users").
		Joins("JOIN memberships ON memberships.user_id = users.id").
		Where("memberships.org_id = ?", orgID)
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, translate(err)
	}
	var members []Member
	err := page.apply(q.Order("users.email")).
		Select("users.*, memberships.role AS role, memberships.created_at AS joined_at").
		Scan(&members).Error
	return members, total, translate(err)
}

// Bootstrap is what a fresh install creates: the first organization, its admin, and
// the admin's first API key.
type Bootstrap struct {
	Org  Organization
	User User
	Key  APIKey
}

// ErrAlreadyBootstrapped means the install already has an organization.
var ErrAlreadyBootstrapped = errors.New("already bootstrapped")

// BootstrapInstall creates b in one transaction when no organization exists yet, and
// returns ErrAlreadyBootstrapped otherwise. Two processes racing here are safe: the
// loser's insert hits the unique organization name and it reports ErrAlreadyBootstrapped.
func (s *Store) BootstrapInstall(ctx context.Context, b *Bootstrap) error {
	err := s.InTx(ctx, func(tx *Store) error {
		n, err := tx.CountOrganizations(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrAlreadyBootstrapped
		}
		if err := tx.CreateOrganization(ctx, &b.Org); err != nil {
			return err
		}
		if err := tx.CreateUser(ctx, &b.User); err != nil {
			return err
		}
		if err := tx.AddMember(ctx, b.Org.ID, b.User.ID, RoleAdmin); err != nil {
			return err
		}
		b.Key.OrgID, b.Key.UserID = b.Org.ID, b.User.ID
		return tx.CreateAPIKey(ctx, &b.Key)
	})
	if errors.Is(err, ErrConflict) {
		return ErrAlreadyBootstrapped
	}
	return err
}
