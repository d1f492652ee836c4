package server

import (
	"testing"

	"github.com/astropulse/astroplane/internal/authz"
	"github.com/astropulse/astroplane/store"
)

// authz cannot import the store (it stays small for mutation testing), so it names
// the admin role itself; it must be the store's.
func TestAuthzAdminRoleIsTheStoresAdminRole(t *testing.T) {
	if authz.RoleAdmin != store.RoleAdmin {
		t.Fatalf("authz.RoleAdmin = %q, store.RoleAdmin = %q", authz.RoleAdmin, store.RoleAdmin)
	}
}

// Every operation's requirement reaches authz as openapi.yaml states it.
func TestOperationRequirement(t *testing.T) {
	ct, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[authz.Requirement]bool{}
	for _, op := range ct.operations() {
		r := op.requirement()
		if r.Public != op.public || r.Optional != op.optional || r.APIKey != op.apiKey || r.AdminOnly != op.adminOnly || r.Bearer != op.bearer {
			t.Fatalf("%s: requirement %+v from %+v", op.id, r, *op)
		}
		seen[r] = true
	}
	for _, want := range []authz.Requirement{{Public: true}, {APIKey: true, Bearer: true}, {APIKey: true, AdminOnly: true, Bearer: true},
		{Bearer: true}, {Optional: true, APIKey: true}} {
		if !seen[want] {
			t.Errorf("no operation has requirement %+v", want)
		}
	}
}
