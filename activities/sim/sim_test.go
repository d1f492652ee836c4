package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/activities/sim"
)

func TestFaultInjectionByTag(t *testing.T) {
	p := sim.New(0)
	ctx := context.Background()
	spec := activities.ClusterSpec{Name: "prod", Provider: "aws", Region: "us-east-1"}
	tags := map[string]string{sim.TagFailStep: "network"}

	_, err := p.CreateNetwork(ctx, activities.Call{Token: "t", Step: "network", Tags: tags}, spec)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != activities.ErrTypeInjected {
		t.Fatalf("injected failure: %v", err)
	}
	// Other steps of the same cluster are untouched.
	if _, err := p.CreateControlPlane(ctx, activities.Call{Token: "t", Step: "control-plane", Tags: tags}, spec, activities.NetworkRef{}); err != nil {
		t.Fatalf("other step: %v", err)
	}
}

// A flaky step fails on its first two attempts with a retryable error, then succeeds:
// run it as a real activity so the attempt number is the SDK's.
func TestFlakyStepFailsTwiceThenSucceeds(t *testing.T) {
	for _, tc := range []struct {
		attempts int32
		succeeds bool
	}{{2, false}, {3, true}} {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		env.RegisterActivity(&activities.Cluster{Providers: map[string]activities.Provider{"aws": sim.New(0)}})
		env.RegisterWorkflow(flakyWorkflow)
		env.ExecuteWorkflow(flakyWorkflow, tc.attempts)
		if err := env.GetWorkflowError(); (err == nil) != tc.succeeds {
			t.Fatalf("%d attempts: err=%v, want success=%v", tc.attempts, err, tc.succeeds)
		}
	}
}

func TestControlPlaneTurnsActiveAfterTwoStepDelays(t *testing.T) {
	ctx := context.Background()
	before := time.Now()
	ref, err := sim.New(0).CreateControlPlane(ctx, activities.Call{Token: "t"}, activities.ClusterSpec{Name: "prod"}, activities.NetworkRef{})
	if err != nil {
		t.Fatal(err)
	}
	if ref.CreatedAt.Before(before) || ref.CreatedAt.After(time.Now()) {
		t.Fatalf("created at %s, want the time of the call", ref.CreatedAt)
	}

	// The age of the reference decides, not the wall clock between two calls: no
	// timing window for a loaded machine to miss.
	p := sim.New(time.Hour)
	for _, tc := range []struct {
		age  time.Duration
		want string
	}{
		{0, activities.StateCreating},
		{time.Hour, activities.StateCreating},
		{2*time.Hour - time.Minute, activities.StateCreating},
		{2 * time.Hour, activities.StateActive},
		{3 * time.Hour, activities.StateActive},
	} {
		ref.CreatedAt = time.Now().Add(-tc.age)
		if s, err := p.ControlPlaneStatus(ctx, activities.Call{}, ref); err != nil || s != tc.want {
			t.Errorf("%s after creation: %s, %v; want %s", tc.age, s, err, tc.want)
		}
	}
}

func TestDeletesOfUnknownResourcesSucceed(t *testing.T) {
	p := sim.New(0)
	ctx := context.Background()
	if err := p.DeleteControlPlane(ctx, activities.Call{Token: "never-created"}, activities.ClusterRef{}); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteNetwork(ctx, activities.Call{Token: "never-created"}, activities.NetworkRef{}); err != nil {
		t.Fatal(err)
	}
}

func TestCallsHonourCancellation(t *testing.T) {
	p := sim.New(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.CreateNetwork(ctx, activities.Call{}, activities.ClusterSpec{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}

func TestHoldStepWaitsUntilCancelled(t *testing.T) {
	p := sim.New(0)
	c := activities.Call{Token: "t", Step: "network", Tags: map[string]string{sim.TagHoldStep: "network"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.CreateNetwork(ctx, c, activities.ClusterSpec{Region: "us-east-1"})
		done <- err
	}()
	// Another step of the same operation is not held.
	if _, err := p.CreateNetwork(context.Background(), activities.Call{Token: "t", Step: "control-plane", Tags: c.Tags}, activities.ClusterSpec{}); err != nil {
		t.Fatalf("step not named by the tag: %v", err)
	}
	select {
	case err := <-done:
		t.Fatalf("held step returned before the cancel: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("held step after cancel: %v, want context.Canceled", err)
	}
}
