package validate

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/server/api"
)

// ClusterSpec checks a K8sCluster manifest's spec against every rule of
// shared/manifests.md the schema cannot express, and returns every fault by field
// ("spec.region", "spec.clusterSpec.dataPlane.nodeGroups.0.machineTypes.1"). It is
// empty when the spec passes.
//
// It does not check what needs the store or a cloud: that the cluster name is
// unused in the org, that dynamic credentials have a connected account, or that
// vault credentials are stored.
func ClusterSpec(spec api.K8sClusterSpec) Errors {
	errs, _ := Check(spec)
	return errs
}

// Check is ClusterSpec that also returns the warnings: values the catalog does not
// list but that may be real (see the package comment), by field.
func Check(spec api.K8sClusterSpec) (errs, warnings Errors) {
	return check(spec, nil)
}

// CheckLive is Check with the connected account's own catalog of the spec's
// provider (a catalog.Cache around catalog/awscatalog, say): a machine type it does
// not list in the spec's region is a fault naming the region, and one it lists is
// no warning even when the static catalog lacks it; likewise a Kubernetes version
// whose minor it does not list, and an availability zone of EKS subnets. When live
// lists zones (catalog.Zones), a region the provider says does not exist is a
// fault of spec.region (and nothing is checked against it), one it lists zones of
// is no warning. It asks live once per question, for the spec's
// region; when live cannot answer one (an error), the static catalog decides that
// one as in Check.
func CheckLive(ctx context.Context, spec api.K8sClusterSpec, live catalog.Live) (errs, warnings Errors) {
	return check(spec, &liveTypes{ctx: ctx, source: live})
}

func check(spec api.K8sClusterSpec, live *liveTypes) (errs, warnings Errors) {
	errs, warnings = Errors{}, Errors{}
	c := clusterCheck{errs: errs, warns: warnings, spec: spec, ptype: string(spec.Provisioner.Type)}
	c.where.warns = warnings
	c.where.live = live

	checkName(errs, "spec.clusterName", spec.ClusterName)
	c.provider()
	c.provisionerType()
	c.region()
	c.autopilot = c.ptype == catalog.GKE && spec.Provisioner.Gke != nil && deref(spec.Provisioner.Gke.Autopilot)
	if spec.KubernetesVersion != nil {
		c.version("spec.kubernetesVersion", *spec.KubernetesVersion)
	}

	pv := spec.Provisioner
	switch c.ptype {
	case catalog.EKS:
		if pv.Eks != nil {
			c.eks(*pv.Eks)
		}
	case catalog.GKE:
		if pv.Gke != nil {
			c.gke(*pv.Gke)
		}
	case catalog.AKS:
		if pv.Aks != nil {
			c.aks(*pv.Aks)
		}
	case catalog.SelfHosted:
		if pv.SelfHosted != nil {
			c.selfHosted(*pv.SelfHosted)
		}
	}

	c.topology()
	checkTags(errs, "spec.tags", c.where.provider, deref(spec.Tags))
	return errs, warnings
}

// clusterCheck carries what the checks of one spec learn about it.
type clusterCheck struct {
	errs  Errors
	warns Errors
	spec  api.K8sClusterSpec
	ptype string
	// where is the known provider and region; fields are empty when invalid.
	where where
	// typeOK means ptype is a valid provisioner type (whether or not it fits the
	// provider).
	typeOK bool
	// autopilot means a GKE Autopilot cluster.
	autopilot bool
}

func (c *clusterCheck) provider() {
	p := string(c.spec.Provider)
	if p == "" {
		c.errs.addf("spec.provider", "required: aws, gcp or azure")
		return
	}
	if _, ok := catalog.ProviderByID(p); !ok {
		c.errs.addf("spec.provider", "%q is not a provider; use aws, gcp or azure", p)
		return
	}
	c.where.provider = p
}

