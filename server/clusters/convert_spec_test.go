package clusters

import (
	"encoding/json"
	"testing"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/server/api"
)

// TestCurrentSpec: the spec GET …/spec answers is the deployed manifest with what the
// recorded state changed, and exactly as given where nothing changed.
func TestCurrentSpec(t *testing.T) {
	deployed := func() api.K8sClusterSpec {
		var spec api.K8sClusterSpec
		noErr(t, json.Unmarshal([]byte(`{"clusterName":"analytics","provider":"gcp","region":"us-central1",
			"provisioner":{"type":"gke","gke":{"projectId":"my-project-123456","kubernetesVersion":"1.30.5-gke.1443001"}},
			"clusterSpec":{"dataPlane":{"nodeGroups":[
				{"name":"default-pool","minNode":1,"maxNode":5,"machineTypes":["e2-standard-2"]},
				{"name":"batch","minNode":0,"maxNode":2,"instanceType":"spot","machineTypes":["e2-standard-4"],"labels":{"tier":"batch"}}]}},
			"tags":{"team":"data"}}`), &spec))
		return spec
	}
	asJSON := func(v any) string {
		b, err := json.Marshal(v)
		noErr(t, err)
		return string(b)
	}
	for _, tc := range []struct {
		name  string
		edit  func(cs *activities.ClusterSpec)
		check func(t *testing.T, got api.K8sClusterSpec)
	}{
		{"nothing changed", func(*activities.ClusterSpec) {}, func(t *testing.T, got api.K8sClusterSpec) {
			if asJSON(got) != asJSON(deployed()) {
				t.Fatalf("unchanged cluster answered\n%s\nnot as given\n%s", asJSON(got), asJSON(deployed()))
			}
		}},
		{"version upgraded", func(cs *activities.ClusterSpec) {
			cs.KubernetesVersion = "1.31"
			for i := range cs.NodeGroups {
				cs.NodeGroups[i].Version = "1.31" // kubelets follow; a manifest has no per-group version
			}
		}, func(t *testing.T, got api.K8sClusterSpec) {
			if got.KubernetesVersion == nil || *got.KubernetesVersion != "1.31" || got.Provisioner.Gke.KubernetesVersion != nil {
				t.Fatalf("version: %s", asJSON(got))
			}
			if asJSON(got.ClusterSpec) != asJSON(deployed().ClusterSpec) {
				t.Fatalf("node groups changed by a version upgrade: %s", asJSON(got.ClusterSpec))
			}
		}},
		{"one group scaled, one added, tags cleared", func(cs *activities.ClusterSpec) {
			cs.NodeGroups[0].MaxNode = 9
			cs.NodeGroups = append(cs.NodeGroups, activities.NodeGroupSpec{Name: "gpu", MaxNode: 1, InstanceType: "ondemand",
				MachineTypes: []string{"a2-highgpu-1g"}, Taints: []activities.Taint{{Key: "gpu", Effect: "NoSchedule"}}})
			cs.Tags = map[string]string{}
		}, func(t *testing.T, got api.K8sClusterSpec) {
			groups := got.ClusterSpec.DataPlane.NodeGroups
			if len(groups) != 3 || groups[0].MaxNode != 9 || groups[0].Labels != nil || groups[0].Taints != nil {
				t.Fatalf("scaled group: %s", asJSON(groups))
			}
			if asJSON(groups[1]) != asJSON(deployed().ClusterSpec.DataPlane.NodeGroups[1]) {
				t.Fatalf("untouched group not as given: %s", asJSON(groups[1]))
			}
			if g := groups[2]; g.Name != "gpu" || g.Taints == nil || len(*g.Taints) != 1 || (*g.Taints)[0].Value != nil || g.Labels != nil {
				t.Fatalf("added group: %s", asJSON(g))
			}
			if got.Tags == nil || len(*got.Tags) != 0 {
				t.Fatalf("cleared tags: %s", asJSON(got.Tags))
			}
			if got.KubernetesVersion != nil || got.Provisioner.Gke.KubernetesVersion == nil {
				t.Fatalf("version changed though not upgraded: %s", asJSON(got))
			}
		}},
		{"gke settings updated", func(cs *activities.ClusterSpec) {
			*cs = cloud.ClusterSettings{GKE: &cloud.GKESettings{ReleaseChannel: "RAPID", AuthorizedNetworks: []string{"10.0.0.0/8"},
				ImageType: "UBUNTU_CONTAINERD"}}.Apply(*cs)
		}, func(t *testing.T, got api.K8sClusterSpec) {
			g := got.Provisioner.Gke
			if g.ReleaseChannel == nil || *g.ReleaseChannel != "RAPID" || g.AuthorizedNetworks == nil || asJSON(*g.AuthorizedNetworks) != `["10.0.0.0/8"]` ||
				g.ProjectId != "my-project-123456" || g.KubernetesVersion == nil {
				t.Fatalf("gke: %s", asJSON(g))
			}
			if asJSON(got.ClusterSpec) != asJSON(deployed().ClusterSpec) {
				t.Fatalf("node groups changed by a settings change: %s", asJSON(got.ClusterSpec))
			}
		}},
		{"image type only: nowhere in the manifest to show it", func(cs *activities.ClusterSpec) {
			*cs = cloud.ClusterSettings{GKE: &cloud.GKESettings{ImageType: "UBUNTU_CONTAINERD"}}.Apply(*cs)
		}, func(t *testing.T, got api.K8sClusterSpec) {
			if asJSON(got) != asJSON(deployed()) {
				t.Fatalf("got %s", asJSON(got))
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := clusterSpec(deployed())
			tc.edit(&cs)
			tc.check(t, currentSpec(deployed(), cs))
		})
	}
}

// GET …/spec shows the settings an update changed in the deployed manifest's
// provisioner: the EKS AMI family; GKE authorized networks cleared.
func TestCurrentSpecProvisionerSettings(t *testing.T) {
	var eks api.K8sClusterSpec
	noErr(t, json.Unmarshal([]byte(`{"clusterName":"web","provider":"aws","region":"us-east-1",
		"provisioner":{"type":"eks","eks":{"accountId":"123456789012","vpcId":"vpc-1"}}}`), &eks))
	cs := cloud.ClusterSettings{EKS: &cloud.EKSSettings{AMIFamily: "Bottlerocket"}}.Apply(clusterSpec(eks))
	got := currentSpec(eks, cs)
	if e := got.Provisioner.Eks; e.AmiFamily == nil || *e.AmiFamily != "Bottlerocket" || e.VpcId == nil || *e.VpcId != "vpc-1" {
		t.Fatalf("eks: %+v", e)
	}
	if eks.Provisioner.Eks.AmiFamily != nil {
		t.Fatal("currentSpec changed the deployed spec")
	}
	if got := currentSpec(eks, clusterSpec(eks)); got.Provisioner.Eks.AmiFamily != nil {
		t.Fatalf("the default family shown though unchanged: %v", *got.Provisioner.Eks.AmiFamily)
	}

	var gke api.K8sClusterSpec
	noErr(t, json.Unmarshal([]byte(`{"clusterName":"data","provider":"gcp","region":"us-central1",
		"provisioner":{"type":"gke","gke":{"projectId":"my-project-123456","releaseChannel":"REGULAR","authorizedNetworks":["10.0.0.0/8"]}}}`), &gke))
	cs = cloud.ClusterSettings{GKE: &cloud.GKESettings{AuthorizedNetworks: []string{}}}.Apply(clusterSpec(gke))
	raw, err := json.Marshal(cs) // as the workflow records it
	noErr(t, err)
	var recorded activities.ClusterSpec
	noErr(t, json.Unmarshal(raw, &recorded))
	g := currentSpec(gke, recorded).Provisioner.Gke
	if g.AuthorizedNetworks == nil || len(*g.AuthorizedNetworks) != 0 || g.ReleaseChannel == nil || *g.ReleaseChannel != "REGULAR" {
		t.Fatalf("gke: %+v", g)
	}
	if len(*gke.Provisioner.Gke.AuthorizedNetworks) != 1 {
		t.Fatal("currentSpec changed the deployed spec")
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
