package workflows_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/workflows"
)

// Upgrades, replacements and image-family changes replace a group's nodes in
// batches; scaling and configuration changes do not.
func TestUpdateNodeGroupReplacesOnlyWhenNodesMustChange(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	a, n := &activities.Cluster{}, &activities.Notifier{}
	env.RegisterActivity(a)
	env.RegisterActivity(n)
	env.RegisterWorkflow(workflows.NotifyTopic)
	var mu sync.Mutex
	replace := map[string]bool{}
	batches := map[string]int{}
	env.OnActivity(a.BeginOperation, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.FinishOperation, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(n.DeliverTopic, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.UpdateNodeGroup, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NodeGroupsInput) error {
		mu.Lock()
		defer mu.Unlock()
		replace[in.Call.Step] = in.Replace
		batches[in.Call.Step] = in.Batches
		return nil
	})
	group := &activities.NodeGroupSpec{Name: "default-pool", Version: "1.33", MinNode: 1, MaxNode: 3}
	kinds := map[string]bool{
		workflows.KindNodeGroupUpgrade: true, workflows.KindNodeGroupReplace: true, workflows.KindAmiFamilyUpdate: true,
		workflows.KindNodeGroupScale: false, workflows.KindNodeGroupConfig: false,
	}
	in := workflows.UpdateClusterInput{Op: workflows.Operation{OrgID: "org-1", ClusterID: "cl-1", OperationID: "acme.prod.update.2"}, Current: spec}
	for kind := range kinds {
		in.Steps = append(in.Steps, workflows.UpdateStep{Name: kind, Kind: kind, Version: "1.33", NodeGroup: group, Batches: 2})
	}
	env.ExecuteWorkflow(workflows.UpdateCluster, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	for kind, want := range kinds {
		if got, ok := replace[kind]; !ok || got != want {
			t.Errorf("%s: replace %v (called %v), want %v", kind, got, ok, want)
		}
		if batches[kind] != 2 {
			t.Errorf("%s: %d batches, want 2", kind, batches[kind])
		}
	}
}
