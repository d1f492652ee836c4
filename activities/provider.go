package activities

import "github.com/astropulse/astroplane/cloud"

// The provider contract lives in package cloud; these aliases keep the names the
// workflows and the API have always used for the payloads they carry (the same
// types, so the JSON in recorded histories is unchanged).
type (
	// ClusterSpec is cloud.ClusterSpec.
	ClusterSpec = cloud.ClusterSpec
	// NodeGroupSpec is cloud.NodeGroupSpec.
	NodeGroupSpec = cloud.NodeGroupSpec
	// Taint is cloud.Taint.
	Taint = cloud.Taint
	// Call is cloud.Call.
	Call = cloud.Call
	// NetworkRef is cloud.NetworkRef.
	NetworkRef = cloud.NetworkRef
	// ClusterRef is cloud.ClusterRef.
	ClusterRef = cloud.ClusterRef
	// ClusterSettings is cloud.ClusterSettings.
	ClusterSettings = cloud.ClusterSettings
	// Provider is cloud.Provider.
	Provider = cloud.Provider
)

// Control plane states ControlPlaneStatus reports.
const (
	StateCreating = cloud.StateCreating
	StateActive   = cloud.StateActive
	StateFailed   = cloud.StateFailed
)
