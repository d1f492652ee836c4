// Package cloud is the provider contract of the control plane: the domain types a
// cluster is described by (ClusterSpec and its typed, secret-free provider
// sub-specs), one small interface per capability (network, control plane, node
// groups, add-ons, kubeconfig, upgrades, settings), typed errors, and the registry that
// chooses an implementation by provider and provisioner type and gives it a cached,
// rate-limited session in the cluster's own cloud account.
//
// Implementations live beside it (cloud/sim, the simulated cloud; cloud/aws,
// cloud/gcp, cloud/azure to come) and must pass cloud/conformance. The package
// imports no Temporal SDK: activities adapt providers to Temporal (heartbeats from
// progress reports, retryability from the typed errors). docs/providers.md is the
// written contract.
package cloud

import "context"

// Every method of every interface below follows these rules; cloud/conformance
// checks them.
//
//   - Idempotent on Call.Token: a create retried with the same token returns what
//     the first made (the same reference), never a second resource. Real clouds take
//     the token as their request token (EKS clientRequestToken, GCP and Azure
//     request IDs).
//   - Deletes succeed when the resource is already gone (or was never made).
//   - Errors are typed (errors.go): ErrNotFound, ErrAlreadyExists, ErrQuotaExceeded,
//     ErrThrottled (with a retry-after), ErrInvalid, ErrFailed; anything else is
//     transient and retried. context errors are returned as they are.
//   - Long calls report what they are doing through Call.Report at least every few
//     seconds, and return promptly when ctx is done.
//   - Safe for concurrent use. Acts only in Call.Account, with the session the
//     registry built for it; never reads credentials from its arguments.

// NetworkService creates and removes a cluster's network (VPC, VNet). A spec that
// names an existing network (bring your own VPC) is used as it is and not deleted.
type NetworkService interface {
	CreateNetwork(ctx context.Context, c Call, spec ClusterSpec) (NetworkRef, error)
	DeleteNetwork(ctx context.Context, c Call, net NetworkRef) error
}

// ControlPlaneService manages a cluster's control plane. CreateControlPlane starts
// the creation and returns once the cloud accepted it; ControlPlaneStatus reports
// StateCreating, StateActive or StateFailed. DeleteControlPlane also finds a control
// plane by the create's token when ref is empty (a create interrupted before it
// returned).
type ControlPlaneService interface {
	CreateControlPlane(ctx context.Context, c Call, spec ClusterSpec, net NetworkRef) (ClusterRef, error)
	ControlPlaneStatus(ctx context.Context, c Call, ref ClusterRef) (string, error)
	DeleteControlPlane(ctx context.Context, c Call, ref ClusterRef) error
}

// NodeGroupService manages node groups. CreateNodeGroup returns when the group is
// ready; UpdateNodeGroup brings a group to ng, rolling its nodes in batches when
// replace is set (within ng.Rollout), and returns when the rollout is done.
type NodeGroupService interface {
	CreateNodeGroup(ctx context.Context, c Call, ref ClusterRef, ng NodeGroupSpec) error
	UpdateNodeGroup(ctx context.Context, c Call, ref ClusterRef, ng NodeGroupSpec, replace bool, batches int) error
	DeleteNodeGroup(ctx context.Context, c Call, ref ClusterRef, name string) error
}

// AddonService installs or upgrades the cluster's add-ons for a Kubernetes minor.
type AddonService interface {
	InstallAddons(ctx context.Context, c Call, ref ClusterRef, version string) error
}

// KubeconfigService returns a kubeconfig for the cluster. It holds credentials: the
// caller must keep it out of workflow history.
type KubeconfigService interface {
	Kubeconfig(ctx context.Context, c Call, ref ClusterRef) (string, error)
}

// UpgradeService changes a running cluster: the control plane one minor at a time,
// and the tags of its resources (replaced by tags).
type UpgradeService interface {
	UpgradeControlPlane(ctx context.Context, c Call, ref ClusterRef, version string) error
	UpdateTags(ctx context.Context, c Call, ref ClusterRef, tags map[string]string) error
}

// SettingsService changes a running cluster's cluster-wide settings in place: the
// EKS node image family, GKE's node image type, release channel, maintenance window
// and authorized networks. Only the non-empty fields of the provisioner's sub-spec
// change (see ClusterSettings); settings that change nothing are ErrInvalid. It
// returns when the cloud has applied them (GKE re-images node pools for a new image
// type).
type SettingsService interface {
	UpdateClusterSettings(ctx context.Context, c Call, ref ClusterRef, s ClusterSettings) error
}

// Provider is every capability a provisioner offers: what a deploy, an update and
// a delete need.
type Provider interface {
	NetworkService
	ControlPlaneService
	NodeGroupService
	AddonService
	KubeconfigService
	UpgradeService
	SettingsService
}
