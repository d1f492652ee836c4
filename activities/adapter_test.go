package activities_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
)

// failing answers every network create with err and records the calls it gets.
type failing struct {
	*sim.Provider
	err   error
	mu    sync.Mutex
	calls []cloud.Call
}

func (f *failing) CreateNetwork(_ context.Context, c cloud.Call, _ cloud.ClusterSpec) (cloud.NetworkRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	return cloud.NetworkRef{ID: "n"}, f.err
}

func (f *failing) DeleteNetwork(context.Context, cloud.Call, cloud.NetworkRef) error { return f.err }

var eksSpec = activities.ClusterSpec{Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-east-1",
	AccountID: "123456789012", CredentialsType: "dynamic", KubernetesVersion: "1.31",
	Account: cloud.AccountRef{OrgID: "org-1", Provider: "aws", AccountID: "123456789012", CredentialsType: "dynamic"}}

// Typed provider errors become the Temporal errors the retry policy acts on.
func TestProviderErrorsAreTranslated(t *testing.T) {
	for _, tc := range []struct {
		err          error
		typ          string
		nonRetryable bool
		delay        time.Duration
	}{
		{cloud.Errorf(cloud.ErrNotFound, "vpc %s", "vpc-1"), activities.ErrTypeNotFound, true, 0},
		{cloud.Errorf(cloud.ErrAlreadyExists, "cluster prod"), activities.ErrTypeAlreadyExists, true, 0},
		{cloud.Errorf(cloud.ErrQuotaExceeded, "vpcs per region"), activities.ErrTypeQuotaExceeded, true, 0},
		{cloud.Errorf(cloud.ErrInvalid, "cidr"), activities.ErrTypeInvalidInput, true, 0},
		{cloud.Errorf(cloud.ErrFailed, "stack rolled back"), activities.ErrTypeFailed, true, 0},
		{&cloud.Error{Kind: cloud.ErrFailed, Code: sim.CodeInjected, Msg: "boom"}, activities.ErrTypeInjected, true, 0},
		{cloud.Throttled(42*time.Second, "rate exceeded", nil), activities.ErrTypeThrottled, false, 42 * time.Second},
	} {
		t.Run(tc.typ, func(t *testing.T) {
			a, _ := newActivities(t, &failing{Provider: sim.New(0), err: tc.err})
			var s testsuite.WorkflowTestSuite
			env := s.NewTestActivityEnvironment()
			env.RegisterActivity(a)
			_, err := env.ExecuteActivity(a.CreateNetwork, activities.NetworkInput{Call: activities.Call{Token: "t", Step: "network"}, Spec: eksSpec})
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != tc.typ || app.NonRetryable() != tc.nonRetryable || app.NextRetryDelay() != tc.delay {
				t.Fatalf("%v → %v", tc.err, err)
			}
		})
	}
	// Untyped errors are transient: returned for the retry policy, not marked.
	a, _ := newActivities(t, &failing{Provider: sim.New(0), err: errors.New("connection reset")})
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.CreateNetwork, activities.NetworkInput{Spec: eksSpec})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.NonRetryable() {
		t.Fatalf("transient: %v", err)
	}
}

// A delete that finds nothing to delete has done its job.
func TestDeleteOfMissingIsSuccess(t *testing.T) {
	a, _ := newActivities(t, &failing{Provider: sim.New(0), err: cloud.Errorf(cloud.ErrNotFound, "vpc")})
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	if _, err := env.ExecuteActivity(a.DeleteNetwork, activities.NetworkInput{Spec: eksSpec}); err != nil {
		t.Fatal(err)
	}
}

// Every call carries the account and region of the spec and the activity's attempt.
func TestCallsActInTheSpecsAccount(t *testing.T) {
	f := &failing{Provider: sim.New(0)}
	a, _ := newActivities(t, f)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	if _, err := env.ExecuteActivity(a.CreateNetwork, activities.NetworkInput{Call: activities.Call{Token: "t"}, Spec: eksSpec}); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 1 || f.calls[0].Account != eksSpec.Account || f.calls[0].Region != eksSpec.Region || f.calls[0].Region == "" || f.calls[0].Attempt != 1 || f.calls[0].Token != "t" {
		t.Fatalf("calls %+v", f.calls)
	}
}

// Providers are chosen by provider and provisioner type: eks and selfHosted on aws
// are different implementations.
func TestProviderChosenByProvisioner(t *testing.T) {
	eks, selfHosted := &failing{Provider: sim.New(0)}, &failing{Provider: sim.New(0)}
	r := cloud.NewRegistry(nil)
	r.Register(cloud.Key{Provider: "aws", Provisioner: "eks"}, func(context.Context, *cloud.Session) (cloud.Provider, error) { return eks, nil })
	r.Register(cloud.Key{Provider: "aws", Provisioner: "selfHosted"}, func(context.Context, *cloud.Session) (cloud.Provider, error) { return selfHosted, nil })
	a := &activities.Cluster{Clouds: r}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	sh := eksSpec
	sh.ProvisionerType = "selfHosted"
	for _, spec := range []activities.ClusterSpec{eksSpec, sh, sh} {
		if _, err := env.ExecuteActivity(a.CreateNetwork, activities.NetworkInput{Spec: spec}); err != nil {
			t.Fatal(err)
		}
	}
	if len(eks.calls) != 1 || len(selfHosted.calls) != 2 {
		t.Fatalf("eks got %d calls, selfHosted %d", len(eks.calls), len(selfHosted.calls))
	}
	gke := eksSpec
	gke.Provider, gke.ProvisionerType = "gcp", "gke"
	_, err := env.ExecuteActivity(a.CreateNetwork, activities.NetworkInput{Spec: gke})
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeInvalidInput || !app.NonRetryable() {
		t.Fatalf("unregistered pair: %v", err)
	}
}

// A flaky step fails on its first two attempts (the SDK's attempt number reaches the
// simulated cloud through the call), is retried, and succeeds on the third; the
// simulated cloud's progress reports arrive as heartbeats.
func TestFlakyStepIsRetriedAndProgressHeartbeats(t *testing.T) {
	for _, tc := range []struct {
		attempts int32
		succeeds bool
	}{{2, false}, {3, true}} {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		env.RegisterActivity(&activities.Cluster{Clouds: sim.Registry(sim.New(0))})
		env.RegisterWorkflow(flakyWorkflow)
		var mu sync.Mutex
		var beats []string
		env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
			var d string
			if details.HasValues() && details.Get(&d) == nil {
				mu.Lock()
				beats = append(beats, d)
				mu.Unlock()
			}
		})
		env.ExecuteWorkflow(flakyWorkflow, tc.attempts)
		if err := env.GetWorkflowError(); (err == nil) != tc.succeeds {
			t.Fatalf("%d attempts: err=%v, want success=%v", tc.attempts, err, tc.succeeds)
		}
		if tc.succeeds && (len(beats) == 0 || beats[len(beats)-1] != "creating network in us-east-1") {
			t.Fatalf("heartbeats %q", beats)
		}
	}
}

func flakyWorkflow(ctx workflow.Context, maxAttempts int32) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Millisecond, MaximumAttempts: maxAttempts},
	})
	var a *activities.Cluster
	spec := eksSpec
	return workflow.ExecuteActivity(ctx, a.CreateNetwork, activities.NetworkInput{
		Call: activities.Call{Token: "t", Step: "network", Tags: map[string]string{sim.TagFlakyStep: "network"}},
		Spec: spec,
	}).Get(ctx, nil)
}
