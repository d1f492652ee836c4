package cloud_test

import (
	"reflect"
	"testing"

	"github.com/astropulse/astroplane/cloud"
)

func TestClusterSettingsEmpty(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    cloud.ClusterSettings
		want bool
	}{
		{"zero", cloud.ClusterSettings{}, true},
		{"empty sub-specs", cloud.ClusterSettings{EKS: &cloud.EKSSettings{}, GKE: &cloud.GKESettings{}}, true},
		{"ami family", cloud.ClusterSettings{EKS: &cloud.EKSSettings{AMIFamily: "AL2"}}, false},
		{"image type", cloud.ClusterSettings{GKE: &cloud.GKESettings{ImageType: "UBUNTU_CONTAINERD"}}, false},
		{"release channel", cloud.ClusterSettings{GKE: &cloud.GKESettings{ReleaseChannel: "RAPID"}}, false},
		{"maintenance window", cloud.ClusterSettings{GKE: &cloud.GKESettings{MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "03:00"}}}, false},
		{"authorized networks cleared", cloud.ClusterSettings{GKE: &cloud.GKESettings{AuthorizedNetworks: []string{}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Empty(); got != tc.want {
				t.Errorf("Empty() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClusterSettingsApply(t *testing.T) {
	gke := &cloud.GKESpec{ProjectID: "p", ReleaseChannel: "STABLE", AuthorizedNetworks: []string{"10.0.0.0/8"},
		ImageType: "COS_CONTAINERD", MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "01:00", Duration: "4h"}}
	spec := cloud.ClusterSpec{Name: "c", GKE: gke, NodeGroups: []cloud.NodeGroupSpec{{Name: "a"}, {Name: "b"}}}

	t.Run("gke", func(t *testing.T) {
		got := cloud.ClusterSettings{GKE: &cloud.GKESettings{ImageType: "UBUNTU_CONTAINERD", ReleaseChannel: "RAPID",
			MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "03:00", Duration: "6h"}, AuthorizedNetworks: []string{}}}.Apply(spec)
		want := cloud.GKESpec{ProjectID: "p", ReleaseChannel: "RAPID", AuthorizedNetworks: []string{}, ImageType: "UBUNTU_CONTAINERD",
			MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "03:00", Duration: "6h"}}
		if !reflect.DeepEqual(*got.GKE, want) {
			t.Errorf("GKE = %+v, want %+v", *got.GKE, want)
		}
		for _, ng := range got.NodeGroups {
			if ng.ImageType != "UBUNTU_CONTAINERD" {
				t.Errorf("node group %s has image %q", ng.Name, ng.ImageType)
			}
		}
		// The spec applied to is not changed.
		if gke.ReleaseChannel != "STABLE" || gke.ImageType != "COS_CONTAINERD" || len(gke.AuthorizedNetworks) != 1 ||
			spec.NodeGroups[0].ImageType != "" {
			t.Errorf("Apply changed its argument: %+v %+v", gke, spec.NodeGroups)
		}
	})
	t.Run("empty gke fields are unchanged", func(t *testing.T) {
		got := cloud.ClusterSettings{GKE: &cloud.GKESettings{ReleaseChannel: "REGULAR"}}.Apply(spec)
		if got.GKE.ImageType != "COS_CONTAINERD" || got.GKE.MaintenanceWindow.StartTime != "01:00" ||
			!reflect.DeepEqual(got.GKE.AuthorizedNetworks, []string{"10.0.0.0/8"}) || got.GKE.ReleaseChannel != "REGULAR" {
			t.Errorf("GKE = %+v", *got.GKE)
		}
		if got.NodeGroups[0].ImageType != "" {
			t.Errorf("node image changed without an image type: %+v", got.NodeGroups[0])
		}
	})
	t.Run("eks", func(t *testing.T) {
		eks := cloud.ClusterSpec{Name: "c", EKS: &cloud.EKSSpec{AccountID: "1", AMIFamily: "AL2023"}, NodeGroups: []cloud.NodeGroupSpec{{Name: "a"}}}
		got := cloud.ClusterSettings{EKS: &cloud.EKSSettings{AMIFamily: "Bottlerocket"}}.Apply(eks)
		if got.EKS.AMIFamily != "Bottlerocket" || got.EKS.AccountID != "1" || got.NodeGroups[0].ImageType != "Bottlerocket" {
			t.Errorf("EKS = %+v, node groups %+v", *got.EKS, got.NodeGroups)
		}
		if eks.EKS.AMIFamily != "AL2023" {
			t.Error("Apply changed its argument")
		}
		if got := (cloud.ClusterSettings{EKS: &cloud.EKSSettings{}}).Apply(eks); got.EKS.AMIFamily != "AL2023" {
			t.Errorf("an empty AMI family changed the spec: %+v", *got.EKS)
		}
	})
	t.Run("sub-spec recorded before it existed", func(t *testing.T) {
		got := cloud.ClusterSettings{EKS: &cloud.EKSSettings{AMIFamily: "AL2"}}.Apply(cloud.ClusterSpec{Name: "old"})
		if got.EKS == nil || got.EKS.AMIFamily != "AL2" || got.GKE != nil {
			t.Errorf("got %+v", got)
		}
	})
}
