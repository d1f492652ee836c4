package validate_test

import (
	"strings"
	"testing"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/validate"
)

func validGKEUpdate() *api.ClusterUpdateGke {
	return &api.ClusterUpdateGke{
		ImageType:          ptr("COS_CONTAINERD"),
		ReleaseChannel:     ptr(api.ClusterUpdateGkeReleaseChannel("REGULAR")),
		MaintenanceWindow:  &api.ClusterMaintenanceWindow{StartTime: "03:00", Duration: ptr("4h")},
		AuthorizedNetworks: &[]string{"203.0.113.0/24"},
	}
}

func TestClusterUpdateSpec(t *testing.T) {
	const ng0 = "spec.nodeGroups.0"
	tests := []struct {
		name     string
		provider string
		mutate   func(s *api.K8sClusterUpdateSpec)
		want     []string // faulted fields; none: the spec passes
	}{
		{"example on gcp", "gcp", func(*api.K8sClusterUpdateSpec) {}, nil},
		{"empty", "azure", func(s *api.K8sClusterUpdateSpec) { *s = api.K8sClusterUpdateSpec{} }, nil},

		// spec.kubernetesVersion
		{"version", "azure", func(s *api.K8sClusterUpdateSpec) { s.KubernetesVersion = ptr("1.31") }, nil},
		{"version unsupported", "aws", func(s *api.K8sClusterUpdateSpec) { s.KubernetesVersion = ptr("1.28") }, []string{"spec.kubernetesVersion"}},
		{"version gke form on gcp", "gcp", func(s *api.K8sClusterUpdateSpec) { s.KubernetesVersion = ptr("1.32.4-gke.1106006") }, nil},
		{"version gke form on aws", "aws", func(s *api.K8sClusterUpdateSpec) { s.KubernetesVersion = ptr("1.32.4-gke.1106006") }, []string{"spec.kubernetesVersion"}},
		{"version garbage", "gcp", func(s *api.K8sClusterUpdateSpec) { s.KubernetesVersion = ptr("next") }, []string{"spec.kubernetesVersion"}},

		// spec.eks, spec.gke
		{"eks on aws", "aws", func(s *api.K8sClusterUpdateSpec) {
			s.Eks = &api.ClusterUpdateEks{AmiFamily: ptr(api.ClusterUpdateEksAmiFamily("Bottlerocket"))}
		}, nil},
		{"eks on gcp", "gcp", func(s *api.K8sClusterUpdateSpec) { s.Eks = &api.ClusterUpdateEks{} }, []string{"spec.eks"}},
		{"eks on azure", "azure", func(s *api.K8sClusterUpdateSpec) { s.Eks = &api.ClusterUpdateEks{} }, []string{"spec.eks"}},
		{"eks amiFamily", "aws", func(s *api.K8sClusterUpdateSpec) {
			s.Eks = &api.ClusterUpdateEks{AmiFamily: ptr(api.ClusterUpdateEksAmiFamily("Windows"))}
		}, []string{"spec.eks.amiFamily"}},
		{"gke on gcp", "gcp", func(s *api.K8sClusterUpdateSpec) { s.Gke = validGKEUpdate() }, nil},
		{"gke on aws", "aws", func(s *api.K8sClusterUpdateSpec) { s.Gke = validGKEUpdate() }, []string{"spec.gke"}},
		{"gke on unknown provider", "", func(s *api.K8sClusterUpdateSpec) { s.Gke = validGKEUpdate() }, []string{"spec.gke"}},
		{"gke releaseChannel", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.ReleaseChannel = ptr(api.ClusterUpdateGkeReleaseChannel("BETA"))
		}, []string{"spec.gke.releaseChannel"}},
		{"gke imageType lowercase", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.ImageType = ptr("ubuntu_containerd")
		}, nil},
		{"gke imageType unknown", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.ImageType = ptr("COS")
		}, []string{"spec.gke.imageType"}},
		{"gke maintenance startTime", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.StartTime = "24:00"
		}, []string{"spec.gke.maintenanceWindow.startTime"}},
		{"gke maintenance startTime without leading zero", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.StartTime = "3:00"
		}, []string{"spec.gke.maintenanceWindow.startTime"}},
		{"gke maintenance startTime missing", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.StartTime = ""
		}, []string{"spec.gke.maintenanceWindow.startTime"}},
		{"gke maintenance without duration", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow = &api.ClusterMaintenanceWindow{StartTime: "23:59"}
		}, nil},
		{"gke maintenance duration compound", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.Duration = ptr("6h30m")
		}, nil},
		{"gke maintenance duration a day", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.Duration = ptr("1d")
		}, nil},
		{"gke maintenance duration short", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.Duration = ptr("3h59m")
		}, []string{"spec.gke.maintenanceWindow.duration"}},
		{"gke maintenance duration long", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.Duration = ptr("1d1h")
		}, []string{"spec.gke.maintenanceWindow.duration"}},
		{"gke maintenance duration malformed", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.Duration = ptr("4 hours")
		}, []string{"spec.gke.maintenanceWindow.duration"}},
		{"gke maintenance duration bare number", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.MaintenanceWindow.Duration = ptr("14400")
		}, []string{"spec.gke.maintenanceWindow.duration"}},
		{"gke authorizedNetworks", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.AuthorizedNetworks = &[]string{"10.0.0.0/8", "10.0.0.0/33"}
		}, []string{"spec.gke.authorizedNetworks.1"}},
		{"gke authorizedNetworks 51", "gcp", func(s *api.K8sClusterUpdateSpec) {
			s.Gke = validGKEUpdate()
			s.Gke.AuthorizedNetworks = cidrs(51)
		}, []string{"spec.gke.authorizedNetworks"}},

		// spec.nodeGroups
		{"nodeGroup added", "aws", func(s *api.K8sClusterUpdateSpec) {
			*s.NodeGroups = append(*s.NodeGroups, api.NodeGroupUpdate{Name: "gpu", MinNode: ptr(0), MaxNode: ptr(2), MachineTypes: &[]string{"g4dn.xlarge"},
				Taints: &[]api.NodeGroupTaint{{Key: "nvidia.com/gpu", Effect: api.NoSchedule}}})
		}, nil},
		{"nodeGroup name only", "aws", func(s *api.K8sClusterUpdateSpec) { (*s.NodeGroups)[0] = api.NodeGroupUpdate{Name: "default-pool"} }, nil},
		{"nodeGroup name missing", "aws", func(s *api.K8sClusterUpdateSpec) { (*s.NodeGroups)[0].Name = "" }, []string{ng0 + ".name"}},
		{"nodeGroup name invalid", "aws", func(s *api.K8sClusterUpdateSpec) { (*s.NodeGroups)[0].Name = "Default" }, []string{ng0 + ".name"}},
		{"nodeGroup name not AKS", "azure", func(s *api.K8sClusterUpdateSpec) { (*s.NodeGroups)[0].Name = "default-pool" }, []string{ng0 + ".name"}},
		{"nodeGroup AKS name", "azure", func(s *api.K8sClusterUpdateSpec) { (*s.NodeGroups)[0].Name = "userpool2" }, nil},
		{"nodeGroup listed twice", "aws", func(s *api.K8sClusterUpdateSpec) {
			*s.NodeGroups = append(*s.NodeGroups, api.NodeGroupUpdate{Name: "default-pool", MaxNode: ptr(4)})
		}, []string{"spec.nodeGroups.1.name"}},
		{"minNode negative", "aws", func(s *api.K8sClusterUpdateSpec) {
			(*s.NodeGroups)[0].MinNode, (*s.NodeGroups)[0].MaxNode = ptr(-1), nil
		}, []string{ng0 + ".minNode"}},
		{"maxNode zero", "aws", func(s *api.K8sClusterUpdateSpec) {
			(*s.NodeGroups)[0].MinNode, (*s.NodeGroups)[0].MaxNode = nil, ptr(0)
		}, []string{ng0 + ".maxNode"}},
		{"minNode above maxNode", "aws", func(s *api.K8sClusterUpdateSpec) { (*s.NodeGroups)[0].MinNode = ptr(11) }, []string{ng0 + ".minNode"}},
		{"minNode alone", "aws", func(s *api.K8sClusterUpdateSpec) {
			(*s.NodeGroups)[0].MinNode, (*s.NodeGroups)[0].MaxNode = ptr(20), nil
		}, nil},
		{"machineTypes empty", "aws", func(s *api.K8sClusterUpdateSpec) { (*s.NodeGroups)[0].MachineTypes = &[]string{} }, []string{ng0 + ".machineTypes"}},
		{"machineTypes of the provider", "gcp", func(s *api.K8sClusterUpdateSpec) {
			(*s.NodeGroups)[0].MachineTypes = &[]string{"n2-standard-4", "e2-standard-4"}
		}, nil},
		{"machineType of another provider", "gcp", func(s *api.K8sClusterUpdateSpec) {
			(*s.NodeGroups)[0].MachineTypes = &[]string{"n2-standard-4", "t3.large"}
		}, []string{ng0 + ".machineTypes.1"}},
		{"machineTypes mix architectures", "azure", func(s *api.K8sClusterUpdateSpec) {
			(*s.NodeGroups)[0].Name = "userpool"
			(*s.NodeGroups)[0].MachineTypes = &[]string{"Standard_D2s_v5", "Standard_D2ps_v5"}
		}, []string{ng0 + ".machineTypes"}},
		{"label invalid", "aws", func(s *api.K8sClusterUpdateSpec) { (*(*s.NodeGroups)[0].Labels)["updated"] = "yes!" }, []string{ng0 + ".labels.updated"}},
		{"taint effect", "aws", func(s *api.K8sClusterUpdateSpec) {
			(*s.NodeGroups)[0].Taints = &[]api.NodeGroupTaint{{Key: "dedicated", Effect: "Evict"}}
		}, []string{ng0 + ".taints.0.effect"}},

		// spec.updateConfig
		{"updateConfig percentages", "aws", func(s *api.K8sClusterUpdateSpec) {
			s.UpdateConfig.MaxUnavailable, s.UpdateConfig.MaxSurge = ptr("25%"), ptr("100%")
		}, nil},
		{"updateConfig one zero", "aws", func(s *api.K8sClusterUpdateSpec) { s.UpdateConfig.MaxUnavailable = ptr("0") }, nil},
		{"updateConfig zero alone", "aws", func(s *api.K8sClusterUpdateSpec) {
			s.UpdateConfig.MaxUnavailable, s.UpdateConfig.MaxSurge = ptr("0%"), nil
		}, nil},
		{"updateConfig both zero", "aws", func(s *api.K8sClusterUpdateSpec) {
			s.UpdateConfig.MaxUnavailable, s.UpdateConfig.MaxSurge = ptr("0"), ptr("0%")
		}, []string{"spec.updateConfig"}},
		{"updateConfig percentage above 100", "aws", func(s *api.K8sClusterUpdateSpec) { s.UpdateConfig.MaxSurge = ptr("101%") }, []string{"spec.updateConfig.maxSurge"}},
		{"updateConfig negative", "aws", func(s *api.K8sClusterUpdateSpec) { s.UpdateConfig.MaxUnavailable = ptr("-1") }, []string{"spec.updateConfig.maxUnavailable"}},
		{"updateConfig not a number", "aws", func(s *api.K8sClusterUpdateSpec) { s.UpdateConfig.MaxUnavailable = ptr("one") }, []string{"spec.updateConfig.maxUnavailable"}},
		{"updateConfig empty", "aws", func(s *api.K8sClusterUpdateSpec) { s.UpdateConfig.MaxSurge = ptr("") }, []string{"spec.updateConfig.maxSurge"}},
		{"updateConfig overflow", "aws", func(s *api.K8sClusterUpdateSpec) {
			s.UpdateConfig.MaxSurge = ptr(strings.Repeat("9", 30))
		}, []string{"spec.updateConfig.maxSurge"}},

		// spec.tags
		{"tags aws reserved", "aws", func(s *api.K8sClusterUpdateSpec) { (*s.Tags)["aws:team"] = "x" }, []string{"spec.tags.aws:team"}},
		{"tags gcp uppercase", "gcp", func(s *api.K8sClusterUpdateSpec) { (*s.Tags)["Owner"] = "x" }, []string{"spec.tags.Owner"}},
		{"tags azure character", "azure", func(s *api.K8sClusterUpdateSpec) { (*s.Tags)["a?b"] = "x" }, []string{"spec.tags.a?b"}},
		{"tags azure 51", "azure", func(s *api.K8sClusterUpdateSpec) {
			s.Tags = manyTags(51, func(i int) string { return strings.Repeat("k", i+1) })
		}, []string{"spec.tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.name, func(t *testing.T) {
			s := updateSpec(t, eksUpdateExample)
			if tt.provider == "azure" {
				(*s.NodeGroups)[0].Name = "systempool" // the example's name is no AKS pool name
			}
			tt.mutate(&s)
			assertPaths(t, validate.ClusterUpdateSpec(tt.provider, s), tt.want...)
		})
	}
}

// An update to a version newer than the catalog knows, or to a machine type it does
// not list, is warned about, not refused; a retired version is refused.
func TestUpdateCatalogMissesAreWarnings(t *testing.T) {
	v := "1.99"
	errs, warnings := validate.CheckUpdate("aws", api.K8sClusterUpdateSpec{KubernetesVersion: &v})
	if len(errs) != 0 || warnings["spec.kubernetesVersion"] == "" {
		t.Errorf("newer version: faults %v, warnings %v", errs, warnings)
	}
	v = "1.20"
	if errs, _ := validate.CheckUpdate("aws", api.K8sClusterUpdateSpec{KubernetesVersion: &v}); errs["spec.kubernetesVersion"] == "" {
		t.Errorf("retired version accepted")
	}
	groups := []api.NodeGroupUpdate{{Name: "default-pool", MachineTypes: &[]string{"m9i.48xlarge"}}}
	errs, warnings = validate.CheckUpdate("aws", api.K8sClusterUpdateSpec{NodeGroups: &groups})
	if len(errs) != 0 || warnings["spec.nodeGroups.0.machineTypes.0"] == "" {
		t.Errorf("unlisted machine type: faults %v, warnings %v", errs, warnings)
	}
}
