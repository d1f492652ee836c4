package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/astropulse/astroplane/workflows"
)

// Provider activities are sized for real clouds: a control plane may take 20 minutes
// to become active, an upgrade of it an hour, a node group's rolling replacement
// longer still; every provider call heartbeats.
func TestProviderActivitiesAreSizedForRealClouds(t *testing.T) {
	var mu sync.Mutex
	limits := map[string]time.Duration{}
	heartbeats := map[string]time.Duration{}
	listen := func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		mu.Lock()
		defer mu.Unlock()
		limits[info.ActivityType.Name] = info.Deadline.Sub(info.StartedTime)
		heartbeats[info.ActivityType.Name] = info.HeartbeatTimeout
	}
	for _, run := range []func(f *fakeCloud){
		func(f *fakeCloud) {
			env := newEnv(f)
			env.SetOnActivityStartedListener(listen)
			env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
		},
		func(f *fakeCloud) {
			env := newEnv(f)
			env.SetOnActivityStartedListener(listen)
			env.ExecuteWorkflow(workflows.DeleteCluster, deleteInput)
		},
		func(f *fakeCloud) {
			env := newEnv(f)
			env.SetOnActivityStartedListener(listen)
			env.ExecuteWorkflow(workflows.UpdateCluster, updateInput)
		},
	} {
		run(&fakeCloud{})
	}
	atLeast := map[string]time.Duration{
		"CreateNetwork": 15 * time.Minute, "CreateControlPlane": 15 * time.Minute, "WaitControlPlaneActive": 30 * time.Minute,
		"CreateNodeGroups": 30 * time.Minute, "InstallAddons": 15 * time.Minute, "VerifyKubeconfig": 5 * time.Minute,
		"DeleteNodeGroups": 30 * time.Minute, "DeleteControlPlane": 30 * time.Minute, "DeleteNetwork": 15 * time.Minute,
		"UpgradeControlPlane": time.Hour,
	}
	for name, min := range atLeast {
		got, ok := limits[name]
		if !ok {
			t.Errorf("%s never ran", name)
			continue
		}
		if got < min {
			t.Errorf("%s may take %s, want at least %s", name, got, min)
		}
		if heartbeats[name] <= 0 || heartbeats[name] > time.Minute {
			t.Errorf("%s heartbeat timeout %s, want one within a minute", name, heartbeats[name])
		}
	}
	if limits["UpdateNodeGroup"] <= limits["UpgradeControlPlane"] {
		t.Errorf("a node group's rolling update (%s) may not take longer than a control plane upgrade (%s)", limits["UpdateNodeGroup"], limits["UpgradeControlPlane"])
	}
	if limits["BeginOperation"] == 0 || limits["BeginOperation"] > time.Minute || heartbeats["BeginOperation"] != 0 {
		t.Errorf("store activity: %s, heartbeat %s", limits["BeginOperation"], heartbeats["BeginOperation"])
	}
}
