package workflows_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// errorLog keeps the messages logged at error level, and drops the others.
type errorLog struct {
	mu     sync.Mutex
	errors []string
}

var _ log.Logger = (*errorLog)(nil)

func (*errorLog) Debug(string, ...any) {}
func (*errorLog) Info(string, ...any)  {}
func (*errorLog) Warn(string, ...any)  {}
func (l *errorLog) Error(msg string, _ ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errors = append(l.errors, msg)
}

func (l *errorLog) logged(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.errors, msg)
}

// awsConnectRun runs ConnectAWSAccount with verify failing (retryably) its first
// verifyFailures attempts, then ready; recordFails fails the record of the end.
func awsConnectRun(t *testing.T, verifyFailures int, recordFails bool, cancelAfter time.Duration) (workflows.ConnectAWSAccountResult, []time.Time, *errorLog, error) {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	logs := &errorLog{}
	ts.SetLogger(logs)
	env := ts.NewTestWorkflowEnvironment()
	a := &activities.CloudAccounts{}
	env.RegisterActivity(a)
	var mu sync.Mutex
	var attempts []time.Time
	env.OnActivity(a.RecordConnection, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordConnectionInput) error {
		if in.Ended && recordFails {
			return temporal.NewNonRetryableApplicationError("the store is gone", "StoreDown", nil)
		}
		return nil
	})
	env.OnActivity(a.PrepareAWSConnection, mock.Anything, mock.Anything).Return(activities.PrepareAWSConnectionResult{
		AccountID: "123456789012", RoleName: "AstroPlane-prod", ExternalID: "astro-x"}, nil)
	env.OnActivity(a.VerifyAWSRole, mock.Anything, mock.Anything).Return(func(context.Context, activities.VerifyAWSRoleInput) (activities.VerifyAWSRoleResult, error) {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, env.Now())
		if len(attempts) <= verifyFailures {
			return activities.VerifyAWSRoleResult{}, errors.New("Throttling: rate exceeded")
		}
		return activities.VerifyAWSRoleResult{Ready: true, RoleARN: "arn:aws:iam::123456789012:role/AstroPlane-prod"}, nil
	})
	if cancelAfter > 0 {
		env.RegisterDelayedCallback(env.CancelWorkflow, cancelAfter)
	}
	env.ExecuteWorkflow(workflows.ConnectAWSAccount, connectIn)
	var res workflows.ConnectAWSAccountResult
	err := env.GetWorkflowError()
	if err == nil {
		err = env.GetWorkflowResult(&res)
	}
	return res, attempts, logs, err
}

// A verification that errors is retried from a second on, doubling up to 30 s, ten
// attempts in all; the connected result names the role.
func TestConnectRetriesVerificationErrors(t *testing.T) {
	res, attempts, _, err := awsConnectRun(t, 6, false, 0)
	if err != nil || res.Status != store.ConnectionConnected || res.RoleARN != "arn:aws:iam::123456789012:role/AstroPlane-prod" {
		t.Fatalf("result %+v, %v", res, err)
	}
	var gaps []time.Duration
	for i := 1; i < len(attempts); i++ {
		gaps = append(gaps, attempts[i].Sub(attempts[i-1]).Round(time.Second))
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}; !slices.Equal(gaps, want) {
		t.Fatalf("waits between verifications %v, want %v", gaps, want)
	}

	_, attempts, _, err = awsConnectRun(t, 100, false, 0)
	if err == nil || len(attempts) != 10 {
		t.Fatalf("%d attempts then %v, want 10 and a failure", len(attempts), err)
	}
}

// A cancel whose end cannot be recorded says so in the worker's log; one that is
// recorded logs no error.
func TestConnectLogsAnEndItCouldNotRecord(t *testing.T) {
	_, _, logs, err := awsConnectRun(t, 100, true, time.Second)
	if !temporal.IsCanceledError(err) || !logs.logged("record the connection's end") {
		t.Fatalf("error %v; logged %v", err, logs.errors)
	}
	_, _, logs, err = awsConnectRun(t, 100, false, time.Second)
	if !temporal.IsCanceledError(err) || logs.logged("record the connection's end") {
		t.Fatalf("error %v; logged %v", err, logs.errors)
	}
}
