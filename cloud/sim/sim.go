// Package sim is a simulated cloud: every call takes a realistic time (StepDelay)
// and succeeds, unless the cluster's tags inject a fault. What it makes and changes
// is recorded in its Ledger (in memory, or a file that outlives the worker and is
// shared by every worker that opens it: OpenLedger), at the moment the cloud accepts
// the call, before the call's StepDelay. Creates and in-place changes are idempotent
// on their token, as a real cloud's are on its request token: a retried create
// returns what the first made, a retried change is applied once; a Provider with
// IgnoreTokens plays a cloud without idempotency, so that checks for duplicates can
// be seen to catch them. Deletes of unknown resources succeed. It implements every
// capability of cloud.Provider and registers for every (provider, provisioner) pair
// (Register).
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
	"os"
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

	// Ledger records what the cloud made and changed; nil: an in-memory one, made on
	// first use.
	Ledger *Ledger
	// IgnoreTokens makes creates and changes disregard Call.Token, as a cloud without
	// idempotency would: a retried create makes a second resource, a retried change
	// is applied again. For testing that such duplicates are caught; never in use.
	IgnoreTokens bool
	// KubeconfigFile, when set, is a kubeconfig of a real Kubernetes API server (make
	// run's, written by cmd/devkube) that Kubeconfig issues for every cluster, read
	// at each call: every simulated cluster is that one server, so applications can
	// be deployed on them. Empty: a kubeconfig naming the cluster's endpoint, which
	// answers nothing.
	KubeconfigFile string

	mu       sync.Mutex
	injected map[string]error // errors Inject set, by step
}

var _ cloud.Provider = (*Provider)(nil)

// New returns a simulated cloud whose calls each take stepDelay.
func New(stepDelay time.Duration) *Provider { return &Provider{StepDelay: stepDelay} }

// ledger returns p's ledger, making an in-memory one on first use.
func (p *Provider) ledger() *Ledger {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Ledger == nil {
		p.Ledger = newLedger()
	}
	return p.Ledger
}

// clusterOwner names where a cluster's network and control plane live: its
// organization, provider, account and region.
func clusterOwner(spec cloud.ClusterSpec) string {
	return spec.Account.OrgID + "/" + spec.Provider + "/" + spec.AccountID + "/" + spec.Region
}

// numbered is base for the first resource of a token, base-n for later ones.
func numbered(base string) func(n int) string {
	return func(n int) string {
		if n == 0 {
			return base
		}
		return fmt.Sprintf("%s-%d", base, n)
	}
}

// accepted is the cloud accepting a call: the faults the call's step injects, then
// the ledger's record of it.
func (p *Provider) accepted(ctx context.Context, c cloud.Call, record func(l *Ledger) error) error {
	if err := p.fault(ctx, c); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err // a call given up before it was sent
	}
	return record(p.ledger())
}

// changed records an in-place change of target.
func (p *Provider) changed(c cloud.Call, target, what string) func(l *Ledger) error {
	return func(l *Ledger) error { return l.change(c.Token, target, what, !p.IgnoreTokens) }
}

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
	var net Resource
	err := p.accepted(ctx, c, func(l *Ledger) (err error) {
		net, err = l.create(KindNetwork, c.Token, clusterOwner(spec), spec.Name, !p.IgnoreTokens, numbered("sim-net-"+c.Token))
		return err
	})
	if err != nil {
		return cloud.NetworkRef{}, err
	}
	if err := p.wait(ctx, c, "creating network in "+spec.Region); err != nil {
		return cloud.NetworkRef{}, err
	}
	return cloud.NetworkRef{ID: net.ID}, nil
}

// DeleteNetwork "deletes" a network, found by its ID or, without one, by the
// create's token; an unknown one is already gone.
func (p *Provider) DeleteNetwork(ctx context.Context, c cloud.Call, net cloud.NetworkRef) error {
	err := p.accepted(ctx, c, func(l *Ledger) error {
		return l.remove(func(r *Resource) bool { return r.Kind == KindNetwork && matches(r, net.ID, c.Token) })
	})
	if err != nil {
		return err
	}
	return p.wait(ctx, c, "deleting network")
}

