package validate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/validate"
)

// bases are valid specs the cases below break one rule of.
var bases = map[string]func(t *testing.T) api.K8sClusterSpec{
	"eks": func(t *testing.T) api.K8sClusterSpec { return clusterSpec(t, eksExample, "us-east-1") },
	"gke": func(t *testing.T) api.K8sClusterSpec { return clusterSpec(t, gkeExample, "us-central1") },
	"aks": func(t *testing.T) api.K8sClusterSpec { return clusterSpec(t, aksExample, "eastus") },
	"selfHostedAWS": func(t *testing.T) api.K8sClusterSpec {
		s := clusterSpec(t, eksExample, "us-east-1")
		s.Provisioner = api.ClusterProvisioner{Type: "selfHosted", SelfHosted: &api.SelfHostedProvisioner{
			AccountId: "123456789012", BucketName: "astro-state-demo",
			Credentials: &api.ClusterCredentials{Type: api.Vault},
		}}
		return s
	},
	"selfHostedGCP": func(t *testing.T) api.K8sClusterSpec {
		s := clusterSpec(t, gkeExample, "us-central1")
		s.Region = nil
		s.Provisioner = api.ClusterProvisioner{Type: "selfHosted", SelfHosted: &api.SelfHostedProvisioner{
			AccountId: "my-project-123456", BucketName: "astro_state_demo",
		}}
		return s
	},
}

const ng0 = "spec.clusterSpec.dataPlane.nodeGroups.0"

// group returns the spec's i-th data-plane node group.
func group(s *api.K8sClusterSpec, i int) *api.NodeGroupSpec {
	return &s.ClusterSpec.DataPlane.NodeGroups[i]
}

// addGroup appends a copy of the first node group under another name.
func addGroup(s *api.K8sClusterSpec, name string) *api.NodeGroupSpec {
	g := *group(s, 0)
	g.Name = name
	s.ClusterSpec.DataPlane.NodeGroups = append(s.ClusterSpec.DataPlane.NodeGroups, g)
	return group(s, len(s.ClusterSpec.DataPlane.NodeGroups)-1)
}

func byoVPC(e *api.EksProvisioner) {
	e.VpcId = ptr("vpc-0a1b2c3d4e5f67890")
	e.VpcCIDR = ptr("10.0.0.0/16")
	e.Subnets = &map[string][]api.EksSubnet{
		"us-east-1a": {{Type: api.Private, Id: "subnet-0123456789abcdef0"}, {Type: api.Public, Id: "subnet-0123456789abcdef1"}},
		"us-east-1b": {{Type: api.Private, Id: "subnet-0123456789abcdef2"}},
	}
}

func manyTags(n int, key func(int) string) *api.ClusterTags {
	tags := api.ClusterTags{}
	for i := range n {
		tags[key(i)] = "v"
	}
	return &tags
}

