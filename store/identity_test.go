package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
)

func TestAPIKeyListsDeleteAndAddresses(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(s.AddMember(ctx, other.ID, user.ID, store.RoleViewer))
		now := time.Now().UTC().Truncate(time.Second)
		a := store.APIKey{ID: store.NewID(), OrgID: org.ID, UserID: user.ID, Source: "cli", Hash: []byte{1}, Prefix: "astro_abcd", CreatedAt: now.Add(-2 * time.Hour)}
		b := store.APIKey{ID: store.NewID(), OrgID: other.ID, UserID: user.ID, Source: "ui", Hash: []byte{2}, CreatedAt: now.Add(-time.Hour)}
		must(s.CreateAPIKey(ctx, &a))
		must(s.CreateAPIKey(ctx, &b))

		all := checked(s.ListAPIKeysForUser(ctx, user.ID))(t)
		if len(all) != 2 || all[0].ID != b.ID || all[0].OrgName != "other" || all[1].OrgName != "acme" || all[1].Prefix != "astro_abcd" {
			t.Fatalf("keys of the user across organizations, newest first: %+v", all)
		}
		inOrg := checked(s.ListAPIKeysOfUserInOrg(ctx, org.ID, user.ID))(t)
		if len(inOrg) != 1 || inOrg[0].ID != a.ID {
			t.Fatalf("keys in acme: %+v", inOrg)
		}

		isNew := checked(s.RecordKeyAddress(ctx, org.ID, a.ID, "203.0.113.7", now))(t)
		again := checked(s.RecordKeyAddress(ctx, org.ID, a.ID, "203.0.113.7", now.Add(time.Minute)))(t)
		other2 := checked(s.RecordKeyAddress(ctx, org.ID, a.ID, "2001:db8::1", now))(t)
		if !isNew || again || !other2 {
			t.Fatalf("new address: first %v, again %v, another %v", isNew, again, other2)
		}

		if _, err := s.DeleteAPIKey(ctx, other.ID, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete from another organization: %v", err)
		}
		gone := checked(s.DeleteAPIKey(ctx, org.ID, a.ID))(t)
		if gone.ID != a.ID {
			t.Fatalf("deleted %+v", gone)
		}
		if _, err := s.GetAPIKey(ctx, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted key still there: %v", err)
		}
		// Its addresses went with it: the same address is new for a new key.
		if _, err := s.DeleteAPIKey(ctx, org.ID, a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestAuditGetStreamAndStatistics(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, user := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		day := time.Now().UTC().Truncate(24 * time.Hour).Add(-72 * time.Hour)
		var ids []string
		for i, ev := range []struct{ typ, action, outcome, user string }{
			{"CLUSTER", "CREATE", store.OutcomeSuccess, user.ID},
			{"CLUSTER", "DELETE", store.OutcomeFailure, user.ID},
			{"API_KEY", "CREATE", store.OutcomeSuccess, "u2"},
			{"API_KEY", "REVOKE", store.OutcomeDenied, ""},
		} {
			e := &store.AuditEvent{OrgID: org.ID, UserID: ev.user, EventType: ev.typ, Action: ev.action, Outcome: ev.outcome,
				IPAddress: "198.51.100.4", UserAgent: "curl/8", Source: "api",
				CreatedAt: day.Add(time.Duration(i) * 20 * time.Hour)}
			if err := s.RecordAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, e.ID)
		}
		if err := s.RecordAudit(ctx, &store.AuditEvent{OrgID: other.ID, EventType: "CLUSTER", Action: "CREATE", Outcome: store.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}

		got := checked(s.GetAudit(ctx, org.ID, ids[0]))(t)
		if got.IPAddress != "198.51.100.4" || got.UserAgent != "curl/8" || got.Source != "api" {
			t.Fatalf("event fields: %+v", got)
		}
		if _, err := s.GetAudit(ctx, other.ID, ids[0]); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("event of another organization: %v", err)
		}

		var streamed []string
		err := s.StreamAudit(ctx, org.ID, store.AuditFilter{EventType: "CLUSTER"}, func(e *store.AuditEvent) error {
			streamed = append(streamed, e.ID)
			return nil
		})
		if err != nil || len(streamed) != 2 || streamed[0] != ids[1] || streamed[1] != ids[0] {
			t.Fatalf("streamed CLUSTER events newest first: %v %v", streamed, err)
		}
		stop := errors.New("stop")
		n := 0
		if err := s.StreamAudit(ctx, org.ID, store.AuditFilter{}, func(*store.AuditEvent) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Fatalf("fn's error stops the walk: %v after %d", err, n)
		}

		st := checked(s.AuditStatistics(ctx, org.ID, day.Add(-time.Hour), time.Now()))(t)
		if st.Total != 4 || st.Failed != 2 {
			t.Fatalf("total %d failed %d, want 4 and 2", st.Total, st.Failed)
		}
		if len(st.ByEventType) != 2 || st.ByEventType[0].Count != 2 || len(st.ByAction) != 3 || st.ByAction[0] != (store.AuditCount{Key: "CREATE", Count: 2}) {
			t.Fatalf("groups: %+v %+v", st.ByEventType, st.ByAction)
		}
		if len(st.TopUsers) != 2 || st.TopUsers[0] != (store.AuditCount{Key: user.ID, Count: 2}) {
			t.Fatalf("top users (system events left out): %+v", st.TopUsers)
		}
		// Events at day+0h, +20h, +40h, +60h: days d, d, d+1, d+2.
		if len(st.Daily) != 3 || st.Daily[0].Count != 2 || st.Daily[0].Key != day.Format(time.DateOnly) {
			t.Fatalf("daily: %+v", st.Daily)
		}
		narrow := checked(s.AuditStatistics(ctx, org.ID, day.Add(30*time.Hour), time.Now()))(t)
		if narrow.Total != 2 {
			t.Fatalf("events from day+30h: %d, want 2", narrow.Total)
		}
	})
}

func TestOptOutsArePerRecipient(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, _ := seed(t, s, "acme")
		for range 2 {
			if err := s.AddOptOut(ctx, &store.NotificationOptOut{OrgID: org.ID, Channel: "email", Topic: "cluster.deployed", Recipient: "a@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AddOptOut(ctx, &store.NotificationOptOut{OrgID: org.ID, Channel: "email", Topic: "cluster.deleted", Recipient: "b@example.com"}); err != nil {
			t.Fatal(err)
		}
		got := checked(s.OptedOut(ctx, org.ID, "email", "cluster.deployed"))(t)
		if len(got) != 1 || got[0] != "a@example.com" {
			t.Fatalf("opted out of cluster.deployed: %v", got)
		}
		if none := checked(s.OptedOut(ctx, org.ID, "slack", "cluster.deployed"))(t); len(none) != 0 {
			t.Fatalf("another channel: %v", none)
		}
	})
}
