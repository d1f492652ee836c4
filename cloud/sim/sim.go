// Package sim is a simulated cloud: every call takes a realistic time (StepDelay)
// and succeeds, unless the cluster's tags inject a fault. It keeps no state that a
// worker restart could lose: references carry what it needs, creates are keyed by
// their idempotency token, and deletes of unknown resources succeed. It implements
// every capability of cloud.Provider and registers for every (provider, provisioner)
// pair (Register).
//
// Fault injection, through the cluster's tags (spec.tags of the manifest):
//
//	astro-sim-fail-step: <step>    the step fails for good (cloud.ErrFailed with Code
//	                               InjectedFailure: a non-retryable activity failure
//	                               of that type)
//	astro-sim-flaky-step: <step>   the step fails twice with a transient error, then succeeds
//	astro-sim-hold-step: <step>    the step waits, reporting progress, until the
//	                               operation is cancelled: a cancel lands at a known
//	                               step, however slow the machine
//
// where <step> is a step name of the operation's progress (network, control-plane,
// wait-active, node-groups, addons, kubeconfig; delete-node-groups, delete-control-plane,
// delete-network; update steps such as 1-control-plane-upgrade-1.32). Tests inject
// typed errors of any kind with Inject.
package sim

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/astropulse/astroplane/cloud"
)

// Tags that inject faults.
const (
	TagFailStep  = "astro-sim-fail-step"
	TagFlakyStep = "astro-sim-flaky-step"
	TagHoldStep  = "astro-sim-hold-step"
)

// CodeInjected is the Code of the errors a fault tag makes, so that callers tell an
// injected failure from a real one.
const CodeInjected = "InjectedFailure"

// Provider is the simulated cloud. It is safe for concurrent use.
type Provider struct {
	// StepDelay is how long each call takes; a control plane becomes ACTIVE two
	// StepDelays after its creation. Zero makes everything instant.
	StepDelay time.Duration

	mu       sync.Mutex
	planes   map[string]cloud.ClusterRef // control planes by create token: a retried create returns the first's reference
	injected map[string]error            // errors Inject set, by step
}

var _ cloud.Provider = (*Provider)(nil)

// New returns a simulated cloud whose calls each take stepDelay.
func New(stepDelay time.Duration) *Provider { return &Provider{StepDelay: stepDelay} }

// Register registers p for every (provider, provisioner) pair of cloud.Keys.
func Register(r *cloud.Registry, p *Provider) {
	for _, k := range cloud.Keys() {
		r.Register(k, func(context.Context, *cloud.Session) (cloud.Provider, error) { return p, nil })
	}
}

// Registry returns a registry serving p for every pair, needing no credentials.
func Registry(p *Provider) *cloud.Registry { return cloud.RegistryOf(p) }

// Inject makes every call of step fail with err (nil removes it); for tests of
// callers' error handling.
func (p *Provider) Inject(step string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.injected == nil {
		p.injected = map[string]error{}
	}
	if err == nil {
		delete(p.injected, step)
		return
	}
	p.injected[step] = err
}

// CreateNetwork "creates" the cluster's network, or adopts the one the spec names.
func (p *Provider) CreateNetwork(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec) (cloud.NetworkRef, error) {
	if spec.Name == "" || spec.Provider == "" {
		return cloud.NetworkRef{}, cloud.Errorf(cloud.ErrInvalid, "create network: the spec names no cluster or provider")
	}
	if err := p.work(ctx, c, "creating network in "+spec.Region); err != nil {
		return cloud.NetworkRef{}, err
	}
	return cloud.NetworkRef{ID: "sim-net-" + c.Token}, nil
}

// DeleteNetwork "deletes" a network; an unknown one is already gone.
func (p *Provider) DeleteNetwork(ctx context.Context, c cloud.Call, _ cloud.NetworkRef) error {
	return p.work(ctx, c, "deleting network")
}

