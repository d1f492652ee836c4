package aws

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/astropulse/astroplane/cloud"
)

// Addons are the EKS add-ons every cluster gets, at the default version of its
// Kubernetes minor.
var Addons = []string{"vpc-cni", "coredns", "kube-proxy"}

// CreateControlPlane creates the EKS cluster named after the spec, with the cluster
// role (ClusterRoleName) of the account, the network's subnets, public and private
// endpoint access, API authentication with the creator as cluster admin (the
// kubeconfig's identity), and the spec's tags plus the provider's (cluster, token,
// AMI family). The call's token is the clientRequestToken; a create retried after
// EKS took the first (ResourceInUseException) returns that cluster when its token
// tag matches, and ErrAlreadyExists when a cluster of that name was made otherwise.
func (p *Provider) CreateControlPlane(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec, net cloud.NetworkRef) (cloud.ClusterRef, error) {
	if err := ctx.Err(); err != nil {
		return cloud.ClusterRef{}, err
	}
	if spec.Name == "" {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "an EKS cluster needs a name")
	}
	region := p.regionOf(c, spec.Region)
	cl, account := p.in(region), p.accountID(&spec)
	if account == "" {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "an EKS cluster needs the AWS account ID (for its IAM role)")
	}
	subnets, err := p.subnetsOf(ctx, cl, spec, net)
	if err != nil {
		return cloud.ClusterRef{}, err
	}
	tok := requestToken(c.Token)
	family := "AL2023"
	if spec.EKS != nil && spec.EKS.AMIFamily != "" {
		family = spec.EKS.AMIFamily
	}
	in := &eks.CreateClusterInput{
		Name:               aws.String(spec.Name),
		RoleArn:            aws.String(roleARN(region, account, ClusterRoleName)),
		ClientRequestToken: aws.String(tok),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: subnets, EndpointPublicAccess: aws.Bool(true), EndpointPrivateAccess: aws.Bool(true)},
		AccessConfig: &ekstypes.CreateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap,
			BootstrapClusterCreatorAdminPermissions: aws.Bool(true)},
		Tags: tagsWith(spec.Tags, TagCluster, spec.Name, TagToken, tok, TagAMIFamily, family),
	}
	if spec.KubernetesVersion != "" {
		in.Version = aws.String(spec.KubernetesVersion)
	}
	c.Report(fmt.Sprintf("creating EKS cluster %s (Kubernetes %s) in %s", spec.Name, spec.KubernetesVersion, region))
	out, err := cl.eks.CreateCluster(ctx, in)
	if err == nil {
		return refOf(out.Cluster), nil
	}
	err = classify(err, "create EKS cluster "+spec.Name)
	if !isKind(err, cloud.ErrAlreadyExists) {
		return cloud.ClusterRef{}, err
	}
	got, derr := cl.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(spec.Name)})
	if derr != nil {
		if derr = classify(derr, "describe EKS cluster "+spec.Name); isKind(derr, cloud.ErrNotFound) {
			return cloud.ClusterRef{}, fmt.Errorf("create EKS cluster %s: EKS says it exists but cannot find it (deleted meanwhile?), transient: %v", spec.Name, derr) //nolint:errorlint // %v on purpose: its kind (not found) must not reach the caller
		}
		return cloud.ClusterRef{}, derr
	}
	if got.Cluster.Tags[TagToken] != tok {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrAlreadyExists, "an EKS cluster named %s already exists in %s of account %s (not made by this operation)", spec.Name, region, account)
	}
	c.Report("EKS cluster " + spec.Name + " was created by an earlier attempt")
	return refOf(got.Cluster), nil
}

func refOf(c *ekstypes.Cluster) cloud.ClusterRef {
	ref := cloud.ClusterRef{Provider: "aws", ExternalID: aws.ToString(c.Arn), Endpoint: aws.ToString(c.Endpoint)}
	if c.CreatedAt != nil {
		ref.CreatedAt = c.CreatedAt.UTC()
	}
	return ref
}

