package validate_test

import (
	"strings"
	"testing"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/validate"
)

// The ends of each numeric range are allowed, the values just past them refused.
func TestRangeEndsAreAllowed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		base   string
		mutate func(s *api.K8sClusterSpec)
		fault  string // "" when the spec passes
	}{
		{"vpcCIDR /16", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks) }, ""},
		{"vpcCIDR /15", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks); s.Provisioner.Eks.VpcCIDR = ptr("10.0.0.0/15") }, "spec.provisioner.eks.vpcCIDR"},
		{"vpcCIDR /28", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks); s.Provisioner.Eks.VpcCIDR = ptr("10.0.0.0/28") }, ""},
		{"vpcCIDR /29", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks); s.Provisioner.Eks.VpcCIDR = ptr("10.0.0.0/29") }, "spec.provisioner.eks.vpcCIDR"},
		{"maxNode 1", "eks", func(s *api.K8sClusterSpec) { g := group(s, 0); g.MinNode, g.MaxNode = 1, 1 }, ""},
		{"minNode 0 maxNode 1", "gke", func(s *api.K8sClusterSpec) { g := group(s, 0); g.MinNode, g.MaxNode = 0, 1 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := bases[tc.base](t)
			tc.mutate(&s)
			errs := validate.ClusterSpec(s)
			if tc.fault == "" && len(errs) != 0 {
				t.Fatalf("refused:\n%s", errs)
			}
			if tc.fault != "" && (len(errs) != 1 || errs[tc.fault] == "") {
				t.Fatalf("want only %s at fault, got:\n%s", tc.fault, errs)
			}
		})
	}
}

// An unsupported version's message shows how to write one, GKE's own form on gke
// only.
func TestUnsupportedVersionMessageShowsTheForms(t *testing.T) {
	for base, wantGKEForm := range map[string]bool{"gke": true, "eks": false, "aks": false} {
		s := bases[base](t)
		s.KubernetesVersion = ptr("1.99")
		msg := validate.ClusterSpec(s)["spec.kubernetesVersion"]
		if !strings.Contains(msg, `(write "1.31"`) {
			t.Errorf("%s: %q does not show the minor form", base, msg)
		}
		if got := strings.Contains(msg, `GKE's "1.31.6-gke.1020000"`); got != wantGKEForm {
			t.Errorf("%s: %q shows GKE's form: %v, want %v", base, msg, got, wantGKEForm)
		}
	}
}
