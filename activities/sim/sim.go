// Package sim is a simulated cloud: every call takes a realistic time (StepDelay)
// and succeeds, unless the cluster's tags inject a fault. It keeps no state that a
// worker restart could lose: references carry what it needs, creates are keyed by
// their idempotency token, and deletes of unknown resources succeed.
//
// Fault injection, through the cluster's tags (spec.tags of the manifest):
//
//	astro-sim-fail-step: <step>    the step fails for good (non-retryable InjectedFailure)
//	astro-sim-flaky-step: <step>   the step fails twice with a retryable error, then succeeds
//	astro-sim-hold-step: <step>    the step waits, heartbeating, until the operation is
//	                               cancelled: a cancel lands at a known step, however slow
//	                               the machine
//
// where <step> is a step name of the operation's progress (network, control-plane,
// wait-active, node-groups, addons, kubeconfig; delete-node-groups, delete-control-plane,
// delete-network; update steps such as 1-control-plane-upgrade-1.32).
package sim

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/activities"
)

// Tags that inject faults.
const (
	TagFailStep  = "astro-sim-fail-step"
	TagFlakyStep = "astro-sim-flaky-step"
	TagHoldStep  = "astro-sim-hold-step"
)

// Provider is the simulated cloud. It is safe for concurrent use.
type Provider struct {
	// StepDelay is how long each call takes; a control plane becomes ACTIVE two
	// StepDelays after its creation. Zero makes everything instant.
	StepDelay time.Duration
}

var _ activities.Provider = (*Provider)(nil)

// New returns a simulated cloud whose calls each take stepDelay.
func New(stepDelay time.Duration) *Provider { return &Provider{StepDelay: stepDelay} }

// CreateNetwork "creates" the cluster's network.
func (p *Provider) CreateNetwork(ctx context.Context, c activities.Call, spec activities.ClusterSpec) (activities.NetworkRef, error) {
	if err := p.work(ctx, c, "creating network in "+spec.Region); err != nil {
		return activities.NetworkRef{}, err
	}
	return activities.NetworkRef{ID: "sim-net-" + c.Token}, nil
}

// DeleteNetwork "deletes" a network; an unknown one is already gone.
func (p *Provider) DeleteNetwork(ctx context.Context, c activities.Call, _ activities.NetworkRef) error {
	return p.work(ctx, c, "deleting network")
}

// CreateControlPlane starts "creating" a control plane, which turns ACTIVE later.
func (p *Provider) CreateControlPlane(ctx context.Context, c activities.Call, spec activities.ClusterSpec, _ activities.NetworkRef) (activities.ClusterRef, error) {
	if err := p.work(ctx, c, "creating control plane "+spec.KubernetesVersion); err != nil {
		return activities.ClusterRef{}, err
	}
	return activities.ClusterRef{
		Provider:   spec.Provider,
		ExternalID: fmt.Sprintf("sim-%s-%s", spec.Name, c.Token),
		Endpoint:   fmt.Sprintf("https://%s.%s.%s.sim.astro.local", spec.Name, spec.Region, spec.Provider),
		CreatedAt:  time.Now().UTC(),
	}, nil
}

// ControlPlaneStatus is CREATING until two StepDelays after creation, then ACTIVE.
func (p *Provider) ControlPlaneStatus(ctx context.Context, c activities.Call, ref activities.ClusterRef) (string, error) {
	if err := p.fault(ctx, c); err != nil {
		return "", err
	}
	if time.Since(ref.CreatedAt) < 2*p.StepDelay {
		return activities.StateCreating, nil
	}
	return activities.StateActive, nil
}

// DeleteControlPlane "deletes" a control plane; an unknown one is already gone.
func (p *Provider) DeleteControlPlane(ctx context.Context, c activities.Call, _ activities.ClusterRef) error {
	return p.work(ctx, c, "deleting control plane")
}

