package sim_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
)

func TestFaultInjectionByTag(t *testing.T) {
	p := sim.New(0)
	ctx := context.Background()
	spec := cloud.ClusterSpec{Name: "prod", Provider: "aws", Region: "us-east-1", KubernetesVersion: "1.31"}
	tags := map[string]string{sim.TagFailStep: "network"}

	_, err := p.CreateNetwork(ctx, cloud.Call{Token: "t", Step: "network", Tags: tags}, spec)
	var e *cloud.Error
	if !errors.Is(err, cloud.ErrFailed) || !errors.As(err, &e) || e.Code != sim.CodeInjected ||
		e.Message() != "simulated failure of step network (tag astro-sim-fail-step)" {
		t.Fatalf("injected failure: %v", err)
	}
	// Other steps of the same cluster are untouched.
	if _, err := p.CreateControlPlane(ctx, cloud.Call{Token: "t", Step: "control-plane", Tags: tags}, spec, cloud.NetworkRef{}); err != nil {
		t.Fatalf("other step: %v", err)
	}
}

// A flaky step fails on its first two attempts with a transient (untyped) error, then
// succeeds; outside an activity (attempt 0) it never fails.
func TestFlakyStepFailsTwiceThenSucceeds(t *testing.T) {
	p := sim.New(0)
	spec := cloud.ClusterSpec{Name: "prod", Provider: "aws"}
	for _, tc := range []struct {
		attempt int
		fails   bool
	}{{0, false}, {1, true}, {2, true}, {3, false}} {
		c := cloud.Call{Token: "t", Step: "network", Tags: map[string]string{sim.TagFlakyStep: "network"}, Attempt: tc.attempt}
		_, err := p.CreateNetwork(context.Background(), c, spec)
		if (err != nil) != tc.fails || cloud.KindOf(err) != nil {
			t.Errorf("attempt %d: %v, want failure %v (untyped)", tc.attempt, err, tc.fails)
		}
	}
}

func TestControlPlaneTurnsActiveAfterTwoStepDelays(t *testing.T) {
	ctx := context.Background()
	before := time.Now()
	spec := cloud.ClusterSpec{Name: "prod", Provider: "aws", KubernetesVersion: "1.31"}
	ref, err := sim.New(0).CreateControlPlane(ctx, cloud.Call{Token: "t"}, spec, cloud.NetworkRef{})
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
		{0, cloud.StateCreating},
		{time.Hour, cloud.StateCreating},
		{2*time.Hour - time.Minute, cloud.StateCreating},
		{2 * time.Hour, cloud.StateActive},
		{3 * time.Hour, cloud.StateActive},
	} {
		ref.CreatedAt = time.Now().Add(-tc.age)
		if s, err := p.ControlPlaneStatus(ctx, cloud.Call{}, ref); err != nil || s != tc.want {
			t.Errorf("%s after creation: %s, %v; want %s", tc.age, s, err, tc.want)
		}
	}
}

func TestCallsHonourCancellation(t *testing.T) {
	p := sim.New(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.CreateNetwork(ctx, cloud.Call{}, cloud.ClusterSpec{Name: "c", Provider: "aws"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
}

func TestHoldStepWaitsUntilCancelledReportingProgress(t *testing.T) {
	p := sim.New(0)
	reports := make(chan string, 100)
	c := cloud.Call{Token: "t", Step: "network", Tags: map[string]string{sim.TagHoldStep: "network"},
		Progress: func(d string) {
			select {
			case reports <- d:
			default:
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.CreateNetwork(ctx, c, cloud.ClusterSpec{Name: "c", Provider: "aws", Region: "us-east-1"})
		done <- err
	}()
	// Another step of the same operation is not held.
	if _, err := p.CreateNetwork(context.Background(), cloud.Call{Token: "t", Step: "control-plane", Tags: c.Tags}, cloud.ClusterSpec{Name: "c", Provider: "aws"}); err != nil {
		t.Fatalf("step not named by the tag: %v", err)
	}
	if d := <-reports; d != "step network held until cancelled (tag astro-sim-hold-step)" {
		t.Fatalf("progress %q", d)
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
