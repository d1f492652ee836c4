package upgrade

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gkeCluster(settings *GKESettings, groups ...NodeGroup) Cluster {
	return Cluster{Provider: "gcp", ProvisionerType: "gke", Version: "1.30", GKE: settings, NodeGroups: groups}
}

func stable() *GKESettings {
	return &GKESettings{ReleaseChannel: "STABLE", ImageType: "COS_CONTAINERD", AuthorizedNetworks: []string{"10.0.0.0/8", "192.168.0.0/16"},
		MaintenanceWindow: &MaintenanceWindow{StartTime: "03:00", Duration: "4h"}}
}

func TestClusterSettingsStep(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cluster  Cluster
		req      *GKESettings
		desc     string   // the step's description; "" = no step
		changes  []string // the report's changes
		minutes  int
		batches  int
		disrupts []string
	}{
		{
			name:    "release channel",
			cluster: gkeCluster(stable(), group("pool", "1.30", 3)),
			req:     &GKESettings{ReleaseChannel: "rapid"},
			desc:    "Change the cluster's settings in place: releaseChannel STABLE → RAPID",
			changes: []string{"spec.gke.releaseChannel: STABLE → RAPID"},
			minutes: minutesSettings,
		},
		{
			name:    "maintenance window",
			cluster: gkeCluster(stable()),
			req:     &GKESettings{MaintenanceWindow: &MaintenanceWindow{StartTime: "05:30"}},
			desc:    "Change the cluster's settings in place: maintenanceWindow 03:00 UTC for 4h → 05:30 UTC",
			changes: []string{"spec.gke.maintenanceWindow: 03:00 UTC for 4h → 05:30 UTC"},
			minutes: minutesSettings,
		},
		{
			name:    "a first maintenance window",
			cluster: gkeCluster(&GKESettings{ReleaseChannel: "STABLE"}),
			req:     &GKESettings{MaintenanceWindow: &MaintenanceWindow{StartTime: "03:00", Duration: "6h"}},
			desc:    "Change the cluster's settings in place: maintenanceWindow none → 03:00 UTC for 6h",
			changes: []string{"spec.gke.maintenanceWindow: none → 03:00 UTC for 6h"},
			minutes: minutesSettings,
		},
		{
			name:    "authorized networks cleared",
			cluster: gkeCluster(stable()),
			req:     &GKESettings{AuthorizedNetworks: []string{}},
			desc:    "Change the cluster's settings in place: authorizedNetworks [10.0.0.0/8, 192.168.0.0/16] → []",
			changes: []string{"spec.gke.authorizedNetworks: [10.0.0.0/8, 192.168.0.0/16] → []"},
			minutes: minutesSettings,
		},
		{
			name:    "image type recreates every pool's nodes",
			cluster: gkeCluster(stable(), group("b", "1.30", 3), group("a", "1.30", 1)),
			req:     &GKESettings{ImageType: "ubuntu_containerd"},
			desc: "Change the cluster's settings in place: imageType COS_CONTAINERD → UBUNTU_CONTAINERD: every node pool is recreated " +
				"with UBUNTU_CONTAINERD images, rolling, 3 batches in all",
			changes:  []string{"spec.gke.imageType: COS_CONTAINERD → UBUNTU_CONTAINERD"},
			minutes:  minutesSettings + 3*minutesPerBatch, // a: 1 batch, b: 2 batches
			batches:  3,
			disrupts: []string{"step 1 (cluster-settings control-plane): up to 4 nodes recreated with UBUNTU_CONTAINERD images; pods are evicted and rescheduled"},
		},
		{
			name:    "every setting, on a cluster recorded before settings were",
			cluster: gkeCluster(nil, group("a", "1.30", 1)),
			req: &GKESettings{ImageType: "COS_CONTAINERD", ReleaseChannel: "REGULAR", AuthorizedNetworks: []string{"10.0.0.0/8"},
				MaintenanceWindow: &MaintenanceWindow{StartTime: "03:00", Duration: "4h"}},
			desc: "Change the cluster's settings in place: releaseChannel unknown → REGULAR; maintenanceWindow none → 03:00 UTC for 4h; " +
				"authorizedNetworks [] → [10.0.0.0/8]; imageType default → COS_CONTAINERD: every node pool is recreated with COS_CONTAINERD images, rolling, 1 batch in all",
			changes: []string{"spec.gke.releaseChannel: unknown → REGULAR", "spec.gke.maintenanceWindow: none → 03:00 UTC for 4h",
				"spec.gke.authorizedNetworks: [] → [10.0.0.0/8]", "spec.gke.imageType: default → COS_CONTAINERD"},
			minutes:  minutesSettings + minutesPerBatch,
			batches:  1,
			disrupts: []string{"step 1 (cluster-settings control-plane): up to 1 node recreated with COS_CONTAINERD images; pods are evicted and rescheduled"},
		},
		{
			name:    "the same settings in another order or case change nothing",
			cluster: gkeCluster(stable(), group("a", "1.30", 1)),
			req: &GKESettings{ImageType: "cos_containerd", ReleaseChannel: "Stable", AuthorizedNetworks: []string{"192.168.0.0/16", "10.0.0.0/8"},
				MaintenanceWindow: &MaintenanceWindow{StartTime: "03:00", Duration: "4h"}},
		},
		{
			name:    "empty settings change nothing",
			cluster: gkeCluster(stable()),
			req:     &GKESettings{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Build(tc.cluster, Request{GKE: tc.req}, supported)
			require.True(t, p.ValidationPassed, p.Errors)
			if tc.desc == "" {
				assert.Empty(t, p.Steps)
				assert.Empty(t, p.Report.Changes)
				assert.Contains(t, p.Warnings, "no changes: the cluster already matches the request")
				return
			}
			require.Len(t, p.Steps, 1)
			s := p.Steps[0]
			assert.Equal(t, Step{Order: 1, Kind: KindClusterSettings, Target: TargetControlPlane, Description: tc.desc,
				Disruptive: tc.batches > 0, EstimatedMinutes: tc.minutes, Batches: tc.batches}, s)
			assert.Equal(t, tc.changes, p.Report.Changes)
			assert.Equal(t, tc.minutes, p.Report.EstimatedMinutes)
			assert.Equal(t, append([]string{}, tc.disrupts...), p.Report.Disruptions)
		})
	}
}

