package workflows_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

var deleteInput = workflows.DeleteClusterInput{
	Op: workflows.Operation{OrgID: "org-1", ClusterID: "cl-1", OperationID: "acme.prod.delete.1"}, Spec: spec,
	Ref: activities.ClusterRef{ExternalID: "cp-1"}, Network: activities.NetworkRef{ID: "net-1"}, CreateOperationID: "acme.prod.deploy.1",
}

func TestDeleteTearsDownInReverseOrder(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	env.ExecuteWorkflow(workflows.DeleteCluster, deleteInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []string{"BeginOperation", "DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork", "FinishOperation"}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	if fin := f.lastFinish(t); fin.ClusterStatus != store.ClusterDeleted || fin.OperationStatus != store.OperationSucceeded {
		t.Fatalf("outcome %+v", fin)
	}
}

func TestDeleteFailureLeavesTheClusterFailed(t *testing.T) {
	f := &fakeCloud{failAt: "DeleteControlPlane"}
	env := newEnv(f)
	env.ExecuteWorkflow(workflows.DeleteCluster, deleteInput)
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) {
		t.Fatalf("workflow error %v", err)
	}
	if slices.Contains(f.calls, "DeleteNetwork") {
		t.Fatal("network deleted after the control plane failed to delete")
	}
	if fin := f.lastFinish(t); fin.ClusterStatus != store.ClusterFailed || fin.OperationStatus != store.OperationFailed {
		t.Fatalf("outcome %+v", fin)
	}
}

func TestDeleteCancelled(t *testing.T) {
	f := &fakeCloud{slowAt: "BeginOperation", slow: time.Hour}
	env := newEnv(f)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Minute)
	env.ExecuteWorkflow(workflows.DeleteCluster, deleteInput)
	if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("workflow error %v, want cancelled", err)
	}
	if fin := f.lastFinish(t); fin.OperationStatus != store.OperationCancelled {
		t.Fatalf("outcome %+v", fin)
	}
}

var updateInput = workflows.UpdateClusterInput{
	Op: workflows.Operation{OrgID: "org-1", ClusterID: "cl-1", OperationID: "acme.prod.update.1"}, Current: spec,
	Steps: []workflows.UpdateStep{
		{Name: "1-control-plane-upgrade", Kind: workflows.KindControlPlaneUpgrade, Version: "1.32"},
		{Name: "2-control-plane-upgrade", Kind: workflows.KindControlPlaneUpgrade, Version: "1.33"},
		{Name: "3-node-group-upgrade", Kind: workflows.KindNodeGroupUpgrade, Version: "1.33",
			NodeGroup: &activities.NodeGroupSpec{Name: "default-pool", Version: "1.33", MinNode: 1, MaxNode: 3}},
		{Name: "4-tags", Kind: workflows.KindTagsUpdate, Tags: map[string]string{"team": "platform"}},
	},
}

func TestUpdateWalksThePlanAndRecordsTheNewState(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	env.ExecuteWorkflow(workflows.UpdateCluster, updateInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []string{"BeginOperation", "UpgradeControlPlane 1.32", "UpgradeControlPlane 1.33", "UpdateNodeGroup default-pool", "UpdateTags", "FinishOperation"}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	fin := f.lastFinish(t)
	if fin.ClusterStatus != store.ClusterReady || fin.Spec == nil || fin.Spec.KubernetesVersion != "1.33" ||
		fin.Spec.NodeGroups[0].Version != "1.33" || fin.Spec.Tags["team"] != "platform" {
		t.Fatalf("outcome %+v", fin)
	}
}

// An update that fails part-way records the state it reached (the first hop happened)
// and leaves the cluster READY: upgrades cannot be undone.
func TestUpdateFailureRecordsTheStateReached(t *testing.T) {
	f := &fakeCloud{failAt: "UpgradeControlPlane 1.33"}
	env := newEnv(f)
	env.ExecuteWorkflow(workflows.UpdateCluster, updateInput)
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("update succeeded")
	}
	fin := f.lastFinish(t)
	if fin.OperationStatus != store.OperationFailed || fin.ClusterStatus != store.ClusterReady || fin.Spec.KubernetesVersion != "1.32" {
		t.Fatalf("outcome %+v", fin)
	}
	if slices.Contains(f.calls, "UpdateNodeGroup default-pool") {
		t.Fatal("kept going after a failed hop")
	}
}

func TestUpdateCancelled(t *testing.T) {
	f := &fakeCloud{slowAt: "UpgradeControlPlane", slow: time.Hour}
	env := newEnv(f)
	env.RegisterDelayedCallback(env.CancelWorkflow, 90*time.Minute)
	env.ExecuteWorkflow(workflows.UpdateCluster, updateInput)
	if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("workflow error %v, want cancelled", err)
	}
	fin := f.lastFinish(t)
	if fin.OperationStatus != store.OperationCancelled || fin.Spec.KubernetesVersion != "1.32" {
		t.Fatalf("outcome %+v (calls %v)", fin, f.calls)
	}
	if p := queryProgress(t, env); p.Status != workflows.StatusCancelled {
		t.Fatalf("progress %+v", p)
	}
}
