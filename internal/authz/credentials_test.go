package authz

import (
	"errors"
	"testing"
)

func TestChoose(t *testing.T) {
	keyOnly := Requirement{APIKey: true}
	bearerOnly := Requirement{Bearer: true}
	either := Requirement{APIKey: true, Bearer: true}
	optional := Requirement{APIKey: true, Bearer: true, Optional: true}
	cases := []struct {
		name              string
		req               Requirement
		hasKey, hasBearer bool
		want              Credential
		err               error
	}{
		{"public ignores everything", Requirement{Public: true}, true, true, Anonymous, nil},
		{"both: both checked where both are taken", either, true, true, ByBoth, nil},
		{"both: both checked where optional", optional, true, true, ByBoth, nil},
		{"both: the bearer refused where only keys", keyOnly, true, true, Anonymous, ErrBearerRefused},
		{"both: the key refused where only bearer", bearerOnly, true, true, Anonymous, ErrKeyRefused},
		{"both: the bearer refused where keys or nothing", Requirement{APIKey: true, Optional: true}, true, true, Anonymous, ErrBearerRefused},
		{"bearer refused where keys or nothing", Requirement{APIKey: true, Optional: true}, false, true, Anonymous, ErrBearerRefused},
		{"key where keys are taken", keyOnly, true, false, ByAPIKey, nil},
		{"key where only bearer is checked", bearerOnly, true, false, ByAPIKey, nil},
		{"bearer where bearer is taken", bearerOnly, false, true, ByBearer, nil},
		{"bearer where either", either, false, true, ByBearer, nil},
		{"key where either", either, true, false, ByAPIKey, nil},
		{"bearer where only keys", keyOnly, false, true, Anonymous, ErrBearerRefused},
		{"nothing where optional", optional, false, false, Anonymous, nil},
		{"optional still checks a key", optional, true, false, ByAPIKey, nil},
		{"optional still checks a bearer", optional, false, true, ByBearer, nil},
		{"nothing where needed", either, false, false, Anonymous, ErrNoCredentials},
		{"nothing where bearer needed", bearerOnly, false, false, Anonymous, ErrNoCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.req.Choose(tc.hasKey, tc.hasBearer)
			if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("Choose(%v, %v) = %v, %v; want %v, %v", tc.hasKey, tc.hasBearer, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestUserOrg(t *testing.T) {
	a := Membership{OrgID: "id-a", OrgName: "alpha", Role: RoleAdmin}
	b := Membership{OrgID: "id-b", OrgName: "beta", Role: RoleViewer}
	both := []Membership{a, b}
	cases := []struct {
		name          string
		ms            []Membership
		active, named string
		want          Membership
		found         bool
		err           error
	}{
		{"named by ID", both, "id-a", "id-b", b, true, nil},
		{"named by name", both, "id-b", "alpha", a, true, nil},
		{"named, not a member", both, "id-a", "gamma", Membership{}, false, ErrNotMemberOf},
		{"named, no memberships", nil, "", "alpha", Membership{}, false, ErrNotMemberOf},
		{"active", both, "id-b", "", b, true, nil},
		{"active no longer a member: the first", both, "id-gone", "", a, true, nil},
		{"no active: the first", both, "", "", a, true, nil},
		{"an active name is not an ID", both, "beta", "", a, true, nil},
		{"no memberships", nil, "id-a", "", Membership{}, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := UserOrg(tc.ms, tc.active, tc.named)
			if got != tc.want || found != tc.found || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("UserOrg(%q, %q) = %+v, %v, %v; want %+v, %v, %v", tc.active, tc.named, got, found, err, tc.want, tc.found, tc.err)
			}
		})
	}
}
