package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
)

// RegisterClusterAgentInput starts a registration (docs/registered-clusters.md). It
// holds no secret: the token is only in the answer's manifest and, hashed, the store.
type RegisterClusterAgentInput struct {
	OrgID, ClusterID, OperationID string
	// Deadline is how long the agent has to connect for the first time (the token's
	// lifetime).
	Deadline time.Duration
	// Region and KubernetesVersion as the request gave them ("": the agent's).
	Region, KubernetesVersion string
}

// RegisterClusterAgent waits, until its deadline, for the cluster's agent to connect,
// then records the cluster READY with what the agent reported (version, nodes,
// region) and ends the operation; past the deadline the cluster and the operation
// are FAILED.
func RegisterClusterAgent(ctx workflow.Context, in RegisterClusterAgentInput) error {
	var a *activities.Agents
	wait := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: in.Deadline + time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute},
	})
	until := workflow.Now(ctx).Add(in.Deadline)
	var facts activities.AgentFacts
	err := workflow.ExecuteActivity(wait, a.AwaitAgent, activities.AwaitAgentInput{OrgID: in.OrgID, ClusterID: in.ClusterID, Until: until}).Get(ctx, &facts)
	fin := activities.FinishRegistrationInput{OrgID: in.OrgID, ClusterID: in.ClusterID, OperationID: in.OperationID,
		Facts: facts, Region: in.Region, KubernetesVersion: in.KubernetesVersion}
	if err != nil {
		fin.Failure = "registration failed: " + rootMessage(err)
	}
	record := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	if ferr := workflow.ExecuteActivity(record, a.FinishRegistration, fin).Get(ctx, nil); ferr != nil {
		return ferr
	}
	return err
}

// UnregisterClusterAgentInput starts an unregistration.
type UnregisterClusterAgentInput = activities.UnregisterInput

// UnregisterClusterAgent removes what the platform installed in the cluster (unless
// AgentOnly), refuses the agent from then on and records the outcome: the cluster
// DELETED, or kept as a tombstone with AgentOnly.
func UnregisterClusterAgent(ctx workflow.Context, in UnregisterClusterAgentInput) error {
	var a *activities.Agents
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		// Five attempts a second apart, doubling: never long enough for a ceiling.
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
	var note string
	if !in.AgentOnly {
		if err := workflow.ExecuteActivity(ctx, a.RemoveAgentObjects, in).Get(ctx, &note); err != nil {
			note = "the agent's objects could not be removed (" + rootMessage(err) + "); delete namespace " + activities.AgentNamespace + " by hand"
		}
	}
	return workflow.ExecuteActivity(ctx, a.FinishUnregister, in, note).Get(ctx, nil)
}

// rootMessage is the activity's own words when it failed with an application error.
func rootMessage(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}
