package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/store"
)

func TestCreateOrganizationWithAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		u := store.User{ID: store.NewID(), Email: "founder@example.com"}
		require.NoError(t, s.CreateUser(ctx, &u))
		org := store.Organization{ID: store.NewID(), Name: "founded"}
		require.NoError(t, s.CreateOrganizationWithAdmin(ctx, &org, u.ID))
		m, err := s.GetMembership(ctx, org.ID, u.ID)
		require.NoError(t, err)
		require.Equal(t, store.RoleAdmin, m.Role)
		got, err := s.GetUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, org.ID, got.ActiveOrgID, "a user without an active organization gets the new one")

		second := store.Organization{ID: store.NewID(), Name: "second"}
		require.NoError(t, s.CreateOrganizationWithAdmin(ctx, &second, u.ID))
		got, _ = s.GetUser(ctx, u.ID)
		require.Equal(t, org.ID, got.ActiveOrgID, "an active organization is kept")

		taken := store.Organization{ID: store.NewID(), Name: "founded"}
		require.ErrorIs(t, s.CreateOrganizationWithAdmin(ctx, &taken, u.ID), store.ErrConflict)
		ghost := store.Organization{ID: store.NewID(), Name: "ghost"}
		require.ErrorIs(t, s.CreateOrganizationWithAdmin(ctx, &ghost, store.NewID()), store.ErrNotFound)
		_, err = s.GetOrganizationByName(ctx, "ghost")
		require.ErrorIs(t, err, store.ErrNotFound, "nothing of a failed creation is left")

		counts, err := s.CountMembers(ctx, org.ID, second.ID, store.NewID())
		require.NoError(t, err)
		require.Equal(t, map[string]int{org.ID: 1, second.ID: 1}, counts)
	})
}

func TestMembersKeepAnAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, admin := seed(t, s, "keep")
		other := store.User{ID: store.NewID(), Email: "other@example.com"}
		require.NoError(t, s.CreateUser(ctx, &other))

		// The only admin can be neither demoted nor removed.
		_, err := s.PutMember(ctx, org.ID, admin.ID, store.RoleEditor)
		require.ErrorIs(t, err, store.ErrLastAdmin)
		require.ErrorIs(t, s.RemoveMember(ctx, org.ID, admin.ID), store.ErrLastAdmin)

		created, err := s.PutMember(ctx, org.ID, other.ID, store.RoleViewer)
		require.NoError(t, err)
		require.True(t, created)
		created, err = s.PutMember(ctx, org.ID, other.ID, store.RoleAdmin)
		require.NoError(t, err)
		require.False(t, created, "an existing member gets the new role")

		// Two admins: one may go, then the other is the last again.
		_, err = s.PutMember(ctx, org.ID, admin.ID, store.RoleViewer)
		require.NoError(t, err)
		require.ErrorIs(t, s.RemoveMember(ctx, org.ID, other.ID), store.ErrLastAdmin)
		require.NoError(t, s.RemoveMember(ctx, org.ID, admin.ID))
		_, err = s.GetMembership(ctx, org.ID, admin.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.RemoveMember(ctx, org.ID, admin.ID), store.ErrNotFound)

		_, err = s.PutMember(ctx, org.ID, store.NewID(), store.RoleViewer)
		require.ErrorIs(t, err, store.ErrNotFound, "unknown user")
		_, err = s.PutMember(ctx, store.NewID(), other.ID, store.RoleViewer)
		require.ErrorIs(t, err, store.ErrNotFound, "unknown organization")
	})
}

func TestRemovedMembersKeysAreRevoked(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, _ := seed(t, s, "revoke")
		u := store.User{ID: store.NewID(), Email: "leaver@example.com"}
		require.NoError(t, s.CreateUser(ctx, &u))
		_, err := s.PutMember(ctx, org.ID, u.ID, store.RoleEditor)
		require.NoError(t, err)
		k := store.APIKey{ID: store.NewID(), OrgID: org.ID, UserID: u.ID, Source: "cli", Hash: []byte("leaver-key-hash-0123456789abcdef")}
		require.NoError(t, s.CreateAPIKey(ctx, &k))
		require.NoError(t, s.RemoveMember(ctx, org.ID, u.ID))
		got, err := s.GetAPIKey(ctx, k.ID)
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt)
		require.NotEmpty(t, got.RevokeReason)
	})
}

// TestConcurrentAdminRemovalsKeepOne: two admins removed at once; one removal wins, the
// other is ErrLastAdmin, never both.
func TestConcurrentAdminRemovalsKeepOne(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, a := seed(t, s, "race")
		b := store.User{ID: store.NewID(), Email: "b@example.com"}
		require.NoError(t, s.CreateUser(ctx, &b))
		_, err := s.PutMember(ctx, org.ID, b.ID, store.RoleAdmin)
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []string{a.ID, b.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = s.RemoveMember(ctx, org.ID, id)
			}()
		}
		wg.Wait()
		failed := 0
		for _, err := range errs {
			if err != nil {
				// SQLite may refuse the second writer as busy; either way it did not remove.
				if !errors.Is(err, store.ErrLastAdmin) {
					t.Logf("concurrent removal: %v", err)
				}
				failed++
			}
		}
		require.Equal(t, 1, failed, "exactly one removal wins: %v", errs)
		admins, err := s.MembersWithRoles(ctx, org.ID, []string{store.RoleAdmin})
		require.NoError(t, err)
		require.Len(t, admins, 1)
	})
}
