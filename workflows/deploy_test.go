package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

var deployInput = workflows.DeployClusterInput{
	OrgID: "org-1", ClusterID: "cl-1", ClusterName: "prod", OperationID: "acme.prod.deploy.1",
	Provider: "aws", ProvisionerType: "eks", Region: "us-east-1",
}

func newEnv(t *testing.T) (*testsuite.TestWorkflowEnvironment, *activities.Cluster) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Cluster{}
	env.RegisterActivity(a)
	return env, a
}

func TestDeployClusterRecordsReady(t *testing.T) {
	env, a := newEnv(t)
	var statuses []string
	env.OnActivity(a.SetClusterStatus, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SetClusterStatusInput) error {
		statuses = append(statuses, in.Status)
		return nil
	})
	env.OnActivity(a.CreateCluster, mock.Anything, mock.MatchedBy(func(req activities.CreateClusterRequest) bool {
		// The operation ID is the idempotency token, so a retried activity never creates twice.
		return req.RequestToken == deployInput.OperationID && req.ClusterName == "prod" && req.Region == "us-east-1"
	})).Return(activities.ClusterRef{Provider: "aws", ExternalID: "x", Endpoint: "https://prod"}, nil)
	var finished activities.FinishOperationInput
	env.OnActivity(a.FinishOperation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishOperationInput) error {
		finished = in
		return nil
	})

	env.ExecuteWorkflow(workflows.DeployCluster, deployInput)

	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("workflow: completed=%v err=%v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res workflows.DeployClusterResult
	if err := env.GetWorkflowResult(&res); err != nil || res.ClusterStatus != store.ClusterReady || res.Endpoint != "https://prod" {
		t.Fatalf("result %+v, %v", res, err)
	}
	if len(statuses) != 1 || statuses[0] != store.ClusterProvisioning {
		t.Fatalf("statuses recorded: %v", statuses)
	}
	if finished.ClusterStatus != store.ClusterReady || finished.OperationStat != store.OperationSucceeded {
		t.Fatalf("finish recorded %+v", finished)
	}
	p := queryProgress(t, env)
	if p.Status != store.OperationSucceeded || p.Percent != 100 || len(p.Steps) != 3 {
		t.Fatalf("progress %+v", p)
	}
	for _, s := range p.Steps {
		if s.Status != workflows.StepSucceeded || s.StartedAt == nil || s.EndedAt == nil {
			t.Fatalf("step %+v", s)
		}
	}
}

func TestDeployClusterRecordsFailure(t *testing.T) {
	env, a := newEnv(t)
	env.OnActivity(a.SetClusterStatus, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.CreateCluster, mock.Anything, mock.Anything).Return(activities.ClusterRef{},
		temporal.NewNonRetryableApplicationError("quota exceeded", activities.ErrTypeQuotaExceeded, nil))
	var finished activities.FinishOperationInput
	env.OnActivity(a.FinishOperation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishOperationInput) error {
		finished = in
		return nil
	})

	env.ExecuteWorkflow(workflows.DeployCluster, deployInput)

	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeQuotaExceeded {
		t.Fatalf("workflow error %v, want the provider's QuotaExceeded", err)
	}
	if finished.ClusterStatus != store.ClusterFailed || finished.OperationStat != store.OperationFailed {
		t.Fatalf("finish recorded %+v", finished)
	}
	p := queryProgress(t, env)
	if p.Status != store.OperationFailed || p.Steps[1].Status != workflows.StepFailed || p.Steps[2].Status != workflows.StepPending {
		t.Fatalf("progress %+v", p)
	}
}

func queryProgress(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.Progress {
	t.Helper()
	v, err := env.QueryWorkflow(workflows.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p workflows.Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}
