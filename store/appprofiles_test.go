package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/astropulse/astroplane/store"
)

// Profile names are unique per organization, found by ID or name within it only,
// listed by name, deleted once.
func TestAppProfiles(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acme, _ := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		p := store.AppProfile{OrgID: acme.ID, Name: "web", AvailabilityTier: "standard", Provider: "aws", Region: "us-west-2",
			Resources: []byte(`{"cpu":{"minimum":"1"}}`)}
		if err := s.CreateAppProfile(ctx, &p); err != nil || p.ID == "" {
			t.Fatalf("create: %v (id %q)", err, p.ID)
		}
		if err := s.CreateAppProfile(ctx, &store.AppProfile{OrgID: acme.ID, Name: "web"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("same name: %v", err)
		}
		if err := s.CreateAppProfile(ctx, &store.AppProfile{OrgID: other.ID, Name: "web"}); err != nil {
			t.Fatalf("same name in another org: %v", err)
		}
		if err := s.CreateAppProfile(ctx, &store.AppProfile{OrgID: acme.ID, Name: "api"}); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{p.ID, "web"} {
			if got, err := s.GetAppProfile(ctx, acme.ID, ref); err != nil || got.ID != p.ID || got.Region != "us-west-2" || string(got.Resources) != `{"cpu":{"minimum":"1"}}` {
				t.Fatalf("get %s: %+v %v", ref, got, err)
			}
		}
		if _, err := s.GetAppProfile(ctx, other.ID, p.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another org reads by ID: %v", err)
		}
		list, err := s.ListAppProfiles(ctx, acme.ID)
		if err != nil || len(list) != 2 || list[0].Name != "api" || list[1].Name != "web" {
			t.Fatalf("list: %+v %v", list, err)
		}
		if err := s.DeleteAppProfile(ctx, other.ID, p.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another org deletes: %v", err)
		}
		if err := s.DeleteAppProfile(ctx, acme.ID, p.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAppProfile(ctx, acme.ID, p.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}
