package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
)

// A grant ends once (a retried completion leaves it as it is), the newest of a
// user's is found, and expired or abandoned grants are pruned.
func TestKubeconfigGrants(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")
		cl := store.Cluster{ID: store.NewID()} // grants outlive nothing of the cluster's: no record needed
		grant := func(id string) store.KubeconfigGrant {
			g := store.KubeconfigGrant{ID: id, OrgID: org.ID, ClusterID: cl.ID, UserID: user.ID, Duration: time.Hour}
			if err := s.CreateKubeconfigGrant(ctx, &g); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Millisecond) // distinct creation times
			return g
		}
		a, b := grant("a"), grant("b")
		soon := time.Now().UTC().Add(time.Hour).Truncate(time.Second)
		if err := s.CompleteKubeconfigGrant(ctx, org.ID, a.ID, "sealed-a", "ctx", "", &soon); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteKubeconfigGrant(ctx, org.ID, a.ID, "", "", "late failure", nil); err != nil {
			t.Fatal(err)
		}
		if g, err := s.GetKubeconfigGrant(ctx, org.ID, a.ID); err != nil || g.Status != store.KubeconfigReady || g.Sealed != "sealed-a" || g.Context != "ctx" {
			t.Fatalf("grant a after a second completion = %+v, %v", g, err)
		}
		if err := s.CompleteKubeconfigGrant(ctx, org.ID, b.ID, "", "", "no permission", nil); err != nil {
			t.Fatal(err)
		}
		if g, err := s.LatestKubeconfigGrant(ctx, org.ID, cl.ID, user.ID); err != nil || g.ID != b.ID || g.Status != store.KubeconfigFailed || g.Message != "no permission" {
			t.Fatalf("latest = %+v, %v; want b, failed", g, err)
		}
		if _, err := s.LatestKubeconfigGrant(ctx, org.ID, cl.ID, "someone-else"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another user's latest: %v, want ErrNotFound", err)
		}
		if err := s.CompleteKubeconfigGrant(ctx, org.ID, "missing", "x", "", "", &soon); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("completing an unknown grant: %v", err)
		}
		if n, err := s.PruneKubeconfigGrants(ctx, time.Now()); err != nil || n != 0 {
			t.Fatalf("pruned %d (%v) of grants neither expired nor a day old", n, err)
		}
		if n, err := s.PruneKubeconfigGrants(ctx, soon.Add(25*time.Hour)); err != nil || n != 2 {
			t.Fatalf("pruned %d (%v), want both", n, err)
		}
	})
}
