package workflows

import (
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// Kinds of update steps (the planner's step kinds).
const (
	KindControlPlaneUpgrade = "control-plane-upgrade"
	KindNodeGroupUpgrade    = "node-group-upgrade"
	KindNodeGroupReplace    = "node-group-replace"
	KindNodeGroupScale      = "node-group-scale"
	KindNodeGroupConfig     = "node-group-update-config"
	KindNodeGroupCreate     = "node-group-create"
	KindAddonsUpgrade       = "addons-upgrade"
	KindTagsUpdate          = "tags-update"
	KindAmiFamilyUpdate     = "ami-family-update"
	KindClusterSettings     = "cluster-settings"
)

// UpdateStep is one step of an update plan, resolved by the API into what the
// activity needs: the node group's whole new spec, or the version, or the tags, or
// the cluster settings.
type UpdateStep struct {
	Name      string // unique within the plan; progress shows it
	Kind      string
	Version   string
	NodeGroup *activities.NodeGroupSpec
	Batches   int
	Tags      map[string]string
	// Settings are the cluster-wide settings a cluster-settings step changes.
	Settings *activities.ClusterSettings `json:",omitempty"`
}

// UpdateClusterInput is what the update workflow needs.
type UpdateClusterInput struct {
	Op       Operation
	Current  activities.ClusterSpec
	Ref      activities.ClusterRef
	Steps    []UpdateStep
	Approval *ApprovalGate
}

// updateFaultTagsChange versions the tags update steps carry: the update's planned
// tags from the first step (version 1) rather than the cluster's tags so far.
const updateFaultTagsChange = "update-fault-tags"

// clusterSettingsStepChange versions the cluster-settings step kind. Before it, the
// update workflow failed such a step as an unknown kind (a plan from an API newer
// than the worker): a history that did so keeps doing so on replay (no marker), and
// new runs (version 1) call UpdateClusterSettings.
const clusterSettingsStepChange = "update-cluster-settings-step"

// UpdateCluster carries out an upgrade plan step by step and records the cluster's new
// state. Upgrades cannot be undone, so a failed or cancelled update stops where it is
// and records the state reached so far; the cluster stays READY.
func UpdateCluster(ctx workflow.Context, in UpdateClusterInput) (activities.ClusterSpec, error) {
	names := []string{StepApproval, StepValidate}
	for _, s := range in.Steps {
		names = append(names, s.Name)
	}
	t, err := newTracker(ctx, in.Op, OpUpdate, append(names, StepRecord)...)
	if err != nil {
		return activities.ClusterSpec{}, err
	}
	var a *activities.Cluster
	sctx := storeOptions(ctx)
	cur := in.Current
	// The tags a step's call carries drive the simulated cloud's fault injection.
	// Since update-fault-tags they are the tags the cluster has at the end of the
	// update (the manifest's, when its plan changes them) from the first step on, so
	// fault tags in an update manifest act on that update rather than the next one.
	faultTags := func() map[string]string { return cur.Tags }
	if workflow.GetVersion(ctx, updateFaultTagsChange, workflow.DefaultVersion, 1) >= 1 {
		planned := in.Current.Tags
		for _, s := range in.Steps {
			if s.Kind == KindTagsUpdate {
				planned = s.Tags
			}
		}
		faultTags = func() map[string]string { return planned }
	}
	call := func(step string) activities.Call {
		return activities.Call{Token: in.Op.OperationID + "-" + step, Step: step, Tags: faultTags()}
	}
	finish := func(ctx workflow.Context, opStatus, message string) error {
		state := cur
		return workflow.ExecuteActivity(storeOptions(ctx), a.FinishOperation, activities.FinishOperationInput{
			OrgID: in.Op.OrgID, ClusterID: in.Op.ClusterID, OperationID: in.Op.OperationID,
			OperationStatus: opStatus, ClusterStatus: store.ClusterReady, Message: message, Spec: &state,
		}).Get(ctx, nil)
	}
	fail := func(err error) (activities.ClusterSpec, error) {
		if s := t.step(t.p.Phase); s.Status == StepRunning {
			t.end(ctx, stepStatusFor(ctx, err), stepMessage(ctx, err))
		}
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		opStatus, status := gateOutcome(ctx, err)
		message := "update failed at " + t.p.Phase + ": " + err.Error()
		switch status {
		case StatusCancelled:
			message = "update cancelled at " + t.p.Phase
		case StatusRejected, StatusExpired:
			message = "update not approved: " + err.Error()
		}
		if humanMessages(dctx) {
			message = stoppedOutcome(OpUpdate, status, t.p.Phase, err,
				"; stopped there: the steps before it stay applied and the cluster records the state reached (an update is not rolled back)")
		}
		_ = finish(dctx, opStatus, message)
		t.finish(dctx, status, message)
		emit(dctx, in.Op, activities.TopicClusterFailed, cur.Name, fmt.Sprintf("Cluster %s: %s (operation %s).", cur.Name, message, in.Op.OperationID))
		if status == StatusCancelled {
			return cur, temporal.NewCanceledError(message)
		}
		return cur, err
	}
	g, err := newGate(ctx)
	if err != nil {
		return cur, err
	}
	if err := g.await(ctx, t, in.Op, OpUpdate, cur.Name, in.Approval); err != nil {
		return fail(err)
	}

	steps := make([]step, 0, len(in.Steps)+2)
	steps = append(steps, step{name: StepValidate, run: func() error {
		return workflow.ExecuteActivity(sctx, a.BeginOperation, activities.BeginOperationInput{
			OrgID: in.Op.OrgID, ClusterID: in.Op.ClusterID, OperationID: in.Op.OperationID,
			ClusterStatus: store.ClusterUpdating, Message: "updating",
		}).Get(ctx, nil)
	}})
	for _, s := range in.Steps {
		steps = append(steps, step{name: s.Name, run: func() error {
			var f workflow.Future
			switch s.Kind {
			case KindControlPlaneUpgrade:
				f = workflow.ExecuteActivity(providerOptions(ctx, "UpgradeControlPlane"), a.UpgradeControlPlane, activities.ControlPlaneInput{Call: call(s.Name), Spec: cur, Ref: in.Ref, Version: s.Version})
			case KindAddonsUpgrade:
				f = workflow.ExecuteActivity(providerOptions(ctx, "InstallAddons"), a.InstallAddons, activities.ControlPlaneInput{Call: call(s.Name), Spec: cur, Ref: in.Ref, Version: s.Version})
			case KindTagsUpdate:
				next := cur
				next.Tags = s.Tags
				f = workflow.ExecuteActivity(providerOptions(ctx, "UpdateTags"), a.UpdateTags, activities.NodeGroupsInput{Call: call(s.Name), Spec: next, Ref: in.Ref})
			case KindClusterSettings:
				if s.Settings == nil || workflow.GetVersion(ctx, clusterSettingsStepChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
					return temporal.NewNonRetryableApplicationError("unknown update step kind "+s.Kind, activities.ErrTypeInvalidInput, nil)
				}
				f = workflow.ExecuteActivity(providerOptions(ctx, "UpdateClusterSettings"), a.UpdateClusterSettings, activities.ClusterSettingsInput{
					Call: call(s.Name), Spec: cur, Ref: in.Ref, Settings: *s.Settings,
				})
			case KindNodeGroupCreate:
				f = workflow.ExecuteActivity(providerOptions(ctx, "CreateNodeGroups"), a.CreateNodeGroups, activities.NodeGroupsInput{Call: call(s.Name), Spec: cur, Ref: in.Ref, NodeGroups: []activities.NodeGroupSpec{*s.NodeGroup}})
			case KindNodeGroupUpgrade, KindNodeGroupReplace, KindNodeGroupScale, KindNodeGroupConfig, KindAmiFamilyUpdate:
				replace := s.Kind == KindNodeGroupReplace || s.Kind == KindAmiFamilyUpdate || s.Kind == KindNodeGroupUpgrade
				f = workflow.ExecuteActivity(providerOptions(ctx, "UpdateNodeGroup"), a.UpdateNodeGroup, activities.NodeGroupsInput{
					Call: call(s.Name), Spec: cur, Ref: in.Ref, NodeGroups: []activities.NodeGroupSpec{*s.NodeGroup},
					Replace: replace, Batches: s.Batches,
				})
			default:
				return temporal.NewNonRetryableApplicationError("unknown update step kind "+s.Kind, activities.ErrTypeInvalidInput, nil)
			}
			if err := f.Get(ctx, nil); err != nil {
				return err
			}
			cur = applyStep(cur, s)
			return nil
		}})
	}
	steps = append(steps, step{name: StepRecord, run: func() error {
		return finish(ctx, store.OperationSucceeded, "cluster updated")
	}})
	if err := newRunner(t, in.Op).run(ctx, steps); err != nil {
		return fail(err)
	}
	t.finish(ctx, StatusSucceeded, "cluster updated")
	emit(ctx, in.Op, activities.TopicClusterUpdated, cur.Name, fmt.Sprintf("Cluster %s was updated (operation %s).", cur.Name, in.Op.OperationID))
	return cur, nil
}

// applyStep returns spec as it is after step succeeded.
func applyStep(spec activities.ClusterSpec, s UpdateStep) activities.ClusterSpec {
	switch s.Kind {
	case KindControlPlaneUpgrade:
		spec.KubernetesVersion = s.Version
	case KindTagsUpdate:
		spec.Tags = s.Tags
	case KindClusterSettings:
		if s.Settings != nil {
			spec = s.Settings.Apply(spec)
		}
	}
	if s.NodeGroup == nil {
		return spec
	}
	groups := make([]activities.NodeGroupSpec, 0, len(spec.NodeGroups)+1)
	found := false
	for _, ng := range spec.NodeGroups {
		if ng.Name == s.NodeGroup.Name {
			ng, found = *s.NodeGroup, true
		}
		groups = append(groups, ng)
	}
	if !found {
		groups = append(groups, *s.NodeGroup)
	}
	spec.NodeGroups = groups
	return spec
}
