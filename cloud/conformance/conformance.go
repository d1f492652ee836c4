// Package conformance is the test suite every cloud.Provider must pass: the
// contract of docs/providers.md checked call by call. A provider's tests run it
// against the provider wired to its fake backend (for the real clouds, an httptest
// server speaking the cloud's wire protocol):
//
//	func TestConformance(t *testing.T) {
//		conformance.Run(t, conformance.Harness{
//			New:    func(t *testing.T) cloud.Provider { return sim.New(0) },
//			Inject: func(t *testing.T, p cloud.Provider, step string, err error) { … },
//		})
//	}
package conformance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud"
)

// Harness is what the suite needs of a provider.
type Harness struct {
	// New returns the provider under test; called once per case.
	New func(t *testing.T) cloud.Provider
	// Spec is a valid cluster for creates; zero = a small EKS cluster in us-east-1.
	Spec cloud.ClusterSpec
	// Inject makes the provider's backend answer every call of step (Call.Step) with
	// the failure err stands for (a cloud.Error of some kind, with RetryAfter for
	// throttling), until the case ends. Nil skips the cases that need it.
	Inject func(t *testing.T, p cloud.Provider, step string, err error)
	// ActiveWithin bounds how long a new control plane may take to become ACTIVE;
	// zero = 30 seconds.
	ActiveWithin time.Duration
}

// Run runs every case of the contract against h's provider.
func Run(t *testing.T, h Harness) {
	if h.Spec.Name == "" {
		h.Spec = cloud.ClusterSpec{
			Name: "conformance", Provider: "aws", ProvisionerType: "eks", Region: "us-east-1", AccountID: "123456789012",
			KubernetesVersion: "1.31", CredentialsType: "dynamic",
			Account: cloud.AccountRef{OrgID: "org", Provider: "aws", AccountID: "123456789012", CredentialsType: "dynamic"},
			EKS:     &cloud.EKSSpec{AccountID: "123456789012", AMIFamily: "AL2023"},
			NodeGroups: []cloud.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3, InstanceType: cloud.InstanceOnDemand,
				MachineTypes: []string{"t3.medium"}}},
		}
	}
	if h.ActiveWithin == 0 {
		h.ActiveWithin = 30 * time.Second
	}
	t.Run("CreateIsIdempotentOnToken", func(t *testing.T) { createIsIdempotent(t, h) })
	t.Run("DeleteOfMissingResourceSucceeds", func(t *testing.T) { deleteMissing(t, h) })
	t.Run("ControlPlaneBecomesActive", func(t *testing.T) { becomesActive(t, h) })
	t.Run("InvalidRequestsAreTypedErrors", func(t *testing.T) { invalidIsTyped(t, h) })
	t.Run("BackendFailuresAreTypedErrors", func(t *testing.T) { backendFailuresTyped(t, h) })
	t.Run("ProgressIsReported", func(t *testing.T) { progressReported(t, h) })
	t.Run("CancelledCallsReturn", func(t *testing.T) { cancelled(t, h) })
}

// call is a fresh call of step whose progress reports go to rec.
func call(h Harness, token, step string, rec *recorder) cloud.Call {
	c := cloud.Call{Token: token, Step: step, Account: h.Spec.AccountRef(), Attempt: 1}
	if rec != nil {
		c.Progress = rec.add
	}
	return c
}

type recorder struct {
	mu      sync.Mutex
	details []string
}

func (r *recorder) add(d string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.details = append(r.details, d)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.details)
}

func token(t *testing.T, what string) string {
	return fmt.Sprintf("conformance-%s-%s-%d", t.Name(), what, time.Now().UnixNano())
}

