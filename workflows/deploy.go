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
	"github.com/astropulse/astroplane/store"
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

// OperationID returns the ID of a new operation, which is also its workflow ID, so the
// ID a client polls is the ID an operator pastes into the Temporal Web UI. It names the
// organization, cluster and operation type; suffix makes it unique.
func OperationID(orgName, clusterName, opType, suffix string) string {
	return fmt.Sprintf("%s.%s.%s.%s", orgName, clusterName, opType, suffix)
}

// DeployClusterInput is what the deploy workflow needs; it carries references, never
// credentials.
type DeployClusterInput struct {
	OrgID             string
	ClusterID         string
	ClusterName       string
	OperationID       string
	Provider          string
	ProvisionerType   string
	Region            string
	KubernetesVersion string
}

// DeployClusterResult is what the deploy workflow returns.
type DeployClusterResult struct {
	ClusterStatus string
	Endpoint      string
}

// Step statuses in Progress.
const (
	StepPending   = "PENDING"
	StepRunning   = "RUNNING"
	StepSucceeded = "SUCCEEDED"
	StepFailed    = "FAILED"
)

// Step is one named step of an operation.
type Step struct {
	Name      string     `json:"name"`
	Status    string     `json:"status"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
	Message   string     `json:"message,omitempty"`
}

// Progress is an operation's state as its progress query reports it.
type Progress struct {
	OperationID   string `json:"operationId"`
	OperationType string `json:"operationType"`
	Phase         string `json:"phase"`
	Status        string `json:"status"`
	Percent       int    `json:"percent"`
	Message       string `json:"message,omitempty"`
	Steps         []Step `json:"steps"`
}

// DeployCluster provisions a cluster: it marks it PROVISIONING, creates it through
// the provider, and records READY (or FAILED) in the store.
func DeployCluster(ctx workflow.Context, in DeployClusterInput) (DeployClusterResult, error) {
	p := newTracker(in.OperationID, OpDeploy, "provision", "create-cluster", "record")
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return p.progress, nil }); err != nil {
		return DeployClusterResult{}, err
	}
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    time.Minute,
			MaximumAttempts:    10,
		},
	})
	var a *activities.Cluster

	p.start(ctx, "provision")
	err := workflow.ExecuteActivity(ctx, a.SetClusterStatus, activities.SetClusterStatusInput{
		OrgID: in.OrgID, ClusterID: in.ClusterID, Status: store.ClusterProvisioning, Message: "provisioning",
	}).Get(ctx, nil)
	if err != nil {
		return fail(ctx, p, in, err)
	}
	p.done(ctx, "")

	p.start(ctx, "create-cluster")
	var ref activities.ClusterRef
	err = workflow.ExecuteActivity(ctx, a.CreateCluster, activities.CreateClusterRequest{
		RequestToken: in.OperationID, OrgID: in.OrgID, ClusterName: in.ClusterName,
		Provider: in.Provider, ProvisionerType: in.ProvisionerType, Region: in.Region,
		KubernetesVersion: in.KubernetesVersion,
	}).Get(ctx, &ref)
	if err != nil {
		return fail(ctx, p, in, err)
	}
	p.done(ctx, ref.Endpoint)

	p.start(ctx, "record")
	err = workflow.ExecuteActivity(ctx, a.FinishOperation, activities.FinishOperationInput{
		OrgID: in.OrgID, ClusterID: in.ClusterID, OperationID: in.OperationID,
		OperationStat: store.OperationSucceeded, ClusterStatus: store.ClusterReady, Message: "cluster is ready",
	}).Get(ctx, nil)
	if err != nil {
		return fail(ctx, p, in, err)
	}
	p.done(ctx, "")
	p.finish(store.OperationSucceeded, "cluster is ready")
	return DeployClusterResult{ClusterStatus: store.ClusterReady, Endpoint: ref.Endpoint}, nil
}

// fail records the failure of the current step and of the operation, then returns err.
func fail(ctx workflow.Context, p *tracker, in DeployClusterInput, cause error) (DeployClusterResult, error) {
	p.failStep(ctx, cause.Error())
	p.finish(store.OperationFailed, cause.Error())
	// Recording the failure must succeed even if the workflow was cancelled.
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var a *activities.Cluster
	_ = workflow.ExecuteActivity(dctx, a.FinishOperation, activities.FinishOperationInput{
		OrgID: in.OrgID, ClusterID: in.ClusterID, OperationID: in.OperationID,
		OperationStat: store.OperationFailed, ClusterStatus: store.ClusterFailed, Message: cause.Error(),
	}).Get(dctx, nil)
	return DeployClusterResult{ClusterStatus: store.ClusterFailed}, cause
}
