package activities_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/store"
)

// The API starts a new cluster's deploy while it commits the records, so
// BeginOperation may look before they land: it retries a cluster it does not find
// on its first attempts (with the workflows' store retry policy) and begins once
// the records are there; a cluster that never appears is a non-retryable NotFound
// after a few seconds, before anything is changed.
func TestBeginOperationWaitsBrieflyForRecordsBeingCommitted(t *testing.T) {
	begin := func(ctx workflow.Context, in activities.BeginOperationInput) error {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: 30 * time.Second,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second, MaximumAttempts: 15},
		})
		return workflow.ExecuteActivity(ctx, "BeginOperation", in).Get(ctx, nil)
	}
	run := func(t *testing.T, recordAfter time.Duration) (time.Duration, *store.Store, activities.BeginOperationInput, error) {
		a, st := newActivities(t, sim.New(0))
		ctx := context.Background()
		org := store.Organization{ID: store.NewID(), Name: "acme"}
		if err := st.CreateOrganization(ctx, &org); err != nil {
			t.Fatal(err)
		}
		cl := &store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending}
		op := &store.Operation{ID: "acme.prod.deploy.1", Type: "deploy", Status: store.OperationRunning, WorkflowID: "acme.prod.deploy.1"}
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		env.RegisterActivity(a)
		env.RegisterWorkflowWithOptions(begin, workflow.RegisterOptions{Name: "begin"})
		start := env.Now()
		var took time.Duration
		if recordAfter > 0 {
			env.RegisterDelayedCallback(func() {
				if err := st.CreateClusterWithOperation(ctx, cl, op); err != nil {
					t.Error(err)
				}
			}, recordAfter)
		}
		in := activities.BeginOperationInput{OrgID: org.ID, ClusterID: cl.ID, OperationID: op.ID, ClusterStatus: store.ClusterProvisioning, Message: "provisioning"}
		env.ExecuteWorkflow("begin", in)
		took = env.Now().Sub(start)
		return took, st, in, env.GetWorkflowError()
	}
	t.Run("records land after the first look", func(t *testing.T) {
		_, st, in, err := run(t, 500*time.Millisecond)
		if err != nil {
			t.Fatalf("begin with records committed 0.5 s late: %v", err)
		}
		if cl, _ := st.GetCluster(context.Background(), in.OrgID, in.ClusterID); cl.Status != store.ClusterProvisioning {
			t.Fatalf("cluster after begin: %s", cl.Status)
		}
	})
	t.Run("records never land", func(t *testing.T) {
		took, _, _, err := run(t, 0)
		var app *temporal.ApplicationError
		if !errors.As(err, &app) || app.Type() != activities.ErrTypeNotFound {
			t.Fatalf("begin without records: %v, want %s", err, activities.ErrTypeNotFound)
		}
		if took < 2*time.Second || took > 10*time.Second {
			t.Fatalf("gave up after %v, want a few seconds", took)
		}
	})
}
