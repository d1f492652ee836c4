package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
)

// ConnectedAccounts lists an organization's CONNECTED accounts once each, the
// newest of a provider first, and nothing of other organizations or of
// connections that are pending or failed.
func TestConnectedAccounts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, _ := seed(t, s, "acme")
		other, _ := seed(t, s, "globex")
		if got, err := s.ConnectedAccounts(ctx, org.ID); err != nil || len(got) != 0 {
			t.Fatalf("no connections: %v, %v", got, err)
		}
		at := time.Now().UTC().Add(-time.Hour)
		n := 0
		add := func(orgID, provider, account, status string) {
			n++
			at = at.Add(time.Minute)
			end := at
			c := store.CloudConnection{ID: "conn-" + string(rune('a'+n)), OrgID: orgID, Provider: provider, ClusterName: "c" + string(rune('a'+n)),
				Level: "read", Status: status, AccountID: account, ConnectedAt: &at, EndedAt: &end}
			if err := s.CreateCloudConnection(ctx, &c); err != nil {
				t.Fatal(err)
			}
		}
		add(org.ID, "aws", "111111111111", store.ConnectionConnected)
		add(org.ID, "aws", "222222222222", store.ConnectionConnected)
		add(org.ID, "aws", "111111111111", store.ConnectionConnected) // again: now the newest
		add(org.ID, "aws", "333333333333", store.ConnectionFailed)
		add(org.ID, "gcp", "proj-1", store.ConnectionConnected)
		add(other.ID, "aws", "444444444444", store.ConnectionConnected)
		got, err := s.ConnectedAccounts(ctx, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.ConnectedAccountRef{{"aws", "111111111111"}, {"aws", "222222222222"}, {"gcp", "proj-1"}}
		if !slices.Equal(got, want) {
			t.Errorf("connected accounts %v, want %v", got, want)
		}
	})
}