// CreateControlPlane starts "creating" a control plane, which turns ACTIVE later. A
// retried create (same token) returns the first one's reference.
func (p *Provider) CreateControlPlane(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec, _ cloud.NetworkRef) (cloud.ClusterRef, error) {
	if spec.Name == "" || spec.Provider == "" || spec.KubernetesVersion == "" {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "create control plane: the spec needs a name, a provider and a Kubernetes version")
	}
	if err := p.work(ctx, c, "creating control plane "+spec.KubernetesVersion); err != nil {
		return cloud.ClusterRef{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ref, ok := p.planes[c.Token]; ok && c.Token != "" {
		return ref, nil
	}
	ref := cloud.ClusterRef{
		Provider:   spec.Provider,
		ExternalID: fmt.Sprintf("sim-%s-%s", spec.Name, c.Token),
		Endpoint:   fmt.Sprintf("https://%s.%s.%s.sim.astro.local", spec.Name, spec.Region, spec.Provider),
		CreatedAt:  time.Now().UTC(),
	}
	if p.planes == nil {
		p.planes = map[string]cloud.ClusterRef{}
	}
	p.planes[c.Token] = ref
	return ref, nil
}

// ControlPlaneStatus is CREATING until two StepDelays after creation, then ACTIVE. A
// reference without an ID names no control plane: ErrNotFound.
func (p *Provider) ControlPlaneStatus(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) (string, error) {
	if err := p.fault(ctx, c); err != nil {
		return "", err
	}
	if ref.ExternalID == "" {
		return "", cloud.Errorf(cloud.ErrNotFound, "control plane without an ID")
	}
	c.Report("control plane state")
	if time.Since(ref.CreatedAt) < 2*p.StepDelay {
		return cloud.StateCreating, nil
	}
	return cloud.StateActive, nil
}

// DeleteControlPlane "deletes" a control plane; an unknown one is already gone.
func (p *Provider) DeleteControlPlane(ctx context.Context, c cloud.Call, _ cloud.ClusterRef) error {
	return p.work(ctx, c, "deleting control plane")
}

// CreateNodeGroup "creates" a node group.
func (p *Provider) CreateNodeGroup(ctx context.Context, c cloud.Call, _ cloud.ClusterRef, ng cloud.NodeGroupSpec) error {
	if err := validNodeGroup(ng); err != nil {
		return err
	}
	return p.work(ctx, c, fmt.Sprintf("creating node group %s (%d-%d × %v)", ng.Name, ng.MinNode, ng.MaxNode, ng.MachineTypes))
}

// DeleteNodeGroup "deletes" a node group; an unknown one is already gone.
func (p *Provider) DeleteNodeGroup(ctx context.Context, c cloud.Call, _ cloud.ClusterRef, name string) error {
	return p.work(ctx, c, "deleting node group "+name)
}

// InstallAddons "installs" the add-ons of version.
func (p *Provider) InstallAddons(ctx context.Context, c cloud.Call, _ cloud.ClusterRef, version string) error {
	return p.work(ctx, c, "installing add-ons for "+version)
}

// Kubeconfig returns a kubeconfig for the simulated cluster.
func (p *Provider) Kubeconfig(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) (string, error) {
	if err := p.work(ctx, c, "generating kubeconfig"); err != nil {
		return "", err
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    server: %s\n", ref.ExternalID, ref.Endpoint), nil
}

// UpgradeControlPlane "upgrades" the control plane to version.
func (p *Provider) UpgradeControlPlane(ctx context.Context, c cloud.Call, _ cloud.ClusterRef, version string) error {
	return p.work(ctx, c, "upgrading control plane to "+version)
}

// UpdateNodeGroup "updates" a node group, one StepDelay per batch when replacing.
func (p *Provider) UpdateNodeGroup(ctx context.Context, c cloud.Call, _ cloud.ClusterRef, ng cloud.NodeGroupSpec, replace bool, batches int) error {
	if err := validNodeGroup(ng); err != nil {
		return err
	}
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
func (p *Provider) UpdateTags(ctx context.Context, c cloud.Call, _ cloud.ClusterRef, _ map[string]string) error {
	return p.work(ctx, c, "updating tags")
}

// UpdateClusterSettings "applies" cluster-wide settings; settings that change nothing,
// or a release channel other than STABLE, REGULAR or RAPID, are ErrInvalid.
func (p *Provider) UpdateClusterSettings(ctx context.Context, c cloud.Call, _ cloud.ClusterRef, s cloud.ClusterSettings) error {
	if s.Empty() {
		return cloud.Errorf(cloud.ErrInvalid, "update cluster settings: nothing to change")
	}
	if g := s.GKE; g != nil && g.ReleaseChannel != "" && !slices.Contains([]string{"STABLE", "REGULAR", "RAPID"}, g.ReleaseChannel) {
		return cloud.Errorf(cloud.ErrInvalid, "update cluster settings: release channel %q", g.ReleaseChannel)
	}
	return p.work(ctx, c, "updating cluster settings")
}

func validNodeGroup(ng cloud.NodeGroupSpec) error {
	if ng.Name == "" || ng.MinNode < 0 || ng.MaxNode < ng.MinNode {
		return cloud.Errorf(cloud.ErrInvalid, "node group %q: sizes %d-%d", ng.Name, ng.MinNode, ng.MaxNode)
	}
	return nil
}

// work takes StepDelay, reporting detail every second, after checking the injected
// faults for the call's step.
func (p *Provider) work(ctx context.Context, c cloud.Call, detail string) error {
	if err := p.fault(ctx, c); err != nil {
		return err
	}
	c.Report(detail)
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
			c.Report(detail)
		}
	}
}

// fault returns the failure the cluster's tags (or Inject) set for this call's step.
func (p *Provider) fault(ctx context.Context, c cloud.Call) error {
	if c.Step == "" {
		return nil
	}
	p.mu.Lock()
	injected := p.injected[c.Step]
	p.mu.Unlock()
	if injected != nil {
		return injected
	}
	if c.Tags[TagFailStep] == c.Step {
		return &cloud.Error{Kind: cloud.ErrFailed, Code: CodeInjected,
			Msg: fmt.Sprintf("simulated failure of step %s (tag %s)", c.Step, TagFailStep)}
	}
	if c.Tags[TagFlakyStep] == c.Step && c.Attempt >= 1 && c.Attempt <= 2 {
		return fmt.Errorf("simulated transient failure of step %s, attempt %d (tag %s)", c.Step, c.Attempt, TagFlakyStep)
	}
	if c.Tags[TagHoldStep] == c.Step {
		return hold(ctx, c)
	}
	return nil
}

// hold waits until ctx ends, reporting progress every second so that, inside an
// activity, the heartbeats bring the operation's cancel.
func hold(ctx context.Context, c cloud.Call) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		c.Report(fmt.Sprintf("step %s held until cancelled (tag %s)", c.Step, TagHoldStep))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
