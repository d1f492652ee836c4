package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// Deploy steps, in order; progress reports them by these names.
const (
	StepValidate     = "validate"
	StepNetwork      = "network"
	StepControlPlane = "control-plane"
	StepWaitActive   = "wait-active"
	StepNodeGroups   = "node-groups"
	StepAddons       = "addons"
	StepKubeconfig   = "kubeconfig"
	StepRecord       = "record"
)

// DeploySteps is the plan every deploy follows.
var DeploySteps = []string{StepApproval, StepValidate, StepNetwork, StepControlPlane, StepWaitActive, StepNodeGroups, StepAddons, StepKubeconfig, StepRecord}

// DeployClusterInput is what the deploy workflow needs; it carries references and a
// secret-free spec, never credentials.
type DeployClusterInput struct {
	Op   Operation
	Spec activities.ClusterSpec
	// Approval, when set, holds the deploy until someone approves it.
	Approval *ApprovalGate
}

// DeployClusterResult is what the deploy workflow returns.
type DeployClusterResult struct {
	ClusterStatus string
	Endpoint      string
}

// deployment is one run of DeployCluster: what it has created so far, so a failure or
// a cancel can take exactly that back.
type deployment struct {
	in      DeployClusterInput
	t       *tracker
	gate    *gate
	network activities.NetworkRef
	ref     activities.ClusterRef
	runner  *runner // its started steps are those whose create has begun (may have left something behind)
}

// DeployCluster provisions a cluster step by step (network, control plane, wait until
// active, node groups, add-ons, kubeconfig) and records it READY. When a step fails
// or the operation is cancelled, it removes what it created, in reverse order, in a
// disconnected context, and records FAILED or CANCELLED.
func DeployCluster(ctx workflow.Context, in DeployClusterInput) (DeployClusterResult, error) {
	t, err := newTracker(ctx, in.Op, OpDeploy, DeploySteps...)
	if err != nil {
		return DeployClusterResult{}, err
	}
	g, err := newGate(ctx)
	if err != nil {
		return DeployClusterResult{}, err
	}
	d := &deployment{in: in, t: t, gate: g, runner: newRunner(t, in.Op)}
	if err := d.run(ctx); err != nil {
		return d.rollBack(ctx, err)
	}
	t.finish(ctx, StatusSucceeded, "cluster is ready")
	emit(ctx, in.Op, activities.TopicClusterDeployed, in.Spec.Name, fmt.Sprintf("Cluster %s is ready at %s (operation %s).", in.Spec.Name, d.ref.Endpoint, in.Op.OperationID))
	return DeployClusterResult{ClusterStatus: store.ClusterReady, Endpoint: d.ref.Endpoint}, nil
}

func (d *deployment) call(step string) activities.Call {
	return activities.Call{Token: d.in.Op.OperationID + "-" + step, Step: step, Tags: d.in.Spec.Tags}
}

func (d *deployment) run(ctx workflow.Context) error {
	var a *activities.Cluster
	sctx := storeOptions(ctx)
	spec := d.in.Spec
	cp := func(step string) activities.ControlPlaneInput {
		return activities.ControlPlaneInput{Call: d.call(step), Spec: spec, Network: d.network, Ref: d.ref, Version: spec.KubernetesVersion}
	}
	noNodeGroups := ""
	if len(spec.NodeGroups) == 0 {
		noNodeGroups = "no node groups (autopilot)"
	}
	steps := []step{
		{name: StepValidate, run: func() error {
			return workflow.ExecuteActivity(sctx, a.BeginOperation, activities.BeginOperationInput{
				OrgID: d.in.Op.OrgID, ClusterID: d.in.Op.ClusterID, OperationID: d.in.Op.OperationID,
				ClusterStatus: store.ClusterProvisioning, Message: "provisioning",
			}).Get(ctx, nil)
		}},
		{name: StepNetwork, run: func() error {
			return workflow.ExecuteActivity(providerOptions(ctx, "CreateNetwork"), a.CreateNetwork, activities.NetworkInput{Call: d.call(StepNetwork), Spec: spec}).Get(ctx, &d.network)
		}},
		{name: StepControlPlane, run: func() error {
			return workflow.ExecuteActivity(providerOptions(ctx, "CreateControlPlane"), a.CreateControlPlane, cp(StepControlPlane)).Get(ctx, &d.ref)
		}, done: func() string { return d.ref.Endpoint }},
		{name: StepWaitActive, run: func() error {
			return workflow.ExecuteActivity(providerOptions(ctx, "WaitControlPlaneActive"), a.WaitControlPlaneActive, cp(StepWaitActive)).Get(ctx, nil)
		}},
		{name: StepNodeGroups, skip: noNodeGroups, run: func() error {
			return workflow.ExecuteActivity(providerOptions(ctx, "CreateNodeGroups"), a.CreateNodeGroups, activities.NodeGroupsInput{
				Call: d.call(StepNodeGroups), Spec: spec, Ref: d.ref, NodeGroups: spec.NodeGroups,
			}).Get(ctx, nil)
		}},
		{name: StepAddons, run: func() error {
			return workflow.ExecuteActivity(providerOptions(ctx, "InstallAddons"), a.InstallAddons, cp(StepAddons)).Get(ctx, nil)
		}},
		{name: StepKubeconfig, run: func() error {
			var kc activities.KubeconfigResult
			if err := workflow.ExecuteActivity(providerOptions(ctx, "VerifyKubeconfig"), a.VerifyKubeconfig, cp(StepKubeconfig)).Get(ctx, &kc); err != nil {
				return err
			}
			if workflow.GetVersion(ctx, endpointFromKubeconfigChange, workflow.DefaultVersion, 1) >= 1 && kc.Endpoint != "" {
				d.ref.Endpoint = kc.Endpoint
			}
			return nil
		}},
		{name: StepRecord, run: func() error {
			return workflow.ExecuteActivity(sctx, a.FinishOperation, activities.FinishOperationInput{
				OrgID: d.in.Op.OrgID, ClusterID: d.in.Op.ClusterID, OperationID: d.in.Op.OperationID,
				OperationStatus: store.OperationSucceeded, ClusterStatus: store.ClusterReady, Message: "cluster is ready",
				Ref: &d.ref, Network: &d.network, Spec: &spec,
			}).Get(ctx, nil)
		}},
	}
	if err := d.gate.await(ctx, d.t, d.in.Op, OpDeploy, spec.Name, d.in.Approval); err != nil {
		return err
	}
	return d.runner.run(ctx, steps)
}