func TestClusterSettingsFollowScaling(t *testing.T) {
	// The image change rolls the nodes the groups hold after scaling.
	c := gkeCluster(stable(), group("a", "1.30", 1))
	p := Build(c, Request{GKE: &GKESettings{ImageType: "UBUNTU_CONTAINERD"}, NodeGroups: []NodeGroupChange{{Name: "a", MaxNode: ptr(5)}}}, supported)
	require.True(t, p.ValidationPassed, p.Errors)
	assert.Equal(t, []string{"1 node-group-scale a", "2 cluster-settings control-plane batches=3 disruptive"}, stepLines(p))
	assert.Contains(t, p.Report.Disruptions, "step 2 (cluster-settings control-plane): up to 5 nodes recreated with UBUNTU_CONTAINERD images; pods are evicted and rescheduled")
}

func TestClusterSettingsAreLast(t *testing.T) {
	c := gkeCluster(stable(), group("a", "1.30", 1))
	c.Tags = map[string]string{"a": "1"}
	p := Build(c, Request{KubernetesVersion: "1.31", Tags: map[string]string{"a": "2"}, GKE: &GKESettings{ReleaseChannel: "RAPID"}}, supported)
	require.True(t, p.ValidationPassed, p.Errors)
	assert.Equal(t, []string{
		"1 control-plane-upgrade control-plane 1.30->1.31",
		"2 node-group-upgrade a 1.30->1.31 batches=1 disruptive",
		"3 addons-upgrade control-plane 1.30->1.31",
		"4 tags-update control-plane",
		"5 cluster-settings control-plane",
	}, stepLines(p))
}

func TestClusterSettingsRejected(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cluster Cluster
		req     Request
		err     string
	}{
		{"gke settings on eks", eks("1.30", group("a", "1.30", 1)), Request{GKE: &GKESettings{ReleaseChannel: "RAPID"}},
			"gke settings are gke fields; this cluster is eks on aws"},
		{"gke settings on a selfHosted gcp cluster", Cluster{Provider: "gcp", ProvisionerType: "selfHosted", Version: "1.30"},
			Request{GKE: &GKESettings{ImageType: "COS_CONTAINERD"}}, "gke settings are gke fields; this cluster is selfHosted on gcp"},
		{"gke settings on a cluster of unknown kind", Cluster{Version: "1.30"},
			Request{GKE: &GKESettings{}}, "gke settings are gke fields; this cluster is unknown on unknown"},
		{"unknown release channel", gkeCluster(stable()), Request{GKE: &GKESettings{ReleaseChannel: "NIGHTLY"}},
			`gke.releaseChannel "NIGHTLY": want STABLE, REGULAR or RAPID`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Build(tc.cluster, tc.req, supported)
			assert.False(t, p.ValidationPassed)
			assert.Contains(t, p.Errors, tc.err)
			assert.Equal(t, ResultFail, results(p)[CheckProviderSpecific])
			assert.Empty(t, p.Steps)
		})
	}
}

func TestAmiFamilySettingsStep(t *testing.T) {
	t.Run("a cluster with no node groups records the family", func(t *testing.T) {
		p := Build(eks("1.30"), Request{AmiFamily: "ubuntu"}, supported)
		require.True(t, p.ValidationPassed, p.Errors)
		require.Len(t, p.Steps, 1)
		assert.Equal(t, Step{Order: 1, Kind: KindClusterSettings, Target: TargetControlPlane,
			Description:      "Change the cluster's settings in place: node image family Ubuntu for node groups created from now on",
			EstimatedMinutes: minutesSettings}, p.Steps[0])
		assert.Equal(t, []string{"spec.eks.amiFamily: AL2023 → Ubuntu"}, p.Report.Changes)
	})
	t.Run("an unknown current family is a change", func(t *testing.T) {
		c := eks("1.30")
		c.AmiFamily = ""
		p := Build(c, Request{AmiFamily: "AL2023"}, supported)
		assert.Equal(t, []string{"1 cluster-settings control-plane"}, stepLines(p))
	})
	t.Run("the family on another provisioner plans no step", func(t *testing.T) {
		p := Build(gkeCluster(stable()), Request{AmiFamily: "AL2"}, supported)
		assert.False(t, p.ValidationPassed)
		assert.Empty(t, p.Steps)
	})
}
