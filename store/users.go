package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Identity is who a verified OIDC token says its bearer is.
type Identity struct {
	Issuer, Subject string
	Email, Name     string
	EmailVerified   bool
}

// Errors of SignIn.
var (
	// ErrNoEmail means a first sign-in's token carries no email (every user has one).
	ErrNoEmail = errors.New("the token carries no email address")
	// ErrEmailTaken means the email belongs to a user who signs in with another
	// identity, or the token does not say the email is verified.
	ErrEmailTaken = errors.New("email address belongs to another user")
)

// SignIn returns the user whose identity is id, and first when this is their first
// sign-in. A first sign-in creates the user from the token's claims, or claims the
// user of the same email who never signed in (an invited member, the bootstrap
// admin) when the token says the email is verified: an identity never takes over a
// user who signs in with another one. Later sign-ins keep email and name up to date
// (an email another user holds is left as it was). Safe to call concurrently: a
// first sign-in racing another one returns the user the other created.
func (s *Store) SignIn(ctx context.Context, id Identity) (u User, first bool, err error) {
	if id.Issuer == "" || id.Subject == "" {
		return User{}, false, errors.New("store: SignIn without issuer or subject")
	}
	for attempt := 0; ; attempt++ {
		u, first, err = s.signIn(ctx, id)
		if !errors.Is(err, ErrConflict) || attempt > 0 {
			return u, first, err
		}
	}
}

// UserByIdentity returns the user who signs in as subject at issuer.
func (s *Store) UserByIdentity(ctx context.Context, issuer, subject string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("issuer = ? AND subject = ?", issuer, subject).Take(&u).Error
	return u, translate(err)
}

func (s *Store) signIn(ctx context.Context, id Identity) (u User, first bool, err error) {
	db := s.db.WithContext(ctx)
	err = db.Where("issuer = ? AND subject = ?", id.Issuer, id.Subject).Take(&u).Error
	if err == nil {
		s.refreshProfile(ctx, &u, id)
		return u, false, nil
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return User{}, false, translate(err)
	}
	if id.Email == "" {
		return User{}, false, ErrNoEmail
	}
	err = db.Where("email = ?", id.Email).Take(&u).Error
	switch {
	case err == nil && u.Subject == nil && id.EmailVerified:
		res := db.Model(&User{}).Where("id = ? AND subject IS NULL", u.ID).
			Updates(map[string]any{"issuer": id.Issuer, "subject": id.Subject, "name": nameOr(id.Name, u.Name)})
		if err := translate(res.Error); err != nil {
			return User{}, false, err
		}
		if res.RowsAffected == 0 { // claimed by a concurrent sign-in
			return User{}, false, ErrConflict
		}
		u.Issuer, u.Subject, u.Name = &id.Issuer, &id.Subject, nameOr(id.Name, u.Name)
		return u, true, nil
	case err == nil:
		return User{}, false, ErrEmailTaken
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return User{}, false, translate(err)
	}
	u = User{ID: NewID(), Email: id.Email, Name: id.Name, Issuer: &id.Issuer, Subject: &id.Subject}
	if err := s.CreateUser(ctx, &u); err != nil {
		return User{}, false, err
	}
	return u, true, nil
}

func nameOr(name, otherwise string) string {
	if name == "" {
		return otherwise
	}
	return name
}

// refreshProfile brings u's email and name up to what the token says, best effort.
func (s *Store) refreshProfile(ctx context.Context, u *User, id Identity) {
	changes := map[string]any{}
	if id.Email != "" && id.Email != u.Email {
		var n int64
		if s.db.WithContext(ctx).Model(&User{}).Where("email = ? AND id <> ?", id.Email, u.ID).Count(&n).Error == nil && n == 0 {
			changes["email"] = id.Email
		}
	}
	if id.Name != "" && id.Name != u.Name {
		changes["name"] = id.Name
	}
	if len(changes) == 0 {
		return
	}
	if s.db.WithContext(ctx).Model(&User{}).Where("id = ?", u.ID).Updates(changes).Error == nil {
		if e, ok := changes["email"].(string); ok {
			u.Email = e
		}
		if n, ok := changes["name"].(string); ok {
			u.Name = n
		}
	}
}

// UserMembership is one organization a user belongs to, with their role there.
type UserMembership struct {
	OrgID   string
	OrgName string
	Role    string
}

// ListUserMemberships returns userID's memberships, by organization name.
func (s *Store) ListUserMemberships(ctx context.Context, userID string) ([]UserMembership, error) {
	var out []UserMembership
	err := s.db.WithContext(ctx).Table("memberships").
		Select("memberships.org_id AS org_id, organizations.name AS org_name, memberships.role AS role").
		Joins("JOIN organizations ON organizations.id = memberships.org_id").
		Where("memberships.user_id = ?", userID).Order("organizations.name").Scan(&out).Error
	return out, translate(err)
}

// SetActiveOrg makes orgID the organization userID's requests default to; a user
// who is not a member of orgID is ErrNotFound.
func (s *Store) SetActiveOrg(ctx context.Context, userID, orgID string) error {
	if _, err := s.GetMembership(ctx, orgID, userID); err != nil {
		return err
	}
	res := s.db.WithContext(ctx).Model(&User{}).Where("id = ?", userID).Update("active_org_id", orgID)
	if err := translate(res.Error); err != nil {
		return err
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("user %s: %w", userID, ErrNotFound)
	}
	return nil
}

// dropRetiredIndexes removes indexes an earlier schema had and this one replaced
// (AutoMigrate adds indexes, never drops them): users' subject alone was unique
// before the identity became issuer and subject.
func dropRetiredIndexes(tx *gorm.DB) error {
	m := tx.Migrator()
	if m.HasIndex(&User{}, "idx_users_subject") {
		return m.DropIndex(&User{}, "idx_users_subject")
	}
	return nil
}

// GetUserByEmail returns the user whose email is email.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (User, error) {
	var u User
	err := s.db.WithContext(ctx).Where("email = ?", email).Take(&u).Error
	return u, translate(err)
}