func TestClusterSpec(t *testing.T) {
	tests := []struct {
		name   string
		base   string
		mutate func(s *api.K8sClusterSpec)
		want   []string // faulted fields; none: the spec passes
	}{
		// spec.clusterName
		{"name missing", "eks", func(s *api.K8sClusterSpec) { s.ClusterName = "" }, []string{"spec.clusterName"}},
		{"name not a DNS label", "eks", func(s *api.K8sClusterSpec) { s.ClusterName = "My_Cluster" }, []string{"spec.clusterName"}},
		{"name starts with a digit", "eks", func(s *api.K8sClusterSpec) { s.ClusterName = "1cluster" }, []string{"spec.clusterName"}},
		{"name ends with a dash", "eks", func(s *api.K8sClusterSpec) { s.ClusterName = "cluster-" }, []string{"spec.clusterName"}},
		{"name too long", "eks", func(s *api.K8sClusterSpec) { s.ClusterName = strings.Repeat("a", 51) }, []string{"spec.clusterName"}},
		{"name of 50", "eks", func(s *api.K8sClusterSpec) { s.ClusterName = strings.Repeat("a", 50) }, nil},

		// spec.provider
		{"provider missing", "eks", func(s *api.K8sClusterSpec) { s.Provider = "" }, []string{"spec.provider"}},
		{"provider unknown", "eks", func(s *api.K8sClusterSpec) { s.Provider = "oracle" }, []string{"spec.provider"}},

		// spec.region
		{"region missing", "eks", func(s *api.K8sClusterSpec) { s.Region = nil }, []string{"spec.region"}},
		{"region empty", "aks", func(s *api.K8sClusterSpec) { s.Region = ptr("") }, []string{"spec.region"}},
		{"region of another provider", "eks", func(s *api.K8sClusterSpec) { s.Region = ptr("us-central1") }, []string{"spec.region"}},
		{"region unknown", "gke", func(s *api.K8sClusterSpec) { s.Region = ptr("moon-base1") }, []string{"spec.region"}},
		{"region missing on aws selfHosted", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Region = nil }, []string{"spec.region"}},
		{"region optional on gcp selfHosted", "selfHostedGCP", func(*api.K8sClusterSpec) {}, nil},
		{"region checked on gcp selfHosted", "selfHostedGCP", func(s *api.K8sClusterSpec) { s.Region = ptr("us-east-1") }, []string{"spec.region"}},
		{"region on gcp selfHosted", "selfHostedGCP", func(s *api.K8sClusterSpec) { s.Region = ptr("europe-west4") }, nil},

		// spec.kubernetesVersion
		{"version minor", "eks", func(s *api.K8sClusterSpec) { s.KubernetesVersion = ptr("1.30") }, nil},
		{"version with v and patch", "aks", func(s *api.K8sClusterSpec) { s.KubernetesVersion = ptr("v1.32.3") }, nil},
		{"version gke form on gke", "gke", func(s *api.K8sClusterSpec) { s.KubernetesVersion = ptr("1.30.5-gke.1443001") }, nil},
		{"version too old", "eks", func(s *api.K8sClusterSpec) { s.KubernetesVersion = ptr("1.28") }, []string{"spec.kubernetesVersion"}},
		{"version gke form on eks", "eks", func(s *api.K8sClusterSpec) { s.KubernetesVersion = ptr("1.30.5-gke.1443001") }, []string{"spec.kubernetesVersion"}},
		{"version empty", "eks", func(s *api.K8sClusterSpec) { s.KubernetesVersion = ptr("") }, []string{"spec.kubernetesVersion"}},
		{"version garbage", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.KubernetesVersion = ptr("latest") }, []string{"spec.kubernetesVersion"}},

		// spec.provisioner.type and its block
		{"type missing", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Type = "" }, []string{"spec.provisioner.type"}},
		{"type unknown", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Type = "kops" }, []string{"spec.provisioner.type"}},
		{"eks on gcp", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner = api.ClusterProvisioner{Type: "eks", Eks: &api.EksProvisioner{AccountId: "123456789012"}}
		}, []string{"spec.provisioner.type"}},
		{"gke on aws", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Type = "gke" },
			[]string{"spec.provisioner.type", "spec.provisioner.gke", "spec.provisioner.eks"}},
		{"aks on aws", "eks", func(s *api.K8sClusterSpec) {
			s.Provisioner = api.ClusterProvisioner{Type: "aks", Aks: &api.AksProvisioner{SubscriptionId: [16]byte{1}, ResourceGroup: "rg"}}
		}, []string{"spec.provisioner.type"}},
		{"selfHosted on azure", "aks", func(s *api.K8sClusterSpec) {
			s.Provisioner = api.ClusterProvisioner{Type: "selfHosted", SelfHosted: &api.SelfHostedProvisioner{AccountId: "acct", BucketName: "state-bucket"}}
		}, []string{"spec.provisioner.type"}},
		{"eks block missing", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks = nil }, []string{"spec.provisioner.eks"}},
		{"gke block missing", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke = nil }, []string{"spec.provisioner.gke"}},
		{"aks block missing", "aks", func(s *api.K8sClusterSpec) { s.Provisioner.Aks = nil }, []string{"spec.provisioner.aks"}},
		{"selfHosted block missing", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted = nil }, []string{"spec.provisioner.selfHosted"}},
		{"another block too", "eks", func(s *api.K8sClusterSpec) {
			s.Provisioner.SelfHosted = &api.SelfHostedProvisioner{AccountId: "123456789012", BucketName: "b-state"}
		}, []string{"spec.provisioner.selfHosted"}},

		// spec.provisioner.eks
		{"eks accountId short", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks.AccountId = "12345" }, []string{"spec.provisioner.eks.accountId"}},
		{"eks accountId letters", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks.AccountId = "12345678901a" }, []string{"spec.provisioner.eks.accountId"}},
		{"eks byo vpc", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks) }, nil},
		{"eks vpcId without vpcCIDR", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks.VpcId = ptr("vpc-0a1b2c3d") }, []string{"spec.provisioner.eks.vpcCIDR"}},
		{"eks vpcCIDR without vpcId", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks.VpcCIDR = ptr("10.0.0.0/16") }, []string{"spec.provisioner.eks.vpcId"}},
		{"eks vpcId malformed", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks); s.Provisioner.Eks.VpcId = ptr("vpc-xyz") }, []string{"spec.provisioner.eks.vpcId"}},
		{"eks vpcCIDR malformed", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks); s.Provisioner.Eks.VpcCIDR = ptr("10.0.0.0/33") }, []string{"spec.provisioner.eks.vpcCIDR"}},
		{"eks vpcCIDR host bits", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks); s.Provisioner.Eks.VpcCIDR = ptr("10.0.0.1/16") }, []string{"spec.provisioner.eks.vpcCIDR"}},
		{"eks vpcCIDR too large", "eks", func(s *api.K8sClusterSpec) { byoVPC(s.Provisioner.Eks); s.Provisioner.Eks.VpcCIDR = ptr("10.0.0.0/8") }, []string{"spec.provisioner.eks.vpcCIDR"}},
		{"eks vpcCIDR IPv6", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			s.Provisioner.Eks.VpcCIDR = ptr("2001:db8::/56")
		}, []string{"spec.provisioner.eks.vpcCIDR"}},
		{"eks subnets without vpcId", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			s.Provisioner.Eks.VpcId, s.Provisioner.Eks.VpcCIDR = nil, nil
		}, []string{"spec.provisioner.eks.subnets"}},
		{"eks subnets in one AZ", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			delete(*s.Provisioner.Eks.Subnets, "us-east-1b")
		}, []string{"spec.provisioner.eks.subnets"}},
		{"eks subnets AZ outside the region", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			(*s.Provisioner.Eks.Subnets)["us-west-2a"] = []api.EksSubnet{{Type: api.Private, Id: "subnet-0123456789abcdef9"}}
		}, []string{"spec.provisioner.eks.subnets.us-west-2a"}},
		{"eks subnets AZ not a zone", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			(*s.Provisioner.Eks.Subnets)["us-east-1z"] = []api.EksSubnet{{Type: api.Private, Id: "subnet-0123456789abcdef9"}}
		}, []string{"spec.provisioner.eks.subnets.us-east-1z"}},
		{"eks subnets AZ empty", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			(*s.Provisioner.Eks.Subnets)["us-east-1b"] = nil
		}, []string{"spec.provisioner.eks.subnets.us-east-1b"}},
		{"eks subnet type", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			(*s.Provisioner.Eks.Subnets)["us-east-1a"][1].Type = "dmz"
		}, []string{"spec.provisioner.eks.subnets.us-east-1a.1.type"}},
		{"eks subnet id", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			(*s.Provisioner.Eks.Subnets)["us-east-1a"][0].Id = "sub-123"
		}, []string{"spec.provisioner.eks.subnets.us-east-1a.0.id"}},
		{"eks subnet listed twice", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			(*s.Provisioner.Eks.Subnets)["us-east-1b"][0].Id = "subnet-0123456789abcdef0"
		}, []string{"spec.provisioner.eks.subnets.us-east-1b.0.id"}},
		{"eks amiFamily", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks.AmiFamily = ptr(api.EksProvisionerAmiFamily("Windows")) }, []string{"spec.provisioner.eks.amiFamily"}},
		{"eks amiFamily Bottlerocket", "eks", func(s *api.K8sClusterSpec) {
			s.Provisioner.Eks.AmiFamily = ptr(api.EksProvisionerAmiFamily("Bottlerocket"))
		}, nil},

		// spec.provisioner.gke
		{"gke projectId short", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.ProjectId = "abc" }, []string{"spec.provisioner.gke.projectId"}},
		{"gke projectId starts with a digit", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.ProjectId = "1project" }, []string{"spec.provisioner.gke.projectId"}},
		{"gke projectId uppercase", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.ProjectId = "My-Project" }, []string{"spec.provisioner.gke.projectId"}},
		{"gke projectId ends with a dash", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.ProjectId = "my-project-" }, []string{"spec.provisioner.gke.projectId"}},
		{"gke projectId too long", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.ProjectId = "p" + strings.Repeat("x", 30) }, []string{"spec.provisioner.gke.projectId"}},
		{"gke releaseChannel", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.ReleaseChannel = ptr(api.GkeProvisionerReleaseChannel("BETA"))
		}, []string{"spec.provisioner.gke.releaseChannel"}},
		{"gke byo network", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.NetworkId = ptr("projects/my-project-123456/global/networks/prod")
			s.Provisioner.Gke.Subnet = &api.GkeSubnet{Name: "prod-us-central1", PodsRange: ptr("pods"), ServicesRange: ptr("services")}
			s.Provisioner.Gke.MasterIPv4CidrBlock = ptr("172.16.0.0/28")
			s.Provisioner.Gke.AuthorizedNetworks = &[]string{"203.0.113.0/24", "198.51.100.7/32"}
		}, nil},
		{"gke subnet without networkId", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.Subnet = &api.GkeSubnet{Name: "sub"} }, []string{"spec.provisioner.gke.subnet"}},
		{"gke subnet without name", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.NetworkId = ptr("prod")
			s.Provisioner.Gke.Subnet = &api.GkeSubnet{}
		}, []string{"spec.provisioner.gke.subnet.name"}},
		{"gke networkId empty", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.NetworkId = ptr("") }, []string{"spec.provisioner.gke.networkId"}},
		{"gke master block not /28", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.MasterIPv4CidrBlock = ptr("172.16.0.0/24") }, []string{"spec.provisioner.gke.masterIPv4CidrBlock"}},
		{"gke master block public", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.MasterIPv4CidrBlock = ptr("8.8.8.0/28") }, []string{"spec.provisioner.gke.masterIPv4CidrBlock"}},
		{"gke master block next to 172.16/12", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.MasterIPv4CidrBlock = ptr("172.32.0.0/28") }, []string{"spec.provisioner.gke.masterIPv4CidrBlock"}},
		{"gke master block host bits", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.MasterIPv4CidrBlock = ptr("10.0.0.1/28") }, []string{"spec.provisioner.gke.masterIPv4CidrBlock"}},
		{"gke master block 192.168", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.MasterIPv4CidrBlock = ptr("192.168.10.16/28") }, nil},
		{"gke authorizedNetworks not a CIDR", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.AuthorizedNetworks = &[]string{"10.0.0.0/8", "1.2.3.4"}
		}, []string{"spec.provisioner.gke.authorizedNetworks.1"}},
		{"gke authorizedNetworks bad octet", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.AuthorizedNetworks = &[]string{"300.0.0.0/8"}
		}, []string{"spec.provisioner.gke.authorizedNetworks.0"}},
		{"gke authorizedNetworks repeated", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.AuthorizedNetworks = &[]string{"10.0.0.0/8", "10.0.0.0/8"}
		}, []string{"spec.provisioner.gke.authorizedNetworks.1"}},
		{"gke authorizedNetworks 50", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.AuthorizedNetworks = cidrs(50) }, nil},
		{"gke authorizedNetworks 51", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.AuthorizedNetworks = cidrs(51) }, []string{"spec.provisioner.gke.authorizedNetworks"}},
		{"gke version", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.KubernetesVersion = ptr("1.32.4-gke.1106006") }, nil},
		{"gke version unsupported", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.KubernetesVersion = ptr("1.27.3-gke.100") }, []string{"spec.provisioner.gke.kubernetesVersion"}},
		{"gke version disagrees", "gke", func(s *api.K8sClusterSpec) {
			s.KubernetesVersion = ptr("1.31")
			s.Provisioner.Gke.KubernetesVersion = ptr("1.30.5-gke.1443001")
		}, []string{"spec.provisioner.gke.kubernetesVersion"}},
		{"gke versions agree", "gke", func(s *api.K8sClusterSpec) {
			s.KubernetesVersion = ptr("1.30")
			s.Provisioner.Gke.KubernetesVersion = ptr("1.30.5-gke.1443001")
		}, nil},
		{"gke autopilot", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.Autopilot = ptr(true); s.ClusterSpec = nil }, nil},
		{"gke autopilot empty clusterSpec", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.Autopilot = ptr(true)
			s.ClusterSpec.DataPlane = nil
		}, nil},
		{"gke autopilot with dataPlane", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.Autopilot = ptr(true) }, []string{"spec.clusterSpec.dataPlane"}},
		{"gke autopilot version", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.Autopilot = ptr(true)
			s.ClusterSpec = nil
			s.KubernetesVersion = ptr("1.29")
		}, []string{"spec.kubernetesVersion"}},
		{"gke autopilot without workload identity", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.Autopilot = ptr(true)
			s.Provisioner.Gke.EnableWorkloadIdentity = ptr(false)
			s.ClusterSpec = nil
		}, []string{"spec.provisioner.gke.enableWorkloadIdentity"}},
		{"gke standard without workload identity", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.EnableWorkloadIdentity = ptr(false) }, nil},
		{"gke standard without dataPlane", "gke", func(s *api.K8sClusterSpec) { s.ClusterSpec = nil }, []string{"spec.clusterSpec.dataPlane"}},
		{"gke autopilot false without dataPlane", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.Autopilot = ptr(false)
			s.ClusterSpec.DataPlane = nil
		}, []string{"spec.clusterSpec.dataPlane"}},

		// spec.provisioner.aks
		{"aks subscriptionId missing", "aks", func(s *api.K8sClusterSpec) { s.Provisioner.Aks.SubscriptionId = [16]byte{} }, []string{"spec.provisioner.aks.subscriptionId"}},
		{"aks resourceGroup missing", "aks", func(s *api.K8sClusterSpec) { s.Provisioner.Aks.ResourceGroup = "" }, []string{"spec.provisioner.aks.resourceGroup"}},
		{"aks resourceGroup ends with a period", "aks", func(s *api.K8sClusterSpec) { s.Provisioner.Aks.ResourceGroup = "rg." }, []string{"spec.provisioner.aks.resourceGroup"}},
		{"aks resourceGroup bad character", "aks", func(s *api.K8sClusterSpec) { s.Provisioner.Aks.ResourceGroup = "rg/prod" }, []string{"spec.provisioner.aks.resourceGroup"}},
		{"aks resourceGroup too long", "aks", func(s *api.K8sClusterSpec) { s.Provisioner.Aks.ResourceGroup = strings.Repeat("r", 91) }, []string{"spec.provisioner.aks.resourceGroup"}},
		{"aks resourceGroup punctuation", "aks", func(s *api.K8sClusterSpec) { s.Provisioner.Aks.ResourceGroup = "Prod_RG-(eu).1" }, nil},
		{"aks pool name with a dash", "aks", func(s *api.K8sClusterSpec) { group(s, 0).Name = "system-pool" }, []string{ng0 + ".name"}},
		{"aks pool name uppercase", "aks", func(s *api.K8sClusterSpec) { group(s, 0).Name = "SystemPool" }, []string{ng0 + ".name"}},
		{"aks pool name too long", "aks", func(s *api.K8sClusterSpec) { group(s, 0).Name = "systempool123" }, []string{ng0 + ".name"}},
		{"aks pool name starts with a digit", "aks", func(s *api.K8sClusterSpec) { group(s, 0).Name = "1pool" }, []string{ng0 + ".name"}},
		{"aks pool name missing", "aks", func(s *api.K8sClusterSpec) { group(s, 0).Name = "" }, []string{ng0 + ".name"}},
		{"aks pool name of 12", "aks", func(s *api.K8sClusterSpec) { group(s, 0).Name = "systempool12" }, nil},
		{"aks system pool on spot", "aks", func(s *api.K8sClusterSpec) { group(s, 0).InstanceType = ptr(api.Spot) }, []string{ng0 + ".instanceType"}},
		{"aks system pool default instance type", "aks", func(s *api.K8sClusterSpec) { group(s, 0).InstanceType = nil }, nil},
		{"aks user pool on spot", "aks", func(s *api.K8sClusterSpec) {
			g := addGroup(s, "userpool")
			g.InstanceType, g.MinNode = ptr(api.Spot), 0
		}, nil},
		{"aks system pool of no nodes", "aks", func(s *api.K8sClusterSpec) { group(s, 0).MinNode = 0 }, []string{ng0 + ".minNode"}},

		// spec.provisioner.selfHosted
		{"selfHosted with control plane", "selfHostedAWS", func(s *api.K8sClusterSpec) {
			s.ClusterSpec.ControlPlane = &api.ClusterControlPlane{NodeGroup: api.ClusterControlPlaneNodeGroup{Name: "control-plane", MachineTypes: []string{"m5.large"}}}
		}, nil},
		{"selfHosted accountId missing", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.AccountId = "" }, []string{"spec.provisioner.selfHosted.accountId"}},
		{"selfHosted accountId not AWS", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.AccountId = "my-project-123456" }, []string{"spec.provisioner.selfHosted.accountId"}},
		{"selfHosted accountId not GCP", "selfHostedGCP", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.AccountId = "123456789012" }, []string{"spec.provisioner.selfHosted.accountId"}},
		{"selfHosted bucketName missing", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.BucketName = "" }, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted bucketName uppercase", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.BucketName = "Astro-State" }, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted bucketName underscore on aws", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.BucketName = "astro_state" }, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted bucketName short", "selfHostedGCP", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.BucketName = "ab" }, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted bucketName IP", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.BucketName = "192.168.5.4" }, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted bucketName starts with a dash", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.BucketName = "-astro" }, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted bucketName double dot", "selfHostedGCP", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.BucketName = "astro..state" }, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted bucketName dotted GCS", "selfHostedGCP", func(s *api.K8sClusterSpec) {
			s.Provisioner.SelfHosted.BucketName = strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + ".example.com"
		}, nil},
		{"selfHosted bucketName dotted GCS part too long", "selfHostedGCP", func(s *api.K8sClusterSpec) {
			s.Provisioner.SelfHosted.BucketName = strings.Repeat("a", 64) + ".example.com"
		}, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted bucketName dotted S3 too long", "selfHostedAWS", func(s *api.K8sClusterSpec) {
			s.Provisioner.SelfHosted.BucketName = strings.Repeat("a", 60) + ".example.com"
		}, []string{"spec.provisioner.selfHosted.bucketName"}},
		{"selfHosted networkId empty", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Provisioner.SelfHosted.NetworkId = ptr("") }, []string{"spec.provisioner.selfHosted.networkId"}},
		{"selfHosted gcp machine type of another region", "selfHostedGCP", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"t2a-standard-2"} }, nil},
		{"selfHosted gcp machine type of aws", "selfHostedGCP", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"t3.medium"} }, []string{ng0 + ".machineTypes.0"}},

		// spec.provisioner.<type>.credentials
		{"credentials static", "eks", func(s *api.K8sClusterSpec) {
			s.Provisioner.Eks.Credentials = &api.ClusterCredentials{Type: api.Static, Data: &map[string]string{"accessKeyId": "AKIA", "secretAccessKey": "s3cr3t"}}
		}, nil},
		{"credentials static without data", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks.Credentials.Type = api.Static }, []string{"spec.provisioner.eks.credentials.data"}},
		{"credentials static with empty data", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.Credentials = &api.ClusterCredentials{Type: api.Static, Data: &map[string]string{}}
		}, []string{"spec.provisioner.gke.credentials.data"}},
		{"credentials static with an empty value", "aks", func(s *api.K8sClusterSpec) {
			s.Provisioner.Aks.Credentials = &api.ClusterCredentials{Type: api.Static, Data: &map[string]string{"clientId": "id", "clientSecret": ""}}
		}, []string{"spec.provisioner.aks.credentials.data.clientSecret"}},
		{"credentials dynamic with data", "eks", func(s *api.K8sClusterSpec) {
			s.Provisioner.Eks.Credentials.Data = &map[string]string{"secretAccessKey": "s3cr3t"}
		}, []string{"spec.provisioner.eks.credentials.data"}},
		{"credentials dynamic with empty data", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks.Credentials.Data = &map[string]string{} }, nil},
		{"credentials vault with data", "selfHostedAWS", func(s *api.K8sClusterSpec) {
			s.Provisioner.SelfHosted.Credentials.Data = &map[string]string{"token": "t"}
		}, []string{"spec.provisioner.selfHosted.credentials.data"}},
		{"credentials type missing", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.Credentials.Type = "" }, []string{"spec.provisioner.gke.credentials.type"}},
		{"credentials type unknown", "aks", func(s *api.K8sClusterSpec) { s.Provisioner.Aks.Credentials.Type = "oauth" }, []string{"spec.provisioner.aks.credentials.type"}},
		{"credentials omitted", "eks", func(s *api.K8sClusterSpec) { s.Provisioner.Eks.Credentials = nil }, nil},

		// spec.clusterSpec.controlPlane
		{"controlPlane on eks", "eks", func(s *api.K8sClusterSpec) {
			s.ClusterSpec.ControlPlane = &api.ClusterControlPlane{NodeGroup: api.ClusterControlPlaneNodeGroup{Name: "cp", MachineTypes: []string{"m5.large"}}}
		}, []string{"spec.clusterSpec.controlPlane"}},
		{"controlPlane on gke autopilot", "gke", func(s *api.K8sClusterSpec) {
			s.Provisioner.Gke.Autopilot = ptr(true)
			s.ClusterSpec = &api.ClusterTopology{ControlPlane: &api.ClusterControlPlane{NodeGroup: api.ClusterControlPlaneNodeGroup{Name: "cp", MachineTypes: []string{"e2-standard-4"}}}}
		}, []string{"spec.clusterSpec.controlPlane"}},
		{"controlPlane name", "selfHostedAWS", func(s *api.K8sClusterSpec) {
			s.ClusterSpec.ControlPlane = &api.ClusterControlPlane{NodeGroup: api.ClusterControlPlaneNodeGroup{Name: "Control", MachineTypes: []string{"m5.large"}}}
		}, []string{"spec.clusterSpec.controlPlane.nodeGroup.name"}},
		{"controlPlane machine types missing", "selfHostedGCP", func(s *api.K8sClusterSpec) {
			s.ClusterSpec.ControlPlane = &api.ClusterControlPlane{NodeGroup: api.ClusterControlPlaneNodeGroup{Name: "cp"}}
		}, []string{"spec.clusterSpec.controlPlane.nodeGroup.machineTypes"}},
		{"controlPlane machine type unknown", "selfHostedAWS", func(s *api.K8sClusterSpec) {
			s.ClusterSpec.ControlPlane = &api.ClusterControlPlane{NodeGroup: api.ClusterControlPlaneNodeGroup{Name: "cp", MachineTypes: []string{"m5.large", "e2-standard-2"}}}
		}, []string{"spec.clusterSpec.controlPlane.nodeGroup.machineTypes.1"}},

		// spec.clusterSpec.dataPlane.nodeGroups
		{"dataPlane missing", "eks", func(s *api.K8sClusterSpec) { s.ClusterSpec.DataPlane = nil }, []string{"spec.clusterSpec.dataPlane"}},
		{"clusterSpec missing", "aks", func(s *api.K8sClusterSpec) { s.ClusterSpec = nil }, []string{"spec.clusterSpec.dataPlane"}},
		{"nodeGroups empty", "eks", func(s *api.K8sClusterSpec) { s.ClusterSpec.DataPlane.NodeGroups = nil }, []string{"spec.clusterSpec.dataPlane.nodeGroups"}},
		{"nodeGroups two", "eks", func(s *api.K8sClusterSpec) { addGroup(s, "batch") }, nil},
		{"nodeGroup names repeat", "eks", func(s *api.K8sClusterSpec) { addGroup(s, "batch"); addGroup(s, "default-pool") }, []string{"spec.clusterSpec.dataPlane.nodeGroups.2.name"}},
		{"nodeGroup name missing", "eks", func(s *api.K8sClusterSpec) { group(s, 0).Name = "" }, []string{ng0 + ".name"}},
		{"nodeGroup name invalid", "gke", func(s *api.K8sClusterSpec) { group(s, 0).Name = "Default_Pool" }, []string{ng0 + ".name"}},
		{"nodeGroup name too long", "eks", func(s *api.K8sClusterSpec) { group(s, 0).Name = strings.Repeat("n", 51) }, []string{ng0 + ".name"}},
		{"minNode negative", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MinNode = -1 }, []string{ng0 + ".minNode"}},
		{"maxNode zero", "eks", func(s *api.K8sClusterSpec) { g := group(s, 0); g.MinNode, g.MaxNode = 0, 0 }, []string{ng0 + ".maxNode"}},
		{"minNode above maxNode", "gke", func(s *api.K8sClusterSpec) { g := group(s, 0); g.MinNode, g.MaxNode = 5, 3 }, []string{ng0 + ".minNode"}},
		{"minNode equals maxNode", "gke", func(s *api.K8sClusterSpec) { g := group(s, 0); g.MinNode, g.MaxNode = 3, 3 }, nil},
		{"minNode zero", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MinNode = 0 }, nil},
		{"instanceType unknown", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).InstanceType = ptr(api.NodeGroupSpecInstanceType("preemptible"))
		}, []string{ng0 + ".instanceType"}},
		{"machineTypes empty", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = nil }, []string{ng0 + ".machineTypes"}},
		{"machineType empty", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{""} }, []string{ng0 + ".machineTypes.0"}},
		{"machineType of no provider's shape", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"t3.medium", "mega"} }, []string{ng0 + ".machineTypes.1"}},
		{"machineType in the wrong case", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"T3.medium"} }, []string{ng0 + ".machineTypes.0"}},
		{"machineType of another provider", "gke", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"t3.medium"} }, []string{ng0 + ".machineTypes.0"}},
		{"machineType GPU in region", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"g4dn.xlarge", "g5.xlarge"} }, nil},
		{"machineType arm in region", "gke", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"t2a-standard-2"} }, nil},
		{"machineType listed twice", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"t3.medium", "t3.medium"} }, []string{ng0 + ".machineTypes.1"}},
		{"machineTypes mix architectures", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).MachineTypes = []string{"t3.medium", "m6g.large"}
		}, []string{ng0 + ".machineTypes"}},
		{"labels qualified", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Labels = &api.NodeGroupLabels{"app.kubernetes.io/name": "web", "tier": "", "Team_1.x": "A-b_c.9"}
		}, nil},
		{"label key starts with a dash", "eks", func(s *api.K8sClusterSpec) { group(s, 0).Labels = &api.NodeGroupLabels{"-env": "dev"} }, []string{ng0 + ".labels.-env"}},
		{"label key prefix uppercase", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Labels = &api.NodeGroupLabels{"Example.com/role": "db"}
		}, []string{ng0 + ".labels.Example.com/role"}},
		{"label key prefix without name", "gke", func(s *api.K8sClusterSpec) { group(s, 0).Labels = &api.NodeGroupLabels{"example.com/": "db"} }, []string{ng0 + ".labels.example.com/"}},
		{"label key empty prefix", "gke", func(s *api.K8sClusterSpec) { group(s, 0).Labels = &api.NodeGroupLabels{"/role": "db"} }, []string{ng0 + ".labels./role"}},
		{"label key two slashes", "aks", func(s *api.K8sClusterSpec) { group(s, 0).Labels = &api.NodeGroupLabels{"a/b/c": "db"} }, []string{ng0 + ".labels.a/b/c"}},
		{"label key name too long", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Labels = &api.NodeGroupLabels{strings.Repeat("k", 64): "v"}
		}, []string{ng0 + ".labels." + strings.Repeat("k", 64)}},
		{"label key prefix too long", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Labels = &api.NodeGroupLabels{strings.Repeat("p", 254) + "/k": "v"}
		}, []string{ng0 + ".labels." + strings.Repeat("p", 254) + "/k"}},
		{"label key empty", "eks", func(s *api.K8sClusterSpec) { group(s, 0).Labels = &api.NodeGroupLabels{"": "v"} }, []string{ng0 + ".labels"}},
		{"label value with a space", "eks", func(s *api.K8sClusterSpec) { group(s, 0).Labels = &api.NodeGroupLabels{"env": "dev box"} }, []string{ng0 + ".labels.env"}},
		{"label value ends with a dot", "eks", func(s *api.K8sClusterSpec) { group(s, 0).Labels = &api.NodeGroupLabels{"env": "dev."} }, []string{ng0 + ".labels.env"}},
		{"label value too long", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Labels = &api.NodeGroupLabels{"env": strings.Repeat("v", 64)}
		}, []string{ng0 + ".labels.env"}},
		{"taints", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Taints = &[]api.NodeGroupTaint{
				{Key: "nvidia.com/gpu", Value: ptr("present"), Effect: api.NoSchedule},
				{Key: "nvidia.com/gpu", Effect: api.NoExecute},
				{Key: "dedicated", Effect: api.PreferNoSchedule},
			}
		}, nil},
		{"taint key missing", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Taints = &[]api.NodeGroupTaint{{Effect: api.NoSchedule}}
		}, []string{ng0 + ".taints.0.key"}},
		{"taint key invalid", "gke", func(s *api.K8sClusterSpec) {
			group(s, 0).Taints = &[]api.NodeGroupTaint{{Key: "dedicated", Effect: api.NoSchedule}, {Key: "bad key", Effect: api.NoSchedule}}
		}, []string{ng0 + ".taints.1.key"}},
		{"taint value invalid", "aks", func(s *api.K8sClusterSpec) {
			group(s, 0).Taints = &[]api.NodeGroupTaint{{Key: "dedicated", Value: ptr("a b"), Effect: api.NoSchedule}}
		}, []string{ng0 + ".taints.0.value"}},
		{"taint effect missing", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Taints = &[]api.NodeGroupTaint{{Key: "dedicated"}}
		}, []string{ng0 + ".taints.0.effect"}},
		{"taint effect unknown", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Taints = &[]api.NodeGroupTaint{{Key: "dedicated", Effect: "NoRun"}}
		}, []string{ng0 + ".taints.0.effect"}},
		{"taint repeated", "eks", func(s *api.K8sClusterSpec) {
			group(s, 0).Taints = &[]api.NodeGroupTaint{{Key: "dedicated", Value: ptr("a"), Effect: api.NoSchedule}, {Key: "dedicated", Value: ptr("b"), Effect: api.NoSchedule}}
		}, []string{ng0 + ".taints.1"}},

		// spec.tags
		{"aws tags", "eks", func(s *api.K8sClusterSpec) {
			s.Tags = &api.ClusterTags{"Team": "Platform", "cost-center": "CC 1234", "owner": "ops@example.com", "path": "a/b:c=d+e"}
		}, nil},
		{"aws tags 50", "eks", func(s *api.K8sClusterSpec) { s.Tags = manyTags(50, func(i int) string { return fmt.Sprint("k", i) }) }, nil},
		{"aws tags 51", "eks", func(s *api.K8sClusterSpec) { s.Tags = manyTags(51, func(i int) string { return fmt.Sprint("k", i) }) }, []string{"spec.tags"}},
		{"aws tag key reserved", "eks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"AWS:owner": "me"} }, []string{"spec.tags.AWS:owner"}},
		{"aws tag key too long", "eks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{strings.Repeat("k", 129): "v"} }, []string{"spec.tags." + strings.Repeat("k", 129)}},
		{"aws tag value too long", "eks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"k": strings.Repeat("v", 257)} }, []string{"spec.tags.k"}},
		{"aws tag value of 256", "eks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"k": strings.Repeat("v", 256)} }, nil},
		{"aws tag character", "selfHostedAWS", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"team": "#platform"} }, []string{"spec.tags.team"}},
		{"tag key empty", "eks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"": "v"} }, []string{"spec.tags"}},
		{"gcp labels", "gke", func(s *api.K8sClusterSpec) {
			s.Tags = &api.ClusterTags{"team": "platform", "cost_center": "cc-1234", "empty": ""}
		}, nil},
		{"gcp labels 64", "gke", func(s *api.K8sClusterSpec) { s.Tags = manyTags(64, func(i int) string { return fmt.Sprint("k", i) }) }, nil},
		{"gcp labels 65", "gke", func(s *api.K8sClusterSpec) { s.Tags = manyTags(65, func(i int) string { return fmt.Sprint("k", i) }) }, []string{"spec.tags"}},
		{"gcp label key uppercase", "gke", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"Team": "platform"} }, []string{"spec.tags.Team"}},
		{"gcp label key starts with a digit", "selfHostedGCP", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"1team": "platform"} }, []string{"spec.tags.1team"}},
		{"gcp label key too long", "gke", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{strings.Repeat("k", 64): "v"} }, []string{"spec.tags." + strings.Repeat("k", 64)}},
		{"gcp label value uppercase", "gke", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"team": "Platform"} }, []string{"spec.tags.team"}},
		{"gcp label value too long", "gke", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"team": strings.Repeat("v", 64)} }, []string{"spec.tags.team"}},
		{"azure tags", "aks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"Cost Center": "CC#1234", "team": "platform"} }, nil},
		{"azure tags 51", "aks", func(s *api.K8sClusterSpec) { s.Tags = manyTags(51, func(i int) string { return fmt.Sprint("k", i) }) }, []string{"spec.tags"}},
		{"azure tag key character", "aks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"team/owner": "me"} }, []string{"spec.tags.team/owner"}},
		{"azure tag key too long", "aks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{strings.Repeat("k", 513): "v"} }, []string{"spec.tags." + strings.Repeat("k", 513)}},
		{"azure tag key of 512", "aks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{strings.Repeat("k", 512): "v"} }, nil},
		{"azure tag value too long", "aks", func(s *api.K8sClusterSpec) { s.Tags = &api.ClusterTags{"k": strings.Repeat("v", 257)} }, []string{"spec.tags.k"}},
	}
	for _, tt := range tests {
		t.Run(tt.base+"/"+tt.name, func(t *testing.T) {
			s := bases[tt.base](t)
			tt.mutate(&s)
			assertPaths(t, validate.ClusterSpec(s), tt.want...)
		})
	}
}

// cidrs returns n distinct /32 networks.
func cidrs(n int) *[]string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("203.0.113.%d/32", i)
	}
	return &out
}

