package clusters

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/upgrade"
)

// clusterSpec is the secret-free spec the workflows carry, from a validated manifest.
func clusterSpec(spec api.K8sClusterSpec) activities.ClusterSpec {
	pt := string(spec.Provisioner.Type)
	cs := activities.ClusterSpec{
		Name: spec.ClusterName, Provider: string(spec.Provider), ProvisionerType: pt,
		Region: deref(spec.Region), AccountID: accountID(spec), Tags: map[string]string{},
	}
	version := deref(spec.KubernetesVersion)
	if g := spec.Provisioner.Gke; g != nil {
		if version == "" {
			version = deref(g.KubernetesVersion)
		}
		cs.Autopilot = g.Autopilot != nil && *g.Autopilot
	}
	if minor, ok := catalog.NormalizeVersion(pt, version); ok {
		cs.KubernetesVersion = minor
	} else {
		cs.KubernetesVersion = catalog.DefaultVersion(pt)
	}
	cs.CredentialsType = credentialsType(spec.Provisioner)
	if spec.Tags != nil {
		for k, v := range *spec.Tags {
			cs.Tags[k] = v
		}
	}
	if spec.ClusterSpec != nil && spec.ClusterSpec.DataPlane != nil {
		for _, ng := range spec.ClusterSpec.DataPlane.NodeGroups {
			cs.NodeGroups = append(cs.NodeGroups, nodeGroupSpec(ng, cs.KubernetesVersion))
		}
	}
	providerSpecs(spec, &cs)
	return cs
}

// providerSpecs carries the rest of the manifest to the provider: the account, the
// sub-spec of the provisioner the manifest names (bring-your-own network, GKE and
// AKS settings…), a selfHosted control plane's nodes and the node image. Everything
// but the credentials' data, which never leaves the API.
func providerSpecs(spec api.K8sClusterSpec, cs *activities.ClusterSpec) {
	cs.Account = cloud.AccountRef{Provider: cs.Provider, AccountID: cs.AccountID, CredentialsType: cs.CredentialsType}
	pv := spec.Provisioner
	switch {
	case pv.Type == api.ProvisionerTypeEks && pv.Eks != nil:
		e := pv.Eks
		eks := &cloud.EKSSpec{AccountID: e.AccountId, VPCID: deref(e.VpcId), VPCCIDR: deref(e.VpcCIDR), AMIFamily: "AL2023"}
		if e.AmiFamily != nil {
			eks.AMIFamily = string(*e.AmiFamily)
		}
		if e.Subnets != nil {
			eks.Subnets = map[string][]cloud.Subnet{}
			for az, subnets := range *e.Subnets {
				for _, sn := range subnets {
					eks.Subnets[az] = append(eks.Subnets[az], cloud.Subnet{ID: sn.Id, Type: string(sn.Type)})
				}
			}
		}
		for i := range cs.NodeGroups {
			cs.NodeGroups[i].ImageType = eks.AMIFamily
		}
		cs.EKS = eks
	case pv.Type == api.ProvisionerTypeGke && pv.Gke != nil:
		g := pv.Gke
		gke := &cloud.GKESpec{ProjectID: g.ProjectId, ReleaseChannel: "STABLE", KubernetesVersion: deref(g.KubernetesVersion),
			Autopilot: g.Autopilot != nil && *g.Autopilot, EnableWorkloadIdentity: g.EnableWorkloadIdentity == nil || *g.EnableWorkloadIdentity,
			NetworkID: deref(g.NetworkId), MasterIPv4CIDRBlock: deref(g.MasterIPv4CidrBlock)}
		if g.ReleaseChannel != nil {
			gke.ReleaseChannel = string(*g.ReleaseChannel)
		}
		if g.Subnet != nil {
			gke.Subnet = &cloud.GKESubnet{Name: g.Subnet.Name, PodsRange: deref(g.Subnet.PodsRange), ServicesRange: deref(g.Subnet.ServicesRange)}
		}
		if g.AuthorizedNetworks != nil {
			gke.AuthorizedNetworks = slices.Clone(*g.AuthorizedNetworks)
		}
		cs.GKE = gke
	case pv.Type == api.ProvisionerTypeAks && pv.Aks != nil:
		cs.AKS = &cloud.AKSSpec{SubscriptionID: pv.Aks.SubscriptionId.String(), ResourceGroup: pv.Aks.ResourceGroup}
	case pv.Type == api.ProvisionerTypeSelfHosted && pv.SelfHosted != nil:
		sh := pv.SelfHosted
		cs.SelfHosted = &cloud.SelfHostedSpec{AccountID: sh.AccountId, BucketName: sh.BucketName, NetworkID: deref(sh.NetworkId)}
	}
	if spec.ClusterSpec != nil && spec.ClusterSpec.ControlPlane != nil {
		ng := spec.ClusterSpec.ControlPlane.NodeGroup
		cs.ControlPlane = &cloud.ControlPlaneNodes{Name: ng.Name, MachineTypes: slices.Clone(ng.MachineTypes)}
	}
}

