package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/astropulse/astroplane/cloud"
)

// CreateControlPlane starts creating the managed cluster, its system agent pool made
// of the first node group, and returns once Azure has accepted it (ControlPlaneStatus
// follows it). A cluster of that name created with c's token is returned as it is.
func (p *Provider) CreateControlPlane(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec, net cloud.NetworkRef) (cloud.ClusterRef, error) {
	if err := ctx.Err(); err != nil {
		return cloud.ClusterRef{}, err
	}
	if spec.Name == "" {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "managed cluster: no name")
	}
	if len(spec.NodeGroups) == 0 {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "managed cluster %q: AKS needs a system agent pool, made of the first node group, and the spec has none", spec.Name)
	}
	system := spec.NodeGroups[0]
	if err := validatePool(system); err != nil {
		return cloud.ClusterRef{}, err
	}
	if system.Spot() {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "node group %q is AKS's system pool (the first node group): it must be ondemand, Azure does not run system pools on spot", system.Name)
	}
	r := ref{sub: subscription(spec), group: resourceGroup(spec), name: spec.Name}
	if net.ID != "" {
		r.sub, r.group, _ = p.parseGroup(net.ID)
	}
	cl, err := p.in(r.sub)
	if err != nil {
		return cloud.ClusterRef{}, err
	}
	got, err := cl.clusters.Get(ctx, r.group, r.name, nil)
	switch {
	case err == nil:
		return p.existing(c, r, got.ManagedCluster)
	case !notFound(err):
		return cloud.ClusterRef{}, classify(err, "get "+r.String())
	}

	props, err := poolProperties(system, armcontainerservice.AgentPoolModeSystem, TagToken, c.Token, TagPool, "system")
	if err != nil {
		return cloud.ClusterRef{}, err
	}
	profile, err := profileOf(system.Name, props)
	if err != nil {
		return cloud.ClusterRef{}, err
	}
	mc := armcontainerservice.ManagedCluster{
		Location: ptr(spec.Region),
		Tags:     azureTags(spec.Tags, TagToken, c.Token, TagCluster, spec.Name),
		Identity: &armcontainerservice.ManagedClusterIdentity{Type: ptr(armcontainerservice.ResourceIdentityTypeSystemAssigned)},
		Properties: &armcontainerservice.ManagedClusterProperties{
			DNSPrefix:         ptr(dnsPrefix(spec.Name)),
			EnableRBAC:        ptr(true),
			AgentPoolProfiles: []*armcontainerservice.ManagedClusterAgentPoolProfile{profile},
		},
	}
	if spec.KubernetesVersion != "" {
		mc.Properties.KubernetesVersion = ptr(spec.KubernetesVersion)
	}
	c.Report(fmt.Sprintf("creating %s (Kubernetes %s, system pool %q)", r, spec.KubernetesVersion, system.Name))
	// If-None-Match: a cluster someone else creates meanwhile is not overwritten.
	_, err = cl.clusters.BeginCreateOrUpdate(ctx, r.group, r.name, mc, &armcontainerservice.ManagedClustersClientBeginCreateOrUpdateOptions{IfNoneMatch: ptr("*")})
	if err != nil {
		err = classify(err, "create "+r.String())
		if errors.Is(err, cloud.ErrAlreadyExists) {
			// Another attempt of this call may have won the race: its token says.
			if again, gerr := cl.clusters.Get(ctx, r.group, r.name, nil); gerr == nil {
				return p.existing(c, r, again.ManagedCluster)
			}
		}
		return cloud.ClusterRef{}, err
	}
	got, err = cl.clusters.Get(ctx, r.group, r.name, nil)
	if err != nil {
		return cloud.ClusterRef{}, classify(err, "get "+r.String())
	}
	c.Report(fmt.Sprintf("Azure accepted %s: %s", r, str(stateOf(got.ManagedCluster))))
	return clusterRef(r, got.ManagedCluster), nil
}

// existing is what a create finds: the cluster it made with c's token, or
// ErrAlreadyExists.
func (p *Provider) existing(c cloud.Call, r ref, mc armcontainerservice.ManagedCluster) (cloud.ClusterRef, error) {
	if str(mc.Tags[TagToken]) != c.Token {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrAlreadyExists, "%s already exists and was not created by this operation", r)
	}
	c.Report(fmt.Sprintf("%s was created by this operation: %s", r, str(stateOf(mc))))
	return clusterRef(r, mc), nil
}

func stateOf(mc armcontainerservice.ManagedCluster) *string {
	if mc.Properties == nil {
		return nil
	}
	return mc.Properties.ProvisioningState
}

func clusterRef(r ref, mc armcontainerservice.ManagedCluster) cloud.ClusterRef {
	out := cloud.ClusterRef{Provider: "azure", ExternalID: r.id()}
	if mc.Properties != nil && str(mc.Properties.Fqdn) != "" {
		out.Endpoint = "https://" + str(mc.Properties.Fqdn) + ":443"
	}
	if mc.SystemData != nil && mc.SystemData.CreatedAt != nil {
		out.CreatedAt = mc.SystemData.CreatedAt.UTC()
	}
	return out
}