// provisionerType checks the type, that it fits the provider, and that exactly the
// block it names is present.
func (c *clusterCheck) provisionerType() {
	const path = "spec.provisioner.type"
	switch {
	case c.ptype == "":
		c.errs.addf(path, "required: eks, gke, aks or selfHosted")
	case !isProvisionerType(c.ptype):
		c.errs.addf(path, "%q is not a provisioner type; use eks, gke, aks or selfHosted", c.ptype)
	default:
		c.typeOK = true
		if p, ok := catalog.ProviderByID(c.where.provider); ok && !p.Supports(c.ptype) {
			c.errs.addf(path, "%s does not run on %s; %s runs on %s", c.ptype, p.ID, c.ptype, list(catalog.ProvidersOf(c.ptype), "or"))
		}
	}
	pv := c.spec.Provisioner
	present := map[string]bool{
		catalog.EKS:        pv.Eks != nil,
		catalog.GKE:        pv.Gke != nil,
		catalog.AKS:        pv.Aks != nil,
		catalog.SelfHosted: pv.SelfHosted != nil,
	}
	if !c.typeOK {
		return
	}
	for _, t := range provisionerTypes {
		switch {
		case t == c.ptype && !present[t]:
			c.errs.addf("spec.provisioner."+t, "required for provisioner type %s", t)
		case t != c.ptype && present[t]:
			c.errs.addf("spec.provisioner."+t, "not allowed with provisioner type %s: only the block named by spec.provisioner.type is used", c.ptype)
		}
	}
}

// region checks the region is present (except for gcp selfHosted) and a region of
// the provider.
func (c *clusterCheck) region() {
	const path = "spec.region"
	region := deref(c.spec.Region)
	if region == "" {
		if c.spec.Provider != api.ClusterProviderGcp || c.ptype != catalog.SelfHosted {
			c.errs.addf(path, "required")
		}
		return
	}
	if c.where.provider == "" {
		return
	}
	// The connected account's own catalog settles whether the region exists; when
	// it cannot answer, the static catalog decides as without one.
	var liveKnows bool
	if live := c.where.live; live != nil {
		_, answered, unknown := live.zonesOf(region)
		if unknown {
			c.errs.addf(path, "%q is not a region of %s: the connected %s account's catalog says so (%v)", region, c.where.provider, c.where.provider, live.zonesErr)
			return
		}
		liveKnows = answered
	}
	if _, ok := catalog.Region(c.where.provider, region); !ok {
		if !catalog.LooksLikeRegion(c.where.provider, region) {
			c.errs.addf(path, "%q is not a region of %s (see GET /api/v1/providers/%s/regions)", region, c.where.provider, c.where.provider)
			return
		}
		if !liveKnows {
			c.warns.addf(path, "%q is not in the catalog of %s regions (GET /api/v1/providers/%s/regions), but has the shape of one: the cloud will say whether it exists", region, c.where.provider, c.where.provider)
		}
		c.where.unlisted = true
	}
	c.where.region = region
}

// version checks a Kubernetes version the provisioner supports and, for Autopilot,
// that Autopilot runs it.
func (c *clusterCheck) version(path, v string) {
	if !c.typeOK {
		return
	}
	if live := c.where.live; live != nil && c.ptype != catalog.SelfHosted {
		// The connected account's own list settles it; when it cannot answer, the
		// static catalog decides as without one.
		if ver, ok, offered, answered := live.version(c.ptype, v); answered {
			if !ok {
				c.errs.addf(path, "%s", notOfferedVersion(c.ptype, v, c.where, offered))
			} else if c.autopilot && !ver.AutopilotCompatible {
				c.errs.addf(path, "GKE Autopilot does not run Kubernetes %s", ver.Minor)
			}
			return
		}
	}
	minor, standing := catalog.VersionStanding(c.ptype, v)
	if standing == catalog.Newer {
		c.warns.addf(path, "%s", newerVersion(c.ptype, minor))
		return
	}
	ver, ok := catalog.KubernetesVersion(c.ptype, v)
	if !ok {
		c.errs.addf(path, "%s", unsupportedVersion(c.ptype, v))
		return
	}
	if c.autopilot && !ver.AutopilotCompatible {
		c.errs.addf(path, "GKE Autopilot does not run Kubernetes %s", ver.Minor)
	}
}

// notOfferedVersion explains that the connected account's live catalog does not
// offer v.
func notOfferedVersion(ptype, v string, w where, offered []string) string {
	where := ""
	if w.region != "" {
		where = " in " + w.region
	}
	return fmt.Sprintf("Kubernetes %s is not offered by %s%s: the connected %s account's catalog lists %s", v, ptype, where, w.provider, strings.Join(offered, ", "))
}

// newerVersion explains that minor is newer than the catalog knows.
func newerVersion(ptype, minor string) string {
	vs := catalog.KubernetesVersions(ptype)
	return fmt.Sprintf("Kubernetes %s is newer than every %s version in the catalog (newest %s): the cloud will say whether it runs it", minor, ptype, vs[len(vs)-1].Minor)
}

