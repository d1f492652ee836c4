package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
)

func TestProgressFeed(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Millisecond)
		if pos, err := s.ProgressFeedPosition(ctx, now); err != nil || pos != 0 {
			t.Fatalf("position of an empty feed: %d, %v", pos, err)
		}
		old := []store.ProgressReport{{OrgID: "o", OperationID: "op-1", Activity: "A", ActivityID: "5", Detail: "old", At: now.Add(-10 * time.Minute)}}
		if err := s.AddProgressReports(ctx, old); err != nil {
			t.Fatal(err)
		}
		var fresh []store.ProgressReport
		for i, d := range []string{"one", "two", "three"} {
			fresh = append(fresh, store.ProgressReport{OrgID: "o", OperationID: "op-2", Activity: "B", ActivityID: "7", Attempt: 1, Step: "network",
				Detail: d, At: now.Add(time.Duration(i) * time.Millisecond)})
		}
		if err := s.AddProgressReports(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		all, err := s.ProgressReportsAfter(ctx, 0, 100)
		if err != nil || len(all) != 4 {
			t.Fatalf("all reports: %v, %v", all, err)
		}
		for i := 1; i < len(all); i++ {
			if all[i].ID <= all[i-1].ID {
				t.Fatalf("IDs not increasing: %v", all)
			}
		}
		if all[3].Detail != "three" || all[3].OperationID != "op-2" || all[3].Attempt != 1 || all[3].Step != "network" || !all[3].At.Equal(fresh[2].At) {
			t.Fatalf("last report %+v, want %+v", all[3], fresh[2])
		}
		page, err := s.ProgressReportsAfter(ctx, all[1].ID, 1)
		if err != nil || len(page) != 1 || page[0].ID != all[2].ID {
			t.Fatalf("page after %d: %v, %v", all[1].ID, page, err)
		}
		byID, err := s.ProgressReportsByID(ctx, []uint64{all[3].ID, all[0].ID, all[3].ID + 100})
		if err != nil || len(byID) != 2 || byID[0].ID != all[0].ID || byID[1].ID != all[3].ID {
			t.Fatalf("by ID: %v, %v", byID, err)
		}
		// A reader starting now reads the reports of the last minute, not older ones.
		pos, err := s.ProgressFeedPosition(ctx, now.Add(-time.Minute))
		if err != nil || pos != all[0].ID {
			t.Fatalf("position since a minute ago: %d, %v; want %d", pos, err, all[0].ID)
		}
		if pos, err := s.ProgressFeedPosition(ctx, now.Add(time.Hour)); err != nil || pos != all[3].ID {
			t.Fatalf("position with nothing that recent: %d, %v; want %d", pos, err, all[3].ID)
		}
		n, err := s.PruneProgressReports(ctx, now.Add(-5*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("prune: %d, %v", n, err)
		}
		if left, _ := s.ProgressReportsAfter(ctx, 0, 100); len(left) != 3 || left[0].Detail != "one" {
			t.Fatalf("after prune: %v", left)
		}
	})
}

func TestUsableAPIKeys(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")
		past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		keys := map[string]*store.APIKey{}
		for _, name := range []string{"live", "revoked", "expired", "expiring", "deleted"} {
			k := &store.APIKey{ID: store.NewID(), OrgID: org.ID, UserID: user.ID, Source: "cli", Hash: []byte(name)}
			switch name {
			case "expired":
				k.ExpiresAt = &past
			case "expiring":
				k.ExpiresAt = &future
			}
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			keys[name] = k
		}
		if err := s.RevokeAPIKey(ctx, org.ID, keys["revoked"].ID, "leaked", time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteAPIKey(ctx, org.ID, keys["deleted"].ID); err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, k := range keys {
			ids = append(ids, k.ID)
		}
		usable, err := s.UsableAPIKeys(ctx, ids, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for name, k := range keys {
			want := name == "live" || name == "expiring"
			if usable[k.ID] != want {
				t.Errorf("key %s usable = %v, want %v", name, usable[k.ID], want)
			}
		}
		// A key whose owner left the organization no longer authenticates.
		other, _ := seed(t, s, "other")
		outsider := &store.APIKey{ID: store.NewID(), OrgID: other.ID, UserID: user.ID, Source: "cli", Hash: []byte("outsider")}
		if err := s.CreateAPIKey(ctx, outsider); err != nil {
			t.Fatal(err)
		}
		if usable, err := s.UsableAPIKeys(ctx, []string{outsider.ID}, time.Now()); err != nil || usable[outsider.ID] {
			t.Fatalf("key of a non-member: %v, %v", usable, err)
		}
	})
}

// On PostgreSQL a reader listening is told at once that reports were added, by
// another process as well (here another Store on the same database); SQLite says
// it cannot.
func TestProgressFeedNotifications(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		added := make(chan struct{}, 10)
		done := make(chan error, 1)
		go func() { done <- s.ListenProgressFeed(ctx, func() { added <- struct{}{} }) }()
		if s.Driver() == "sqlite" {
			if err := <-done; !errors.Is(err, store.ErrNoNotifications) {
				t.Fatalf("sqlite: %v", err)
			}
			return
		}
		// The listener may not be listening yet: add until it hears one.
		deadline := time.After(10 * time.Second)
		for heard := false; !heard; {
			report := []store.ProgressReport{{OrgID: "o", OperationID: "op", Activity: "A", ActivityID: "1", Detail: "d", At: time.Now()}}
			if err := s.AddProgressReports(ctx, report); err != nil {
				t.Fatal(err)
			}
			select {
			case <-added:
				heard = true
			case err := <-done:
				t.Fatalf("listener ended: %v", err)
			case <-time.After(200 * time.Millisecond):
			case <-deadline:
				t.Fatal("no notification")
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("listener after cancel: %v", err)
		}
		// The pool still works after the listening connection was given back.
		if _, err := s.ProgressReportsAfter(context.Background(), 0, 1); err != nil {
			t.Fatal(err)
		}
	})
}
