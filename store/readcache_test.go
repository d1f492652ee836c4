package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/astropulse/astroplane/internal/testpg"
	"github.com/astropulse/astroplane/store"
)

// With key lookups cached, every change made through the store is seen by the
// next lookup (revoke, role change, removal, delete, a membership added), a touch
// is remembered, and a change made by another process sharing the database (a
// second API replica) is seen once the cached answer is older than the TTL.
func TestCachedKeyLookupsSeeEveryChange(t *testing.T) {
	each := func(t *testing.T, url string) {
		ctx := context.Background()
		s, replica := open(t, url), open(t, url)
		const ttl = 300 * time.Millisecond
		s.CacheKeyLookups(ttl)
		org, admin := seed(t, s, "acme")
		member := store.User{ID: store.NewID(), Email: "dev@example.com"}
		if err := s.CreateUser(ctx, &member); err != nil {
			t.Fatal(err)
		}
		keyOf := func(user string, hash byte) store.APIKey {
			k := store.APIKey{ID: store.NewID(), OrgID: org.ID, UserID: user, Source: "cli", Hash: []byte{hash}}
			if err := s.CreateAPIKey(ctx, &k); err != nil {
				t.Fatal(err)
			}
			return k
		}
		lookup := func(hash byte) store.KeyOwner {
			t.Helper()
			o, err := s.LookupAPIKey(ctx, []byte{hash})
			if err != nil {
				t.Fatalf("lookup %d: %v", hash, err)
			}
			return o
		}
		devKey := keyOf(member.ID, 2)
		if o := lookup(2); o.Role != "" {
			t.Fatalf("a non-member's key has role %q", o.Role)
		}
		if err := s.AddMember(ctx, org.ID, member.ID, store.RoleViewer); err != nil {
			t.Fatal(err)
		}
		if o := lookup(2); o.Role != store.RoleViewer {
			t.Fatalf("after AddMember: role %q, want viewer", o.Role)
		}
		if _, err := s.PutMember(ctx, org.ID, member.ID, store.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if o := lookup(2); o.Role != store.RoleAdmin {
			t.Fatalf("after PutMember (in a transaction): role %q, want admin", o.Role)
		}
		if err := s.SetMemberRole(ctx, org.ID, member.ID, store.RoleViewer); err != nil {
			t.Fatal(err)
		}
		if o := lookup(2); o.Role != store.RoleViewer {
			t.Fatalf("after SetMemberRole: role %q, want viewer", o.Role)
		}
		at := time.Now().UTC().Truncate(time.Second)
		if err := s.TouchAPIKey(ctx, devKey.ID, at); err != nil {
			t.Fatal(err)
		}
		if o := lookup(2); o.Key.LastUsedAt == nil || !o.Key.LastUsedAt.Equal(at) {
			t.Fatalf("after TouchAPIKey: last used %v, want %v", o.Key.LastUsedAt, at)
		}
		if err := s.RemoveMember(ctx, org.ID, member.ID); err != nil {
			t.Fatal(err)
		}
		if o := lookup(2); o.Role != "" || o.Key.RevokedAt == nil {
			t.Fatalf("after RemoveMember: role %q, revoked %v", o.Role, o.Key.RevokedAt)
		}

		adminKey := keyOf(admin.ID, 1)
		lookup(1)
		if err := s.RevokeAPIKey(ctx, org.ID, adminKey.ID, "leaked", time.Now()); err != nil {
			t.Fatal(err)
		}
		if o := lookup(1); o.Key.RevokedAt == nil {
			t.Fatal("a key revoked through the store is still unrevoked in its next lookup")
		}
		if _, err := s.DeleteAPIKey(ctx, org.ID, adminKey.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.LookupAPIKey(ctx, []byte{1}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a deleted key's lookup = %v, want ErrNotFound", err)
		}

		// Another replica's revocation: served from the cache until the TTL,
		// then seen.
		k3 := keyOf(admin.ID, 3)
		lookup(3)
		if err := replica.RevokeAPIKey(ctx, org.ID, k3.ID, "by another replica", time.Now()); err != nil {
			t.Fatal(err)
		}
		if o := lookup(3); o.Key.RevokedAt != nil {
			t.Fatal("the cache was not used: a lookup within the TTL queried the database")
		}
		time.Sleep(ttl + 50*time.Millisecond)
		if o := lookup(3); o.Key.RevokedAt == nil {
			t.Fatalf("another replica's revocation is not seen after the TTL (%v)", ttl)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		each(t, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		each(t, testpg.Require(t).NewDatabase(t))
	})
}

// With reads cached, an organization's approval policy (and its absence, the
// common case) is served from the cache, a policy put through the store is seen by
// the next read, and one put by another replica once the TTL has passed.
func TestCachedApprovalPoliciesSeeEveryChange(t *testing.T) {
	each := func(t *testing.T, url string) {
		ctx := context.Background()
		s, replica := open(t, url), open(t, url)
		const ttl = 300 * time.Millisecond
		s.CacheKeyLookups(ttl)
		org, admin := seed(t, s, "acme")
		operations := func() string {
			t.Helper()
			p, err := s.GetApprovalPolicy(ctx, org.ID)
			if errors.Is(err, store.ErrNotFound) {
				return "none"
			}
			if err != nil {
				t.Fatal(err)
			}
			return p.Operations
		}
		if got := operations(); got != "none" {
			t.Fatalf("policy before any was put: %q", got)
		}
		put := func(st *store.Store, ops string) {
			t.Helper()
			p := store.ApprovalPolicy{OrgID: org.ID, Operations: ops, ApproverRoles: store.RoleAdmin, ExpiresIn: time.Hour, UpdatedBy: admin.ID, UpdatedAt: time.Now()}
			if err := st.PutApprovalPolicy(ctx, &p); err != nil {
				t.Fatal(err)
			}
		}
		put(s, "deploy")
		if got := operations(); got != "deploy" {
			t.Fatalf("a policy put through the store is not seen at once: %q", got)
		}
		put(replica, "deploy,delete")
		if got := operations(); got != "deploy" {
			t.Fatalf("the cached policy was not served within the TTL: %q", got)
		}
		time.Sleep(ttl + 50*time.Millisecond)
		if got := operations(); got != "deploy,delete" {
			t.Fatalf("another replica's policy is not seen after the TTL: %q", got)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		each(t, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		each(t, testpg.Require(t).NewDatabase(t))
	})
}