func nodeGroupSpec(ng api.NodeGroupSpec, version string) activities.NodeGroupSpec {
	out := activities.NodeGroupSpec{
		Name: ng.Name, Version: version, MinNode: ng.MinNode, MaxNode: ng.MaxNode,
		InstanceType: "ondemand", MachineTypes: ng.MachineTypes, Labels: map[string]string{},
	}
	if ng.InstanceType != nil {
		out.InstanceType = string(*ng.InstanceType)
	}
	if ng.Labels != nil {
		for k, v := range *ng.Labels {
			out.Labels[k] = v
		}
	}
	if ng.Taints != nil {
		for _, t := range *ng.Taints {
			out.Taints = append(out.Taints, activities.Taint{Key: t.Key, Value: deref(t.Value), Effect: string(t.Effect)})
		}
	}
	return out
}

func credentialsType(p api.ClusterProvisioner) string {
	var c *api.ClusterCredentials
	switch {
	case p.Eks != nil:
		c = p.Eks.Credentials
	case p.Gke != nil:
		c = p.Gke.Credentials
	case p.Aks != nil:
		c = p.Aks.Credentials
	case p.SelfHosted != nil:
		c = p.SelfHosted.Credentials
	}
	if c == nil {
		return "dynamic"
	}
	return string(c.Type)
}

// storedSpec is the cluster as the workflows last left it.
func storedSpec(cl store.Cluster) (activities.ClusterSpec, error) {
	var cs activities.ClusterSpec
	if len(cl.State) == 0 {
		return activities.ClusterSpec{}, fmt.Errorf("cluster %s has no recorded state", cl.ID)
	}
	err := json.Unmarshal(cl.State, &cs)
	return cs, err
}

// upgradeCluster is the planner's view of a cluster.
func upgradeCluster(cs activities.ClusterSpec) upgrade.Cluster {
	c := upgrade.Cluster{Provider: cs.Provider, ProvisionerType: cs.ProvisionerType, Version: cs.KubernetesVersion, Tags: cs.Tags}
	if cs.EKS != nil {
		c.AmiFamily = cs.EKS.AMIFamily
	}
	if g := cs.GKE; g != nil {
		c.GKE = &upgrade.GKESettings{ImageType: g.ImageType, ReleaseChannel: g.ReleaseChannel, AuthorizedNetworks: g.AuthorizedNetworks}
		if w := g.MaintenanceWindow; w != nil {
			c.GKE.MaintenanceWindow = &upgrade.MaintenanceWindow{StartTime: w.StartTime, Duration: w.Duration}
		}
	}
	for _, ng := range cs.NodeGroups {
		c.NodeGroups = append(c.NodeGroups, upgrade.NodeGroup{
			Name: ng.Name, Version: ng.Version, MinNode: ng.MinNode, MaxNode: ng.MaxNode, InstanceType: ng.InstanceType,
			MachineTypes: ng.MachineTypes, Labels: ng.Labels, Taints: upgradeTaints(ng.Taints),
		})
	}
	return c
}

