package catalog

import "regexp"

// The catalog lists the regions and machine types it knows, not every one a cloud
// offers: clouds add both all the time. A name that is not listed but has the shape
// the provider gives its names may well be real, and only the cloud can say; a name
// of another shape cannot be. These shapes tell the two apart.
var (
	regionShapes = map[string]*regexp.Regexp{
		// us-east-1, ap-southeast-5, us-gov-west-1, eu-central-2
		AWS: regexp.MustCompile(`^(af|ap|ca|cn|eu|il|me|mx|sa|us)(-gov|-iso|-isob)?-(central|north|south|east|west|northeast|northwest|southeast|southwest)-[1-9]$`),
		// us-central1, europe-west12, northamerica-south1, me-central2
		GCP: regexp.MustCompile(`^(africa|asia|australia|europe|me|northamerica|southamerica|us)-(central|north|south|east|west|northeast|northwest|southeast|southwest)[1-9][0-9]?$`),
		// eastus2, westeurope, germanywestcentral, southafricanorth
		Azure: regexp.MustCompile(`^[a-z]{4,}[a-z0-9]*$`),
	}
	machineTypeShapes = map[string]*regexp.Regexp{
		// t3.medium, m7g.2xlarge, u-6tb1.56xlarge, p5e.48xlarge, m7i.metal-24xl
		AWS: regexp.MustCompile(`^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$`),
		// e2-standard-4, n2d-highmem-8, t2a-standard-2, a3-highgpu-8g, e2-micro
		GCP: regexp.MustCompile(`^[a-z][a-z0-9]*-[a-z0-9-]+$`),
		// Standard_D2s_v5, Standard_NC24ads_A100_v4, Basic_A1 (any case: Azure ignores it)
		Azure: regexp.MustCompile(`(?i)^(standard|basic)_[a-z0-9_-]+$`),
	}
)

// LooksLikeRegion reports whether id has the shape of provider's region names.
func LooksLikeRegion(provider, id string) bool {
	re, ok := regionShapes[provider]
	return ok && re.MatchString(id)
}

// LooksLikeMachineType reports whether name has the shape of provider's machine
// type names.
func LooksLikeMachineType(provider, name string) bool {
	re, ok := machineTypeShapes[provider]
	return ok && re.MatchString(name)
}

// MachineTypeNamesIgnoreCase reports whether provider matches machine type names
// regardless of case (Azure does; AWS and GCP refuse a name in the wrong case).
func MachineTypeNamesIgnoreCase(provider string) bool { return provider == Azure }
