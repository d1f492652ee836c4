// Package activities holds the Temporal activities of the control plane: the only code
// that talks to clouds and records workflow outcomes in the store. Activities are
// methods on structs holding their dependencies; workflows call them through nil
// pointers of those types, so names and signatures are checked by the compiler.
package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/store"
)

// Error types of non-retryable activity failures; workflows and the API match on them.
const (
	ErrTypeNotFound      = "NotFound"
	ErrTypeInvalidInput  = "InvalidInput"
	ErrTypeQuotaExceeded = "QuotaExceeded"
	ErrTypeInjected      = "InjectedFailure"
	ErrTypeClusterFailed = "ClusterFailed"
)

// Cluster holds the cluster activities' dependencies.
type Cluster struct {
	Store *store.Store
	// Providers maps a manifest's provider (aws, gcp, azure) to its implementation.
	Providers map[string]Provider
	// PollInterval is how often WaitControlPlaneActive asks the provider; default 10s.
	PollInterval time.Duration
}

func (a *Cluster) provider(name string) (Provider, error) {
	p, ok := a.Providers[name]
	if !ok {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no provider %q on this worker", name), ErrTypeInvalidInput, nil)
	}
	return p, nil
}

// BeginOperationInput marks a cluster as being changed by an operation.
type BeginOperationInput struct {
	OrgID         string
	ClusterID     string
	OperationID   string
	ClusterStatus string // PROVISIONING, UPDATING, DELETING
	Message       string
}

// BeginOperation records the cluster's new status; a cluster that no longer exists is
// a non-retryable NotFound.
func (a *Cluster) BeginOperation(ctx context.Context, in BeginOperationInput) error {
	err := a.Store.SetClusterStatus(ctx, in.OrgID, in.ClusterID, in.ClusterStatus, in.Message)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("cluster %s not found", in.ClusterID), ErrTypeNotFound, err)
	}
	return err
}

// NetworkInput asks for a cluster's network.
type NetworkInput struct {
	Call    Call
	Spec    ClusterSpec
	Network NetworkRef // for deletes
}

// CreateNetwork creates the cluster's network.
func (a *Cluster) CreateNetwork(ctx context.Context, in NetworkInput) (NetworkRef, error) {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return NetworkRef{}, err
	}
	return p.CreateNetwork(ctx, in.Call, in.Spec)
}

// DeleteNetwork deletes the cluster's network; one already gone is fine.
func (a *Cluster) DeleteNetwork(ctx context.Context, in NetworkInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	return p.DeleteNetwork(ctx, in.Call, in.Network)
}

// ControlPlaneInput names a cluster's control plane.
type ControlPlaneInput struct {
	Call    Call
	Spec    ClusterSpec
	Network NetworkRef
	Ref     ClusterRef
	// Version is the target of UpgradeControlPlane and InstallAddons.
	Version string
}

// CreateControlPlane starts creating the control plane; WaitControlPlaneActive waits
// for it.
func (a *Cluster) CreateControlPlane(ctx context.Context, in ControlPlaneInput) (ClusterRef, error) {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return ClusterRef{}, err
	}
	return p.CreateControlPlane(ctx, in.Call, in.Spec, in.Network)
}

