package workflows_test

import (
	"errors"
	"testing"

	"github.com/astropulse/astroplane/workflows"
)

// A store that stays down fails the step after a bounded number of attempts (about
// five minutes of backoff), instead of retrying for ever; the deploy then ends FAILED.
func TestStoreActivitiesHaveBoundedRetries(t *testing.T) {
	f := &fakeCloud{failUndo: map[string]error{"BeginOperation": errors.New("database is down")}}
	env := newEnv(f)
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() == nil {
		t.Fatalf("deploy with the store down: completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	attempts := 0
	for _, c := range f.calls {
		if c == "BeginOperation" {
			attempts++
		}
	}
	if attempts < 10 || attempts > 20 {
		t.Fatalf("BeginOperation tried %d times, want a bound between 10 and 20", attempts)
	}
	if p := queryProgress(t, env); p.Status != workflows.StatusFailed || p.Phase != workflows.StepValidate {
		t.Fatalf("progress %s at %s", p.Status, p.Phase)
	}
}