// TestZeroSpec checks that an empty spec reports its required fields and does not
// panic.
func TestZeroSpec(t *testing.T) {
	assertPaths(t, validate.ClusterSpec(api.K8sClusterSpec{}),
		"spec.clusterName", "spec.provider", "spec.provisioner.type", "spec.region", "spec.clusterSpec.dataPlane")
}

// TestCredentialsNotEchoed checks that no message repeats credential data.
func TestCredentialsNotEchoed(t *testing.T) {
	s := bases["eks"](t)
	s.Provisioner.Eks.Credentials.Data = &map[string]string{"secretAccessKey": "TOPSECRETVALUE"}
	errs := validate.ClusterSpec(s)
	if len(errs) == 0 || strings.Contains(errs.String(), "TOPSECRETVALUE") {
		t.Errorf("errors = %s; want a fault that does not echo the secret", errs)
	}
}

// TestCatalogMissesAreWarnings: a value the catalog does not list but that may be
// real is a warning, never a fault — the catalog can be behind the cloud.
func TestCatalogMissesAreWarnings(t *testing.T) {
	tests := []struct {
		name   string
		base   string
		mutate func(s *api.K8sClusterSpec)
		warn   string // the field warned about
	}{
		{"version newer than the catalog", "aks", func(s *api.K8sClusterSpec) { s.KubernetesVersion = ptr("1.99") }, "spec.kubernetesVersion"},
		{"gke build newer than the catalog", "gke", func(s *api.K8sClusterSpec) { s.Provisioner.Gke.KubernetesVersion = ptr("1.99.1-gke.100") }, "spec.provisioner.gke.kubernetesVersion"},
		{"aws region the catalog lacks", "eks", func(s *api.K8sClusterSpec) { s.Region = ptr("ap-southeast-7") }, "spec.region"},
		{"gcp region the catalog lacks", "gke", func(s *api.K8sClusterSpec) { s.Region = ptr("europe-north2") }, "spec.region"},
		{"azure region the catalog lacks", "aks", func(s *api.K8sClusterSpec) { s.Region = ptr("newzealandsouth") }, "spec.region"},
		{"aws machine type the catalog lacks", "eks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"t3.medium", "m9i.48xlarge"} }, ng0 + ".machineTypes.1"},
		{"gcp machine type the catalog lacks", "gke", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"c9d-standard-384"} }, ng0 + ".machineTypes.0"},
		{"azure machine type the catalog lacks", "aks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"Standard_E192ibds_v6"} }, ng0 + ".machineTypes.0"},
		{"azure machine type in other case", "aks", func(s *api.K8sClusterSpec) { group(s, 0).MachineTypes = []string{"standard_d2s_v5"} }, ng0 + ".machineTypes.0"},
		{"machineType not listed in the region", "eks", func(s *api.K8sClusterSpec) {
			s.Region = ptr("af-south-1")
			group(s, 0).MachineTypes = []string{"p5.48xlarge"}
		}, ng0 + ".machineTypes.0"},
		{"arm machineType not listed in the region", "gke", func(s *api.K8sClusterSpec) {
			s.Region = ptr("us-west1")
			group(s, 0).MachineTypes = []string{"t2a-standard-2"}
		}, ng0 + ".machineTypes.0"},
		{"eks zone the catalog lacks", "eks", func(s *api.K8sClusterSpec) {
			byoVPC(s.Provisioner.Eks)
			(*s.Provisioner.Eks.Subnets)["us-east-1g"] = []api.EksSubnet{{Type: api.Private, Id: "subnet-0123456789abcdef9"}}
		}, "spec.provisioner.eks.subnets.us-east-1g"},
	}
	for _, tt := range tests {
		t.Run(tt.base+"/"+tt.name, func(t *testing.T) {
			s := bases[tt.base](t)
			tt.mutate(&s)
			errs, warnings := validate.Check(s)
			assertPaths(t, errs)
			if len(warnings) != 1 || warnings[tt.warn] == "" {
				t.Fatalf("warnings = %v, want one on %s", warnings, tt.warn)
			}
			if msg := warnings[tt.warn]; !strings.Contains(msg, "cloud will say") && !strings.Contains(msg, "accepts either") {
				t.Errorf("warning %q does not say who decides", msg)
			}
		})
	}
	// A spec the catalog knows in full has no warnings.
	for base := range bases {
		if _, warnings := validate.Check(bases[base](t)); len(warnings) != 0 {
			t.Errorf("%s: warnings on a spec the catalog knows: %v", base, warnings)
		}
	}
}
