// Package workflows holds the deterministic workflow code of the control plane. It
// does no I/O, reads no clock and starts no goroutines except through the Temporal
// SDK; everything that touches the world is an activity.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
)

// TaskQueue is the task queue the worker polls for cluster workflows and activities.
const TaskQueue = "astro-plane"

// QueryProgress is the name of the query every operation workflow answers with its
// Progress.
const QueryProgress = "progress"

// Operation types.
const (
	OpDeploy = "deploy"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Search attributes every operation workflow carries, so operators and the API find
// operations by organization, cluster, type and provider.
var (
	AttrOrgID         = temporal.NewSearchAttributeKeyKeyword("AstroOrgID")
	AttrClusterName   = temporal.NewSearchAttributeKeyKeyword("AstroClusterName")
	AttrOperationType = temporal.NewSearchAttributeKeyKeyword("AstroOperationType")
	AttrProvider      = temporal.NewSearchAttributeKeyKeyword("AstroProvider")
)

// OperationID returns the ID of a new operation, which is also its workflow ID, so the
// ID a client polls is the ID an operator pastes into the Temporal Web UI. It names the
// organization, cluster and operation type; suffix makes it unique.
func OperationID(orgName, clusterName, opType, suffix string) string {
	return fmt.Sprintf("%s.%s.%s.%s", orgName, clusterName, opType, suffix)
}

// Operation identifies the operation a workflow carries out.
type Operation struct {
	OrgID       string
	ClusterID   string
	OperationID string
}

// storeAttempts bounds the attempts of a store activity: about five minutes of
// retries (backoff doubling from a second up to 30s) ride out a database restart or
// failover; a store down longer fails the step, rather than holding the workflow open
// for ever.
const storeAttempts = 15

// Activity option sets: store writes are quick and retried for a few minutes;
// provider calls are sized per activity (providerSteps). Activity options are not
// checked on replay, so bounding the retries changes no recorded history.
func storeOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: storeAttempts, NonRetryableErrorTypes: nonRetryable,
		},
	})
}

// providerStep is how long one provider activity may take and how it is retried,
// sized for real clouds rather than the simulated one.
type providerStep struct {
	// StartToClose bounds one attempt.
	StartToClose time.Duration
	// Attempts bounds the attempts (throttling's retries count too).
	Attempts int32
	// MaxInterval caps the backoff between attempts.
	MaxInterval time.Duration
}

// providerSteps sizes each provider activity, by its registered name. A control
// plane takes 10–20 minutes to become active (EKS), an upgrade of it up to an hour, a
// node group 5–15 minutes and its rolling replacement an hour or more; deletes wait
// for dependent resources (ENIs, load balancers) to go, so they retry longer.
// Activity options are not part of a workflow's history checks: changing them does
// not affect replay, and running workflows take the new ones on their next activity.
var providerSteps = map[string]providerStep{
	"CreateNetwork":          {StartToClose: 30 * time.Minute, Attempts: 8, MaxInterval: time.Minute},
	"DeleteNetwork":          {StartToClose: 30 * time.Minute, Attempts: 20, MaxInterval: 2 * time.Minute},
	"CreateControlPlane":     {StartToClose: 20 * time.Minute, Attempts: 8, MaxInterval: time.Minute},
	"WaitControlPlaneActive": {StartToClose: 40 * time.Minute, Attempts: 5, MaxInterval: time.Minute},
	"DeleteControlPlane":     {StartToClose: 45 * time.Minute, Attempts: 20, MaxInterval: 2 * time.Minute},
	"CreateNodeGroups":       {StartToClose: 60 * time.Minute, Attempts: 8, MaxInterval: time.Minute},
	"DeleteNodeGroups":       {StartToClose: 60 * time.Minute, Attempts: 20, MaxInterval: 2 * time.Minute},
	"InstallAddons":          {StartToClose: 30 * time.Minute, Attempts: 8, MaxInterval: time.Minute},
	"VerifyKubeconfig":       {StartToClose: 10 * time.Minute, Attempts: 8, MaxInterval: time.Minute},
	"UpgradeControlPlane":    {StartToClose: 90 * time.Minute, Attempts: 8, MaxInterval: 2 * time.Minute},
	"UpdateNodeGroup":        {StartToClose: 4 * time.Hour, Attempts: 8, MaxInterval: 2 * time.Minute},
	"UpdateTags":             {StartToClose: 15 * time.Minute, Attempts: 8, MaxInterval: time.Minute},
	// A GKE image type change recreates every node pool's nodes: as long as a rollout.
	"UpdateClusterSettings": {StartToClose: 4 * time.Hour, Attempts: 8, MaxInterval: 2 * time.Minute},
	"IssueKubeconfig":       kubeconfigStep,
}

// defaultProviderStep is the sizing of a provider activity providerSteps does not name.
var defaultProviderStep = providerStep{StartToClose: 45 * time.Minute, Attempts: 8, MaxInterval: time.Minute}

// providerHeartbeat is the heartbeat timeout of provider activities: the adapter
// heartbeats every few seconds while a call runs, so a worker that died is noticed
// within it, and a cancel reaches the call within about as long.
const providerHeartbeat = 15 * time.Second

// providerOptions are the options of the provider activity of that name. Provider
// calls heartbeat and wait for their cancellation to finish, so compensation never
// races a half-done create.
func providerOptions(ctx workflow.Context, activity string) workflow.Context {
	st, ok := providerSteps[activity]
	if !ok {
		st = defaultProviderStep
	}
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: st.StartToClose,
		HeartbeatTimeout:    providerHeartbeat,
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: st.MaxInterval,
			MaximumAttempts: st.Attempts, NonRetryableErrorTypes: nonRetryable,
		},
	})
}

var nonRetryable = []string{
	activities.ErrTypeNotFound, activities.ErrTypeInvalidInput, activities.ErrTypeQuotaExceeded,
	activities.ErrTypeInjected, activities.ErrTypeClusterFailed, activities.ErrTypeAlreadyExists, activities.ErrTypeFailed,
}

// cancelled reports whether err ends the operation because it was cancelled.
func cancelled(ctx workflow.Context, err error) bool {
	return temporal.IsCanceledError(err) || ctx.Err() != nil
}
