package workflows_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// connectEnv runs ConnectAWSAccount against mocked activities: the role is ready
// from readyAt on (never when zero); it returns the records made and the times of the
// verification attempts.
func connectEnv(t *testing.T, readyAfter int, trustErr bool) (*testsuite.TestWorkflowEnvironment, *[]activities.RecordConnectionInput, *[]time.Time) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	a := &activities.CloudAccounts{}
	env.RegisterActivity(a)
	var mu sync.Mutex
	records, attempts := &[]activities.RecordConnectionInput{}, &[]time.Time{}
	env.OnActivity(a.RecordConnection, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordConnectionInput) error {
		mu.Lock()
		defer mu.Unlock()
		*records = append(*records, in)
		return nil
	})
	env.OnActivity(a.PrepareAWSConnection, mock.Anything, mock.Anything).Return(activities.PrepareAWSConnectionResult{
		AccountID: "123456789012", RoleName: "AstroPlane-prod", ExternalID: "astro-x", SetupURL: "https://console.aws.amazon.com/…"}, nil)
	env.OnActivity(a.VerifyAWSRole, mock.Anything, mock.Anything).Return(func(context.Context, activities.VerifyAWSRoleInput) (activities.VerifyAWSRoleResult, error) {
		mu.Lock()
		defer mu.Unlock()
		*attempts = append(*attempts, env.Now())
		if trustErr {
			return activities.VerifyAWSRoleResult{}, temporal.NewNonRetryableApplicationError("no external ID condition", activities.ErrTypeTrustPolicy, nil)
		}
		if readyAfter > 0 && len(*attempts) >= readyAfter {
			return activities.VerifyAWSRoleResult{Ready: true, RoleARN: "arn:aws:iam::123456789012:role/AstroPlane-prod"}, nil
		}
		return activities.VerifyAWSRoleResult{Reason: "AccessDenied"}, nil
	})
	return env, records, attempts
}

var connectIn = workflows.ConnectAWSAccountInput{OrgID: "org-1", ConnectionID: "acme.prod.connect-aws.1", Timeout: time.Hour}

// The wait backs off (10 s doubling up to 2 min) and ends connected when the role
// can be assumed; each step and the account are recorded.
func TestConnectAWSAccountWaitsWithBackoff(t *testing.T) {
	env, records, attempts := connectEnv(t, 6, false)
	env.ExecuteWorkflow(workflows.ConnectAWSAccount, connectIn)
	var res workflows.ConnectAWSAccountResult
	if err := env.GetWorkflowResult(&res); err != nil || res.Status != store.ConnectionConnected {
		t.Fatalf("result %+v, %v", res, err)
	}
	var gaps []time.Duration
	for i := 1; i < len(*attempts); i++ {
		gaps = append(gaps, (*attempts)[i].Sub((*attempts)[i-1]))
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 120 * time.Second}
	if len(gaps) != len(want) {
		t.Fatalf("gaps %v, want %v", gaps, want)
	}
	for i := range want {
		if gaps[i] != want[i] {
			t.Fatalf("gaps %v, want %v", gaps, want)
		}
	}
	last := (*records)[len(*records)-1]
	if last.Status != store.ConnectionConnected || !last.Ended || last.RoleARN == "" || last.ConnectedAt == nil {
		t.Fatalf("last record %+v", last)
	}
	for _, s := range last.Steps {
		if s.Status != "SUCCEEDED" {
			t.Fatalf("steps %+v", last.Steps)
		}
	}
	if (*records)[1].Status != store.ConnectionWaitingForCustomer || (*records)[1].Deadline == nil {
		t.Fatalf("waiting record %+v", (*records)[1])
	}
}

// A role that never appears fails the connection at its deadline, with the reason
// and what to do; the history's failure says so too.
func TestConnectAWSAccountFailsAtItsDeadline(t *testing.T) {
	env, records, attempts := connectEnv(t, 0, false)
	env.ExecuteWorkflow(workflows.ConnectAWSAccount, connectIn)
	err := env.GetWorkflowError()
	if err == nil {
		t.Fatal("no error")
	}
	last := (*records)[len(*records)-1]
	if last.Status != store.ConnectionFailed || !last.Ended || last.Steps[1].Status != "FAILED" ||
		!contains(last.Message, "within 1h0m0s", "AccessDenied", "setup link") {
		t.Fatalf("last record %+v", last)
	}
	if span := (*attempts)[len(*attempts)-1].Sub((*attempts)[0]); span > time.Hour || len(*attempts) > 40 {
		t.Fatalf("%d attempts over %s", len(*attempts), span)
	}
}

// A trust policy without the external ID fails at once, non-retryable.
func TestConnectAWSAccountRefusesAnUnsafeRole(t *testing.T) {
	env, records, attempts := connectEnv(t, 0, true)
	env.ExecuteWorkflow(workflows.ConnectAWSAccount, connectIn)
	if env.GetWorkflowError() == nil || len(*attempts) != 1 {
		t.Fatalf("err %v after %d attempts", env.GetWorkflowError(), len(*attempts))
	}
	if last := (*records)[len(*records)-1]; last.Status != store.ConnectionFailed || !contains(last.Message, "external ID") {
		t.Fatalf("last record %+v", last)
	}
}

// A cancel while waiting records CANCELLED, in a disconnected context.
func TestConnectAWSAccountCancelled(t *testing.T) {
	env, records, _ := connectEnv(t, 0, false)
	env.RegisterDelayedCallback(env.CancelWorkflow, 5*time.Minute)
	env.ExecuteWorkflow(workflows.ConnectAWSAccount, connectIn)
	if !temporal.IsCanceledError(env.GetWorkflowError()) {
		t.Fatalf("error %v", env.GetWorkflowError())
	}
	if last := (*records)[len(*records)-1]; last.Status != store.ConnectionCancelled || !last.Ended || last.Steps[1].Status != "CANCELLED" {
		t.Fatalf("last record %+v", last)
	}
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// Without a timeout or a poll interval the defaults apply (an hour's deadline, a
// first wait of 10 s); a ceiling equal to the poll interval keeps every wait at it.
func TestConnectAWSAccountDefaultsAndFixedPoll(t *testing.T) {
	env, records, attempts := connectEnv(t, 3, false)
	env.ExecuteWorkflow(workflows.ConnectAWSAccount, workflows.ConnectAWSAccountInput{OrgID: "org-1", ConnectionID: "acme.prod.connect-aws.2"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	waiting := (*records)[1]
	if waiting.Deadline == nil {
		t.Fatalf("waiting record without a deadline: %+v", waiting)
	}
	if d := waiting.Deadline.Sub((*attempts)[0]); d < workflows.DefaultConnectTimeout-time.Minute || d > workflows.DefaultConnectTimeout {
		t.Fatalf("deadline %s after the first attempt, want about %s", d, workflows.DefaultConnectTimeout)
	}
	if gap := (*attempts)[1].Sub((*attempts)[0]); gap != workflows.DefaultConnectPoll {
		t.Fatalf("first wait %s, want %s", gap, workflows.DefaultConnectPoll)
	}

	env, _, attempts = connectEnv(t, 4, false)
	in := connectIn
	in.Poll, in.MaxPoll = 15*time.Second, 15*time.Second
	env.ExecuteWorkflow(workflows.ConnectAWSAccount, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(*attempts); i++ {
		if gap := (*attempts)[i].Sub((*attempts)[i-1]); gap != 15*time.Second {
			t.Fatalf("wait %d was %s, want the fixed 15s", i, gap)
		}
	}
}