// matches reports whether r is the resource id names or, without an ID, the one the
// create of token made.
func matches(r *Resource, id, token string) bool {
	if id != "" {
		return r.ID == id
	}
	return token != "" && r.Token == token
}

// CreateControlPlane starts "creating" a control plane, which turns ACTIVE later. A
// retried create (same token) returns the first one's reference.
func (p *Provider) CreateControlPlane(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec, _ cloud.NetworkRef) (cloud.ClusterRef, error) {
	if spec.Name == "" || spec.Provider == "" || spec.KubernetesVersion == "" {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "create control plane: the spec needs a name, a provider and a Kubernetes version")
	}
	var cp Resource
	err := p.accepted(ctx, c, func(l *Ledger) (err error) {
		cp, err = l.create(KindControlPlane, c.Token, clusterOwner(spec), spec.Name, !p.IgnoreTokens,
			numbered(fmt.Sprintf("sim-%s-%s", spec.Name, c.Token)))
		return err
	})
	if err != nil {
		return cloud.ClusterRef{}, err
	}
	if err := p.wait(ctx, c, "creating control plane "+spec.KubernetesVersion); err != nil {
		return cloud.ClusterRef{}, err
	}
	return cloud.ClusterRef{
		Provider:   spec.Provider,
		ExternalID: cp.ID,
		Endpoint:   fmt.Sprintf("https://%s.%s.%s.sim.astro.local", spec.Name, spec.Region, spec.Provider),
		CreatedAt:  cp.CreatedAt,
	}, nil
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

// DeleteControlPlane "deletes" a control plane, found by its ID or, without one, by
// the create's token; an unknown one is already gone.
func (p *Provider) DeleteControlPlane(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) error {
	err := p.accepted(ctx, c, func(l *Ledger) error {
		return l.remove(func(r *Resource) bool { return r.Kind == KindControlPlane && matches(r, ref.ExternalID, c.Token) })
	})
	if err != nil {
		return err
	}
	return p.wait(ctx, c, "deleting control plane")
}

// CreateNodeGroup "creates" a node group of the control plane ref.
func (p *Provider) CreateNodeGroup(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, ng cloud.NodeGroupSpec) error {
	if err := validNodeGroup(ng); err != nil {
		return err
	}
	err := p.accepted(ctx, c, func(l *Ledger) error {
		_, err := l.create(KindNodeGroup, c.Token, ref.ExternalID, ng.Name, !p.IgnoreTokens, numbered("sim-ng-"+c.Token))
		return err
	})
	if err != nil {
		return err
	}
	return p.wait(ctx, c, fmt.Sprintf("creating node group %s (%d-%d × %v)", ng.Name, ng.MinNode, ng.MaxNode, ng.MachineTypes))
}

// DeleteNodeGroup "deletes" the control plane's node group of that name; an unknown
// one is already gone.
func (p *Provider) DeleteNodeGroup(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, name string) error {
	err := p.accepted(ctx, c, func(l *Ledger) error {
		return l.remove(func(r *Resource) bool {
			return r.Kind == KindNodeGroup && r.Owner == ref.ExternalID && r.Name == name
		})
	})
	if err != nil {
		return err
	}
	return p.wait(ctx, c, "deleting node group "+name)
}

// InstallAddons "installs" the add-ons of version.
func (p *Provider) InstallAddons(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, version string) error {
	if err := p.accepted(ctx, c, p.changed(c, ref.ExternalID, "add-ons "+version)); err != nil {
		return err
	}
	return p.wait(ctx, c, "installing add-ons for "+version)
}

