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
