// Package authz holds the decisions of authentication and authorization, apart from
// HTTP and the store so that they can be tested (and mutation-tested) on their own:
// what an operation's security requirement asks of a request, whether a presented
// key may still be used, and whether its owner's role may call the operation.
// The server looks keys up, verifies bearer tokens, and maps the errors below to
// 401 and 403.
package authz

import (
	"errors"
	"time"
)

// RoleAdmin is the organization role admin-only operations need; it is the store's
// RoleAdmin (a server test keeps the two equal).
const RoleAdmin = "admin"

// UseRecordInterval is how often, at most, a key's last use is recorded: a write per
// request would queue every request behind the database's writer.
const UseRecordInterval = time.Minute

// Errors of the decisions. Check them with errors.Is.
var (
	// ErrRevoked means the key was revoked (401).
	ErrRevoked = errors.New("API key revoked")
	// ErrExpired means the key is past its expiry (401).
	ErrExpired = errors.New("API key expired")
	// ErrNotMember means the key's owner has left the key's organization (401).
	ErrNotMember = errors.New("API key owner is no longer a member of its organization")
	// ErrAdminOnly means the operation needs an organization admin (403).
	ErrAdminOnly = errors.New("operation needs an organization admin")
)

// Requirement is an operation's security requirement, as openapi.yaml states it.
type Requirement struct {
	// Public operations take no credentials at all.
	Public bool
	// Optional means anonymous callers pass too (an empty requirement is listed).
	Optional bool
	// APIKey means an API key satisfies the requirement.
	APIKey bool
	// AdminOnly means only an organization admin's API key does.
	AdminOnly bool
	// Bearer means a user's OIDC bearer token satisfies the requirement.
	Bearer bool
}

// Authorize reports ErrAdminOnly when the operation needs an admin and role is not
// RoleAdmin.
func (r Requirement) Authorize(role string) error {
	if r.AdminOnly && role != RoleAdmin {
		return ErrAdminOnly
	}
	return nil
}

// Key is what the store knows of a presented API key and its owner.
type Key struct {
	RevokedAt  *time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	// Role is the owner's role in the key's organization, "" when the owner is no
	// longer a member.
	Role string
}

// Usable reports why the key may not be used at now: ErrRevoked, ErrExpired (a key
// expires at its ExpiresAt, not after) or ErrNotMember, in that order; nil when it
// may.
func (k Key) Usable(now time.Time) error {
	if k.RevokedAt != nil {
		return ErrRevoked
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return ErrExpired
	}
	if k.Role == "" {
		return ErrNotMember
	}
	return nil
}

// RecordUseDue reports whether a use at now should be recorded: the key was never
// used, or last more than UseRecordInterval ago.
func (k Key) RecordUseDue(now time.Time) bool {
	return k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > UseRecordInterval
}

// Levels an operation declares as the least its caller needs (x-astro-role in
// openapi.yaml), besides the member roles viewer, editor and RoleAdmin.
const (
	// LevelPublic operations take no credentials; their handlers decide on their own
	// proof (a signed link, a signed Slack request).
	LevelPublic = "public"
	// LevelAuthenticated operations take any authenticated caller, even one without
	// an organization yet (who may create one).
	LevelAuthenticated = "authenticated"
	// RoleViewer reads; RoleEditor also deploys, updates and cancels.
	RoleViewer = "viewer"
	RoleEditor = "editor"
)

var (
	// ErrUnauthenticated means an operation that needs a caller got none (401).
	ErrUnauthenticated = errors.New("authentication required")
	// ErrNoOrganization means the caller acts for no organization, and the operation
	// works within one (403).
	ErrNoOrganization = errors.New("operation needs an organization")
	// ErrRoleTooLow means the caller's role is below the operation's (403).
	ErrRoleTooLow = errors.New("role does not allow this operation")
	// ErrUnknownLevel means an operation declares no level this package knows.
	ErrUnknownLevel = errors.New("unknown role level")
)

// Rank orders member roles: 1 viewer, 2 editor, 3 admin; 0 for anything else (no
// role, a role spelled otherwise).
func Rank(role string) int {
	if role == RoleViewer {
		return 1
	}
	if role == RoleEditor {
		return 2
	}
	if role == RoleAdmin {
		return 3
	}
	return 0
}

// ValidLevel reports whether level is one an operation may declare.
func ValidLevel(level string) bool {
	return level == LevelPublic || level == LevelAuthenticated || Rank(level) > 0
}

// Caller is who a request acts as, as far as authorization cares.
type Caller struct {
	// Authenticated is false for an anonymous request.
	Authenticated bool
	// OrgID is the organization the caller acts for, "" when none.
	OrgID string
	// Role is the caller's role in OrgID.
	Role string
}

// Permit decides whether caller may call an operation that declares level: public
// ones anyone; authenticated ones any authenticated caller (ErrUnauthenticated);
// member roles a caller acting for an organization (ErrNoOrganization) with a role
// at least level (ErrRoleTooLow). An unknown level refuses everyone (ErrUnknownLevel).
func Permit(level string, caller Caller) error {
	if level == LevelPublic {
		return nil
	}
	if !ValidLevel(level) {
		return ErrUnknownLevel
	}
	if !caller.Authenticated {
		return ErrUnauthenticated
	}
	if level == LevelAuthenticated {
		return nil
	}
	if caller.OrgID == "" {
		return ErrNoOrganization
	}
	if Rank(caller.Role) < Rank(level) {
		return ErrRoleTooLow
	}
	return nil
}
