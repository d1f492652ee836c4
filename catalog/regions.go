package catalog

import "slices"

// RegionInfo is one region of a provider.
type RegionInfo struct {
	// ID is the provider's region identifier, e.g. "us-east-1", "us-central1", "eastus".
	ID string
	// Name is the display name the provider's console uses, e.g. "US East (N. Virginia)".
	Name string
	// Location is where the region is, e.g. "Virginia, USA".
	Location string
	// Zones are the region's availability zones in the provider's form: "us-east-1a"
	// on AWS, "us-central1-a" on GCP, "1", "2", "3" on Azure.
	Zones []string
}

// HasZone reports whether zone is one of the region's zones.
func (r RegionInfo) HasZone(zone string) bool {
	return slices.Contains(r.Zones, zone)
}

// regions lists each provider's regions in the order the console shows them.
var regions = map[string][]RegionInfo{
	AWS: {
		awsRegion("us-east-1", "US East (N. Virginia)", "Virginia, USA", "abcdef"),
		awsRegion("us-east-2", "US East (Ohio)", "Ohio, USA", "abc"),
		awsRegion("us-west-1", "US West (N. California)", "California, USA", "ac"),
		awsRegion("us-west-2", "US West (Oregon)", "Oregon, USA", "abcd"),
		awsRegion("ca-central-1", "Canada (Central)", "Montréal, Canada", "abd"),
		awsRegion("eu-west-1", "Europe (Ireland)", "Dublin, Ireland", "abc"),
		awsRegion("eu-west-2", "Europe (London)", "London, United Kingdom", "abc"),
		awsRegion("eu-central-1", "Europe (Frankfurt)", "Frankfurt, Germany", "abc"),
		awsRegion("eu-north-1", "Europe (Stockholm)", "Stockholm, Sweden", "abc"),
		awsRegion("ap-south-1", "Asia Pacific (Mumbai)", "Mumbai, India", "abc"),
		awsRegion("ap-southeast-1", "Asia Pacific (Singapore)", "Singapore", "abc"),
		awsRegion("ap-southeast-2", "Asia Pacific (Sydney)", "Sydney, Australia", "abc"),
		awsRegion("ap-northeast-1", "Asia Pacific (Tokyo)", "Tokyo, Japan", "acd"),
		awsRegion("sa-east-1", "South America (São Paulo)", "São Paulo, Brazil", "abc"),
	},
	GCP: {
		gcpRegion("us-central1", "Iowa", "Council Bluffs, Iowa, USA", "abcf"),
		gcpRegion("us-east1", "South Carolina", "Moncks Corner, South Carolina, USA", "bcd"),
		gcpRegion("us-east4", "Northern Virginia", "Ashburn, Virginia, USA", "abc"),
		gcpRegion("us-west1", "Oregon", "The Dalles, Oregon, USA", "abc"),
		gcpRegion("europe-west1", "Belgium", "St. Ghislain, Belgium", "bcd"),
		gcpRegion("europe-west2", "London", "London, United Kingdom", "abc"),
		gcpRegion("europe-west3", "Frankfurt", "Frankfurt, Germany", "abc"),
		gcpRegion("europe-west4", "Netherlands", "Eemshaven, Netherlands", "abc"),
		gcpRegion("asia-south1", "Mumbai", "Mumbai, India", "abc"),
		gcpRegion("asia-southeast1", "Singapore", "Jurong West, Singapore", "abc"),
		gcpRegion("asia-northeast1", "Tokyo", "Tokyo, Japan", "abc"),
		gcpRegion("australia-southeast1", "Sydney", "Sydney, Australia", "abc"),
	},
	Azure: {
		azureRegion("eastus", "East US", "Virginia, USA"),
		azureRegion("eastus2", "East US 2", "Virginia, USA"),
		azureRegion("centralus", "Central US", "Iowa, USA"),
		azureRegion("westus2", "West US 2", "Washington, USA"),
		azureRegion("westus3", "West US 3", "Arizona, USA"),
		azureRegion("canadacentral", "Canada Central", "Toronto, Canada"),
		azureRegion("northeurope", "North Europe", "Dublin, Ireland"),
		azureRegion("westeurope", "West Europe", "Amsterdam, Netherlands"),
		azureRegion("uksouth", "UK South", "London, United Kingdom"),
		azureRegion("germanywestcentral", "Germany West Central", "Frankfurt, Germany"),
		azureRegion("centralindia", "Central India", "Pune, India"),
		azureRegion("southeastasia", "Southeast Asia", "Singapore"),
		azureRegion("japaneast", "Japan East", "Tokyo, Japan"),
		azureRegion("australiaeast", "Australia East", "New South Wales, Australia"),
	},
}

// awsRegion builds an AWS region whose zones are the region ID followed by each of
// the zone letters ("us-east-1" + "ab" → us-east-1a, us-east-1b).
func awsRegion(id, name, location, letters string) RegionInfo {
	zones := make([]string, 0, len(letters))
	for _, l := range letters {
		zones = append(zones, id+string(l))
	}
	return RegionInfo{ID: id, Name: name, Location: location, Zones: zones}
}

// gcpRegion builds a GCP region whose zones are the region ID, a dash and each of
// the zone letters ("us-central1" + "ab" → us-central1-a, us-central1-b).
func gcpRegion(id, name, location, letters string) RegionInfo {
	zones := make([]string, 0, len(letters))
	for _, l := range letters {
		zones = append(zones, id+"-"+string(l))
	}
	return RegionInfo{ID: id, Name: name, Location: location, Zones: zones}
}

// azureRegion builds an Azure region with the three availability zones every
// zone-enabled Azure region numbers "1", "2", "3".
func azureRegion(id, name, location string) RegionInfo {
	return RegionInfo{ID: id, Name: name, Location: location, Zones: []string{"1", "2", "3"}}
}

// Regions returns the provider's regions in the console's order; nil for an unknown
// provider.
func Regions(provider string) []RegionInfo {
	rs := regions[provider]
	if rs == nil {
		return nil
	}
	out := make([]RegionInfo, len(rs))
	for i, r := range rs {
		out[i] = r.clone()
	}
	return out
}

// Region returns the provider's region with the given ID; ok is false when the
// provider or the region is unknown.
func Region(provider, id string) (r RegionInfo, ok bool) {
	for _, r := range regions[provider] {
		if r.ID == id {
			return r.clone(), true
		}
	}
	return RegionInfo{}, false
}

func (r RegionInfo) clone() RegionInfo {
	r.Zones = slices.Clone(r.Zones)
	return r
}
