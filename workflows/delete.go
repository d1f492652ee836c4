package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// Delete steps: the deploy's, in reverse.
const (
	StepDeleteNodeGroups   = "delete-node-groups"
	StepDeleteControlPlane = "delete-control-plane"
	StepDeleteNetwork      = "delete-network"
)

// DeleteSteps is the plan every delete follows.
var DeleteSteps = []string{StepApproval, StepValidate, StepDeleteNodeGroups, StepDeleteControlPlane, StepDeleteNetwork, StepRecord}

// DeleteClusterInput is what the delete workflow needs: the cluster's spec and its
// provider references as the store has them (empty when a deploy never got there).
type DeleteClusterInput struct {
	Op      Operation
	Spec    activities.ClusterSpec
	Ref     activities.ClusterRef
	Network activities.NetworkRef
	// CreateOperationID is the deploy that created the cluster; deletes by its tokens
	// also find resources a failed deploy left without references.
	CreateOperationID string
	// PriorStatus is the cluster's status before the delete; a delete that is not
	// approved leaves the cluster in it.
	PriorStatus string
	Approval    *ApprovalGate
}

// DeleteCluster tears a cluster down in the reverse order of its creation and records
// it DELETED (kept for history; its name is free again). Every delete is idempotent,
// so resources already gone are fine and a retried delete finishes the job. A failed
// or cancelled delete leaves the cluster FAILED, to be deleted again.
func DeleteCluster(ctx workflow.Context, in DeleteClusterInput) (string, error) {
	t, err := newTracker(ctx, in.Op, OpDelete, DeleteSteps...)
	if err != nil {
		return "", err
	}
	g, err := newGate(ctx)
	if err != nil {
		return "", err
	}
	if err := g.await(ctx, t, in.Op, OpDelete, in.Spec.Name, in.Approval); err != nil {
		return "", finishUnfinished(ctx, t, in.Op, err, "delete", in.PriorStatus, in.Spec.Name)
	}
	var a *activities.Cluster
	sctx := storeOptions(ctx)
	// Deletes use the create's tokens, so they find what a create made even without
	// its reference; Step names the delete's own step for fault injection.
	createCall := func(createStep, step string) activities.Call {
		return activities.Call{Token: in.CreateOperationID + "-" + createStep, Step: step, Tags: in.Spec.Tags}
	}
	names := make([]string, 0, len(in.Spec.NodeGroups))
	for _, ng := range in.Spec.NodeGroups {
		names = append(names, ng.Name)
	}
	steps := []step{
		{name: StepValidate, run: func() error {
			return workflow.ExecuteActivity(sctx, a.BeginOperation, activities.BeginOperationInput{
				OrgID: in.Op.OrgID, ClusterID: in.Op.ClusterID, OperationID: in.Op.OperationID,
				ClusterStatus: store.ClusterDeleting, Message: "deleting",
			}).Get(ctx, nil)
		}},
		{name: StepDeleteNodeGroups, run: func() error {
			return workflow.ExecuteActivity(providerOptions(ctx, "DeleteNodeGroups"), a.DeleteNodeGroups, activities.NodeGroupsInput{
				Call: createCall(StepNodeGroups, StepDeleteNodeGroups), Spec: in.Spec, Ref: in.Ref, Names: names,
			}).Get(ctx, nil)
		}},
		{name: StepDeleteControlPlane, run: func() error {
			return workflow.ExecuteActivity(providerOptions(ctx, "DeleteControlPlane"), a.DeleteControlPlane, activities.ControlPlaneInput{
				Call: createCall(StepControlPlane, StepDeleteControlPlane), Spec: in.Spec, Ref: in.Ref,
			}).Get(ctx, nil)
		}},
		{name: StepDeleteNetwork, run: func() error {
			return workflow.ExecuteActivity(providerOptions(ctx, "DeleteNetwork"), a.DeleteNetwork, activities.NetworkInput{
				Call: createCall(StepNetwork, StepDeleteNetwork), Spec: in.Spec, Network: in.Network,
			}).Get(ctx, nil)
		}},
		{name: StepRecord, run: func() error {
			return workflow.ExecuteActivity(sctx, a.FinishOperation, activities.FinishOperationInput{
				OrgID: in.Op.OrgID, ClusterID: in.Op.ClusterID, OperationID: in.Op.OperationID,
				OperationStatus: store.OperationSucceeded, ClusterStatus: store.ClusterDeleted, Message: "cluster deleted",
			}).Get(ctx, nil)
		}},
	}
	if err := newRunner(t, in.Op).run(ctx, steps); err != nil {
		return "", finishUnfinished(ctx, t, in.Op, err, "delete", store.ClusterFailed, in.Spec.Name)
	}
	t.finish(ctx, StatusSucceeded, "cluster deleted")
	emit(ctx, in.Op, activities.TopicClusterDeleted, in.Spec.Name, fmt.Sprintf("Cluster %s was deleted (operation %s).", in.Spec.Name, in.Op.OperationID))
	return store.ClusterDeleted, nil
}

// finishUnfinished records an operation that stopped part-way (failed, cancelled, or
// not approved) with the cluster left in clusterStatus, and returns the error the
// workflow ends with.
func finishUnfinished(ctx workflow.Context, t *tracker, op Operation, cause error, what, clusterStatus, clusterName string) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	var a *activities.Cluster
	opStatus, status := gateOutcome(ctx, cause)
	wasCancelled := status == StatusCancelled
	message := what + " failed at " + t.p.Phase + ": " + cause.Error()
	switch status {
	case StatusCancelled:
		message = what + " cancelled at " + t.p.Phase
	case StatusRejected, StatusExpired:
		message = what + " not approved: " + cause.Error()
	}
	if humanMessages(dctx) {
		message = stoppedOutcome(what, status, t.p.Phase, cause,
			"; stopped there: what it removed stays removed, and the cluster is left "+clusterStatus+" until it is deleted again")
	}
	_ = workflow.ExecuteActivity(storeOptions(dctx), a.FinishOperation, activities.FinishOperationInput{
		OrgID: op.OrgID, ClusterID: op.ClusterID, OperationID: op.OperationID,
		OperationStatus: opStatus, ClusterStatus: clusterStatus, Message: message,
	}).Get(dctx, nil)
	t.finish(dctx, status, message)
	emit(dctx, op, activities.TopicClusterFailed, clusterName, fmt.Sprintf("Cluster %s: %s (operation %s).", clusterName, message, op.OperationID))
	if wasCancelled {
		return temporal.NewCanceledError(message)
	}
	return cause
}

// stoppedOutcome words an update or delete that did not succeed: where it stopped and
// why; stopped says what stays as it is (these operations are not rolled back). An
// operation stopped at its approval step had changed nothing.
func stoppedOutcome(what, status, stoppedAt string, cause error, stopped string) string {
	switch status {
	case StatusCancelled:
		if stoppedAt == StepApproval {
			return what + " cancelled while waiting for approval; nothing was changed"
		}
		return what + " cancelled at " + stoppedAt + stopped
	case StatusRejected, StatusExpired:
		return what + " not approved: " + describe(cause) + "; nothing was changed"
	}
	if stoppedAt == StepApproval {
		return what + " failed at " + stoppedAt + ": " + describe(cause) + "; nothing was changed"
	}
	return what + " failed at " + stoppedAt + ": " + describe(cause) + stopped
}
