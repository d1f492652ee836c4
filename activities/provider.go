package activities

import (
	"context"
	"time"
)

// ClusterSpec is a cluster as the workflows and providers see it: the manifest's
// spec without any secret (credentials are referenced by type, loaded by activities).
type ClusterSpec struct {
	Name              string
	Provider          string // aws, gcp, azure
	ProvisionerType   string // eks, gke, aks, selfHosted
	Region            string
	AccountID         string
	KubernetesVersion string // minor, e.g. "1.31"
	CredentialsType   string // static, dynamic, vault
	Autopilot         bool
	NodeGroups        []NodeGroupSpec
	Tags              map[string]string
}

// NodeGroupSpec is one node group (node pool) of a cluster.
type NodeGroupSpec struct {
	Name         string
	Version      string // kubelet minor; empty = the control plane's
	MinNode      int
	MaxNode      int
	InstanceType string // ondemand, spot
	MachineTypes []string
	Labels       map[string]string
	Taints       []Taint
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string
	Value  string
	Effect string
}

// Call carries what every provider call needs besides its arguments: the idempotency
// token (the same on every retry of one step of one operation), the step it serves,
// and the cluster's tags (the simulated cloud reads its fault injection from them).
type Call struct {
	Token string
	Step  string
	Tags  map[string]string
}

// NetworkRef identifies a cluster's network (VPC, VNet) in its provider.
type NetworkRef struct {
	ID string
}

// ClusterRef identifies a cluster's control plane in its provider.
type ClusterRef struct {
	Provider   string
	ExternalID string
	Endpoint   string
	CreatedAt  time.Time
}

// Control plane states ControlPlaneStatus reports.
const (
	StateCreating = "CREATING"
	StateActive   = "ACTIVE"
	StateFailed   = "FAILED"
)

// Provider manages clusters in one cloud. Implementations are safe for concurrent use;
// every create is idempotent on Call.Token (a retried call returns what the first made)
// and every delete succeeds when the resource is already gone. Errors a retry cannot
// fix are temporal.ApplicationErrors marked non-retryable; any other error is retried.
type Provider interface {
	CreateNetwork(ctx context.Context, c Call, spec ClusterSpec) (NetworkRef, error)
	DeleteNetwork(ctx context.Context, c Call, net NetworkRef) error
	CreateControlPlane(ctx context.Context, c Call, spec ClusterSpec, net NetworkRef) (ClusterRef, error)
	ControlPlaneStatus(ctx context.Context, c Call, ref ClusterRef) (string, error)
	DeleteControlPlane(ctx context.Context, c Call, ref ClusterRef) error
	CreateNodeGroup(ctx context.Context, c Call, ref ClusterRef, ng NodeGroupSpec) error
	DeleteNodeGroup(ctx context.Context, c Call, ref ClusterRef, name string) error
	InstallAddons(ctx context.Context, c Call, ref ClusterRef, version string) error
	Kubeconfig(ctx context.Context, c Call, ref ClusterRef) (string, error)
	UpgradeControlPlane(ctx context.Context, c Call, ref ClusterRef, version string) error
	// UpdateNodeGroup brings a node group to ng; replace rolls its nodes in batches.
	UpdateNodeGroup(ctx context.Context, c Call, ref ClusterRef, ng NodeGroupSpec, replace bool, batches int) error
	UpdateTags(ctx context.Context, c Call, ref ClusterRef, tags map[string]string) error
}