func createIsIdempotent(t *testing.T, h Harness) {
	p, ctx := h.New(t), t.Context()
	tok := token(t, "net")
	n1, err := p.CreateNetwork(ctx, call(h, tok, "network", nil), h.Spec)
	must(t, "create network", err)
	n2, err := p.CreateNetwork(ctx, call(h, tok, "network", nil), h.Spec)
	must(t, "create network again with the same token", err)
	if n1 != n2 || n1.ID == "" {
		t.Errorf("network created twice with one token: %+v then %+v", n1, n2)
	}
	if n3, err := p.CreateNetwork(ctx, call(h, token(t, "other"), "network", nil), h.Spec); err != nil || n3.ID == n1.ID {
		t.Errorf("another token made network %+v (%v), the same as %+v", n3, err, n1)
	}

	tok = token(t, "cp")
	r1, err := p.CreateControlPlane(ctx, call(h, tok, "control-plane", nil), h.Spec, n1)
	must(t, "create control plane", err)
	r2, err := p.CreateControlPlane(ctx, call(h, tok, "control-plane", nil), h.Spec, n1)
	must(t, "create control plane again with the same token", err)
	if r1.ExternalID == "" || r1.ExternalID != r2.ExternalID || r1.Endpoint != r2.Endpoint || !r1.CreatedAt.Equal(r2.CreatedAt) {
		t.Errorf("control plane created twice with one token: %+v then %+v", r1, r2)
	}

	tok = token(t, "ng")
	ng := h.Spec.NodeGroups[0]
	must(t, "create node group", p.CreateNodeGroup(ctx, call(h, tok, "node-groups", nil), r1, ng))
	must(t, "create node group again with the same token", p.CreateNodeGroup(ctx, call(h, tok, "node-groups", nil), r1, ng))

	// An in-place change retried with its token is applied once more, harmlessly.
	tok = token(t, "settings")
	settings := settingsFor(h.Spec)
	if settings.Empty() { // the provisioner has no settings: every change is invalid
		isKind(t, "update cluster settings of a provisioner without any", p.UpdateClusterSettings(ctx, call(h, tok, "cluster-settings", nil), r1,
			cloud.ClusterSettings{EKS: &cloud.EKSSettings{AMIFamily: "Bottlerocket"}}), cloud.ErrInvalid)
		return
	}
	must(t, "update cluster settings", p.UpdateClusterSettings(ctx, call(h, tok, "cluster-settings", nil), r1, settings))
	must(t, "update cluster settings again with the same token", p.UpdateClusterSettings(ctx, call(h, tok, "cluster-settings", nil), r1, settings))
}

func deleteMissing(t *testing.T, h Harness) {
	p, ctx := h.New(t), t.Context()
	tok := token(t, "never-created")
	must(t, "delete a node group never created", p.DeleteNodeGroup(ctx, call(h, tok, "delete-node-groups", nil),
		cloud.ClusterRef{Provider: h.Spec.Provider, ExternalID: "never-created"}, "never-created"))
	must(t, "delete a control plane never created", p.DeleteControlPlane(ctx, call(h, tok, "delete-control-plane", nil),
		cloud.ClusterRef{Provider: h.Spec.Provider, ExternalID: "never-created"}))
	must(t, "delete a control plane by a token that created nothing", p.DeleteControlPlane(ctx, call(h, tok, "delete-control-plane", nil), cloud.ClusterRef{}))
	must(t, "delete a network never created", p.DeleteNetwork(ctx, call(h, tok, "delete-network", nil), cloud.NetworkRef{ID: "never-created"}))

	// What was created and deleted can be deleted again.
	net, err := p.CreateNetwork(ctx, call(h, tok, "network", nil), h.Spec)
	must(t, "create network", err)
	must(t, "delete network", p.DeleteNetwork(ctx, call(h, tok, "delete-network", nil), net))
	must(t, "delete network twice", p.DeleteNetwork(ctx, call(h, tok, "delete-network", nil), net))
}

func becomesActive(t *testing.T, h Harness) {
	p, ctx := h.New(t), t.Context()
	tok := token(t, "cp")
	net, err := p.CreateNetwork(ctx, call(h, tok, "network", nil), h.Spec) // a real cloud needs one
	must(t, "create network", err)
	ref, err := p.CreateControlPlane(ctx, call(h, tok, "control-plane", nil), h.Spec, net)
	must(t, "create control plane", err)
	waitActive(ctx, t, h, p, tok, ref)
	kc, err := p.Kubeconfig(ctx, call(h, tok, "kubeconfig", nil), ref)
	must(t, "kubeconfig", err)
	if kc == "" {
		t.Error("empty kubeconfig")
	}
}