// WaitControlPlaneActive polls the control plane until it is ACTIVE, heartbeating its
// state, so a worker that dies mid-wait hands over to the next attempt.
func (a *Cluster) WaitControlPlaneActive(ctx context.Context, in ControlPlaneInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	interval := a.PollInterval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	start := time.Now()
	for {
		state, err := p.ControlPlaneStatus(ctx, in.Call, in.Ref)
		if err != nil {
			return err
		}
		switch state {
		case StateActive:
			return nil
		case StateFailed:
			return temporal.NewNonRetryableApplicationError("control plane failed to become active", ErrTypeClusterFailed, nil)
		}
		activity.RecordHeartbeat(ctx, fmt.Sprintf("control plane %s for %s", state, time.Since(start).Round(time.Second)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// DeleteControlPlane deletes the control plane; one already gone is fine.
func (a *Cluster) DeleteControlPlane(ctx context.Context, in ControlPlaneInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	return p.DeleteControlPlane(ctx, in.Call, in.Ref)
}

// UpgradeControlPlane moves the control plane one minor version, to in.Version.
func (a *Cluster) UpgradeControlPlane(ctx context.Context, in ControlPlaneInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	return p.UpgradeControlPlane(ctx, in.Call, in.Ref, in.Version)
}

// InstallAddons installs (or upgrades) the cluster's add-ons for in.Version.
func (a *Cluster) InstallAddons(ctx context.Context, in ControlPlaneInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	return p.InstallAddons(ctx, in.Call, in.Ref, in.Version)
}

// KubeconfigResult is what the workflow learns of the kubeconfig: never the file,
// which holds credentials, only where the API server answers.
type KubeconfigResult struct {
	Endpoint string
}

// VerifyKubeconfig fetches the cluster's kubeconfig and checks it names the
// endpoint; the file itself stays out of workflow history.
func (a *Cluster) VerifyKubeconfig(ctx context.Context, in ControlPlaneInput) (KubeconfigResult, error) {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return KubeconfigResult{}, err
	}
	kc, err := p.Kubeconfig(ctx, in.Call, in.Ref)
	if err != nil {
		return KubeconfigResult{}, err
	}
	if kc == "" {
		return KubeconfigResult{}, fmt.Errorf("provider returned an empty kubeconfig")
	}
	return KubeconfigResult{Endpoint: in.Ref.Endpoint}, nil
}

// NodeGroupsInput names node groups of a cluster.
type NodeGroupsInput struct {
	Call       Call
	Spec       ClusterSpec
	Ref        ClusterRef
	NodeGroups []NodeGroupSpec
	Names      []string // for deletes
	// Replace and Batches drive UpdateNodeGroup's rolling replacement.
	Replace bool
	Batches int
}

// CreateNodeGroups creates the node groups in order. It heartbeats how many are done
// and a retried attempt resumes after them (creates are idempotent anyway).
func (a *Cluster) CreateNodeGroups(ctx context.Context, in NodeGroupsInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	done := 0
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &done)
	}
	for i := done; i < len(in.NodeGroups); i++ {
		call := in.Call
		call.Token = in.Call.Token + "-" + in.NodeGroups[i].Name
		// Provider errors go back unwrapped: their type decides retryability.
		if err := p.CreateNodeGroup(ctx, call, in.Ref, in.NodeGroups[i]); err != nil {
			return err
		}
		activity.RecordHeartbeat(ctx, i+1)
	}
	return nil
}

// DeleteNodeGroups deletes the named node groups; ones already gone are fine.
func (a *Cluster) DeleteNodeGroups(ctx context.Context, in NodeGroupsInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	for _, name := range in.Names {
		if err := p.DeleteNodeGroup(ctx, in.Call, in.Ref, name); err != nil {
			return err
		}
	}
	return nil
}

// UpdateNodeGroup brings one node group (in.NodeGroups[0]) to its new spec.
func (a *Cluster) UpdateNodeGroup(ctx context.Context, in NodeGroupsInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	if len(in.NodeGroups) != 1 {
		return temporal.NewNonRetryableApplicationError("UpdateNodeGroup takes exactly one node group", ErrTypeInvalidInput, nil)
	}
	return p.UpdateNodeGroup(ctx, in.Call, in.Ref, in.NodeGroups[0], in.Replace, in.Batches)
}

// UpdateTags sets the tags of the cluster's resources to in.Spec.Tags.
func (a *Cluster) UpdateTags(ctx context.Context, in NodeGroupsInput) error {
	p, err := a.provider(in.Spec.Provider)
	if err != nil {
		return err
	}
	return p.UpdateTags(ctx, in.Call, in.Ref, in.Spec.Tags)
}

// FinishOperationInput records the outcome of an operation and its cluster.
type FinishOperationInput struct {
	OrgID           string
	ClusterID       string
	OperationID     string
	OperationStatus string // store.Operation* status
	ClusterStatus   string // store.Cluster* status
	Message         string
	// Ref, Network and Spec, when set, are the cluster's new provider references
	// and spec (after a deploy or an update).
	Ref     *ClusterRef
	Network *NetworkRef
	Spec    *ClusterSpec
}

// FinishOperation records the operation's outcome, the cluster's resulting status
// (and references and spec, when given) and an audit event, in one transaction.
// Recording twice keeps the first outcome.
func (a *Cluster) FinishOperation(ctx context.Context, in FinishOperationInput) error {
	now := time.Now().UTC()
	var facts store.ClusterFacts
	if in.Ref != nil {
		facts.ExternalID, facts.Endpoint = in.Ref.ExternalID, in.Ref.Endpoint
	}
	if in.Network != nil {
		facts.NetworkID = in.Network.ID
	}
	if in.Spec != nil {
		facts.KubernetesVersion = in.Spec.KubernetesVersion
		raw, err := json.Marshal(in.Spec)
		if err != nil {
			return temporal.NewNonRetryableApplicationError("encode spec", ErrTypeInvalidInput, err)
		}
		facts.State = raw
	}
	err := a.Store.InTx(ctx, func(tx *store.Store) error {
		finished, err := tx.FinishOperation(ctx, in.OrgID, in.OperationID, in.OperationStatus, in.Message, now)
		if err != nil || !finished {
			return err // already recorded: keep the first outcome
		}
		if err := tx.RecordClusterOutcome(ctx, in.OrgID, in.ClusterID, in.ClusterStatus, in.Message, facts); err != nil {
			return err
		}
		outcome := store.OutcomeSuccess
		if in.OperationStatus != store.OperationSucceeded {
			outcome = store.OutcomeFailure
		}
		return tx.RecordAudit(ctx, &store.AuditEvent{
			OrgID: in.OrgID, EventType: "CLUSTER", Action: "OPERATION_FINISHED",
			ResourceID: in.OperationID, Outcome: outcome, CreatedAt: now,
			Details: mustJSON(map[string]string{"status": in.OperationStatus, "clusterStatus": in.ClusterStatus, "message": in.Message}),
		})
	})
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("operation or cluster not found", ErrTypeNotFound, err)
	}
	return err
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v) // maps of strings always encode
	return b
}
