package sim_test

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/activities/sim"
)

// flakyWorkflow runs CreateNetwork with the flaky tag on its step, allowing
// maxAttempts attempts.
func flakyWorkflow(ctx workflow.Context, maxAttempts int32) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Millisecond, MaximumAttempts: maxAttempts},
	})
	var a *activities.Cluster
	var net activities.NetworkRef
	err := workflow.ExecuteActivity(ctx, a.CreateNetwork, activities.NetworkInput{
		Call: activities.Call{Token: "t", Step: "network", Tags: map[string]string{sim.TagFlakyStep: "network"}},
		Spec: activities.ClusterSpec{Provider: "aws"},
	}).Get(ctx, &net)
	return err
}
