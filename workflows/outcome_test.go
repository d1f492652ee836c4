package workflows_test

import (
	"strings"
	"testing"

	"github.com/astropulse/astroplane/workflows"
)

// temporalInternals are what Temporal's error strings carry that people should not
// have to read: the activity error's wrapping, its type, event IDs and the worker.
var temporalInternals = []string{"activity error", "scheduledEventID", "startedEventID", "identity", "(type:", "retryable"}

func checkWords(t *testing.T, where, msg string, want ...string) {
	t.Helper()
	for _, bad := range temporalInternals {
		if strings.Contains(msg, bad) {
			t.Errorf("%s %q carries Temporal's %q", where, msg, bad)
		}
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s %q does not say %q", where, msg, w)
		}
	}
}

// TestOutcomesAreWordedForPeople: a failed deploy, update or delete records (in the
// store, progress and its step) where it stopped, the cause as the activity gave it and
// what was undone, without Temporal's activity error wrapping.
func TestOutcomesAreWordedForPeople(t *testing.T) {
	t.Run("deploy", func(t *testing.T) {
		f := &fakeCloud{failAt: "CreateNodeGroups"}
		env := newEnv(f)
		env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
		want := "deploy failed at node-groups: boom at CreateNodeGroups; rolled back: removed what node-groups, control-plane and network had created"
		fin := f.lastFinish(t)
		checkWords(t, "outcome", fin.Message, want)
		p := queryProgress(t, env)
		checkWords(t, "progress", p.Message, want)
		for _, s := range p.Steps {
			if s.Name == workflows.StepNodeGroups {
				checkWords(t, "step", s.Message, "boom at CreateNodeGroups")
			}
		}
	})
	t.Run("deploy failing before anything was created", func(t *testing.T) {
		f := &fakeCloud{failAt: "BeginOperation"}
		env := newEnv(f)
		env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
		checkWords(t, "outcome", f.lastFinish(t).Message, "deploy failed at validate: boom at BeginOperation; nothing had been created")
	})
	t.Run("update", func(t *testing.T) {
		f := &fakeCloud{failAt: "UpgradeControlPlane 1.33"}
		env := newEnv(f)
		env.ExecuteWorkflow(workflows.UpdateCluster, updateInput)
		msg := f.lastFinish(t).Message
		checkWords(t, "outcome", msg, "update failed at 2-control-plane-upgrade: boom at UpgradeControlPlane 1.33; stopped there", "not rolled back")
		checkWords(t, "progress", queryProgress(t, env).Message, msg)
	})
	t.Run("delete", func(t *testing.T) {
		f := &fakeCloud{failAt: "DeleteControlPlane"}
		env := newEnv(f)
		env.ExecuteWorkflow(workflows.DeleteCluster, deleteInput)
		checkWords(t, "outcome", f.lastFinish(t).Message,
			"delete failed at delete-control-plane: boom at DeleteControlPlane; stopped there: what it removed stays removed, and the cluster is left FAILED")
	})
}
