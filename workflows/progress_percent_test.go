package workflows_test

import (
	"testing"
	"time"

	"github.com/astropulse/astroplane/workflows"
)

// stepStatuses maps each step to its status.
func stepStatuses(p workflows.Progress) map[string]string {
	m := map[string]string{}
	for _, s := range p.Steps {
		m[s.Name] = s.Status
	}
	return m
}

// Percent counts finished forward steps (skipped ones too), not the running one.
func TestProgressPercentWhileRunning(t *testing.T) {
	env := newEnv(&fakeCloud{slowAt: "UpgradeControlPlane", slow: time.Hour})
	var mid workflows.Progress
	env.RegisterDelayedCallback(func() { mid = queryProgress(t, env) }, 90*time.Minute)
	env.ExecuteWorkflow(workflows.UpdateCluster, updateInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	// approval (skipped), validate and the first hop of 7 steps are done.
	if mid.Status != workflows.StatusRunning || mid.Phase != "2-control-plane-upgrade" || mid.Percent != 3*100/7 {
		t.Fatalf("progress mid-way: status %s, phase %s, %d%%", mid.Status, mid.Phase, mid.Percent)
	}
	if end := queryProgress(t, env); end.Status != workflows.StatusSucceeded || end.Phase != "done" || end.Percent != 100 || end.EndedAt == nil {
		t.Fatalf("progress at the end: %+v", end)
	}
}

// A failed update marks the step that failed FAILED and the ones it never reached
// CANCELLED, and stays at the phase and percent it reached.
func TestProgressOfAFailedUpdate(t *testing.T) {
	env := newEnv(&fakeCloud{failAt: "UpgradeControlPlane 1.33"})
	env.ExecuteWorkflow(workflows.UpdateCluster, updateInput)
	p := queryProgress(t, env)
	if p.Status != workflows.StatusFailed || p.Phase != "2-control-plane-upgrade" || p.Percent != 3*100/7 {
		t.Fatalf("progress: status %s, phase %s, %d%%", p.Status, p.Phase, p.Percent)
	}
	st := stepStatuses(p)
	if st["1-control-plane-upgrade"] != workflows.StepSucceeded || st["2-control-plane-upgrade"] != workflows.StepFailed ||
		st["3-node-group-upgrade"] != workflows.StepCancelled || st["record"] != workflows.StepCancelled {
		t.Fatalf("steps %v", st)
	}
}

// Rollback steps are not progress: a deploy that failed at node-groups and rolled
// back counts 5 of its 9 forward steps.
func TestProgressPercentIgnoresCompensation(t *testing.T) {
	env := newEnv(&fakeCloud{failAt: "CreateNodeGroups"})
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
	p := queryProgress(t, env)
	if p.Status != workflows.StatusFailed || p.Percent != 5*100/9 {
		t.Fatalf("progress: status %s, %d%%", p.Status, p.Percent)
	}
	if st := stepStatuses(p); st["rollback-network"] != workflows.StepSucceeded || st["node-groups"] != workflows.StepFailed {
		t.Fatalf("steps %v", st)
	}
}
