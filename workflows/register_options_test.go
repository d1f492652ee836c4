package workflows_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/workflows"
)

// The wait for the agent may last the whole deadline and a minute more (its own
// Until ends it first); recording the outcome is retried from a second on,
// doubling up to 30 s, until the store answers (the wait itself again after 5 s); a failed wait is recorded as the
// registration's failure, in the activity's own words.
func TestRegisterClusterAgentOptions(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	a := &activities.Agents{}
	env.RegisterActivity(a)
	options := activityOptions(env)
	var mu sync.Mutex
	var finishes []time.Time
	var fin activities.FinishRegistrationInput
	var awaits []time.Time
	env.OnActivity(a.AwaitAgent, mock.Anything, mock.Anything).Return(func(context.Context, activities.AwaitAgentInput) (activities.AgentFacts, error) {
		mu.Lock()
		defer mu.Unlock()
		awaits = append(awaits, env.Now())
		if len(awaits) == 1 {
			return activities.AgentFacts{}, errors.New("database is locked")
		}
		return activities.AgentFacts{}, temporal.NewNonRetryableApplicationError("the agent did not connect before its deadline", "AgentAbsent", nil)
	})
	env.OnActivity(a.FinishRegistration, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishRegistrationInput) error {
		mu.Lock()
		defer mu.Unlock()
		finishes = append(finishes, env.Now())
		fin = in
		if len(finishes) <= 6 {
			return errors.New("database is locked")
		}
		return nil
	})
	env.ExecuteWorkflow(workflows.RegisterClusterAgent, workflows.RegisterClusterAgentInput{OrgID: "org-1", ClusterID: "c-1", OperationID: "op-1", Deadline: 10 * time.Minute})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "did not connect") {
		t.Fatalf("error %v, want the wait's", err)
	}
	if got := options("AwaitAgent"); got.limit != 11*time.Minute || got.heartbeat != time.Minute {
		t.Fatalf("AwaitAgent ran with %+v, want 11m and a minute's heartbeat", got)
	}
	if len(awaits) != 2 || awaits[1].Sub(awaits[0]).Round(time.Second) != 5*time.Second {
		t.Fatalf("the wait for the agent ran at %v, want twice 5 s apart", awaits)
	}
	var gaps []time.Duration
	for i := 1; i < len(finishes); i++ {
		gaps = append(gaps, finishes[i].Sub(finishes[i-1]).Round(time.Second))
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}; !slices.Equal(gaps, want) {
		t.Fatalf("waits between records %v, want %v", gaps, want)
	}
	if fin.Failure != "registration failed: the agent did not connect before its deadline" || fin.ClusterID != "c-1" {
		t.Fatalf("recorded %+v", fin)
	}
}