// ControlPlaneStatus is the EKS cluster's status: CREATING (and PENDING) is
// StateCreating, ACTIVE and UPDATING StateActive, FAILED and DELETING StateFailed.
func (p *Provider) ControlPlaneStatus(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) (string, error) {
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		return "", cloud.Errorf(cloud.ErrNotFound, "no EKS cluster: the reference is empty")
	}
	out, err := p.in(region).eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		return "", classify(err, "describe EKS cluster "+name)
	}
	switch out.Cluster.Status {
	case ekstypes.ClusterStatusActive, ekstypes.ClusterStatusUpdating:
		return cloud.StateActive, nil
	case ekstypes.ClusterStatusCreating, ekstypes.ClusterStatusPending:
		return cloud.StateCreating, nil
	}
	return cloud.StateFailed, nil
}

// DeleteControlPlane deletes the EKS cluster (its remaining node groups first, which
// EKS requires) and waits until it is gone. An empty reference finds the cluster by
// the create's token tag in the call's region; nothing found, or a cluster already
// gone, is success.
func (p *Provider) DeleteControlPlane(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		region = p.regionOf(c, "")
		found, err := p.findByToken(ctx, p.in(region), requestToken(c.Token))
		if err != nil || found == "" {
			if err == nil {
				c.Report("no EKS cluster was made with this operation's token")
			}
			return err
		}
		name = found
	}
	cl := p.in(region)
	for {
		c.Report("deleting EKS cluster " + name)
		_, err := cl.eks.DeleteCluster(ctx, &eks.DeleteClusterInput{Name: aws.String(name)})
		if err == nil {
			break
		}
		inUse := codeOf(err) == "ResourceInUseException"
		err = classify(err, "delete EKS cluster "+name)
		if isKind(err, cloud.ErrNotFound) {
			c.Report("EKS cluster " + name + " is already gone")
			return nil
		}
		if !inUse {
			return err
		}
		// Node groups still attached: delete them (they go with the cluster anyway).
		groups, lerr := cl.eks.ListNodegroups(ctx, &eks.ListNodegroupsInput{ClusterName: aws.String(name)})
		if lerr != nil {
			return classify(lerr, "list the node groups of EKS cluster "+name)
		}
		if len(groups.Nodegroups) == 0 {
			return err // in use for another reason (an update in progress): transient
		}
		in := c
		in.Region = region // the bare name below is in the cluster's region
		for _, ng := range groups.Nodegroups {
			if err := p.DeleteNodeGroup(ctx, in, cloud.ClusterRef{ExternalID: name}, ng); err != nil {
				return err
			}
		}
	}
	return p.waitGone(ctx, c, "EKS cluster "+name, func() (string, error) {
		out, err := cl.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
		if err != nil {
			return "", err
		}
		return string(out.Cluster.Status), nil
	})
}

// findByToken is the name of the cluster of the region tagged with token; "" when
// none is.
func (p *Provider) findByToken(ctx context.Context, cl *clients, token string) (string, error) {
	pages := eks.NewListClustersPaginator(cl.eks, &eks.ListClustersInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", classify(err, "list EKS clusters")
		}
		for _, name := range page.Clusters {
			out, err := cl.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
			if err != nil {
				if err = classify(err, "describe EKS cluster "+name); isKind(err, cloud.ErrNotFound) {
					continue
				}
				return "", err
			}
			if out.Cluster.Tags[TagToken] == token {
				return name, nil
			}
		}
	}
	return "", nil
}

