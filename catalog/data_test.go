package catalog

import (
	"math/bits"
	"testing"
)

// TestTablesAreSound catches a generated row whose region set names regions the
// provider does not have, or whose GPU fields disagree, and a GKE channel default
// the versions do not list.
func TestTablesAreSound(t *testing.T) {
	for provider, rows := range machineTypes {
		n := len(regions[provider])
		if n == 0 || n > 64 {
			t.Fatalf("%s has %d regions", provider, n)
		}
		for _, r := range rows {
			if r.regions == 0 || bits.Len64(r.regions) > n {
				t.Errorf("%s %s: region set %#x does not fit %d regions", provider, r.name, r.regions, n)
			}
			if int(r.gpu) >= len(gpuModels) || (r.gpus > 0) != (gpuModels[r.gpu] != "") {
				t.Errorf("%s %s: %d GPUs of model %d", provider, r.name, r.gpus, r.gpu)
			}
			if int(r.cat) >= len(categories) || int(r.arch) >= len(architectures) {
				t.Errorf("%s %s: category %d, architecture %d", provider, r.name, r.cat, r.arch)
			}
		}
	}
	for channel, build := range channelDefaults {
		if _, ok := NormalizeVersion(GKE, build); !ok {
			t.Errorf("channel %s defaults to unsupported %s", channel, build)
		}
	}
}
