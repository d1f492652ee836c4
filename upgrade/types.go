package upgrade

// Cluster is the current state of a cluster, as the store knows it.
type Cluster struct {
	// Provider is aws, gcp or azure.
	Provider string `json:"provider"`
	// ProvisionerType is eks, gke, aks or selfHosted.
	ProvisionerType string `json:"provisionerType"`
	// Version is the control plane's minor, e.g. "1.29" (provider forms accepted).
	Version string `json:"version"`
	// AmiFamily is the node image family of an eks cluster; "" means unknown, so
	// any requested family is planned as a change rather than silently skipped.
	AmiFamily string `json:"amiFamily,omitempty"`
	// GKE is the cluster-wide settings of a gke cluster; nil (or an empty field)
	// means unknown, so any requested value is planned as a change.
	GKE *GKESettings `json:"gke,omitempty"`
	// NodeGroups are the data-plane node groups.
	NodeGroups []NodeGroup `json:"nodeGroups"`
	// Tags are the cloud tags on the cluster's resources.
	Tags map[string]string `json:"tags,omitempty"`
}

// NodeGroup is the current state of one node group.
type NodeGroup struct {
	// Name is the node group's name, unique in the cluster.
	Name string `json:"name"`
	// Version is the kubelet minor; "" means the same as the control plane.
	Version string `json:"version"`
	// MinNode and MaxNode bound the autoscaler; MaxNode is the node count rolling
	// steps plan for.
	MinNode int `json:"minNode"`
	MaxNode int `json:"maxNode"`
	// InstanceType is ondemand or spot; "" means ondemand.
	InstanceType string `json:"instanceType,omitempty"`
	// MachineTypes are the machine types the group runs.
	MachineTypes []string `json:"machineTypes"`
	// Labels are the Kubernetes labels on the group's nodes.
	Labels map[string]string `json:"labels,omitempty"`
	// Taints are the Kubernetes taints on the group's nodes.
	Taints []Taint `json:"taints,omitempty"`
}

// Taint is a Kubernetes node taint.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"` // NoSchedule, PreferNoSchedule or NoExecute
}

// Request is what a K8sClusterUpdate manifest asks for; zero values mean
// "unchanged" unless a field says otherwise.
type Request struct {
	// KubernetesVersion is the target minor or a provider form ("1.31", "v1.31",
	// "1.31.2", "1.31.2-gke.100"); only the minor matters for the plan. "" = unchanged.
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
	// NodeGroups are changes by name; an unknown name adds a group.
	NodeGroups []NodeGroupChange `json:"nodeGroups,omitempty"`
	// Tags replaces the cluster's tags when non-nil (an empty map clears them).
	Tags map[string]string `json:"tags,omitempty"`
	// AllowDowngrade permits a target older than the current version.
	AllowDowngrade bool `json:"allowDowngrade,omitempty"`
	// MaxUnavailable and MaxSurge are non-negative integers or percentages
	// ("25%") of a node group's nodes; "" defaults to "1" each.
	MaxUnavailable string `json:"maxUnavailable,omitempty"`
	MaxSurge       string `json:"maxSurge,omitempty"`
	// AmiFamily is the eks node image family (AL2023, AL2, Bottlerocket, Ubuntu);
	// "" = unchanged, rejected on other provisioners.
	AmiFamily string `json:"amiFamily,omitempty"`
	// GKE are the gke cluster settings to change; nil = unchanged, rejected on
	// other provisioners.
	GKE *GKESettings `json:"gke,omitempty"`
}

// GKESettings are a gke cluster's cluster-wide settings. In a Request empty fields
// are unchanged, except AuthorizedNetworks, which replaces the list when non-nil
// (so an empty list clears it).
type GKESettings struct {
	// ImageType is the node image type of every node pool (COS_CONTAINERD…);
	// changing it recreates the nodes.
	ImageType string `json:"imageType,omitempty"`
	// ReleaseChannel is STABLE, REGULAR or RAPID.
	ReleaseChannel    string             `json:"releaseChannel,omitempty"`
	MaintenanceWindow *MaintenanceWindow `json:"maintenanceWindow,omitempty"`
	// AuthorizedNetworks are the CIDRs allowed to reach the control plane.
	AuthorizedNetworks []string `json:"authorizedNetworks"`
}

// MaintenanceWindow is a daily maintenance window.
type MaintenanceWindow struct {
	StartTime string `json:"startTime"`          // HH:MM, UTC
	Duration  string `json:"duration,omitempty"` // e.g. "4h"; "" = the provider's default
}

