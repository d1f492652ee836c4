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
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/store"
)

// Error types of non-retryable activity failures; workflows and the API match on them.
const (
	ErrTypeNotFound      = "NotFound"
	ErrTypeInvalidInput  = "InvalidInput"
	ErrTypeQuotaExceeded = "QuotaExceeded"
	ErrTypeInjected      = "InjectedFailure"
	ErrTypeClusterFailed = "ClusterFailed"
	// ErrTypeOperationClosed: the store had already closed the operation.
	ErrTypeOperationClosed = "OperationClosed"
)

// Cluster holds the cluster activities' dependencies. Its provider activities are
// thin adapters from workflows to the cloud contract (package cloud): they choose
// the provider by the spec's provider and provisioner type, act in the spec's
// account, turn progress reports into heartbeats and typed errors into Temporal
// errors.
type Cluster struct {
	Store *store.Store
	// Clouds chooses the provider of each call by (provider, provisioner type) and
	// builds it a session in the cluster's account.
	Clouds *cloud.Registry
	// PollInterval is how often WaitControlPlaneActive asks the provider; default 10s.
	PollInterval time.Duration
	// Finished, when set, is told each operation FinishOperation records (the first
	// time only): its type (deploy, update, delete; "other" for an ID of another
	// shape) and its status in lower case (succeeded, failed, cancelled, rejected,
	// expired). cmd/worker counts them in astro_operations_finished_total.
	Finished func(opType, status string)
	// Box seals the kubeconfigs IssueKubeconfig makes; without it they are refused.
	Box *secrets.Box
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
// a non-retryable NotFound, and an operation the store has already closed (the API
// recorded its start as failed) a non-retryable OperationClosed, so the workflow stops
// before it changes anything.
func (a *Cluster) BeginOperation(ctx context.Context, in BeginOperationInput) error {
	err := a.Store.BeginOperation(ctx, in.OrgID, in.ClusterID, in.OperationID, in.ClusterStatus, in.Message)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("cluster %s not found", in.ClusterID), ErrTypeNotFound, err)
	case errors.Is(err, store.ErrOperationClosed):
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("operation %s was already closed", in.OperationID), ErrTypeOperationClosed, err)
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
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return NetworkRef{}, err
	}
	var net NetworkRef
	err = inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) (err error) {
		net, err = p.CreateNetwork(ctx, c, in.Spec)
		return err
	})
	return net, err
}

// DeleteNetwork deletes the cluster's network; one already gone is fine.
func (a *Cluster) DeleteNetwork(ctx context.Context, in NetworkInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	return inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) error { return gone(p.DeleteNetwork(ctx, c, in.Network)) })
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
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return ClusterRef{}, err
	}
	var ref ClusterRef
	err = inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) (err error) {
		ref, err = p.CreateControlPlane(ctx, c, in.Spec, in.Network)
		return err
	})
	return ref, err
}

// WaitControlPlaneActive polls the control plane until it is ACTIVE, heartbeating its
// state, so a worker that dies mid-wait hands over to the next attempt.
func (a *Cluster) WaitControlPlaneActive(ctx context.Context, in ControlPlaneInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	interval := a.PollInterval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	start := time.Now()
	for {
		var state string
		err := inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) (err error) {
			c.Progress = nil // the wait heartbeats the state itself
			state, err = p.ControlPlaneStatus(ctx, c, in.Ref)
			return err
		})
		if err != nil {
			return err
		}
		switch state {
		case StateActive:
			return nil
		case StateFailed:
			return temporal.NewNonRetryableApplicationError("control plane failed to become active", ErrTypeClusterFailed, nil)
		}
		heartbeat(ctx, in.Spec, in.Call, fmt.Sprintf("control plane %s for %s", state, time.Since(start).Round(time.Second)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// DeleteControlPlane deletes the control plane; one already gone is fine.
func (a *Cluster) DeleteControlPlane(ctx context.Context, in ControlPlaneInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	return inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) error { return gone(p.DeleteControlPlane(ctx, c, in.Ref)) })
}

// UpgradeControlPlane moves the control plane one minor version, to in.Version.
func (a *Cluster) UpgradeControlPlane(ctx context.Context, in ControlPlaneInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	return inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) error { return p.UpgradeControlPlane(ctx, c, in.Ref, in.Version) })
}

// InstallAddons installs (or upgrades) the cluster's add-ons for in.Version.
func (a *Cluster) InstallAddons(ctx context.Context, in ControlPlaneInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	return inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) error { return p.InstallAddons(ctx, c, in.Ref, in.Version) })
}

// KubeconfigResult is what the workflow learns of the kubeconfig: never the file,
// which holds credentials, only where the API server answers.
type KubeconfigResult struct {
	Endpoint string
}