// waitGone polls describe until it says not found, reporting the resource's status;
// a status ending in FAILED is ErrFailed.
func (p *Provider) waitGone(ctx context.Context, c cloud.Call, what string, describe func() (string, error)) error {
	start := time.Now()
	for {
		status, err := describe()
		if err != nil {
			if err = classify(err, "describe "+what); isKind(err, cloud.ErrNotFound) {
				c.Report(what + " deleted")
				return nil
			}
			return err
		}
		if strings.HasSuffix(status, "FAILED") {
			return cloud.Errorf(cloud.ErrFailed, "%s: deletion ended %s", what, status)
		}
		c.Report(fmt.Sprintf("%s %s for %s", what, status, time.Since(start).Round(time.Second)))
		if err := p.sleep(ctx); err != nil {
			return err
		}
	}
}

// UpgradeControlPlane moves the cluster one minor version up (UpdateClusterVersion)
// and waits for the update. A cluster already at version is done (a retry after the
// update succeeded); a jump of more than one minor, or down, is ErrInvalid.
func (p *Provider) UpgradeControlPlane(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, version string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		return cloud.Errorf(cloud.ErrNotFound, "no EKS cluster to upgrade: the reference is empty")
	}
	cl := p.in(region)
	out, err := cl.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		return classify(err, "describe EKS cluster "+name)
	}
	current := aws.ToString(out.Cluster.Version)
	if current == version {
		c.Report(fmt.Sprintf("EKS cluster %s runs Kubernetes %s already", name, version))
		return nil
	}
	if hop, ok := minorHop(current, version); !ok || hop != 1 {
		return cloud.Errorf(cloud.ErrInvalid, "EKS upgrades one minor version at a time: cluster %s runs %s, asked for %s", name, current, version)
	}
	c.Report(fmt.Sprintf("upgrading EKS cluster %s from %s to %s", name, current, version))
	up, err := cl.eks.UpdateClusterVersion(ctx, &eks.UpdateClusterVersionInput{Name: aws.String(name), Version: aws.String(version),
		ClientRequestToken: aws.String(requestToken(c.Token))})
	if err != nil {
		return classify(err, fmt.Sprintf("upgrade EKS cluster %s to %s", name, version))
	}
	return p.waitUpdate(ctx, c, cl, name, "", "", up.Update, fmt.Sprintf("upgrade of EKS cluster %s to %s", name, version))
}

// minorHop is how many minor versions to is above from ("1.30" → "1.31" is 1).
func minorHop(from, to string) (int, bool) {
	fm, ok1 := minorOf(from)
	tm, ok2 := minorOf(to)
	if !ok1 || !ok2 || !strings.HasPrefix(from, "1.") || !strings.HasPrefix(to, "1.") {
		return 0, false
	}
	return tm - fm, true
}

func minorOf(v string) (int, bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, false
	}
	m, err := strconv.Atoi(parts[1])
	return m, err == nil
}

// waitUpdate polls DescribeUpdate until the EKS update u (of the cluster, or its
// node group or add-on) ends: Successful is done, Failed or Cancelled ErrFailed
// with EKS's reasons.
func (p *Provider) waitUpdate(ctx context.Context, c cloud.Call, cl *clients, cluster, nodegroup, addon string, u *ekstypes.Update, what string) error {
	start := time.Now()
	for {
		switch u.Status {
		case ekstypes.UpdateStatusSuccessful:
			c.Report(what + " done")
			return nil
		case ekstypes.UpdateStatusFailed, ekstypes.UpdateStatusCancelled:
			var reasons []string
			for _, e := range u.Errors {
				reasons = append(reasons, fmt.Sprintf("%s: %s", e.ErrorCode, aws.ToString(e.ErrorMessage)))
			}
			return &cloud.Error{Kind: cloud.ErrFailed, Msg: fmt.Sprintf("%s ended %s: %s", what, u.Status, strings.Join(reasons, "; ")), Code: "UpdateFailed"}
		}
		c.Report(fmt.Sprintf("%s: %s for %s", what, u.Status, time.Since(start).Round(time.Second)))
		if err := p.sleep(ctx); err != nil {
			return err
		}
		in := &eks.DescribeUpdateInput{Name: aws.String(cluster), UpdateId: u.Id}
		if nodegroup != "" {
			in.NodegroupName = aws.String(nodegroup)
		}
		if addon != "" {
			in.AddonName = aws.String(addon)
		}
		out, err := cl.eks.DescribeUpdate(ctx, in)
		if err != nil {
			return classify(err, "describe "+what)
		}
		u = out.Update
	}
}

