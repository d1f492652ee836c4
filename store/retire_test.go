package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/astropulse/astroplane/store"
)

// TestRetireClusterAndLastDeleted: retiring a cluster frees its name only while it
// is as the caller saw it (status and last operation), never across organizations;
// LastDeletedCluster finds the most recent deleted cluster of a name.
func TestRetireClusterAndLastDeleted(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, _ := seed(t, s, "acme")
		other, _ := seed(t, s, "other")
		create := func(name string) (*store.Cluster, *store.Operation) {
			t.Helper()
			c := &store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: name, Provider: "aws", ProvisionerType: "eks", Status: store.ClusterCancelled}
			op := &store.Operation{ID: store.NewID(), Type: "deploy", Status: store.OperationRunning, WorkflowID: "wf-" + c.ID}
			c.LastOperationID = op.ID
			if err := s.CreateClusterWithOperation(ctx, c, op); err != nil {
				t.Fatal(err)
			}
			return c, op
		}
		if _, err := s.LastDeletedCluster(ctx, org.ID, "again"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no deleted cluster yet: %v", err)
		}
		first, op := create("again")
		for _, tc := range []struct{ org, status, op string }{
			{other.ID, store.ClusterCancelled, op.ID}, // another organization
			{org.ID, store.ClusterFailed, op.ID},      // its status changed since
			{org.ID, store.ClusterCancelled, "other"}, // another operation started since
		} {
			if done, err := s.RetireCluster(ctx, tc.org, first.ID, tc.status, tc.op, "retired"); err != nil || done {
				t.Fatalf("RetireCluster(%+v) = %v, %v; want not done", tc, done, err)
			}
		}
		if _, err := s.GetCluster(ctx, org.ID, "again"); err != nil {
			t.Fatalf("a refused retire freed the name: %v", err)
		}
		if done, err := s.RetireCluster(ctx, org.ID, first.ID, store.ClusterCancelled, op.ID, "retired"); err != nil || !done {
			t.Fatalf("RetireCluster = %v, %v; want done", done, err)
		}
		if _, err := s.GetCluster(ctx, org.ID, "again"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("retired name still resolves: %v", err)
		}
		got, err := s.GetCluster(ctx, org.ID, first.ID)
		if err != nil || got.Status != store.ClusterDeleted || got.StatusMessage != "retired" {
			t.Fatalf("retired record by ID: %+v, %v", got, err)
		}

		// The name is free: a second cluster takes it; once it is deleted too, it is
		// the last deleted of that name.
		second, secondOp := create("again")
		if last, err := s.LastDeletedCluster(ctx, org.ID, "again"); err != nil || last.ID != first.ID {
			t.Fatalf("LastDeletedCluster = %+v, %v; want the retired one", last, err)
		}
		if done, err := s.RetireCluster(ctx, org.ID, second.ID, store.ClusterCancelled, secondOp.ID, "retired too"); err != nil || !done {
			t.Fatalf("retire the second: %v, %v", done, err)
		}
		if last, err := s.LastDeletedCluster(ctx, org.ID, "again"); err != nil || last.ID != second.ID {
			t.Fatalf("LastDeletedCluster = %+v, %v; want the second", last, err)
		}
		if _, err := s.LastDeletedCluster(ctx, other.ID, "again"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted cluster seen from another org: %v", err)
		}
	})
}
