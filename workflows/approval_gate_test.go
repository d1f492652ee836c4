package workflows_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// The decide Update answers with the decision taken.
func TestDecideUpdateAnswersTheDecision(t *testing.T) {
	for action, want := range map[string]string{workflows.ActionApprove: store.ApprovalApproved, workflows.ActionReject: store.ApprovalRejected} {
		t.Run(action, func(t *testing.T) {
			env := newEnv(&fakeCloud{})
			var result workflows.DecisionResult
			var updateErr error
			completed := false
			env.RegisterDelayedCallback(func() {
				env.UpdateWorkflow(workflows.UpdateDecide, "", &testsuite.TestUpdateCallback{
					OnReject: func(err error) { updateErr = err },
					OnAccept: func() {},
					OnComplete: func(r any, err error) {
						completed, updateErr = true, err
						if r != nil {
							result = r.(workflows.DecisionResult)
						}
					},
				}, workflows.Decision{Action: action, DecidedBy: "admin@example.com"})
			}, time.Hour)
			env.ExecuteWorkflow(workflows.DeployCluster, gated)
			if !completed || updateErr != nil {
				t.Fatalf("update completed %v, error %v", completed, updateErr)
			}
			if result.Status != want {
				t.Fatalf("update answered %+v, want status %s", result, want)
			}
		})
	}
}

// The expiry is kept to the second (as the links carry it) and the wait ends then,
// not a full ExpiresIn after the request was recorded.
func TestApprovalExpiresAtTheReportedSecond(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	start := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	env.SetStartTime(start)
	var waiting workflows.Progress
	env.RegisterDelayedCallback(func() { waiting = queryProgress(t, env) }, time.Hour)
	env.ExecuteWorkflow(workflows.DeployCluster, gated)

	want := start.Add(gated.Approval.ExpiresIn).Truncate(time.Second)
	if waiting.Approval == nil || !waiting.Approval.ExpiresAt.Equal(want) {
		t.Fatalf("progress while waiting: %+v, want expiry %v", waiting.Approval, want)
	}
	p := queryProgress(t, env)
	if p.Status != workflows.StatusExpired || p.Approval == nil || p.Approval.DecidedAt == nil {
		t.Fatalf("progress at the end: %+v", p)
	}
	if got := *p.Approval.DecidedAt; !got.Equal(want) {
		t.Fatalf("expired at %v, want %v (the reported expiry)", got, want)
	}
}

// The notification of a decision names who decided; one of an expiry names nobody.
func TestDecisionNotificationNamesWhoDecided(t *testing.T) {
	for _, tc := range []struct {
		name   string
		decide bool
		want   string
	}{
		{"rejected", true, "was rejected by admin@example.com (operation "},
		{"expired", false, "was expired (operation "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(&fakeCloud{})
			var mu sync.Mutex
			texts := map[string]string{}
			env.OnWorkflow(workflows.NotifyTopic, mock.Anything, mock.Anything).Return(func(_ workflow.Context, in activities.TopicInput) error {
				mu.Lock()
				texts[in.Topic] = in.Text
				mu.Unlock()
				return nil
			})
			if tc.decide {
				decide(env, time.Hour, workflows.ActionReject, new(error))
			}
			env.ExecuteWorkflow(workflows.DeployCluster, gated)
			mu.Lock()
			defer mu.Unlock()
			if got := texts[activities.TopicClusterApprovalDecision]; !strings.Contains(got, tc.want) {
				t.Fatalf("decision notification %q, want it to contain %q", got, tc.want)
			}
		})
	}
}