// UpdateTags makes the EKS cluster's tags tags: it removes the others (except the
// provider's own, TagPrefix, and AWS's, aws:) and sets those that differ.
func (p *Provider) UpdateTags(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, tags map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		return cloud.Errorf(cloud.ErrNotFound, "no EKS cluster to tag: the reference is empty")
	}
	cl := p.in(region)
	out, err := cl.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		return classify(err, "describe EKS cluster "+name)
	}
	arn := out.Cluster.Arn
	var remove []string
	for k := range out.Cluster.Tags {
		if _, keep := tags[k]; !keep && !strings.HasPrefix(k, TagPrefix) && !strings.HasPrefix(k, "aws:") {
			remove = append(remove, k)
		}
	}
	set := map[string]string{}
	for k, v := range tags {
		if cur, ok := out.Cluster.Tags[k]; !ok || cur != v {
			set[k] = v
		}
	}
	c.Report(fmt.Sprintf("tagging EKS cluster %s: %d set, %d removed", name, len(set), len(remove)))
	if len(remove) > 0 {
		if _, err := cl.eks.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: arn, TagKeys: sortedKeys(setOf(remove))}); err != nil {
			return classify(err, "untag EKS cluster "+name)
		}
	}
	if len(set) > 0 {
		if _, err := cl.eks.TagResource(ctx, &eks.TagResourceInput{ResourceArn: arn, Tags: set}); err != nil {
			return classify(err, "tag EKS cluster "+name)
		}
	}
	return nil
}

func setOf(keys []string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// UpdateClusterSettings records the cluster's node image family (EKS settings'
// AMIFamily) as the cluster's TagAMIFamily: node groups created after it take it.
// EKS cannot change a managed node group's AMI type in place, so existing groups keep
// theirs until they are replaced. Settings of another provisioner (GKE) or that
// change nothing are ErrInvalid.
func (p *Provider) UpdateClusterSettings(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, s cloud.ClusterSettings) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.GKE != nil {
		return cloud.Errorf(cloud.ErrInvalid, "GKE settings on an EKS cluster")
	}
	if s.Empty() {
		return cloud.Errorf(cloud.ErrInvalid, "the cluster settings change nothing")
	}
	family := s.EKS.AMIFamily
	if _, err := amiType(family, nil); err != nil {
		return err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		return cloud.Errorf(cloud.ErrNotFound, "no EKS cluster: the reference is empty")
	}
	cl := p.in(region)
	out, err := cl.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		return classify(err, "describe EKS cluster "+name)
	}
	c.Report(fmt.Sprintf("EKS cluster %s: node image family %s for node groups made from now on", name, family))
	if _, err := cl.eks.TagResource(ctx, &eks.TagResourceInput{ResourceArn: out.Cluster.Arn, Tags: map[string]string{TagAMIFamily: family}}); err != nil {
		return classify(err, "record the node image family of EKS cluster "+name)
	}
	return nil
}

