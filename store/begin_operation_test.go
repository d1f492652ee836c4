package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
)

// BeginOperation sets the cluster's status for a running operation, and refuses one
// that has already ended (recorded FAILED by the API after a start that seemed to
// fail), writing nothing.
func TestBeginOperationRefusesAClosedOperation(t *testing.T) {
	eachStore(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		org, _ := seed(t, s, "acme")
		c := &store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending}
		op := &store.Operation{ID: store.NewID(), Type: "deploy", Status: store.OperationRunning, WorkflowID: "wf-prod"}
		if err := s.CreateClusterWithOperation(ctx, c, op); err != nil {
			t.Fatal(err)
		}
		if err := s.BeginOperation(ctx, org.ID, c.ID, op.ID, store.ClusterProvisioning, "provisioning"); err != nil {
			t.Fatalf("begin a running operation: %v", err)
		}
		if got, err := s.GetCluster(ctx, org.ID, c.ID); err != nil || got.Status != store.ClusterProvisioning {
			t.Fatalf("cluster after begin: %v %v", got.Status, err)
		}
		if _, err := s.FinishOperation(ctx, org.ID, op.ID, store.OperationFailed, "start failed", time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		if err := s.SetClusterStatus(ctx, org.ID, c.ID, store.ClusterFailed, "start failed"); err != nil {
			t.Fatal(err)
		}
		err := s.BeginOperation(ctx, org.ID, c.ID, op.ID, store.ClusterProvisioning, "provisioning")
		if !errors.Is(err, store.ErrOperationClosed) {
			t.Fatalf("begin a closed operation: %v, want ErrOperationClosed", err)
		}
		if got, err := s.GetCluster(ctx, org.ID, c.ID); err != nil || got.Status != store.ClusterFailed || got.StatusMessage != "start failed" {
			t.Fatalf("a refused begin wrote the cluster: %v %q %v", got.Status, got.StatusMessage, err)
		}
		if err := s.BeginOperation(ctx, org.ID, store.NewID(), op.ID, store.ClusterProvisioning, "x"); !errors.Is(err, store.ErrOperationClosed) {
			t.Fatalf("closed operation, other cluster: %v", err)
		}
	})
}
