package cloud

import (
	"time"
)

// ClusterSpec is a cluster as the workflows and providers see it: the manifest's
// spec without any secret. Credentials are named by Account (their type, a vault
// reference) and loaded by the worker when it builds the account's session; they never
// travel in a workflow's input or history.
//
// Workflow inputs and the store carry this struct as JSON under the Go field names:
// fields may be added (with omitempty, so older records keep their shape), never
// renamed or removed.
type ClusterSpec struct {
	Name              string
	Provider          string // aws, gcp, azure
	ProvisionerType   string // eks, gke, aks, selfHosted
	Region            string
	AccountID         string // AWS account, GCP project, Azure subscription
	KubernetesVersion string // minor, e.g. "1.31"
	CredentialsType   string // static, dynamic, vault
	Autopilot         bool
	NodeGroups        []NodeGroupSpec
	Tags              map[string]string

	// Account is whose cloud account every call acts in. Zero in specs recorded
	// before it existed: AccountRef() derives it from the fields above.
	Account AccountRef `json:",omitzero"`
	// ControlPlane is the control-plane node group of a selfHosted cluster
	// (spec.clusterSpec.controlPlane.nodeGroup); nil for managed control planes.
	ControlPlane *ControlPlaneNodes `json:",omitempty"`
	// Exactly one of the provisioner sub-specs is set, the one ProvisionerType names
	// (nil in specs recorded before they existed).
	EKS        *EKSSpec        `json:",omitempty"`
	GKE        *GKESpec        `json:",omitempty"`
	AKS        *AKSSpec        `json:",omitempty"`
	SelfHosted *SelfHostedSpec `json:",omitempty"`
}

// AccountRef returns the account the cluster lives in: Account when set, else what
// the older fields of the spec say (without the organization, which they lack).
func (s ClusterSpec) AccountRef() AccountRef {
	if s.Account != (AccountRef{}) {
		return s.Account
	}
	return AccountRef{Provider: s.Provider, AccountID: s.AccountID, CredentialsType: s.CredentialsType}
}

// Key is the provider key of the cluster: its implementation is chosen by provider
// and provisioner type.
func (s ClusterSpec) Key() Key { return Key{Provider: s.Provider, Provisioner: s.ProvisionerType} }

// NodeGroupSpec is one node group (node pool, agent pool) of a cluster.
type NodeGroupSpec struct {
	Name         string
	Version      string // kubelet minor; empty = the control plane's
	MinNode      int
	MaxNode      int
	InstanceType string // ondemand, spot
	MachineTypes []string
	Labels       map[string]string
	Taints       []Taint

	// ImageType is the node image: the EKS AMI family (AL2023, AL2, Bottlerocket,
	// Ubuntu) or the GKE image type; empty = the provider's default.
	ImageType string `json:",omitempty"`
	// Rollout bounds a rolling replacement of the group's nodes; nil = one node at a
	// time (maxUnavailable 1, maxSurge 1).
	Rollout *Rollout `json:",omitempty"`
}

// Spot reports whether the group runs on spot (preemptible) capacity.
func (ng NodeGroupSpec) Spot() bool { return ng.InstanceType == InstanceSpot }

// Instance types of a node group.
const (
	InstanceOnDemand = "ondemand"
	InstanceSpot     = "spot"
)

// Rollout is how many nodes a rolling update may take away and add at once: each
// an integer or a percentage of the group ("25%"), as the update manifest's
// updateConfig gives them.
type Rollout struct {
	MaxUnavailable string `json:",omitempty"`
	MaxSurge       string `json:",omitempty"`
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string
	Value  string
	Effect string // NoSchedule, PreferNoSchedule, NoExecute
}

// ControlPlaneNodes is the node group running a selfHosted control plane.
type ControlPlaneNodes struct {
	Name         string
	MachineTypes []string
}

// EKSSpec is what an EKS cluster needs beyond the common spec.
type EKSSpec struct {
	AccountID string // 12-digit AWS account
	// VPCID and VPCCIDR name an existing VPC (bring your own); empty = the provider
	// creates one.
	VPCID   string `json:",omitempty"`
	VPCCIDR string `json:",omitempty"`
	// Subnets of the existing VPC by availability zone.
	Subnets map[string][]Subnet `json:",omitempty"`
	// AMIFamily is the node image family: AL2023 (default), AL2, Bottlerocket, Ubuntu.
	AMIFamily string `json:",omitempty"`
}

// Subnet is one subnet of a bring-your-own VPC.
type Subnet struct {
	ID   string
	Type string // public, private
}

// GKESpec is what a GKE cluster needs beyond the common spec.
type GKESpec struct {
	ProjectID string
	// ReleaseChannel is STABLE (default), REGULAR or RAPID.
	ReleaseChannel string `json:",omitempty"`
	// KubernetesVersion is the GKE form (1.30.5-gke.1443001); empty = the channel's default.
	KubernetesVersion      string `json:",omitempty"`
	Autopilot              bool
	EnableWorkloadIdentity bool
	// NetworkID and Subnet name an existing VPC network (bring your own).
	NetworkID           string     `json:",omitempty"`
	Subnet              *GKESubnet `json:",omitempty"`
	MasterIPv4CIDRBlock string     `json:",omitempty"`
	AuthorizedNetworks  []string   `json:",omitempty"`
	// ImageType is the node image type of the cluster's node pools (COS_CONTAINERD…)
	// once an update set it; empty = GKE's default.
	ImageType string `json:",omitempty"`
	// MaintenanceWindow is the daily maintenance window once an update set it; nil =
	// GKE's default (any time).
	MaintenanceWindow *MaintenanceWindow `json:",omitempty"`
}

