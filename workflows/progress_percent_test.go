package workflows_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

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

// memoRecorder keeps a copy of every progress memo the workflow writes.
type memoRecorder struct{ memos []workflows.Progress }

func (r *memoRecorder) watch(t *testing.T, env *testsuite.TestWorkflowEnvironment) {
	env.OnUpsertMemo(mock.Anything).Run(func(args mock.Arguments) {
		m, ok := args.Get(0).(map[string]any)[workflows.MemoProgress]
		if !ok {
			t.Errorf("memo without %q: %v", workflows.MemoProgress, args.Get(0))
			return
		}
		raw, err := json.Marshal(m) // a copy: the workflow goes on changing its own
		if err != nil {
			t.Error(err)
			return
		}
		var p workflows.Progress
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Error(err)
		}
		r.memos = append(r.memos, p)
	}).Return(nil)
}

func (r *memoRecorder) last(t *testing.T) workflows.Progress {
	t.Helper()
	if len(r.memos) == 0 {
		t.Fatal("the workflow wrote no progress memo")
	}
	return r.memos[len(r.memos)-1]
}

// sameProgress compares two Progress values as the API shows them (JSON).
func sameProgress(t *testing.T, what string, got, want workflows.Progress) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s: memo\n %s\nquery\n %s", what, g, w)
	}
}

// The progress memo (what the API reads) says what the query says, at every point:
// from the start (every step pending), mid-way, and at the end.
func TestProgressMemoFollowsTheQuery(t *testing.T) {
	env := newEnv(&fakeCloud{slowAt: "UpgradeControlPlane", slow: time.Hour})
	var rec memoRecorder
	rec.watch(t, env)
	var mid, memoMid workflows.Progress
	env.RegisterDelayedCallback(func() { mid, memoMid = queryProgress(t, env), rec.last(t) }, 90*time.Minute)
	env.ExecuteWorkflow(workflows.UpdateCluster, updateInput)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if first := rec.memos[0]; first.Status != workflows.StatusRunning || first.Percent != 0 || len(first.Steps) == 0 || first.Steps[0].Status != workflows.StepPending {
		t.Fatalf("first memo %+v: want every step pending", first)
	}
	sameProgress(t, "mid-way", memoMid, mid)
	sameProgress(t, "at the end", rec.last(t), queryProgress(t, env))
}

// A failed deploy's memo ends as its query does: failed, rolled back, with the
// steps it never reached cancelled.
func TestProgressMemoOfAFailedDeploy(t *testing.T) {
	env := newEnv(&fakeCloud{failAt: "CreateNodeGroups"})
	var rec memoRecorder
	rec.watch(t, env)
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
	end := queryProgress(t, env)
	if end.Status != workflows.StatusFailed {
		t.Fatalf("status %s", end.Status)
	}
	sameProgress(t, "at the end", rec.last(t), end)
}