// endpointFromKubeconfigChange versions recording the endpoint the kubeconfig step
// found: a real EKS cluster's create step sees none (it has one once ACTIVE).
const endpointFromKubeconfigChange = "endpoint-from-kubeconfig"

// rollbackLeftoversChange versions what a rollback records when a compensation fails
// for good: from version 1 it names each resource left behind (in the outcome's
// message, the progress and the log) and records the references of what remains on
// the cluster, so a later delete can remove it. Histories recorded before it replay
// with the step-only message.
const rollbackLeftoversChange = "rollback-leftovers"

// Leftover is something a rollback could not remove: the compensation step that
// failed, the resource it was to remove and why it could not.
type Leftover struct {
	Step     string `json:"step"`
	Resource string `json:"resource"`
	Error    string `json:"error"`
}

// rollBack removes what the deploy created, newest first, even though the workflow
// may be cancelled, then records the outcome and returns the cause. A compensation
// that fails does not stop the ones after it: each is attempted, and what could not be
// removed is recorded.
func (d *deployment) rollBack(ctx workflow.Context, cause error) (DeployClusterResult, error) {
	opStatus, status := gateOutcome(ctx, cause)
	failedAt := d.t.p.Phase
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	recordLeftovers := workflow.GetVersion(dctx, rollbackLeftoversChange, workflow.DefaultVersion, 1) >= 1
	var a *activities.Cluster
	spec := d.in.Spec
	names := make([]string, 0, len(spec.NodeGroups))
	for _, ng := range spec.NodeGroups {
		names = append(names, ng.Name)
	}
	undo := []struct {
		step     string
		resource func() string
		run      func() error
	}{
		{StepNodeGroups, func() string {
			return fmt.Sprintf("node groups %s of control plane %s", strings.Join(names, ", "), d.controlPlane())
		}, func() error {
			return workflow.ExecuteActivity(providerOptions(dctx, "DeleteNodeGroups"), a.DeleteNodeGroups, activities.NodeGroupsInput{
				Call: d.call("rollback-" + StepNodeGroups), Spec: spec, Ref: d.ref, Names: names,
			}).Get(dctx, nil)
		}},
		{StepControlPlane, func() string { return "control plane " + d.controlPlane() }, func() error {
			// Deleting by the create's token also removes a control plane whose create
			// was interrupted before it returned a reference.
			in := activities.ControlPlaneInput{Call: d.call(StepControlPlane), Spec: spec, Ref: d.ref}
			in.Call.Step = "rollback-" + StepControlPlane
			return workflow.ExecuteActivity(providerOptions(dctx, "DeleteControlPlane"), a.DeleteControlPlane, in).Get(dctx, nil)
		}},
		{StepNetwork, func() string {
			if d.network.ID != "" {
				return "network " + d.network.ID
			}
			return "network created with token " + d.call(StepNetwork).Token
		}, func() error {
			in := activities.NetworkInput{Call: d.call(StepNetwork), Spec: spec, Network: d.network}
			in.Call.Step = "rollback-" + StepNetwork
			return workflow.ExecuteActivity(providerOptions(dctx, "DeleteNetwork"), a.DeleteNetwork, in).Get(dctx, nil)
		}},
	}
	message := "deploy failed: " + cause.Error()
	switch status {
	case StatusCancelled:
		message = "deploy cancelled"
	case StatusRejected, StatusExpired:
		message = "deploy not approved: " + cause.Error()
	}
	var left []Leftover
	var removed []string
	for _, u := range undo {
		if !d.runner.started[u.step] {
			continue
		}
		if err := d.runner.compensate(dctx, u.step, u.run); err != nil {
			if recordLeftovers {
				left = append(left, Leftover{Step: "rollback-" + u.step, Resource: u.resource(), Error: causeOf(err)})
			} else {
				message += "; rollback of " + u.step + " failed, resources may remain: " + err.Error()
			}
			continue
		}
		removed = append(removed, u.step)
	}
	if humanMessages(dctx) {
		message = deployOutcome(status, failedAt, cause, removed, len(left) > 0)
	}

	clusterStatus := map[string]string{StatusCancelled: store.ClusterCancelled, StatusRejected: store.ClusterRejected,
		StatusExpired: store.ClusterExpired}[status]
	if clusterStatus == "" {
		clusterStatus = store.ClusterFailed
	}
	finish := activities.FinishOperationInput{
		OrgID: d.in.Op.OrgID, ClusterID: d.in.Op.ClusterID, OperationID: d.in.Op.OperationID,
		OperationStatus: opStatus, ClusterStatus: clusterStatus, Message: message,
	}
	if len(left) > 0 {
		finish.Message = leftBehindMessage(message, left)
		// Keep the references of what remains on the cluster, so an operator sees them
		// and a delete of the cluster removes them.
		for _, l := range left {
			switch l.Step {
			case "rollback-" + StepNodeGroups, "rollback-" + StepControlPlane:
				finish.Ref = &d.ref
			case "rollback-" + StepNetwork:
				finish.Network = &d.network
			}
		}
		d.t.p.LeftBehind = left
		workflow.GetLogger(dctx).Warn("rollback left resources behind", "operationID", d.in.Op.OperationID,
			"clusterName", spec.Name, "leftBehind", finish.Message)
	}
	message = finish.Message
	_ = workflow.ExecuteActivity(storeOptions(dctx), a.FinishOperation, finish).Get(dctx, nil)
	d.t.finish(dctx, status, message)
	emit(dctx, d.in.Op, activities.TopicClusterFailed, spec.Name, fmt.Sprintf("Cluster %s: %s (operation %s).", spec.Name, message, d.in.Op.OperationID))
	if status == StatusCancelled {
		return DeployClusterResult{ClusterStatus: clusterStatus}, temporal.NewCanceledError(message)
	}
	return DeployClusterResult{ClusterStatus: clusterStatus}, cause
}