// dnsPrefix is AKS's DNS prefix for a cluster name: letters, digits and hyphens,
// starting and ending with a letter or digit, at most 54 characters.
func dnsPrefix(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	s := strings.Trim(b.String(), "-")
	if len(s) > 54 {
		s = strings.TrimRight(s[:54], "-")
	}
	if s == "" {
		s = "aks"
	}
	return s
}

// ControlPlaneStatus maps the managed cluster's provisioningState: Succeeded is
// ACTIVE, Failed and Canceled FAILED, anything else (Creating, Updating,
// Upgrading…) CREATING.
func (p *Provider) ControlPlaneStatus(ctx context.Context, c cloud.Call, cr cloud.ClusterRef) (string, error) {
	r, ok := parseCluster(cr.ExternalID)
	if !ok {
		return "", cloud.Errorf(cloud.ErrNotFound, "no managed cluster ID in reference %q", cr.ExternalID)
	}
	cl, err := p.in(r.sub)
	if err != nil {
		return "", err
	}
	got, err := cl.clusters.Get(ctx, r.group, r.name, nil)
	if err != nil {
		return "", classify(err, "get "+r.String())
	}
	state := str(stateOf(got.ManagedCluster))
	c.Report(fmt.Sprintf("%s: %s", r, state))
	switch strings.ToLower(state) {
	case "succeeded":
		return cloud.StateActive, nil
	case "failed", "canceled":
		return cloud.StateFailed, nil
	}
	return cloud.StateCreating, nil
}

// DeleteControlPlane deletes the managed cluster (and with it its agent pools and
// node resource group) and waits until it is gone. Without a reference it deletes the
// clusters created with c's token.
func (p *Provider) DeleteControlPlane(ctx context.Context, c cloud.Call, cr cloud.ClusterRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	targets := []ref{}
	if r, ok := parseCluster(cr.ExternalID); ok {
		targets = append(targets, r)
	} else {
		found, err := p.clustersByToken(ctx, c.Token)
		if err != nil {
			return err
		}
		if len(found) == 0 {
			c.Report("no managed cluster was created with this operation's token: nothing to delete")
		}
		targets = found
	}
	for _, r := range targets {
		cl, err := p.in(r.sub)
		if err != nil {
			return err
		}
		poller, err := cl.clusters.BeginDelete(ctx, r.group, r.name, nil)
		if err == nil {
			_, err = await(ctx, p, c, "delete "+r.String(), poller)
		}
		if err != nil && !notFound(err) {
			return classify(err, "delete "+r.String())
		}
		c.Report(r.String() + " deleted")
	}
	return nil
}

