package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/workflows"
)

// A notification whose channel stays down is retried with a doubling backoff from a
// second up to every two minutes (for a day; the test environment stops after ten
// attempts).
func TestNotifyTopicBacksOffToTwoMinutes(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	n := &activities.Notifier{}
	env.RegisterActivity(n)
	var at []time.Time
	env.OnActivity(n.DeliverTopic, mock.Anything, mock.Anything).Return(func(context.Context, activities.TopicInput) error {
		at = append(at, env.Now())
		return errors.New("relay down")
	})
	env.ExecuteWorkflow(workflows.NotifyTopic, activities.TopicInput{OrgID: "org", Topic: activities.TopicClusterDeployed, Subject: "s", Text: "t"})
	if env.GetWorkflowError() == nil {
		t.Fatal("delivery that always fails succeeded")
	}
	want := []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 120 * time.Second, 120 * time.Second}
	if len(at) < len(want)+1 {
		t.Fatalf("%d attempts", len(at))
	}
	for i, w := range want {
		if gap := at[i+1].Sub(at[i]); gap != w {
			t.Errorf("wait before attempt %d: %v, want %v", i+2, gap, w)
		}
	}
}

// The control-plane step reports the endpoint it created; the other steps say nothing.
func TestControlPlaneStepReportsTheEndpoint(t *testing.T) {
	env := newEnv(&fakeCloud{})
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, s := range queryProgress(t, env).Steps {
		switch {
		case s.Name == workflows.StepControlPlane:
			seen = true
			if s.Message != "https://prod" {
				t.Errorf("control-plane step message %q, want the endpoint", s.Message)
			}
		case s.Message == "https://prod":
			t.Errorf("step %s reports the endpoint", s.Name)
		}
	}
	if !seen {
		t.Fatal("no control-plane step")
	}
}
