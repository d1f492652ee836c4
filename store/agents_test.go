package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
)

// A registration token is used once and not after it expires; the agent is admitted
// only with its current (or, until it connects with the new one, previous)
// certificate, only in its own organization, and not once tombstoned.
func TestClusterAgents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, _ := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		cl := store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "byok", Provider: "registered", ProvisionerType: "registered", Status: "PROVISIONING"}
		op := store.Operation{ID: store.NewID(), Type: "REGISTER", Status: "RUNNING", WorkflowID: "wf"}
		if err := s.CreateClusterWithOperation(ctx, &cl, &op); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		a := store.ClusterAgent{ClusterID: cl.ID, OrgID: org.ID, TokenHash: "h1", TokenExpiresAt: now.Add(time.Hour), Architecture: "amd64"}
		if err := s.PutClusterAgent(ctx, &a); err != nil {
			t.Fatal(err)
		}
		expired := store.ClusterAgent{ClusterID: store.NewID(), OrgID: org.ID, TokenHash: "h2", TokenExpiresAt: now.Add(-time.Second), Architecture: "amd64"}
		if err := s.PutClusterAgent(ctx, &expired); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RedeemAgentToken(ctx, "h2", now); !errors.Is(err, store.ErrTokenRefused) {
			t.Fatalf("expired token: %v", err)
		}
		if _, err := s.RedeemAgentToken(ctx, "nope", now); !errors.Is(err, store.ErrTokenRefused) {
			t.Fatalf("unknown token: %v", err)
		}
		got, err := s.RedeemAgentToken(ctx, "h1", now)
		if err != nil || got.ClusterID != cl.ID || got.OrgID != org.ID {
			t.Fatalf("redeem = %+v, %v", got, err)
		}
		if _, err := s.RedeemAgentToken(ctx, "h1", now); !errors.Is(err, store.ErrTokenRefused) {
			t.Fatalf("second redemption: %v", err)
		}

		if err := s.AdmitAgent(ctx, org.ID, cl.ID, ""); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no certificate yet: %v", err)
		}
		if err := s.AgentCertIssued(ctx, org.ID, cl.ID, "s1", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.AdmitAgent(ctx, org.ID, cl.ID, "s1"); err != nil {
			t.Fatalf("current certificate: %v", err)
		}
		if err := s.AdmitAgent(ctx, other.ID, cl.ID, "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another organization's claim: %v", err)
		}
		if err := s.AgentConnected(ctx, org.ID, cl.ID, store.AgentReport{Replica: "api-0", Serial: "s1", Since: now, At: now, AgentVersion: "v1", Nodes: 3}); err != nil {
			t.Fatal(err)
		}
		// Rotation: the old certificate stays admitted until the new one connects.
		if err := s.AgentCertIssued(ctx, org.ID, cl.ID, "s2", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := s.AdmitAgent(ctx, org.ID, cl.ID, "s1"); err != nil {
			t.Fatalf("previous certificate during rotation: %v", err)
		}
		if err := s.AgentConnected(ctx, org.ID, cl.ID, store.AgentReport{Replica: "api-1", Serial: "s2", Since: now, At: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.AdmitAgent(ctx, org.ID, cl.ID, "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("old certificate after the new one connected: %v", err)
		}
		// The old replica's disconnection does not undo the new one's connection.
		if err := s.AgentDisconnected(ctx, org.ID, cl.ID, "api-0", now); err != nil {
			t.Fatal(err)
		}
		if g, _ := s.GetClusterAgent(ctx, org.ID, cl.ID); g.Replica != "api-1" {
			t.Fatalf("replica = %q after the old replica's disconnection", g.Replica)
		}
		if err := s.AgentDisconnected(ctx, org.ID, cl.ID, "api-1", now); err != nil {
			t.Fatal(err)
		}
		if g, _ := s.GetClusterAgent(ctx, org.ID, cl.ID); g.Replica != "" || g.LastSeenAt == nil {
			t.Fatalf("after disconnection = %+v", g)
		}
		if err := s.TombstoneClusterAgent(ctx, org.ID, cl.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.AdmitAgent(ctx, org.ID, cl.ID, "s2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("tombstoned agent: %v", err)
		}
		if err := s.DeleteClusterAgent(ctx, org.ID, cl.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetClusterAgent(ctx, org.ID, cl.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted agent: %v", err)
		}
	})
}