// InstallAddons installs Addons at the default version EKS gives the Kubernetes
// minor version, or updates those installed at another version, and waits until
// each is active (DEGRADED is accepted: coredns is until nodes run).
func (p *Provider) InstallAddons(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, version string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		return cloud.Errorf(cloud.ErrNotFound, "no EKS cluster for add-ons: the reference is empty")
	}
	cl := p.in(region)
	for _, addon := range Addons {
		tok := requestToken(c.Token + "-" + addon) // one request token per add-on
		want, err := p.addonVersion(ctx, cl, addon, version)
		if err != nil {
			return err
		}
		what := fmt.Sprintf("add-on %s %s of EKS cluster %s", addon, want, name)
		cur, err := cl.eks.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(name), AddonName: aws.String(addon)})
		if err = classify(err, "describe "+what); err != nil && !isKind(err, cloud.ErrNotFound) {
			return err
		}
		switch {
		case err != nil: // not installed
			c.Report("installing " + what)
			_, err := cl.eks.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String(name), AddonName: aws.String(addon),
				AddonVersion: aws.String(want), ResolveConflicts: ekstypes.ResolveConflictsOverwrite, ClientRequestToken: aws.String(tok)})
			if err = classify(err, "install "+what); err != nil && !isKind(err, cloud.ErrAlreadyExists) {
				return err
			}
		case aws.ToString(cur.Addon.AddonVersion) != want:
			c.Report(fmt.Sprintf("updating %s from %s", what, aws.ToString(cur.Addon.AddonVersion)))
			up, err := cl.eks.UpdateAddon(ctx, &eks.UpdateAddonInput{ClusterName: aws.String(name), AddonName: aws.String(addon),
				AddonVersion: aws.String(want), ResolveConflicts: ekstypes.ResolveConflictsOverwrite, ClientRequestToken: aws.String(tok)})
			if err != nil {
				return classify(err, "update "+what)
			}
			if err := p.waitUpdate(ctx, c, cl, name, "", addon, up.Update, "update of "+what); err != nil {
				return err
			}
		}
		if err := p.waitAddon(ctx, c, cl, name, addon, what); err != nil {
			return err
		}
	}
	return nil
}

// addonVersion is the version of addon EKS gives Kubernetes version by default.
func (p *Provider) addonVersion(ctx context.Context, cl *clients, addon, version string) (string, error) {
	out, err := cl.eks.DescribeAddonVersions(ctx, &eks.DescribeAddonVersionsInput{AddonName: aws.String(addon), KubernetesVersion: aws.String(version)})
	if err != nil {
		return "", classify(err, "versions of add-on "+addon)
	}
	var first string
	for _, a := range out.Addons {
		for _, v := range a.AddonVersions {
			for _, cmp := range v.Compatibilities {
				if aws.ToString(cmp.ClusterVersion) != version {
					continue
				}
				if cmp.DefaultVersion {
					return aws.ToString(v.AddonVersion), nil
				}
				if first == "" {
					first = aws.ToString(v.AddonVersion)
				}
			}
		}
	}
	if first == "" {
		return "", cloud.Errorf(cloud.ErrInvalid, "EKS has no version of add-on %s for Kubernetes %s", addon, version)
	}
	return first, nil
}

func (p *Provider) waitAddon(ctx context.Context, c cloud.Call, cl *clients, cluster, addon, what string) error {
	start := time.Now()
	for {
		out, err := cl.eks.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String(cluster), AddonName: aws.String(addon)})
		if err != nil {
			return classify(err, "describe "+what)
		}
		switch st := out.Addon.Status; st {
		case ekstypes.AddonStatusActive, ekstypes.AddonStatusDegraded:
			c.Report(fmt.Sprintf("%s %s", what, st))
			return nil
		case ekstypes.AddonStatusCreateFailed, ekstypes.AddonStatusUpdateFailed:
			var reasons []string
			if out.Addon.Health != nil {
				for _, is := range out.Addon.Health.Issues {
					reasons = append(reasons, fmt.Sprintf("%s: %s", is.Code, aws.ToString(is.Message)))
				}
			}
			return &cloud.Error{Kind: cloud.ErrFailed, Msg: fmt.Sprintf("%s ended %s: %s", what, st, strings.Join(reasons, "; ")), Code: string(st)}
		default:
			c.Report(fmt.Sprintf("%s %s for %s", what, st, time.Since(start).Round(time.Second)))
		}
		if err := p.sleep(ctx); err != nil {
			return err
		}
	}
}
