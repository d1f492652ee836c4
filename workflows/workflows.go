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

// Activity option sets: store writes are quick and retried long; provider calls are
// long, heartbeat, and wait for their cancellation to finish so compensation never
// races a half-done create.
func storeOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			NonRetryableErrorTypes: nonRetryable,
		},
	})
}

func providerOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 45 * time.Minute,
		HeartbeatTimeout:    15 * time.Second,
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 8, NonRetryableErrorTypes: nonRetryable,
		},
	})
}

var nonRetryable = []string{
	activities.ErrTypeNotFound, activities.ErrTypeInvalidInput, activities.ErrTypeQuotaExceeded,
	activities.ErrTypeInjected, activities.ErrTypeClusterFailed,
}

// cancelled reports whether err ends the operation because it was cancelled.
func cancelled(ctx workflow.Context, err error) bool {
	return temporal.IsCanceledError(err) || ctx.Err() != nil
}
