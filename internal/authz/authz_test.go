package authz

import (
	"errors"
	"testing"
	"time"
)

func TestAuthorize(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  Requirement
		role string
		err  error
	}{
		{"admin operation, admin", Requirement{APIKey: true, AdminOnly: true}, RoleAdmin, nil},
		{"admin operation, editor", Requirement{APIKey: true, AdminOnly: true}, "editor", ErrAdminOnly},
		{"admin operation, viewer", Requirement{APIKey: true, AdminOnly: true}, "viewer", ErrAdminOnly},
		{"admin operation, no role", Requirement{APIKey: true, AdminOnly: true}, "", ErrAdminOnly},
		{"admin operation, role spelled otherwise", Requirement{APIKey: true, AdminOnly: true}, "Admin", ErrAdminOnly},
		{"member operation, viewer", Requirement{APIKey: true}, "viewer", nil},
		{"member operation, admin", Requirement{APIKey: true}, RoleAdmin, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.req.Authorize(tc.role); !errors.Is(err, tc.err) {
				t.Fatalf("Authorize(%q) = %v, want %v", tc.role, err, tc.err)
			}
		})
	}
}

func TestRoleAdminIsAdmin(t *testing.T) {
	// Stored memberships say "admin"; a different spelling here would lock every
	// admin out of admin operations.
	if RoleAdmin != "admin" {
		t.Fatalf("RoleAdmin = %q", RoleAdmin)
	}
}

func TestKeyUsable(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tc := range []struct {
		name string
		key  Key
		err  error
	}{
		{"never expires", Key{Role: "viewer"}, nil},
		{"expires later", Key{ExpiresAt: at(time.Nanosecond), Role: "viewer"}, nil},
		{"expires now", Key{ExpiresAt: at(0), Role: "viewer"}, ErrExpired},
		{"expired", Key{ExpiresAt: at(-time.Hour), Role: "admin"}, ErrExpired},
		{"revoked", Key{RevokedAt: at(-time.Hour), Role: "admin"}, ErrRevoked},
		{"revoked in the future still revoked", Key{RevokedAt: at(time.Hour), Role: "admin"}, ErrRevoked},
		{"revoked beats expired", Key{RevokedAt: at(-time.Hour), ExpiresAt: at(-time.Hour), Role: "admin"}, ErrRevoked},
		{"revoked beats not a member", Key{RevokedAt: at(-time.Hour)}, ErrRevoked},
		{"expired beats not a member", Key{ExpiresAt: at(-time.Hour)}, ErrExpired},
		{"owner left the organization", Key{ExpiresAt: at(time.Hour)}, ErrNotMember},
		{"last use does not matter", Key{LastUsedAt: at(-24 * time.Hour), Role: "editor"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.key.Usable(now); !errors.Is(err, tc.err) {
				t.Fatalf("Usable = %v, want %v", err, tc.err)
			}
		})
	}
}

func TestKeyErrorsAreWhatClientsRead(t *testing.T) {
	// The server answers these messages in its 401s.
	for err, want := range map[error]string{
		ErrRevoked:   "API key revoked",
		ErrExpired:   "API key expired",
		ErrNotMember: "API key owner is no longer a member of its organization",
	} {
		if err.Error() != want {
			t.Errorf("%q, want %q", err.Error(), want)
		}
	}
}

func TestKeyRecordUseDue(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	for _, tc := range []struct {
		name string
		last *time.Time
		due  bool
	}{
		{"never used", nil, true},
		{"used just now", at(0), false},
		{"used half a minute ago", at(-30 * time.Second), false},
		{"used exactly a minute ago", at(-UseRecordInterval), false},
		{"used just over a minute ago", at(-UseRecordInterval - time.Nanosecond), true},
		{"used yesterday", at(-24 * time.Hour), true},
		{"clock went back", at(time.Minute), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if due := (Key{LastUsedAt: tc.last, Role: "viewer"}).RecordUseDue(now); due != tc.due {
				t.Fatalf("RecordUseDue = %v, want %v", due, tc.due)
			}
		})
	}
	if UseRecordInterval != time.Minute {
		t.Fatalf("UseRecordInterval = %v; the README and the store's write load assume a minute", UseRecordInterval)
	}
}

func TestRankAndLevels(t *testing.T) {
	for role, want := range map[string]int{RoleViewer: 1, RoleEditor: 2, RoleAdmin: 3, "": 0, "Admin": 0, "owner": 0, LevelPublic: 0, LevelAuthenticated: 0} {
		if got := Rank(role); got != want {
			t.Errorf("Rank(%q) = %d, want %d", role, got, want)
		}
	}
	for level, want := range map[string]bool{LevelPublic: true, LevelAuthenticated: true, RoleViewer: true, RoleEditor: true, RoleAdmin: true, "": false, "member": false, "Viewer": false} {
		if got := ValidLevel(level); got != want {
			t.Errorf("ValidLevel(%q) = %v, want %v", level, got, want)
		}
	}
}

func TestPermit(t *testing.T) {
	anon := Caller{}
	noOrg := Caller{Authenticated: true}
	as := func(role string) Caller { return Caller{Authenticated: true, OrgID: "o1", Role: role} }
	for _, tc := range []struct {
		level  string
		caller Caller
		err    error
	}{
		{LevelPublic, anon, nil},
		{LevelPublic, as(RoleViewer), nil},
		{LevelAuthenticated, anon, ErrUnauthenticated},
		{LevelAuthenticated, noOrg, nil},
		{LevelAuthenticated, as(RoleViewer), nil},
		{RoleViewer, anon, ErrUnauthenticated},
		{RoleViewer, noOrg, ErrNoOrganization},
		{RoleViewer, Caller{Authenticated: true, Role: RoleAdmin}, ErrNoOrganization},
		{RoleViewer, as(RoleViewer), nil},
		{RoleViewer, as(RoleEditor), nil},
		{RoleViewer, as(RoleAdmin), nil},
		{RoleViewer, as(""), ErrRoleTooLow},
		{RoleViewer, as("Viewer"), ErrRoleTooLow},
		{RoleEditor, as(RoleViewer), ErrRoleTooLow},
		{RoleEditor, as(RoleEditor), nil},
		{RoleEditor, as(RoleAdmin), nil},
		{RoleAdmin, as(RoleViewer), ErrRoleTooLow},
		{RoleAdmin, as(RoleEditor), ErrRoleTooLow},
		{RoleAdmin, as(RoleAdmin), nil},
		{"", as(RoleAdmin), ErrUnknownLevel},
		{"owner", as(RoleAdmin), ErrUnknownLevel},
		{"owner", anon, ErrUnknownLevel},
	} {
		t.Run(tc.level+"/"+tc.caller.Role, func(t *testing.T) {
			if err := Permit(tc.level, tc.caller); !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("Permit(%q, %+v) = %v, want %v", tc.level, tc.caller, err, tc.err)
			}
		})
	}
}