// Kubeconfig returns a kubeconfig for the simulated cluster: KubeconfigFile's content
// when it is set.
func (p *Provider) Kubeconfig(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) (string, error) {
	if err := p.work(ctx, c, "generating kubeconfig"); err != nil {
		return "", err
	}
	if p.KubeconfigFile != "" {
		kc, err := os.ReadFile(p.KubeconfigFile)
		if err != nil {
			return "", fmt.Errorf("the simulated clusters' API server: %w (is cmd/devkube running?)", err)
		}
		return string(kc), nil
	}
	return fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: %s\n  cluster:\n    server: %s\n", ref.ExternalID, ref.Endpoint), nil
}

// UpgradeControlPlane "upgrades" the control plane to version.
func (p *Provider) UpgradeControlPlane(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, version string) error {
	if err := p.accepted(ctx, c, p.changed(c, ref.ExternalID, "upgrade to "+version)); err != nil {
		return err
	}
	return p.wait(ctx, c, "upgrading control plane to "+version)
}

// UpdateNodeGroup "updates" a node group, one StepDelay per batch when replacing.
func (p *Provider) UpdateNodeGroup(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, ng cloud.NodeGroupSpec, replace bool, batches int) error {
	if err := validNodeGroup(ng); err != nil {
		return err
	}
	what := fmt.Sprintf("node group %s: %d-%d × %v", ng.Name, ng.MinNode, ng.MaxNode, ng.MachineTypes)
	if replace {
		what += fmt.Sprintf(", replaced in %d batches", batches)
	}
	if err := p.accepted(ctx, c, p.changed(c, ref.ExternalID+"/"+ng.Name, what)); err != nil {
		return err
	}
	if !replace || batches < 1 {
		return p.wait(ctx, c, "updating node group "+ng.Name)
	}
	for b := 1; b <= batches; b++ {
		if err := p.wait(ctx, c, fmt.Sprintf("replacing nodes of %s: batch %d of %d", ng.Name, b, batches)); err != nil {
			return err
		}
	}
	return nil
}

// UpdateTags "retags" the cluster's resources.
func (p *Provider) UpdateTags(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, _ map[string]string) error {
	if err := p.accepted(ctx, c, p.changed(c, ref.ExternalID, "tags")); err != nil {
		return err
	}
	return p.wait(ctx, c, "updating tags")
}

// UpdateClusterSettings "applies" cluster-wide settings; settings that change nothing,
// or a release channel other than STABLE, REGULAR or RAPID, are ErrInvalid.
func (p *Provider) UpdateClusterSettings(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, s cloud.ClusterSettings) error {
	if s.Empty() {
		return cloud.Errorf(cloud.ErrInvalid, "update cluster settings: nothing to change")
	}
	if g := s.GKE; g != nil && g.ReleaseChannel != "" && !slices.Contains([]string{"STABLE", "REGULAR", "RAPID"}, g.ReleaseChannel) {
		return cloud.Errorf(cloud.ErrInvalid, "update cluster settings: release channel %q", g.ReleaseChannel)
	}
	if err := p.accepted(ctx, c, p.changed(c, ref.ExternalID, "cluster settings")); err != nil {
		return err
	}
	return p.wait(ctx, c, "updating cluster settings")
}

func validNodeGroup(ng cloud.NodeGroupSpec) error {
	if ng.Name == "" || ng.MinNode < 0 || ng.MaxNode < ng.MinNode {
		return cloud.Errorf(cloud.ErrInvalid, "node group %q: sizes %d-%d", ng.Name, ng.MinNode, ng.MaxNode)
	}
	return nil
}

// work is a call that changes nothing: the injected faults for the call's step, then
// StepDelay (wait).
func (p *Provider) work(ctx context.Context, c cloud.Call, detail string) error {
	if err := p.fault(ctx, c); err != nil {
		return err
	}
	return p.wait(ctx, c, detail)
}

// wait takes StepDelay, reporting detail every second.
func (p *Provider) wait(ctx context.Context, c cloud.Call, detail string) error {
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
