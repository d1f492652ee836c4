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
		// Applications name their profile: they are its users, per organization.
		for _, a := range []store.Application{
			{OrgID: acme.ID, Name: "web-b", Profile: "web", ClusterID: "c1"},
			{OrgID: acme.ID, Name: "web-a", Profile: "web", ClusterID: "c1"},
			{OrgID: acme.ID, Name: "solo", Profile: "api", ClusterID: "c2"},
			{OrgID: other.ID, Name: "theirs", Profile: "web", ClusterID: "c1"},
		} {
			a.SourceType, a.Namespace, a.SyncType, a.Status = "image", a.Name, "auto", store.AppPending
			if err := s.CreateApplication(ctx, &a); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateApplication(ctx, &store.Application{OrgID: acme.ID, Name: "solo", Profile: "web", Status: store.AppPending}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("same application name: %v", err)
		}
		if err := s.CreateApplication(ctx, &store.Application{OrgID: acme.ID, Name: "orphan", Profile: "gone", Status: store.AppPending}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("an application of no profile: %v", err)
		}
		if users, err := s.DeleteUnusedAppProfile(ctx, acme.ID, "web"); !errors.Is(err, store.ErrConflict) || len(users) != 2 {
			t.Fatalf("delete of a profile in use: %v %v", users, err)
		}
		if users, err := s.AppProfileUsers(ctx, acme.ID, "web"); err != nil || len(users) != 2 || users[0] != "web-a" || users[1] != "web-b" {
			t.Fatalf("users of web: %v %v", users, err)
		}
		if per, err := s.ApplicationsPerCluster(ctx, acme.ID); err != nil || per["c1"] != 2 || per["c2"] != 1 {
			t.Fatalf("per cluster: %v %v", per, err)
		}
		solo, err := s.GetApplication(ctx, acme.ID, "solo")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateApplication(ctx, acme.ID, solo.ID, map[string]any{"status": store.AppDeployed, "sync_status": "Synced"}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetApplication(ctx, acme.ID, solo.ID); got.Status != store.AppDeployed || got.SyncStatus != "Synced" {
			t.Fatalf("updated: %+v", got)
		}
		if err := s.UpdateApplication(ctx, other.ID, solo.ID, map[string]any{"status": store.AppFailed}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another org updates: %v", err)
		}
		if err := s.DeleteApplication(ctx, acme.ID, solo.ID); err != nil {
			t.Fatal(err)
		}
		if users, _ := s.AppProfileUsers(ctx, acme.ID, "api"); len(users) != 0 {
			t.Fatalf("users after delete: %v", users)
		}
		if users, err := s.DeleteUnusedAppProfile(ctx, acme.ID, "api"); err != nil || len(users) != 0 {
			t.Fatalf("delete of an unused profile: %v %v", users, err)
		}
		if _, err := s.GetAppProfile(ctx, acme.ID, "api"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the unused profile after its delete: %v", err)
		}
		if _, err := s.DeleteUnusedAppProfile(ctx, acme.ID, "api"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
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