// unsupportedVersion explains that the provisioner does not support v.
func unsupportedVersion(ptype, v string) string {
	var minors []string
	for _, ver := range catalog.KubernetesVersions(ptype) {
		minors = append(minors, ver.Minor)
	}
	form := `"1.31"`
	if ptype == catalog.GKE {
		form += ` or GKE's "1.31.6-gke.1020000"`
	}
	return fmt.Sprintf("%q is not a supported %s version; supported: %s (write %s)", v, ptype, strings.Join(minors, ", "), form)
}

func (c *clusterCheck) eks(e api.EksProvisioner) {
	const path = "spec.provisioner.eks"
	if !awsAccountID.MatchString(e.AccountId) {
		c.errs.addf(path+".accountId", "must be the 12-digit AWS account ID; got %q", e.AccountId)
	}
	if e.VpcId != nil && !vpcID.MatchString(*e.VpcId) {
		c.errs.addf(path+".vpcId", "%q is not a VPC ID such as vpc-0a1b2c3d4e5f67890", *e.VpcId)
	}
	if e.VpcCIDR != nil {
		if p, fault := parseCIDR(*e.VpcCIDR); fault != "" {
			c.errs.addf(path+".vpcCIDR", "%s", fault)
		} else if p.Bits() < 16 || p.Bits() > 28 {
			c.errs.addf(path+".vpcCIDR", "an AWS VPC's CIDR block is between /16 and /28; got /%d", p.Bits())
		}
	}
	switch {
	case e.VpcId != nil && e.VpcCIDR == nil:
		c.errs.addf(path+".vpcCIDR", "required with vpcId: a bring-your-own VPC names both its ID and its CIDR block")
	case e.VpcId == nil && e.VpcCIDR != nil:
		c.errs.addf(path+".vpcId", "required with vpcCIDR: a bring-your-own VPC names both its ID and its CIDR block")
	}
	if e.AmiFamily != nil && !e.AmiFamily.Valid() {
		c.errs.addf(path+".amiFamily", "%q is not an AMI family; use AL2023, AL2, Bottlerocket or Ubuntu", *e.AmiFamily)
	}
	if e.Subnets != nil {
		c.eksSubnets(path+".subnets", *e.Subnets, e.VpcId != nil)
	}
	checkCredentials(c.errs, path+".credentials", e.Credentials)
}

// eksSubnets checks bring-your-own-VPC subnets: they need vpcId, span at least two
// availability zones of the region, and each is a public or private subnet ID
// listed once.
func (c *clusterCheck) eksSubnets(path string, subnets map[string][]api.EksSubnet, hasVPC bool) {
	if !hasVPC {
		c.errs.addf(path, "subnets need vpcId: they belong to an existing VPC")
	}
	if len(subnets) < 2 {
		c.errs.addf(path, "EKS needs subnets in at least 2 availability zones; got %d", len(subnets))
	}
	var zones []string
	var live bool
	if c.where.provider == catalog.AWS && c.where.region != "" {
		r, _ := catalog.Region(catalog.AWS, c.where.region)
		zones = r.Zones
		if c.where.live != nil {
			// The connected account's own zones settle it; when it cannot answer,
			// the static catalog decides as without one.
			if zs, answered, _ := c.where.live.zonesOf(c.where.region); answered {
				zones, live = zs, true
			}
		}
	}
	first := map[string]string{}
	for _, az := range sortedKeys(subnets) {
		p := join(path, az)
		if zones != nil && !slices.Contains(zones, az) {
			switch {
			case live:
				c.errs.addf(p, "%q is not an availability zone of %s: the connected aws account's catalog lists %s", az, c.where.region, strings.Join(zones, ", "))
			case zoneOfRegion(az, c.where.region):
				c.warns.addf(p, "%q is not in the catalog's zones of %s (%s): the cloud will say whether it exists", az, c.where.region, strings.Join(zones, ", "))
			default:
				c.errs.addf(p, "%q is not an availability zone of %s; its zones are %s", az, c.where.region, strings.Join(zones, ", "))
			}
		}
		if len(subnets[az]) == 0 {
			c.errs.addf(p, "at least one subnet per availability zone")
		}
		for i, s := range subnets[az] {
			sp := join(p, i)
			if s.Type != api.Public && s.Type != api.Private {
				c.errs.addf(join(sp, "type"), "%q is not a subnet type; use public or private", s.Type)
			}
			switch {
			case !subnetID.MatchString(s.Id):
				c.errs.addf(join(sp, "id"), "%q is not a subnet ID such as subnet-0123456789abcdef0", s.Id)
			case first[s.Id] != "":
				c.errs.addf(join(sp, "id"), "%s is listed twice (also %s); a subnet lies in one availability zone", s.Id, first[s.Id])
			default:
				first[s.Id] = join(sp, "id")
			}
		}
	}
}

