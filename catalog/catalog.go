// Package catalog is the static cloud catalog: the providers Astro Plane deploys to,
// their regions and zones, the machine types each region offers and the Kubernetes
// versions each provisioner supports.
//
// The simulated cloud provisions from it, manifest validation checks against it, and
// the CloudProvider endpoints serve it. It is plain data compiled into the binary: no
// call touches a network, every function is safe for concurrent use, and every result
// is a copy the caller may modify freely.
//
// Identifiers are the strings manifests use: providers "aws", "gcp", "azure";
// provisioner types "eks", "gke", "aks", "selfHosted". Look-ups are case-sensitive,
// as the manifests are.
package catalog

import "slices"

// Provider IDs, as spec.provider spells them.
const (
	AWS   = "aws"
	GCP   = "gcp"
	Azure = "azure"
)

// Provisioner types, as spec.provisioner.type spells them.
const (
	EKS        = "eks"
	GKE        = "gke"
	AKS        = "aks"
	SelfHosted = "selfHosted"
)

// Provider is a cloud provider and the provisioner types that run on it.
type Provider struct {
	// ID is the provider's identifier in manifests, e.g. "aws".
	ID string
	// Name is the display name, e.g. "Amazon Web Services".
	Name string
	// ProvisionerTypes are the provisioner types that run on the provider, managed
	// service first.
	ProvisionerTypes []string
}

// Supports reports whether clusters of the provisioner type run on the provider.
func (p Provider) Supports(provisionerType string) bool {
	return slices.Contains(p.ProvisionerTypes, provisionerType)
}

var providers = []Provider{
	{ID: AWS, Name: "Amazon Web Services", ProvisionerTypes: []string{EKS, SelfHosted}},
	{ID: GCP, Name: "Google Cloud", ProvisionerTypes: []string{GKE, SelfHosted}},
	{ID: Azure, Name: "Microsoft Azure", ProvisionerTypes: []string{AKS}},
}

// Providers returns every provider, in a stable order (aws, gcp, azure).
func Providers() []Provider {
	out := make([]Provider, len(providers))
	for i, p := range providers {
		out[i] = p.clone()
	}
	return out
}

// ProviderByID returns the provider with the given ID; ok is false for an unknown ID.
func ProviderByID(id string) (p Provider, ok bool) {
	for _, p := range providers {
		if p.ID == id {
			return p.clone(), true
		}
	}
	return Provider{}, false
}

// ProvidersOf returns the IDs of the providers a provisioner type runs on (eks → aws,
// gke → gcp, aks → azure, selfHosted → aws and gcp); nil for an unknown type.
func ProvidersOf(provisionerType string) []string {
	var ids []string
	for _, p := range providers {
		if p.Supports(provisionerType) {
			ids = append(ids, p.ID)
		}
	}
	return ids
}

func (p Provider) clone() Provider {
	p.ProvisionerTypes = slices.Clone(p.ProvisionerTypes)
	return p
}
