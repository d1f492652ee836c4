package catalog

import "testing"

// TestOfferingRegionsExist catches a typo in a machine type's region list, which
// would otherwise silently drop the type from that region.
func TestOfferingRegionsExist(t *testing.T) {
	for provider, offerings := range machineTypes {
		for _, o := range offerings {
			for _, r := range o.regions {
				if _, ok := Region(provider, r); !ok {
					t.Errorf("%s %s is offered in unknown region %q", provider, o.Name, r)
				}
			}
		}
	}
	for channel, build := range channelDefaults {
		if _, ok := NormalizeVersion(GKE, build); !ok {
			t.Errorf("channel %s defaults to unsupported %s", channel, build)
		}
	}
}