// clustersByToken lists the subscription's managed clusters created with token.
func (p *Provider) clustersByToken(ctx context.Context, token string) ([]ref, error) {
	cl, err := p.in("")
	if err != nil {
		return nil, err
	}
	var out []ref
	pager := cl.clusters.NewListPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(err, "list managed clusters")
		}
		for _, mc := range page.Value {
			if mc == nil || str(mc.Tags[TagToken]) != token {
				continue
			}
			if r, ok := parseCluster(str(mc.ID)); ok {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// UpgradeControlPlane sets the managed cluster's Kubernetes version (one minor up)
// and waits for the upgrade. Its agent pools keep their version: node groups are
// upgraded by UpdateNodeGroup.
func (p *Provider) UpgradeControlPlane(ctx context.Context, c cloud.Call, cr cloud.ClusterRef, version string) error {
	r, cl, mc, err := p.cluster(ctx, cr)
	for err == nil && !settled(str(stateOf(mc))) {
		// An operation runs (an earlier attempt's upgrade): wait for it, as AKS
		// refuses a second one.
		c.Report(fmt.Sprintf("%s: %s, waiting for it to finish", r, str(stateOf(mc))))
		if err = p.sleep(ctx); err == nil {
			r, cl, mc, err = p.cluster(ctx, cr)
		}
	}
	if err != nil {
		return err
	}
	if mc.Properties == nil {
		mc.Properties = &armcontainerservice.ManagedClusterProperties{}
	}
	cur := str(mc.Properties.KubernetesVersion)
	if sameMinor(cur, version) && strings.EqualFold(str(mc.Properties.ProvisioningState), "Succeeded") {
		c.Report(fmt.Sprintf("%s already runs Kubernetes %s", r, cur))
		return nil
	}
	mc.Properties.KubernetesVersion = ptr(version)
	poller, err := cl.clusters.BeginCreateOrUpdate(ctx, r.group, r.name, mc, nil)
	if err == nil {
		_, err = await(ctx, p, c, fmt.Sprintf("upgrade %s from Kubernetes %s to %s", r, cur, version), poller)
	}
	return classify(err, fmt.Sprintf("upgrade %s to Kubernetes %s", r, version))
}

// sameMinor reports whether version (1.31 or 1.31.2) is in minor.
func sameMinor(version, minor string) bool {
	return version != "" && minor != "" && (version == minor || strings.HasPrefix(version, minor+"."))
}

// cluster reads the managed cluster cr names.
func (p *Provider) cluster(ctx context.Context, cr cloud.ClusterRef) (ref, *clients, armcontainerservice.ManagedCluster, error) {
	r, ok := parseCluster(cr.ExternalID)
	if !ok {
		return ref{}, nil, armcontainerservice.ManagedCluster{}, cloud.Errorf(cloud.ErrNotFound, "no managed cluster ID in reference %q", cr.ExternalID)
	}
	cl, err := p.in(r.sub)
	if err != nil {
		return r, nil, armcontainerservice.ManagedCluster{}, err
	}
	got, err := cl.clusters.Get(ctx, r.group, r.name, nil)
	if err != nil {
		return r, nil, armcontainerservice.ManagedCluster{}, classify(err, "get "+r.String())
	}
	return r, cl, got.ManagedCluster, nil
}

// UpdateTags replaces the managed cluster's tags (AKS passes them on to the node
// resource group), keeping the provider's own.
func (p *Provider) UpdateTags(ctx context.Context, c cloud.Call, cr cloud.ClusterRef, tags map[string]string) error {
	r, cl, mc, err := p.cluster(ctx, cr)
	if err != nil {
		return err
	}
	next := azureTags(tags)
	for _, k := range []string{TagToken, TagCluster} {
		if v, ok := mc.Tags[k]; ok {
			next[k] = v
		}
	}
	poller, err := cl.clusters.BeginUpdateTags(ctx, r.group, r.name, armcontainerservice.TagsObject{Tags: next}, nil)
	if err == nil {
		_, err = await(ctx, p, c, "update the tags of "+r.String(), poller)
	}
	return classify(err, "update the tags of "+r.String())
}

// InstallAddons installs nothing: AKS runs and upgrades the cluster's core add-ons
// (CoreDNS, kube-proxy, the CNI, metrics-server) with the control plane. It checks the
// cluster is there and reports its version.
func (p *Provider) InstallAddons(ctx context.Context, c cloud.Call, cr cloud.ClusterRef, version string) error {
	r, _, mc, err := p.cluster(ctx, cr)
	if err != nil {
		return err
	}
	cur := ""
	if mc.Properties != nil {
		cur = str(mc.Properties.KubernetesVersion)
	}
	c.Report(fmt.Sprintf("AKS manages the add-ons of %s (CoreDNS, kube-proxy, CNI, metrics-server) with its control plane, now Kubernetes %s: nothing to install for %s", r, cur, version))
	return nil
}

// Kubeconfig returns the cluster user's kubeconfig (ListClusterUserCredentials). It
// holds credentials: it is never logged or reported.
func (p *Provider) Kubeconfig(ctx context.Context, c cloud.Call, cr cloud.ClusterRef) (string, error) {
	r, ok := parseCluster(cr.ExternalID)
	if !ok {
		return "", cloud.Errorf(cloud.ErrNotFound, "no managed cluster ID in reference %q", cr.ExternalID)
	}
	cl, err := p.in(r.sub)
	if err != nil {
		return "", err
	}
	res, err := cl.clusters.ListClusterUserCredentials(ctx, r.group, r.name, nil)
	if err != nil {
		return "", classify(err, "get the user credentials of "+r.String())
	}
	for _, kc := range res.Kubeconfigs {
		if kc != nil && len(kc.Value) > 0 {
			c.Report("kubeconfig of " + r.String() + " received")
			return string(kc.Value), nil
		}
	}
	return "", cloud.Errorf(cloud.ErrFailed, "Azure returned no kubeconfig for %s", r)
}

// UpdateClusterSettings changes nothing: the contract carries no AKS settings yet
// (ClusterSettings has EKS and GKE ones), so every request is ErrInvalid.
func (p *Provider) UpdateClusterSettings(context.Context, cloud.Call, cloud.ClusterRef, cloud.ClusterSettings) error {
	return cloud.Errorf(cloud.ErrInvalid, "no settings to change on AKS: the EKS and GKE cluster settings do not apply")
}

// profileOf is the managed cluster's agent pool profile of props (the same fields as
// an agent pool's properties, plus its name).
func profileOf(name string, props *armcontainerservice.ManagedClusterAgentPoolProfileProperties) (*armcontainerservice.ManagedClusterAgentPoolProfile, error) {
	raw, err := json.Marshal(props)
	if err != nil {
		return nil, err
	}
	var out armcontainerservice.ManagedClusterAgentPoolProfile
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	out.Name = ptr(name)
	return &out, nil
}