func upgradeTaints(ts []activities.Taint) []upgrade.Taint {
	var out []upgrade.Taint
	for _, t := range ts {
		out = append(out, upgrade.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
	}
	return out
}

// upgradeRequest is the planner's view of an update manifest.
func upgradeRequest(spec api.K8sClusterUpdateSpec) upgrade.Request {
	r := upgrade.Request{KubernetesVersion: deref(spec.KubernetesVersion), AllowDowngrade: spec.AllowDowngrade != nil && *spec.AllowDowngrade}
	if spec.Tags != nil {
		r.Tags = map[string]string(*spec.Tags)
	}
	if uc := spec.UpdateConfig; uc != nil {
		r.MaxUnavailable, r.MaxSurge = deref(uc.MaxUnavailable), deref(uc.MaxSurge)
	}
	if spec.Eks != nil && spec.Eks.AmiFamily != nil {
		r.AmiFamily = string(*spec.Eks.AmiFamily)
	}
	if g := spec.Gke; g != nil {
		r.GKE = &upgrade.GKESettings{ImageType: deref(g.ImageType)}
		if g.ReleaseChannel != nil {
			r.GKE.ReleaseChannel = string(*g.ReleaseChannel)
		}
		if w := g.MaintenanceWindow; w != nil {
			r.GKE.MaintenanceWindow = &upgrade.MaintenanceWindow{StartTime: w.StartTime, Duration: deref(w.Duration)}
		}
		if g.AuthorizedNetworks != nil {
			r.GKE.AuthorizedNetworks = slices.Clone(*g.AuthorizedNetworks)
			if r.GKE.AuthorizedNetworks == nil {
				r.GKE.AuthorizedNetworks = []string{} // an empty list clears them
			}
		}
	}
	if spec.NodeGroups != nil {
		for _, ng := range *spec.NodeGroups {
			ch := upgrade.NodeGroupChange{Name: ng.Name, MinNode: ng.MinNode, MaxNode: ng.MaxNode}
			if ng.MachineTypes != nil {
				ch.MachineTypes = *ng.MachineTypes
			}
			if ng.Labels != nil {
				ch.Labels = map[string]string(*ng.Labels)
			}
			if ng.Taints != nil {
				for _, t := range *ng.Taints {
					ch.Taints = append(ch.Taints, upgrade.Taint{Key: t.Key, Value: deref(t.Value), Effect: string(t.Effect)})
				}
			}
			r.NodeGroups = append(r.NodeGroups, ch)
		}
	}
	return r
}

// supportedVersions lists the minors the provisioner supports, for the planner.
func supportedVersions(provisionerType string) []string {
	var out []string
	for _, v := range catalog.KubernetesVersions(provisionerType) {
		out = append(out, v.Minor)
	}
	sort.Strings(out)
	return out
}

// currentSpec is spec, the manifest a cluster was deployed with, brought to cs, the
// cluster as its operations last recorded it: the Kubernetes version, the node groups
// (sizes, machine and instance types, labels, taints, groups added) and the tags.
// What no operation changed stays as it was given.
func currentSpec(spec api.K8sClusterSpec, cs activities.ClusterSpec) api.K8sClusterSpec {
	deployed := clusterSpec(spec)
	if cs.KubernetesVersion != "" && cs.KubernetesVersion != deployed.KubernetesVersion {
		spec.KubernetesVersion = ptr(cs.KubernetesVersion)
		if g := spec.Provisioner.Gke; g != nil && g.KubernetesVersion != nil {
			gke := *g // the provider form of the deployed version is no longer true
			gke.KubernetesVersion, spec.Provisioner.Gke = nil, &gke
		}
	}
	spec.Provisioner = currentProvisioner(spec.Provisioner, cs, deployed)
	if !maps.Equal(cs.Tags, deployed.Tags) {
		tags := api.ClusterTags(maps.Clone(cs.Tags))
		spec.Tags = &tags
	}
	if slices.EqualFunc(cs.NodeGroups, deployed.NodeGroups, sameNodeGroup) {
		return spec
	}
	given := map[string]api.NodeGroupSpec{}
	topology := api.ClusterTopology{}
	if spec.ClusterSpec != nil {
		topology = *spec.ClusterSpec
	}
	if topology.DataPlane != nil {
		for _, ng := range topology.DataPlane.NodeGroups {
			given[ng.Name] = ng
		}
	}
	groups := make([]api.NodeGroupSpec, 0, len(cs.NodeGroups))
	for _, ng := range cs.NodeGroups {
		orig, known := given[ng.Name]
		if known && sameNodeGroup(ng, nodeGroupSpec(orig, "")) {
			groups = append(groups, orig)
			continue
		}
		groups = append(groups, nodeGroupView(ng, orig))
	}
	topology.DataPlane = &api.ClusterDataPlane{NodeGroups: groups}
	spec.ClusterSpec = &topology
	return spec
}

// currentProvisioner is pv, the provisioner as deployed, with the settings updates
// changed since: the eks AMI family, the gke release channel and authorized
// networks. (GKE's image type and maintenance window have no place in the
// deploy manifest's provisioner: the recorded state keeps them.) The sub-specs are
// copied, never changed where pv points.
func currentProvisioner(pv api.ClusterProvisioner, cs, deployed activities.ClusterSpec) api.ClusterProvisioner {
	if e := pv.Eks; e != nil && cs.EKS != nil && deployed.EKS != nil && cs.EKS.AMIFamily != deployed.EKS.AMIFamily && cs.EKS.AMIFamily != "" {
		eks := *e
		fam := api.EksProvisionerAmiFamily(cs.EKS.AMIFamily)
		eks.AmiFamily, pv.Eks = &fam, &eks
	}
	if g := pv.Gke; g != nil && cs.GKE != nil && deployed.GKE != nil {
		gke := *g
		if ch := cs.GKE.ReleaseChannel; ch != "" && ch != deployed.GKE.ReleaseChannel {
			rc := api.GkeProvisionerReleaseChannel(ch)
			gke.ReleaseChannel = &rc
		}
		if !slices.Equal(cs.GKE.AuthorizedNetworks, deployed.GKE.AuthorizedNetworks) {
			nets := append([]string{}, cs.GKE.AuthorizedNetworks...)
			gke.AuthorizedNetworks = &nets
		}
		pv.Gke = &gke
	}
	return pv
}

// sameNodeGroup reports whether a and b are the same node group as a manifest shows
// it (the kubelet version is the cluster's, not the group's, in a manifest).
func sameNodeGroup(a, b activities.NodeGroupSpec) bool {
	return a.Name == b.Name && a.MinNode == b.MinNode && a.MaxNode == b.MaxNode && a.InstanceType == b.InstanceType &&
		slices.Equal(a.MachineTypes, b.MachineTypes) && maps.Equal(a.Labels, b.Labels) && slices.Equal(a.Taints, b.Taints)
}

// nodeGroupView is ng in the manifest's form; orig, the group as given (zero for a
// group an update added), decides whether empty labels and taints are shown.
func nodeGroupView(ng activities.NodeGroupSpec, orig api.NodeGroupSpec) api.NodeGroupSpec {
	it := api.NodeGroupSpecInstanceType(ng.InstanceType)
	v := api.NodeGroupSpec{Name: ng.Name, MinNode: ng.MinNode, MaxNode: ng.MaxNode, InstanceType: &it,
		MachineTypes: slices.Clone(ng.MachineTypes)}
	if v.MachineTypes == nil {
		v.MachineTypes = []string{}
	}
	if len(ng.Labels) > 0 || orig.Labels != nil {
		labels := api.NodeGroupLabels(maps.Clone(ng.Labels))
		if labels == nil {
			labels = api.NodeGroupLabels{}
		}
		v.Labels = &labels
	}
	if len(ng.Taints) > 0 || orig.Taints != nil {
		taints := make([]api.NodeGroupTaint, 0, len(ng.Taints))
		for _, t := range ng.Taints {
			taint := api.NodeGroupTaint{Key: t.Key, Effect: api.NodeGroupTaintEffect(t.Effect)}
			if t.Value != "" {
				taint.Value = ptr(t.Value)
			}
			taints = append(taints, taint)
		}
		v.Taints = &taints
	}
	return v
}