// VerifyKubeconfig fetches the cluster's kubeconfig and checks it names the
// endpoint; the file itself stays out of workflow history.
func (a *Cluster) VerifyKubeconfig(ctx context.Context, in ControlPlaneInput) (KubeconfigResult, error) {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return KubeconfigResult{}, err
	}
	var kc string
	err = inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) (err error) {
		kc, err = p.Kubeconfig(ctx, c, in.Ref)
		return err
	})
	if err != nil {
		return KubeconfigResult{}, err
	}
	if kc == "" {
		return KubeconfigResult{}, fmt.Errorf("provider returned an empty kubeconfig")
	}
	return KubeconfigResult{Endpoint: kubeconfigServer(kc, in.Ref.Endpoint)}, nil
}

// kubeconfigServer is the endpoint known from the create step or, when that was
// empty, the API server the kubeconfig's current context (or its only cluster)
// points at: a real EKS cluster has no endpoint until it is ACTIVE.
func kubeconfigServer(kc, known string) string {
	if known != "" {
		return known
	}
	cfg, err := clientcmd.Load([]byte(kc))
	if err != nil {
		return known
	}
	name := ""
	if c, ok := cfg.Contexts[cfg.CurrentContext]; ok {
		name = c.Cluster
	} else if len(cfg.Clusters) == 1 {
		for n := range cfg.Clusters {
			name = n
		}
	}
	if c, ok := cfg.Clusters[name]; ok && c.Server != "" {
		return c.Server
	}
	return known
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
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	done := 0
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &done)
	}
	for i := done; i < len(in.NodeGroups); i++ {
		call := in.Call
		call.Token = in.Call.Token + "-" + in.NodeGroups[i].Name
		if err := inActivity(ctx, in.Spec, call, func(c cloud.Call) error { return p.CreateNodeGroup(ctx, c, in.Ref, in.NodeGroups[i]) }); err != nil {
			return err
		}
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, i+1)
		}
	}
	return nil
}

// DeleteNodeGroups deletes the named node groups; ones already gone are fine.
func (a *Cluster) DeleteNodeGroups(ctx context.Context, in NodeGroupsInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	for _, name := range in.Names {
		if err := inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) error { return gone(p.DeleteNodeGroup(ctx, c, in.Ref, name)) }); err != nil {
			return err
		}
	}
	return nil
}

// UpdateNodeGroup brings one node group (in.NodeGroups[0]) to its new spec.
func (a *Cluster) UpdateNodeGroup(ctx context.Context, in NodeGroupsInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	if len(in.NodeGroups) != 1 {
		return temporal.NewNonRetryableApplicationError("UpdateNodeGroup takes exactly one node group", ErrTypeInvalidInput, nil)
	}
	return inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) error {
		return p.UpdateNodeGroup(ctx, c, in.Ref, in.NodeGroups[0], in.Replace, in.Batches)
	})
}

// UpdateTags sets the tags of the cluster's resources to in.Spec.Tags.
func (a *Cluster) UpdateTags(ctx context.Context, in NodeGroupsInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	return inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) error { return p.UpdateTags(ctx, c, in.Ref, in.Spec.Tags) })
}

// ClusterSettingsInput asks for a change of a cluster's cluster-wide settings.
type ClusterSettingsInput struct {
	Call     Call
	Spec     ClusterSpec
	Ref      ClusterRef
	Settings ClusterSettings
}

// UpdateClusterSettings changes the cluster's settings in place (EKS AMI family; GKE
// image type, release channel, maintenance window, authorized networks).
func (a *Cluster) UpdateClusterSettings(ctx context.Context, in ClusterSettingsInput) error {
	p, err := a.providerFor(ctx, in.Spec)
	if err != nil {
		return err
	}
	return inActivity(ctx, in.Spec, in.Call, func(c cloud.Call) error { return p.UpdateClusterSettings(ctx, c, in.Ref, in.Settings) })
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
	first := false
	err := a.Store.InTx(ctx, func(tx *store.Store) error {
		finished, err := tx.FinishOperation(ctx, in.OrgID, in.OperationID, in.OperationStatus, in.Message, now)
		first = finished
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
	if err == nil && first && a.Finished != nil {
		a.Finished(operationType(in.OperationID), strings.ToLower(in.OperationStatus))
	}
	return err
}

// operationType is the type part of an operation ID (org.cluster.type.suffix):
// deploy, update or delete, and "other" for anything else, so a metric's labels stay
// bounded whatever an ID holds.
func operationType(id string) string {
	parts := strings.Split(id, ".")
	if len(parts) == 4 {
		switch parts[2] {
		case "deploy", "update", "delete":
			return parts[2]
		}
	}
	return "other"
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v) // maps of strings always encode
	return b
}
