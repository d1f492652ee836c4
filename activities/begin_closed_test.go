package activities_test

import (
	"context"
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/store"
)

// A workflow whose operation the API has already closed (it recorded the start as
// failed) stops at BeginOperation with a non-retryable OperationClosed, and the
// cluster keeps the status the API gave it.
func TestBeginOperationOfAClosedOperationIsNonRetryable(t *testing.T) {
	a, st := newActivities(t, sim.New(0))
	ctx := context.Background()
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	cl := &store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending}
	op := &store.Operation{ID: "acme.prod.deploy.1", Type: "deploy", Status: store.OperationRunning, WorkflowID: "acme.prod.deploy.1"}
	if err := st.CreateClusterWithOperation(ctx, cl, op); err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	begin := activities.BeginOperationInput{OrgID: org.ID, ClusterID: cl.ID, OperationID: op.ID, ClusterStatus: store.ClusterProvisioning, Message: "provisioning"}
	if _, err := env.ExecuteActivity(a.BeginOperation, begin); err != nil {
		t.Fatalf("begin a running operation: %v", err)
	}
	if _, err := env.ExecuteActivity(a.FinishOperation, activities.FinishOperationInput{OrgID: org.ID, ClusterID: cl.ID, OperationID: op.ID,
		OperationStatus: store.OperationFailed, ClusterStatus: store.ClusterFailed, Message: "the workflow could not be started"}); err != nil {
		t.Fatal(err)
	}
	_, err := env.ExecuteActivity(a.BeginOperation, begin)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeOperationClosed || !app.NonRetryable() {
		t.Fatalf("begin a closed operation: %v, want a non-retryable %s", err, activities.ErrTypeOperationClosed)
	}
	if got, _ := st.GetCluster(ctx, org.ID, cl.ID); got.Status != store.ClusterFailed {
		t.Fatalf("cluster after a refused begin: %s", got.Status)
	}
}
