package workflows_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// simUpdateEnv runs the update's provider activities on the simulated cloud (instant
// steps), so that fault tags act as they do in make run; the store's are mocked.
func simUpdateEnv(finished *[]activities.FinishOperationInput) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	// The provider activities run as the worker runs them: the adapter over the
	// simulated cloud, which turns its typed errors into Temporal's.
	real := &activities.Cluster{Clouds: sim.Registry(sim.New(0))}
	a := &activities.Cluster{}
	env.RegisterActivity(a)
	env.OnActivity(a.BeginOperation, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.UpgradeControlPlane, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.ControlPlaneInput) error {
		return real.UpgradeControlPlane(ctx, in)
	})
	env.OnActivity(a.UpdateTags, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.NodeGroupsInput) error {
		return real.UpdateTags(ctx, in)
	})
	env.OnActivity(a.FinishOperation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishOperationInput) error {
		*finished = append(*finished, in)
		return nil
	})
	n := &activities.Notifier{}
	env.RegisterActivity(n)
	env.RegisterWorkflow(workflows.NotifyTopic)
	env.OnActivity(n.DeliverTopic, mock.Anything, mock.Anything).Return(nil)
	return env
}

// faultUpdate is an update whose manifest brings a fault tag for its own first step
// (the tags-update step comes last in every plan).
var faultUpdate = workflows.UpdateClusterInput{
	Op: workflows.Operation{OrgID: "org-1", ClusterID: "cl-1", OperationID: "acme.prod.update.2"}, Current: spec,
	Steps: []workflows.UpdateStep{
		{Name: "1-control-plane-upgrade-1.32", Kind: workflows.KindControlPlaneUpgrade, Version: "1.32"},
		{Name: "2-tags-update", Kind: workflows.KindTagsUpdate, Tags: map[string]string{sim.TagFailStep: "1-control-plane-upgrade-1.32"}},
	},
}

// TestUpdateFaultTagsApplyToThatUpdate: the fault tags of an update's manifest act on
// that update's steps, not only on the next update's (the cluster's tags change at
// the update's tags-update step, its last).
func TestUpdateFaultTagsApplyToThatUpdate(t *testing.T) {
	var finished []activities.FinishOperationInput
	env := simUpdateEnv(&finished)
	env.ExecuteWorkflow(workflows.UpdateCluster, faultUpdate)
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInjected {
		t.Fatalf("workflow error %v, want the injected failure of 1-control-plane-upgrade-1.32", err)
	}
	if len(finished) == 0 {
		t.Fatal("the outcome was never recorded")
	}
	fin := finished[len(finished)-1]
	if fin.OperationStatus != store.OperationFailed || fin.Spec == nil || fin.Spec.KubernetesVersion != spec.KubernetesVersion {
		t.Fatalf("outcome %+v", fin)
	}
}

// Updates that started before update-fault-tags keep using the cluster's tags as they
// were when each step ran.
func TestUpdateFaultTagsBeforeTheVersion(t *testing.T) {
	var finished []activities.FinishOperationInput
	env := simUpdateEnv(&finished)
	env.OnGetVersion("update-fault-tags", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.ExecuteWorkflow(workflows.UpdateCluster, faultUpdate)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error %v, want the old behaviour (no fault before the tags-update step)", err)
	}
	if fin := finished[len(finished)-1]; fin.OperationStatus != store.OperationSucceeded || fin.Spec.KubernetesVersion != "1.32" {
		t.Fatalf("outcome %+v", fin)
	}
}