// CreateNodeGroup "creates" a node group.
func (p *Provider) CreateNodeGroup(ctx context.Context, c activities.Call, _ activities.ClusterRef, ng activities.NodeGroupSpec) error {
	return p.work(ctx, c, fmt.Sprintf("creating node group %s (%d-%d × %v)", ng.Name, ng.MinNode, ng.MaxNode, ng.MachineTypes))
}

// DeleteNodeGroup "deletes" a node group; an unknown one is already gone.
func (p *Provider) DeleteNodeGroup(ctx context.Context, c activities.Call, _ activities.ClusterRef, name string) error {
	return p.work(ctx, c, "deleting node group "+name)
}

// InstallAddons "installs" the add-ons of version.
func (p *Provider) InstallAddons(ctx context.Context, c activities.Call, _ activities.ClusterRef, version string) error {
	return p.work(ctx, c, "installing add-ons for "+version)
}

// Kubeconfig returns a kubeconfig for the simulated cluster.
func (p *Provider) Kubeconfig(ctx context.Context, c activities.Call, ref activities.ClusterRef) (string, error) {
	if err := p.work(ctx, c, "generating kubeconfig"); err != nil {
		return "", err
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    server: %s\n", ref.ExternalID, ref.Endpoint), nil
}

// UpgradeControlPlane "upgrades" the control plane to version.
func (p *Provider) UpgradeControlPlane(ctx context.Context, c activities.Call, _ activities.ClusterRef, version string) error {
	return p.work(ctx, c, "upgrading control plane to "+version)
}

// UpdateNodeGroup "updates" a node group, one StepDelay per batch when replacing.
func (p *Provider) UpdateNodeGroup(ctx context.Context, c activities.Call, _ activities.ClusterRef, ng activities.NodeGroupSpec, replace bool, batches int) error {
	if !replace || batches < 1 {
		return p.work(ctx, c, "updating node group "+ng.Name)
	}
	for b := 1; b <= batches; b++ {
		if err := p.work(ctx, c, fmt.Sprintf("replacing nodes of %s: batch %d of %d", ng.Name, b, batches)); err != nil {
			return err
		}
	}
	return nil
}

// UpdateTags "retags" the cluster's resources.
func (p *Provider) UpdateTags(ctx context.Context, c activities.Call, _ activities.ClusterRef, _ map[string]string) error {
	return p.work(ctx, c, "updating tags")
}

// work takes StepDelay, heartbeating detail every second inside an activity, after
// checking the injected faults for the call's step.
func (p *Provider) work(ctx context.Context, c activities.Call, detail string) error {
	if err := p.fault(ctx, c); err != nil {
		return err
	}
	inActivity := activity.IsActivity(ctx)
	if inActivity {
		activity.RecordHeartbeat(ctx, detail)
	}
	if p.StepDelay <= 0 {
		return ctx.Err()
	}
	deadline := time.NewTimer(p.StepDelay)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return nil
		case <-tick.C:
			if inActivity {
				activity.RecordHeartbeat(ctx, detail)
			}
		}
	}
}

// fault returns the failure the cluster's tags inject into this call's step, if any.
func (p *Provider) fault(ctx context.Context, c activities.Call) error {
	if c.Step == "" {
		return nil
	}
	if c.Tags[TagFailStep] == c.Step {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("simulated failure of step %s (tag %s)", c.Step, TagFailStep), activities.ErrTypeInjected, nil)
	}
	if c.Tags[TagFlakyStep] == c.Step && activity.IsActivity(ctx) && activity.GetInfo(ctx).Attempt <= 2 {
		return fmt.Errorf("simulated transient failure of step %s, attempt %d (tag %s)", c.Step, activity.GetInfo(ctx).Attempt, TagFlakyStep)
	}
	if c.Tags[TagHoldStep] == c.Step {
		return hold(ctx, c.Step)
	}
	return nil
}

// hold waits until ctx ends, heartbeating inside an activity so that the operation's
// cancel reaches it.
func hold(ctx context.Context, step string) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, fmt.Sprintf("step %s held until cancelled (tag %s)", step, TagHoldStep))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