func (c *clusterCheck) gke(g api.GkeProvisioner) {
	const path = "spec.provisioner.gke"
	if !gcpProjectID.MatchString(g.ProjectId) {
		c.errs.addf(path+".projectId", "%q is not a GCP project ID: 6–30 lowercase letters, digits and '-', starting with a letter and not ending with '-'", g.ProjectId)
	}
	if g.ReleaseChannel != nil && !g.ReleaseChannel.Valid() {
		c.errs.addf(path+".releaseChannel", "%q is not a release channel; use STABLE, REGULAR or RAPID", *g.ReleaseChannel)
	}
	if g.KubernetesVersion != nil {
		c.version(path+".kubernetesVersion", *g.KubernetesVersion)
		outer, ok1 := catalog.NormalizeVersion(catalog.GKE, deref(c.spec.KubernetesVersion))
		inner, ok2 := catalog.NormalizeVersion(catalog.GKE, *g.KubernetesVersion)
		if ok1 && ok2 && outer != inner {
			c.errs.addf(path+".kubernetesVersion", "names Kubernetes %s but spec.kubernetesVersion names %s; set one, or both to the same minor", inner, outer)
		}
	}
	if c.autopilot && g.EnableWorkloadIdentity != nil && !*g.EnableWorkloadIdentity {
		c.errs.addf(path+".enableWorkloadIdentity", "Autopilot clusters always use Workload Identity; it cannot be disabled")
	}
	if g.NetworkId != nil && *g.NetworkId == "" {
		c.errs.addf(path+".networkId", "must not be empty; omit it to create a network")
	}
	if g.Subnet != nil {
		if deref(g.NetworkId) == "" {
			c.errs.addf(path+".subnet", "needs networkId: the subnet belongs to an existing network")
		}
		if g.Subnet.Name == "" {
			c.errs.addf(path+".subnet.name", "required")
		}
	}
	if g.MasterIPv4CidrBlock != nil {
		p, fault := parseCIDR(*g.MasterIPv4CidrBlock)
		switch {
		case fault != "":
			c.errs.addf(path+".masterIPv4CidrBlock", "%s", fault)
		case p.Bits() != 28:
			c.errs.addf(path+".masterIPv4CidrBlock", "the control-plane block must be a /28; got /%d", p.Bits())
		case !isPrivate(p):
			c.errs.addf(path+".masterIPv4CidrBlock", "%s is not private: use RFC 1918 space (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)", p)
		}
	}
	if g.AuthorizedNetworks != nil {
		checkAuthorizedNetworks(c.errs, path+".authorizedNetworks", *g.AuthorizedNetworks)
	}
	checkCredentials(c.errs, path+".credentials", g.Credentials)
}

func (c *clusterCheck) aks(a api.AksProvisioner) {
	const path = "spec.provisioner.aks"
	if a.SubscriptionId == (api.AksProvisioner{}).SubscriptionId {
		c.errs.addf(path+".subscriptionId", "required: the Azure subscription ID, a UUID (az account show --query id -o tsv)")
	}
	switch {
	case a.ResourceGroup == "":
		c.errs.addf(path+".resourceGroup", "required")
	case len([]rune(a.ResourceGroup)) > maxResourceGroup:
		c.errs.addf(path+".resourceGroup", "at most %d characters", maxResourceGroup)
	case !azureResourceGroup.MatchString(a.ResourceGroup):
		c.errs.addf(path+".resourceGroup", "%q is not a resource group name: letters, digits, '_', '-', '.', '(' and ')', not ending with '.'", a.ResourceGroup)
	}
	checkCredentials(c.errs, path+".credentials", a.Credentials)
}

