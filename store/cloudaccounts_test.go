package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
)

func TestCloudAccounts(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, _ := seed(t, s, "acme")
		other, _ := seed(t, s, "globex")

		// The external ID is made once, even by concurrent first calls.
		var wg sync.WaitGroup
		got := make([]string, 4)
		for i := range got {
			wg.Go(func() {
				ext, err := s.EnsureExternalID(ctx, org.ID, "candidate-"+string(rune('a'+i)))
				if err != nil {
					t.Error(err)
				}
				got[i] = ext
			})
		}
		wg.Wait()
		for _, g := range got[1:] {
			if g != got[0] {
				t.Fatalf("external IDs %v", got)
			}
		}
		if x, _ := s.EnsureExternalID(ctx, other.ID, "globex-ext"); x != "globex-ext" {
			t.Fatalf("other org's external ID %s", x)
		}

		// One running connection per cluster; once it ended, another may start.
		c1 := store.CloudConnection{ID: "acme.prod.connect-aws.1", OrgID: org.ID, Provider: "aws", ClusterName: "prod",
			Level: "manage", Status: store.ConnectionPending, AccountID: "123456789012"}
		if err := s.CreateCloudConnection(ctx, &c1); err != nil {
			t.Fatal(err)
		}
		c2 := c1
		c2.ID = "acme.prod.connect-aws.2"
		if err := s.CreateCloudConnection(ctx, &c2); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second running connection: %v", err)
		}
		now := time.Now().UTC()
		if err := s.UpdateCloudConnection(ctx, org.ID, c1.ID, map[string]any{"status": store.ConnectionConnected,
			"connected_at": now, "ended_at": now, "role_arn": "arn:aws:iam::123456789012:role/AstroPlane-prod",
			"template_token": "tok", "steps": []byte(`[]`)}); err != nil {
			t.Fatal(err)
		}
		if err := s.UpdateCloudConnection(ctx, other.ID, c1.ID, map[string]any{"status": "FAILED"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another org updates it: %v", err)
		}
		if err := s.CreateCloudConnection(ctx, &c2); err != nil {
			t.Fatalf("after the first ended: %v", err)
		}
		if c, err := s.ConnectedAccount(ctx, org.ID, "aws", "123456789012"); err != nil || c.ID != c1.ID {
			t.Fatalf("connected account: %v %v", c.ID, err)
		}
		if _, err := s.ConnectedAccount(ctx, other.ID, "aws", "123456789012"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other org's connected account: %v", err)
		}
		if c, err := s.LatestCloudConnection(ctx, org.ID, "aws", "prod", store.ConnectionConnected); err != nil || c.ID != c1.ID {
			t.Fatalf("latest connected: %v %v", c.ID, err)
		}
		if c, err := s.CloudConnectionByTemplateToken(ctx, "tok"); err != nil || c.ID != c1.ID {
			t.Fatalf("by token: %v %v", c.ID, err)
		}
		if _, err := s.CloudConnectionByTemplateToken(ctx, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("empty token: %v", err)
		}
		if _, err := s.GetCloudConnection(ctx, other.ID, c1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other org reads it: %v", err)
		}

		// Vault records: one per cluster and organization; re-sealing swaps only the
		// value it read.
		v := store.SelfHostedCredential{ID: store.NewID(), OrgID: org.ID, ClusterName: "edge", Provider: "aws", AccountID: "1",
			BucketName: "b", Region: "r", Sealed: "k1:a:old", KeyID: "a"}
		if err := s.CreateSelfHostedCredential(ctx, &v); err != nil {
			t.Fatal(err)
		}
		dup := v
		dup.ID = store.NewID()
		if err := s.CreateSelfHostedCredential(ctx, &dup); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second record of a cluster: %v", err)
		}
		if ok, err := s.ResealSelfHostedCredential(ctx, org.ID, v.ID, "k1:a:stale", "k1:b:new", "b"); ok || err != nil {
			t.Fatalf("reseal of a value replaced meanwhile: %v %v", ok, err)
		}
		if ok, err := s.ResealSelfHostedCredential(ctx, org.ID, v.ID, "k1:a:old", "k1:b:new", "b"); !ok || err != nil {
			t.Fatalf("reseal: %v %v", ok, err)
		}
		v.Sealed, v.KeyID, v.Region = "k1:b:newer", "b", "r2"
		if err := s.ReplaceSelfHostedCredential(ctx, &v); err != nil {
			t.Fatal(err)
		}
		if got, err := s.GetSelfHostedCredential(ctx, org.ID, "edge"); err != nil || got.Sealed != "k1:b:newer" || got.Region != "r2" {
			t.Fatalf("replaced: %+v %v", got, err)
		}
		if _, err := s.GetSelfHostedCredentialByID(ctx, other.ID, v.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other org reads the record: %v", err)
		}
		if err := s.DeleteSelfHostedCredential(ctx, other.ID, "edge"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other org deletes it: %v", err)
		}
		if err := s.DeleteSelfHostedCredential(ctx, org.ID, "edge"); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteSelfHostedCredential(ctx, org.ID, "edge"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete again: %v", err)
		}
	})
}
