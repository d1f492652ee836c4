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
		s.KubernetesVersion = ptr("1.20")
		msg := validate.ClusterSpec(s)["spec.kubernetesVersion"]
		if !strings.Contains(msg, `(write "1.31"`) {
			t.Errorf("%s: %q does not show the minor form", base, msg)
		}
		if got := strings.Contains(msg, `GKE's "1.31.6-gke.1020000"`); got != wantGKEForm {
			t.Errorf("%s: %q shows GKE's form: %v, want %v", base, msg, got, wantGKEForm)
		}
	}
}

// A node group mixing architectures is told which machine types are which.
func TestMixedArchitecturesAreNamed(t *testing.T) {
	s := bases["eks"](t)
	group(&s, 0).MachineTypes = []string{"m5.large", "m6g.large"}
	msg := validate.ClusterSpec(s)[ng0+".machineTypes"]
	if !strings.Contains(msg, "(x86_64: m5.large; arm64: m6g.large)") {
		t.Fatalf("message %q does not name both architectures' machine types", msg)
	}
}

// A machine type in the wrong case is answered with the right spelling (a fault
// where the cloud minds case, a warning on Azure, which does not); a name of no
// machine type's shape gets no suggestion.
func TestMachineTypeSuggestion(t *testing.T) {
	s := bases["eks"](t)
	group(&s, 0).MachineTypes = []string{"M5.Large"}
	if msg := validate.ClusterSpec(s)[ng0+".machineTypes.0"]; !strings.Contains(msg, "did you mean m5.large?") {
		t.Errorf("wrong case on aws: %q", msg)
	}
	s = bases["aks"](t)
	group(&s, 0).MachineTypes = []string{"standard_d2s_v5"}
	if errs, warnings := validate.Check(s); len(errs) != 0 || !strings.Contains(warnings[ng0+".machineTypes.0"], "Standard_D2s_v5") {
		t.Errorf("other case on azure: faults %v, warnings %v", errs, warnings)
	}
	group(&s, 0).MachineTypes = []string{"Nothing_v9"}
	if msg := validate.ClusterSpec(s)[ng0+".machineTypes.0"]; msg == "" || strings.Contains(msg, "did you mean") {
		t.Errorf("no machine type: %q", msg)
	}
}

// Bucket names may start and end with any lowercase letter or digit; a dotted GCS
// name's parts are at most 63 characters.
func TestBucketNameEnds(t *testing.T) {
	part63 := strings.Repeat("p", 63)
	for _, tc := range []struct {
		base, name string
		ok         bool
	}{
		{"selfHostedAWS", "abc", true},
		{"selfHostedAWS", "zzz", true},
		{"selfHostedAWS", "0ab", true},
		{"selfHostedAWS", "ab9", true},
		{"selfHostedAWS", "-ab", false},
		{"selfHostedAWS", "ab.", false},
		{"selfHostedGCP", part63 + ".b", true},
		{"selfHostedGCP", part63 + "p.b", false},
	} {
		s := bases[tc.base](t)
		s.Provisioner.SelfHosted.BucketName = tc.name
		msg := validate.ClusterSpec(s)["spec.provisioner.selfHosted.bucketName"]
		if tc.ok != (msg == "") {
			t.Errorf("%s %q: %q, want ok=%v", tc.base, tc.name, msg, tc.ok)
		}
	}
}

// Maintenance windows may count days; a day is 24 hours.
func TestMaintenanceWindowDays(t *testing.T) {
	const field = "spec.gke.maintenanceWindow.duration"
	for duration, want := range map[string]string{
		"0d6h":   "",
		"1d":     "",
		"2d":     "got 48h0m0s",
		"10000d": "lasts at most 24h",
		"10001d": "is not a duration",
	} {
		s := api.K8sClusterUpdateSpec{Gke: validGKEUpdate()}
		s.Gke.MaintenanceWindow.Duration = ptr(duration)
		msg := validate.ClusterUpdateSpec("gcp", s)[field]
		if (want == "") != (msg == "") || !strings.Contains(msg, want) {
			t.Errorf("%s: %q, want %q", duration, msg, want)
		}
	}
}

// Provider-specific settings on a cluster of unknown provider say so.
func TestUpdateForUnknownProviderSaysSo(t *testing.T) {
	msg := validate.ClusterUpdateSpec("", api.K8sClusterUpdateSpec{Gke: validGKEUpdate()})["spec.gke"]
	if !strings.HasSuffix(msg, "this cluster runs on an unknown provider") {
		t.Fatalf("%q", msg)
	}
	msg = validate.ClusterUpdateSpec("azure", api.K8sClusterUpdateSpec{Gke: validGKEUpdate()})["spec.gke"]
	if !strings.HasSuffix(msg, "this cluster runs on azure") {
		t.Fatalf("%q", msg)
	}
}

// An AWS availability zone is its region's name and one letter, a to y.
func TestSubnetZoneLetters(t *testing.T) {
	for zone, ok := range map[string]bool{"us-east-1a": true, "us-east-1y": true, "us-east-1z": false, "us-east-1`": false, "us-east-1": false, "us-east-1ab": false} {
		s := bases["eks"](t)
		byoVPC(s.Provisioner.Eks)
		s.Provisioner.Eks.Subnets = &map[string][]api.EksSubnet{
			zone:         {{Type: api.Private, Id: "subnet-0123456789abcdef0"}},
			"us-east-1b": {{Type: api.Private, Id: "subnet-0123456789abcdef1"}},
		}
		errs := validate.ClusterSpec(s)
		if ok != (len(errs) == 0) {
			t.Errorf("zone %q: %v, want ok=%v", zone, errs, ok)
		}
	}
}
