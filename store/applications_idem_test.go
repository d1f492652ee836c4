package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/astropulse/astroplane/store"
)

// An application is found by the Idempotency-Key of its last deploy, in its own
// organization only; a later deploy's key (or none) replaces it.
func TestApplicationByIdempotencyKey(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acme, _ := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		if err := s.CreateAppProfile(ctx, &store.AppProfile{OrgID: acme.ID, Name: "web"}); err != nil {
			t.Fatal(err)
		}
		a := store.Application{OrgID: acme.ID, Name: "hello", Profile: "web", SourceType: "image", Namespace: "hello", SyncType: "auto",
			Status: store.AppDeploying, IdempotencyKey: "k1", RequestHash: "h1"}
		if err := s.CreateApplication(ctx, &a); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ApplicationByIdempotencyKey(ctx, acme.ID, "k1"); err != nil || got.ID != a.ID || got.RequestHash != "h1" {
			t.Fatalf("by key: %+v %v", got, err)
		}
		for name, c := range map[string]struct{ org, key string }{"another org": {other.ID, "k1"}, "another key": {acme.ID, "k2"}, "no key": {acme.ID, ""}} {
			if _, err := s.ApplicationByIdempotencyKey(ctx, c.org, c.key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if err := s.UpdateApplication(ctx, acme.ID, a.ID, map[string]any{"idempotency_key": "", "request_hash": ""}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ApplicationByIdempotencyKey(ctx, acme.ID, "k1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after a deploy without the key: %v", err)
		}
	})
}