// NodeGroupChange is the requested change to one node group, or a new group when
// Name is unknown. Nil or empty fields are unchanged, except Labels and Taints,
// which replace the current ones when non-nil (so an empty value clears them).
type NodeGroupChange struct {
	Name         string            `json:"name"`
	MinNode      *int              `json:"minNode,omitempty"`
	MaxNode      *int              `json:"maxNode,omitempty"`
	MachineTypes []string          `json:"machineTypes,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Taints       []Taint           `json:"taints,omitempty"`
	InstanceType string            `json:"instanceType,omitempty"`
}

// Result is the outcome of one preflight check.
type Result string

// Preflight check results. Only FAIL blocks the update.
const (
	ResultPass Result = "PASS"
	ResultWarn Result = "WARN"
	ResultFail Result = "FAIL"
)

// Names of the preflight checks, listed in every plan in this order.
const (
	CheckVersionSupported = "version-supported"
	CheckVersionSkew      = "version-skew"
	CheckDowngradeAllowed = "downgrade-allowed"
	CheckNodeGroupNames   = "node-group-names"
	CheckNodeGroupSizes   = "node-group-sizes"
	// CheckNodeGroupConfig covers machine types, instance type, labels and taints.
	CheckNodeGroupConfig  = "node-group-config"
	CheckRollingUpdate    = "rolling-update-config"
	CheckProviderSpecific = "provider-specific-fields"
)

// checkOrder fixes the order of PreflightChecks, Warnings and Errors.
var checkOrder = []string{
	CheckVersionSupported,
	CheckVersionSkew,
	CheckDowngradeAllowed,
	CheckNodeGroupNames,
	CheckNodeGroupSizes,
	CheckNodeGroupConfig,
	CheckRollingUpdate,
	CheckProviderSpecific,
}

// Check is one preflight check with its result and why.
type Check struct {
	Name    string `json:"name"`
	Result  Result `json:"result"`
	Message string `json:"message"`
}

// StepKind says what a step does.
type StepKind string

// Step kinds. Version steps keep their kind when they go down (a downgrade is a
// control-plane-upgrade with FromVersion > ToVersion).
const (
	KindControlPlaneUpgrade StepKind = "control-plane-upgrade"
	KindNodeGroupUpgrade    StepKind = "node-group-upgrade"
	KindNodeGroupReplace    StepKind = "node-group-replace"
	KindNodeGroupScale      StepKind = "node-group-scale"
	KindNodeGroupConfig     StepKind = "node-group-update-config"
	KindNodeGroupCreate     StepKind = "node-group-create"
	KindAddonsUpgrade       StepKind = "addons-upgrade"
	KindTagsUpdate          StepKind = "tags-update"
	KindAmiFamilyUpdate     StepKind = "ami-family-update"
	// KindClusterSettings changes cluster-wide settings in place: the eks AMI family
	// new node groups take, gke's image type, release channel, maintenance window and
	// authorized networks.
	KindClusterSettings StepKind = "cluster-settings"
)

// TargetControlPlane is the Target of the cluster-wide steps: control-plane hops,
// addons-upgrade, tags-update and cluster-settings.
const TargetControlPlane = "control-plane"

// Step is one action of the update, run in Order (1-based).
type Step struct {
	Order int      `json:"order"`
	Kind  StepKind `json:"kind"`
	// Target is a node group name or TargetControlPlane.
	Target string `json:"target"`
	// FromVersion and ToVersion are minors, set on version steps and on
	// node-group-create (ToVersion only).
	FromVersion string `json:"fromVersion,omitempty"`
	ToVersion   string `json:"toVersion,omitempty"`
	Description string `json:"description"`
	// Disruptive is true when running pods are evicted or nodes removed.
	Disruptive       bool `json:"disruptive"`
	EstimatedMinutes int  `json:"estimatedMinutes"`
	// Batches is the number of rolling-replacement batches; 0 for steps that
	// replace no nodes.
	Batches int `json:"batches,omitempty"`
}

// Report summarises a plan for people: what changes, what is disrupted, how long.
type Report struct {
	// Changes are "field: from → to" lines, e.g.
	// "spec.nodeGroups[default-pool].maxNode: 5 → 10".
	Changes     []string `json:"changes"`
	Disruptions []string `json:"disruptions"`
	// EstimatedMinutes is the sum of the steps' estimates.
	EstimatedMinutes int `json:"estimatedMinutes"`
}

// Plan is the answer of dry runs and reports, and the script the update
// workflow follows. Slices are never nil so they marshal as [].
type Plan struct {
	// ValidationPassed is true when no check failed (Errors is empty).
	ValidationPassed bool `json:"validationPassed"`
	// FromVersion is the control plane's current minor and ToVersion the minor it
	// ends at (equal when the version does not change or the request is invalid).
	FromVersion     string   `json:"fromVersion,omitempty"`
	ToVersion       string   `json:"toVersion,omitempty"`
	PreflightChecks []Check  `json:"preflightChecks"`
	Steps           []Step   `json:"steps"`
	Report          Report   `json:"report"`
	Warnings        []string `json:"warnings"`
	Errors          []string `json:"errors"`
}