func (c *clusterCheck) selfHosted(s api.SelfHostedProvisioner) {
	const path = "spec.provisioner.selfHosted"
	switch {
	case s.AccountId == "":
		c.errs.addf(path+".accountId", "required: the AWS account ID or GCP project ID hosting the VMs")
	case c.where.provider == catalog.AWS && !awsAccountID.MatchString(s.AccountId):
		c.errs.addf(path+".accountId", "on aws, the 12-digit AWS account ID; got %q", s.AccountId)
	case c.where.provider == catalog.GCP && !gcpProjectID.MatchString(s.AccountId):
		c.errs.addf(path+".accountId", "on gcp, the GCP project ID (6–30 lowercase letters, digits and '-', starting with a letter); got %q", s.AccountId)
	}
	if s.BucketName == "" {
		c.errs.addf(path+".bucketName", "required: the bucket holding the cluster state")
	} else if f := bucketFault(c.where.provider, s.BucketName); f != "" {
		c.errs.addf(path+".bucketName", "%q: %s", s.BucketName, f)
	}
	if s.NetworkId != nil && *s.NetworkId == "" {
		c.errs.addf(path+".networkId", "must not be empty; omit it to create a network")
	}
	checkCredentials(c.errs, path+".credentials", s.Credentials)
}

// checkCredentials checks that static credentials carry data and the others none.
// Messages never echo the data.
func checkCredentials(errs Errors, path string, creds *api.ClusterCredentials) {
	if creds == nil {
		return
	}
	data := deref(creds.Data)
	switch creds.Type {
	case "":
		errs.addf(path+".type", "required: static, dynamic or vault")
	case api.Static:
		if len(data) == 0 {
			errs.addf(path+".data", "static credentials carry the keys in data; it is empty")
		}
		for _, k := range sortedKeys(data) {
			switch {
			case k == "":
				errs.addf(path+".data", "keys must not be empty")
			case data[k] == "":
				errs.addf(join(path+".data", k), "must not be empty")
			}
		}
	case api.Dynamic, api.Vault:
		if len(data) > 0 {
			errs.addf(path+".data", "only static credentials carry data; %s credentials take none", creds.Type)
		}
	default:
		errs.addf(path+".type", "%q is not a credentials type; use static, dynamic or vault", creds.Type)
	}
}

// topology checks spec.clusterSpec: control-plane nodes only for selfHosted; a data
// plane with node groups except on GKE Autopilot, which has none.
func (c *clusterCheck) topology() {
	var cp *api.ClusterControlPlane
	var dp *api.ClusterDataPlane
	if cs := c.spec.ClusterSpec; cs != nil {
		cp, dp = cs.ControlPlane, cs.DataPlane
	}
	if cp != nil {
		const path = "spec.clusterSpec.controlPlane"
		if c.typeOK && c.ptype != catalog.SelfHosted {
			c.errs.addf(path, "only selfHosted clusters have control-plane nodes; %s runs the control plane as a managed service", c.ptype)
		} else {
			g := cp.NodeGroup
			checkName(c.errs, path+".nodeGroup.name", g.Name)
			checkMachineTypes(c.errs, path+".nodeGroup.machineTypes", g.MachineTypes, c.where)
		}
	}

	const path = "spec.clusterSpec.dataPlane"
	switch {
	case c.autopilot && dp != nil:
		c.errs.addf(path, "autopilot clusters have no dataPlane: GKE manages their nodes")
		return
	case c.autopilot:
		return
	case dp == nil:
		c.errs.addf(path, "required: at least one node group (only GKE Autopilot clusters have none)")
		return
	case len(dp.NodeGroups) == 0:
		c.errs.addf(path+".nodeGroups", "at least one node group is required")
		return
	}
	groups := make([]nodeGroup, len(dp.NodeGroups))
	for i, g := range dp.NodeGroups {
		groups[i] = deployGroup(g)
	}
	checkNodeGroups(c.errs, path+".nodeGroups", groups, c.where)

	if c.ptype == catalog.AKS {
		// Azure needs a system pool and does not run it on spot VMs.
		sys, p := dp.NodeGroups[0], path+".nodeGroups.0"
		if sys.InstanceType != nil && *sys.InstanceType == api.Spot {
			c.errs.addf(p+".instanceType", "the first AKS node group is the system pool and must be ondemand: Azure does not run system pools on spot VMs")
		}
		if sys.MinNode < 1 {
			c.errs.addf(p+".minNode", "the first AKS node group is the system pool and needs at least 1 node")
		}
	}
}

// zoneOfRegion reports whether az is named as an AWS availability zone of region is:
// the region's name and one letter.
func zoneOfRegion(az, region string) bool {
	rest, ok := strings.CutPrefix(az, region)
	return ok && len(rest) == 1 && rest[0] >= 'a' && rest[0] <= 'y'
}