// controlPlane names the deploy's control plane: its provider ID, or the token it was
// created with when the create never returned one.
func (d *deployment) controlPlane() string {
	if d.ref.ExternalID != "" {
		return d.ref.ExternalID
	}
	return "created with token " + d.call(StepControlPlane).Token
}

// leftBehindMessage is the outcome's message when a rollback could not remove
// everything: what remains and why, so it can be removed by hand or by a delete.
func leftBehindMessage(message string, left []Leftover) string {
	parts := make([]string, 0, len(left))
	for _, l := range left {
		parts = append(parts, fmt.Sprintf("%s (%s: %s)", l.Resource, l.Step, l.Error))
	}
	return message + "; rollback incomplete, left behind: " + strings.Join(parts, "; ")
}

// causeOf is the message of the failure behind an activity error, without the
// activity error's own wrapping.
func causeOf(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) && app.Message() != "" {
		return app.Message()
	}
	return err.Error()
}

// deployOutcome words a deploy that did not succeed: where it stopped, why, and what
// its rollback removed (what it could not remove is added by leftBehindMessage).
func deployOutcome(status, failedAt string, cause error, removed []string, incomplete bool) string {
	undone := "; nothing had been created"
	switch {
	case len(removed) > 0:
		undone = "; rolled back: removed what " + listWords(removed) + " had created"
	case incomplete:
		undone = ""
	}
	switch status {
	case StatusCancelled:
		if failedAt == StepApproval {
			return "deploy cancelled while waiting for approval; nothing had been created"
		}
		return "deploy cancelled at " + failedAt + undone
	case StatusRejected, StatusExpired:
		return "deploy not approved: " + describe(cause) + "; nothing had been created"
	}
	return "deploy failed at " + failedAt + ": " + describe(cause) + undone
}