// waitActive waits until the control plane ref is ACTIVE.
func waitActive(ctx context.Context, t *testing.T, h Harness, p cloud.Provider, tok string, ref cloud.ClusterRef) {
	t.Helper()
	deadline := time.Now().Add(h.ActiveWithin)
	for {
		state, err := p.ControlPlaneStatus(ctx, call(h, tok, "wait-active", nil), ref)
		must(t, "control plane status", err)
		if state == cloud.StateActive {
			return
		}
		if state != cloud.StateCreating {
			t.Fatalf("state %q, want %s then %s", state, cloud.StateCreating, cloud.StateActive)
		}
		if time.Now().After(deadline) {
			t.Fatalf("control plane not ACTIVE within %s", h.ActiveWithin)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// activeCluster makes a network and a control plane with p and waits until it is
// ACTIVE: the cluster that the cases acting on one use (a real cloud refuses calls on
// a cluster it does not have).
func activeCluster(t *testing.T, h Harness, p cloud.Provider) cloud.ClusterRef {
	t.Helper()
	ctx, tok := t.Context(), token(t, "cluster")
	net, err := p.CreateNetwork(ctx, call(h, tok+"-network", "network", nil), h.Spec)
	must(t, "create network", err)
	ref, err := p.CreateControlPlane(ctx, call(h, tok+"-control-plane", "control-plane", nil), h.Spec, net)
	must(t, "create control plane", err)
	waitActive(ctx, t, h, p, tok, ref)
	return ref
}

func invalidIsTyped(t *testing.T, h Harness) {
	p, ctx := h.New(t), t.Context()
	bad := h.Spec.NodeGroups[0]
	bad.MinNode, bad.MaxNode = 3, 1
	isKind(t, "node group with minNode > maxNode", p.CreateNodeGroup(ctx, call(h, token(t, "ng"), "node-groups", nil),
		cloud.ClusterRef{Provider: h.Spec.Provider, ExternalID: "x"}, bad), cloud.ErrInvalid)
	noName := h.Spec
	noName.Name = ""
	_, err := p.CreateControlPlane(ctx, call(h, token(t, "cp"), "control-plane", nil), noName, cloud.NetworkRef{})
	isKind(t, "control plane without a name", err, cloud.ErrInvalid)
	_, err = p.ControlPlaneStatus(ctx, call(h, token(t, "cp"), "wait-active", nil), cloud.ClusterRef{Provider: h.Spec.Provider})
	isKind(t, "status of a control plane without an ID", err, cloud.ErrNotFound)
	isKind(t, "cluster settings that change nothing", p.UpdateClusterSettings(ctx, call(h, token(t, "settings"), "cluster-settings", nil),
		cloud.ClusterRef{Provider: h.Spec.Provider, ExternalID: "x"}, cloud.ClusterSettings{}), cloud.ErrInvalid)
	isKind(t, "an unknown GKE release channel", p.UpdateClusterSettings(ctx, call(h, token(t, "settings"), "cluster-settings", nil),
		cloud.ClusterRef{Provider: h.Spec.Provider, ExternalID: "x"}, cloud.ClusterSettings{GKE: &cloud.GKESettings{ReleaseChannel: "NIGHTLY"}}), cloud.ErrInvalid)
}

// settingsFor is a change of spec's cluster settings its provider accepts: the
// provisioner's own sub-spec.
func settingsFor(spec cloud.ClusterSpec) cloud.ClusterSettings {
	switch spec.ProvisionerType {
	case "aks": // the contract carries no AKS settings: none to change
		return cloud.ClusterSettings{}
	case "gke":
		return cloud.ClusterSettings{GKE: &cloud.GKESettings{ImageType: "COS_CONTAINERD", ReleaseChannel: "REGULAR",
			MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "03:00", Duration: "4h"}, AuthorizedNetworks: []string{"10.0.0.0/8"}}}
	}
	return cloud.ClusterSettings{EKS: &cloud.EKSSettings{AMIFamily: "Bottlerocket"}}
}

func backendFailuresTyped(t *testing.T, h Harness) {
	if h.Inject == nil {
		t.Skip("the harness cannot inject backend failures")
	}
	for _, kind := range []error{cloud.ErrNotFound, cloud.ErrAlreadyExists, cloud.ErrQuotaExceeded, cloud.ErrInvalid, cloud.ErrFailed} {
		t.Run(kind.Error(), func(t *testing.T) {
			p := h.New(t)
			h.Inject(t, p, "network", &cloud.Error{Kind: kind, Msg: "injected"})
			_, err := p.CreateNetwork(t.Context(), call(h, token(t, "net"), "network", nil), h.Spec)
			isKind(t, "create network", err, kind)
		})
	}
	t.Run("cluster settings", func(t *testing.T) {
		if settingsFor(h.Spec).Empty() {
			t.Skip("the provisioner has no cluster settings")
		}
		p := h.New(t)
		ref := activeCluster(t, h, p)
		h.Inject(t, p, "cluster-settings", &cloud.Error{Kind: cloud.ErrFailed, Msg: "injected"})
		err := p.UpdateClusterSettings(t.Context(), call(h, token(t, "settings"), "cluster-settings", nil), ref, settingsFor(h.Spec))
		isKind(t, "update cluster settings", err, cloud.ErrFailed)
	})
	t.Run("throttled", func(t *testing.T) {
		p := h.New(t)
		ref := activeCluster(t, h, p)
		h.Inject(t, p, "node-groups", cloud.Throttled(7*time.Second, "injected", nil))
		err := p.CreateNodeGroup(t.Context(), call(h, token(t, "ng"), "node-groups", nil), ref, h.Spec.NodeGroups[0])
		isKind(t, "create node group", err, cloud.ErrThrottled)
		if d, ok := cloud.RetryAfter(err); !ok || d != 7*time.Second {
			t.Errorf("retry after %s (%v), want 7s", d, ok)
		}
	})
}

func progressReported(t *testing.T, h Harness) {
	p, ctx := h.New(t), t.Context()
	settings := settingsFor(h.Spec)
	tok := token(t, "all")
	var net cloud.NetworkRef
	var ref cloud.ClusterRef
	cases := []struct {
		what string
		run  func(c cloud.Call) error
	}{
		{"create network", func(c cloud.Call) (err error) { net, err = p.CreateNetwork(ctx, c, h.Spec); return err }},
		{"create control plane", func(c cloud.Call) (err error) {
			if ref, err = p.CreateControlPlane(ctx, c, h.Spec, net); err == nil {
				waitActive(ctx, t, h, p, tok, ref)
			}
			return err
		}},
		{"create node group", func(c cloud.Call) error { return p.CreateNodeGroup(ctx, c, ref, h.Spec.NodeGroups[0]) }},
		{"roll a node group", func(c cloud.Call) error { return p.UpdateNodeGroup(ctx, c, ref, h.Spec.NodeGroups[0], true, 2) }},
		{"upgrade the control plane", func(c cloud.Call) error { return p.UpgradeControlPlane(ctx, c, ref, "1.32") }},
		{"install add-ons", func(c cloud.Call) error { return p.InstallAddons(ctx, c, ref, "1.31") }},
		{"update cluster settings", func(c cloud.Call) error {
			return p.UpdateClusterSettings(ctx, c, ref, settings)
		}},
		{"delete node group", func(c cloud.Call) error { return p.DeleteNodeGroup(ctx, c, ref, h.Spec.NodeGroups[0].Name) }},
		{"delete control plane", func(c cloud.Call) error { return p.DeleteControlPlane(ctx, c, ref) }},
	}
	for _, tc := range cases {
		if tc.what == "update cluster settings" && settings.Empty() {
			continue // the provisioner has no cluster settings
		}
		rec := &recorder{}
		if err := tc.run(call(h, tok+"-"+tc.what, "step", rec)); err != nil {
			t.Errorf("%s: %v", tc.what, err)
			continue
		}
		if rec.count() == 0 {
			t.Errorf("%s reported no progress", tc.what)
		}
	}
}

func cancelled(t *testing.T, h Harness) {
	p := h.New(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.CreateNetwork(ctx, call(h, token(t, "net"), "network", nil), h.Spec)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("create network with a cancelled context: %v, want context.Canceled", err)
	}
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func isKind(t *testing.T, what string, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Errorf("%s: %v, want an error of kind %q", what, err, kind)
		return
	}
	var e *cloud.Error
	if !errors.As(err, &e) {
		t.Errorf("%s: %T is not a *cloud.Error", what, err)
	}
}