// MaintenanceWindow is a daily window in which the cloud may maintain the cluster.
type MaintenanceWindow struct {
	StartTime string // HH:MM, UTC
	Duration  string `json:",omitempty"` // Go duration ("4h"); empty = the provider's default
}

// ClusterSettings are the cluster-wide settings an update changes in place, one typed
// sub-spec per provisioner (the one the cluster's ProvisionerType names). Empty fields
// are unchanged, except GKESettings.AuthorizedNetworks, which replaces the list when
// non-nil (so an empty list clears it).
type ClusterSettings struct {
	EKS *EKSSettings `json:",omitempty"`
	GKE *GKESettings `json:",omitempty"`
}

// EKSSettings are the settings of an EKS cluster an update changes.
type EKSSettings struct {
	// AMIFamily is the node image family new and rolled node groups take.
	AMIFamily string `json:",omitempty"`
}

// GKESettings are the settings of a GKE cluster an update changes.
type GKESettings struct {
	ImageType         string             `json:",omitempty"`
	ReleaseChannel    string             `json:",omitempty"` // STABLE, REGULAR, RAPID
	MaintenanceWindow *MaintenanceWindow `json:",omitempty"`
	// AuthorizedNetworks replaces the CIDRs allowed to reach the control plane when
	// non-nil; empty clears them. (No omitempty: nil and empty differ.)
	AuthorizedNetworks []string
}

// Empty reports whether s changes nothing.
func (s ClusterSettings) Empty() bool {
	return (s.EKS == nil || *s.EKS == EKSSettings{}) &&
		(s.GKE == nil || s.GKE.ImageType == "" && s.GKE.ReleaseChannel == "" && s.GKE.MaintenanceWindow == nil && s.GKE.AuthorizedNetworks == nil)
}

// Apply returns spec with s applied: the provisioner's sub-spec takes the settings
// (and its node groups the node image), without changing what spec points to.
func (s ClusterSettings) Apply(spec ClusterSpec) ClusterSpec {
	image := ""
	if e := s.EKS; e != nil && e.AMIFamily != "" {
		eks := EKSSpec{}
		if spec.EKS != nil {
			eks = *spec.EKS
		}
		eks.AMIFamily = e.AMIFamily
		spec.EKS, image = &eks, e.AMIFamily
	}
	if g := s.GKE; g != nil {
		gke := GKESpec{}
		if spec.GKE != nil {
			gke = *spec.GKE
		}
		if g.ReleaseChannel != "" {
			gke.ReleaseChannel = g.ReleaseChannel
		}
		if g.ImageType != "" {
			gke.ImageType, image = g.ImageType, g.ImageType
		}
		if g.MaintenanceWindow != nil {
			mw := *g.MaintenanceWindow
			gke.MaintenanceWindow = &mw
		}
		if g.AuthorizedNetworks != nil {
			gke.AuthorizedNetworks = append([]string{}, g.AuthorizedNetworks...)
		}
		spec.GKE = &gke
	}
	if image != "" {
		groups := make([]NodeGroupSpec, len(spec.NodeGroups))
		for i, ng := range spec.NodeGroups {
			ng.ImageType = image
			groups[i] = ng
		}
		spec.NodeGroups = groups
	}
	return spec
}

// GKESubnet is a subnetwork of a bring-your-own VPC network and its secondary ranges.
type GKESubnet struct {
	Name          string
	PodsRange     string `json:",omitempty"`
	ServicesRange string `json:",omitempty"`
}

// AKSSpec is what an AKS cluster needs beyond the common spec.
type AKSSpec struct {
	SubscriptionID string
	ResourceGroup  string
}

// SelfHostedSpec is what a platform-managed vanilla Kubernetes cluster needs.
type SelfHostedSpec struct {
	AccountID  string // AWS account or GCP project hosting the VMs
	BucketName string // holds the cluster state
	NetworkID  string `json:",omitempty"`
}

// Call carries what every provider call needs besides its arguments. Token is the
// idempotency token, the same on every retry of one step of one operation; Step is
// the step it serves; Tags are the cluster's tags (the simulated cloud reads its fault
// injection from them). Account and Progress are filled by the activity adapter.
type Call struct {
	Token string
	Step  string
	Tags  map[string]string

	// Account is whose account the call acts in (set by the adapter from the spec).
	Account AccountRef `json:"-"`
	// Region is the cluster's region (set by the adapter from the spec), for calls
	// whose reference does not name it: a delete by the create's token after a create
	// interrupted before it returned a reference. Empty outside an activity.
	Region string `json:"-"`
	// Attempt is the attempt number of the activity (1 on the first); 0 outside one.
	Attempt int `json:"-"`
	// Progress receives what the call is doing, as often as it likes; the adapter
	// turns it into activity heartbeats. Nil outside an activity.
	Progress ProgressFunc `json:"-"`
}

// ProgressFunc receives a human-readable progress detail.
type ProgressFunc func(detail string)

// Report passes detail to the call's progress callback, if it has one.
func (c Call) Report(detail string) {
	if c.Progress != nil {
		c.Progress(detail)
	}
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
