package aws_test

import (
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/aws"
	"github.com/astropulse/astroplane/internal/testmoto"
)

const region = "eu-west-1"

func spec(name string) cloud.ClusterSpec {
	return cloud.ClusterSpec{
		Name: name, Provider: "aws", ProvisionerType: "eks", Region: region, AccountID: account, KubernetesVersion: "1.30",
		Account: cloud.AccountRef{OrgID: "org", Provider: "aws", AccountID: account, CredentialsType: "static"},
		EKS:     &cloud.EKSSpec{AccountID: account},
		Tags:    map[string]string{"team": "platform"},
		NodeGroups: []cloud.NodeGroupSpec{{Name: "arm", MinNode: 1, MaxNode: 4, InstanceType: cloud.InstanceSpot, MachineTypes: []string{"m7g.large"},
			Labels: map[string]string{"env": "dev", "tier": "web"}, Taints: []cloud.Taint{{Key: "dedicated", Value: "web", Effect: "NoSchedule"}}}},
	}
}

// progress records a call's progress reports.
type progress struct {
	mu      sync.Mutex
	details []string
}

func (r *progress) call(token string) cloud.Call {
	return cloud.Call{Token: token, Step: "step", Region: region, Progress: func(d string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.details = append(r.details, d)
	}}
}

func (r *progress) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.details)
}

// TestProvider exercises each capability against moto behind the proxy (one moto,
// emptied for each case) and asserts the requests sent and what moto holds.
func TestProvider(t *testing.T) {
	m := testmoto.Start(t)
	t.Run("NetworkIsTwoZonesOfPublicAndPrivateSubnetsMadeOnce", func(t *testing.T) { network(t, m) })
	t.Run("BringYourOwnVPCIsUsedAndKept", func(t *testing.T) { byoVPC(t, m) })
	t.Run("ControlPlaneAndNodeGroupRequests", func(t *testing.T) { controlPlaneAndNodeGroup(t, m) })
	t.Run("NodeGroupUpdateDiffsLabelsTaintsScalingAndRollsVersions", func(t *testing.T) { nodeGroupUpdate(t, m) })
	t.Run("UpgradeOneMinorAtATime", func(t *testing.T) { upgrade(t, m) })
	t.Run("TagsAddonsAndSettings", func(t *testing.T) { tagsAddonsSettings(t, m) })
	t.Run("DeleteByTokenAndVanishedNodeGroup", func(t *testing.T) { deletes(t, m) })
	t.Run("ErrorsAreClassified", func(t *testing.T) { errorsClassified(t, m) })
	t.Run("KubeconfigHasABoundedEKSToken", func(t *testing.T) { kubeconfig(t, m) })
	t.Run("LongTokensAreHashedStably", func(t *testing.T) { longTokens(t, m) })
	t.Run("EndpointFromTheEnvironment", func(t *testing.T) { endpointFromEnv(t, m) })
}

// Without Options.Endpoint the SDK's own resolution applies: AWS_ENDPOINT_URL points
// every client at moto (how the stack runs against moto). A session without keys is
// refused unless the SDK's default chain is allowed.
func endpointFromEnv(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	t.Setenv("AWS_ENDPOINT_URL", f.URL)
	p, err := aws.New(t.Context(), session(), aws.Options{PollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	rec := &progress{}
	_, err = p.CreateNetwork(t.Context(), rec.call("op-env-network"), spec("env"))
	require.NoError(t, err)
	require.NotEmpty(t, f.find("CreateVpc"), "the provider did not call AWS_ENDPOINT_URL")

	_, err = aws.New(t.Context(), &cloud.Session{Account: session().Account}, aws.Options{})
	require.ErrorIs(t, err, cloud.ErrInvalid)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	p, err = aws.New(t.Context(), &cloud.Session{Account: session().Account}, aws.Options{DefaultCredentials: true, PollInterval: 5 * time.Millisecond})
	require.NoError(t, err)
	_, err = p.CreateNetwork(t.Context(), rec.call("op-env-network"), spec("env"))
	require.NoError(t, err)
}

// A token longer than AWS's request tokens (64 characters) goes on the wire as a
// stable hash, by which a retry still finds what the first attempt made.
func longTokens(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	long := "a-very-long-organization-name.a-very-long-cluster-name.deploy.0123456789abcdef-control-plane"
	ref, err := p.CreateControlPlane(ctx, rec.call(long), spec("long"), cloud.NetworkRef{})
	require.NoError(t, err)
	again, err := p.CreateControlPlane(ctx, rec.call(long), spec("long"), cloud.NetworkRef{})
	require.NoError(t, err)
	require.Equal(t, ref, again)
	creates := f.find("CreateCluster")
	require.Len(t, creates, 2)
	tok := creates[0].Body["clientRequestToken"].(string)
	require.LessOrEqual(t, len(tok), 64)
	require.Equal(t, tok, creates[1].Body["clientRequestToken"])
	require.NoError(t, p.DeleteControlPlane(ctx, rec.call(long), cloud.ClusterRef{}))
	clusters, err := directTo(m, region).eks.ListClusters(ctx, &eks.ListClustersInput{})
	require.NoError(t, err)
	require.Empty(t, clusters.Clusters)
}

func network(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	s := spec("net")
	n1, err := p.CreateNetwork(ctx, rec.call("op-1-network"), s)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(n1.ID, "arn:aws:ec2:"+region+":"+account+":vpc/vpc-"), n1.ID)
	require.NotEmpty(t, rec.all())

	d := directTo(m, region)
	vpcID := n1.ID[strings.LastIndex(n1.ID, "/")+1:]
	subnets, err := d.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: awssdk.String("vpc-id"), Values: []string{vpcID}}}})
	require.NoError(t, err)
	require.Len(t, subnets.Subnets, 4)
	byRole := map[string][]string{}
	for _, sn := range subnets.Subnets {
		role := tag(sn.Tags, aws.TagRole)
		byRole[role] = append(byRole[role], awssdk.ToString(sn.AvailabilityZone))
		require.Equal(t, "op-1-network", tag(sn.Tags, aws.TagToken))
		require.Equal(t, "net", tag(sn.Tags, aws.TagCluster))
		require.Equal(t, "platform", tag(sn.Tags, "team"))
		require.Equal(t, role == "public", awssdk.ToBool(sn.MapPublicIpOnLaunch), "subnet %s", role)
	}
	for _, role := range []string{"public", "private"} {
		zones := byRole[role]
		slices.Sort(zones)
		require.Equal(t, []string{region + "a", region + "b"}, zones, role)
	}
	igw, err := d.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: []ec2types.Filter{{Name: awssdk.String("attachment.vpc-id"), Values: []string{vpcID}}}})
	require.NoError(t, err)
	require.Len(t, igw.InternetGateways, 1)
	nats, err := d.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: []ec2types.Filter{{Name: awssdk.String("vpc-id"), Values: []string{vpcID}}}})
	require.NoError(t, err)
	require.Len(t, nats.NatGateways, 1)
	require.Equal(t, ec2types.NatGatewayStateAvailable, nats.NatGateways[0].State)
	require.Equal(t, "op-1-network", f.find("CreateNatGateway")[0].Form.Get("ClientToken"))
	// Public subnets route out through the internet gateway, private ones through the NAT gateway.
	rts, err := d.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{{Name: awssdk.String("vpc-id"), Values: []string{vpcID}}}})
	require.NoError(t, err)
	routed := map[string]string{}
	for _, rt := range rts.RouteTables {
		via := ""
		for _, r := range rt.Routes {
			if awssdk.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" {
				via = awssdk.ToString(r.GatewayId) + awssdk.ToString(r.NatGatewayId)
			}
		}
		for _, a := range rt.Associations {
			if a.SubnetId != nil {
				routed[awssdk.ToString(a.SubnetId)] = via
			}
		}
	}
	for _, sn := range subnets.Subnets {
		want := awssdk.ToString(igw.InternetGateways[0].InternetGatewayId)
		if tag(sn.Tags, aws.TagRole) == "private" {
			want = awssdk.ToString(nats.NatGateways[0].NatGatewayId)
		}
		require.Equal(t, want, routed[awssdk.ToString(sn.SubnetId)], "route of the %s subnet", tag(sn.Tags, aws.TagRole))
	}

	// A retry with the token makes nothing new; another token another network.
	makes := []string{"CreateVpc", "CreateSubnet", "CreateInternetGateway", "CreateRouteTable", "AllocateAddress", "CreateNatGateway", "AssociateRouteTable"}
	creates := len(f.ops(makes...))
	n2, err := p.CreateNetwork(ctx, rec.call("op-1-network"), s)
	require.NoError(t, err)
	require.Equal(t, n1, n2)
	require.Len(t, f.ops(makes...), creates, "a retry created again")

	// A network whose create never returned is found by the create's token.
	n3, err := p.CreateNetwork(ctx, rec.call("op-3-network"), s)
	require.NoError(t, err)
	require.NotEqual(t, n1, n3)
	require.NoError(t, p.DeleteNetwork(ctx, rec.call("op-3-network"), cloud.NetworkRef{}))
	_, err = directTo(m, region).ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{n3.ID[strings.LastIndex(n3.ID, "/")+1:]}})
	require.Error(t, err, "the interrupted create's VPC is still there")
	f.reset()

	// Delete takes everything back, in reverse order; twice is fine.
	require.NoError(t, p.DeleteNetwork(ctx, rec.call("op-2-delete-network"), n1))
	require.NoError(t, p.DeleteNetwork(ctx, rec.call("op-2-delete-network"), n1))
	order := f.ops("DeleteNatGateway", "ReleaseAddress", "DeleteRouteTable", "DeleteSubnet", "DeleteInternetGateway", "DeleteVpc")
	require.Equal(t, []string{"DeleteNatGateway", "ReleaseAddress", "DeleteRouteTable", "DeleteRouteTable",
		"DeleteSubnet", "DeleteSubnet", "DeleteSubnet", "DeleteSubnet", "DeleteInternetGateway", "DeleteVpc"}, order)
	addrs, err := d.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	require.NoError(t, err)
	require.Empty(t, addrs.Addresses, "elastic IPs left")
	vpcs, err := d.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: awssdk.String("tag:" + aws.TagCluster), Values: []string{"net"}}}})
	require.NoError(t, err)
	require.Empty(t, vpcs.Vpcs)
}

func byoVPC(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	d := directTo(m, region)
	vpc, err := d.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: awssdk.String("172.20.0.0/16")})
	require.NoError(t, err)
	id := awssdk.ToString(vpc.Vpc.VpcId)
	s := spec("byo")
	s.EKS.VPCID = id
	net, err := p.CreateNetwork(ctx, rec.call("op-1-network"), s)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(net.ID, "/"+id), net.ID)
	require.Empty(t, f.ops("CreateVpc", "CreateSubnet", "ModifyVpcAttribute"), "the manifest's VPC was changed")
	require.NoError(t, p.DeleteNetwork(ctx, rec.call("op-2"), net))
	require.Empty(t, f.ops("DeleteVpc", "DeleteSubnet"))
	_, err = d.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{VpcIds: []string{id}})
	require.NoError(t, err, "the manifest's VPC is gone")

	s.EKS.VPCID = "vpc-0000000000000000"
	_, err = p.CreateNetwork(ctx, rec.call("op-3-network"), s)
	require.ErrorIs(t, err, cloud.ErrInvalid)
	require.Contains(t, err.Error(), "vpc-0000000000000000 does not exist")
}

func controlPlaneAndNodeGroup(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	s := spec("cp")
	net, err := p.CreateNetwork(ctx, rec.call("op-1-network"), s)
	require.NoError(t, err)
	ref, err := p.CreateControlPlane(ctx, rec.call("op-1-control-plane"), s, net)
	require.NoError(t, err)
	require.Equal(t, "arn:aws:eks:"+region+":"+account+":cluster/cp", ref.ExternalID)
	require.NotEmpty(t, ref.Endpoint)

	creates := f.find("CreateCluster")
	require.Len(t, creates, 1)
	body := creates[0].Body
	require.Equal(t, "op-1-control-plane", body["clientRequestToken"])
	require.Equal(t, "arn:aws:iam::"+account+":role/"+aws.ClusterRoleName, body["roleArn"])
	require.Equal(t, "1.30", body["version"])
	require.Len(t, body["resourcesVpcConfig"].(map[string]any)["subnetIds"], 4)
	tags := body["tags"].(map[string]any)
	require.Equal(t, "platform", tags["team"])
	require.Equal(t, "op-1-control-plane", tags[aws.TagToken])

	// The proxy shows it CREATING twice, then ACTIVE.
	var states []string
	for len(states) < 5 {
		st, err := p.ControlPlaneStatus(ctx, rec.call("op-1-wait-active"), ref)
		require.NoError(t, err)
		states = append(states, st)
		if st == cloud.StateActive {
			break
		}
	}
	require.Equal(t, []string{cloud.StateCreating, cloud.StateCreating, cloud.StateActive}, states)

	// Retried with its token: the same cluster; by another operation: already exists.
	again, err := p.CreateControlPlane(ctx, rec.call("op-1-control-plane"), s, net)
	require.NoError(t, err)
	require.Equal(t, ref, again)
	_, err = p.CreateControlPlane(ctx, rec.call("op-9-control-plane"), s, net)
	require.ErrorIs(t, err, cloud.ErrAlreadyExists)

	ngRec := &progress{}
	require.NoError(t, p.CreateNodeGroup(ctx, ngRec.call("op-1-node-groups-arm"), ref, s.NodeGroups[0]))
	ngs := f.find("CreateNodegroup")
	require.Len(t, ngs, 1)
	ng := ngs[0].Body
	require.Equal(t, "arm", ng["nodegroupName"])
	require.Equal(t, "SPOT", ng["capacityType"])
	require.Equal(t, "AL2023_ARM_64_STANDARD", ng["amiType"])
	require.Equal(t, []any{"m7g.large"}, ng["instanceTypes"])
	require.Equal(t, map[string]any{"minSize": 1.0, "maxSize": 4.0, "desiredSize": 1.0}, ng["scalingConfig"])
	require.Equal(t, map[string]any{"env": "dev", "tier": "web"}, ng["labels"])
	require.Equal(t, []any{map[string]any{"key": "dedicated", "value": "web", "effect": "NO_SCHEDULE"}}, ng["taints"])
	require.Equal(t, "arn:aws:iam::"+account+":role/"+aws.NodeRoleName, ng["nodeRole"])
	require.Equal(t, "op-1-node-groups-arm", ng["clientRequestToken"])
	private, err := directTo(m, region).ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		{Name: awssdk.String("tag:" + aws.TagRole), Values: []string{"private"}}, {Name: awssdk.String("tag:" + aws.TagCluster), Values: []string{"cp"}}}})
	require.NoError(t, err)
	var privateIDs []any
	for _, sn := range private.Subnets {
		privateIDs = append(privateIDs, awssdk.ToString(sn.SubnetId))
	}
	require.Len(t, privateIDs, 2)
	require.ElementsMatch(t, privateIDs, ng["subnets"], "node groups run in the network's private subnets")
	// Polled until ACTIVE (two CREATING answers), reporting each.
	require.GreaterOrEqual(t, len(f.find("DescribeNodegroup")), 3)
	require.Contains(t, strings.Join(ngRec.all(), "\n"), "node group arm CREATING")
	require.Contains(t, strings.Join(ngRec.all(), "\n"), "node group arm ACTIVE")

	// A retry with its token waits for the same group; the node group lives in moto.
	require.NoError(t, p.CreateNodeGroup(ctx, ngRec.call("op-1-node-groups-arm"), ref, s.NodeGroups[0]))
	err = p.CreateNodeGroup(ctx, ngRec.call("op-7-node-groups-arm"), ref, s.NodeGroups[0])
	require.ErrorIs(t, err, cloud.ErrAlreadyExists)
	got, err := directTo(m, region).eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String("cp"), NodegroupName: awssdk.String("arm")})
	require.NoError(t, err)
	require.Equal(t, "dev", got.Nodegroup.Labels["env"])
}

func nodeGroupUpdate(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	s := spec("upd")
	ref, err := p.CreateControlPlane(ctx, rec.call("op-1-control-plane"), s, cloud.NetworkRef{})
	require.NoError(t, err)
	ng := s.NodeGroups[0]
	require.NoError(t, p.CreateNodeGroup(ctx, rec.call("op-1-node-groups-arm"), ref, ng))

	// Scaling, a label changed, one removed, one added; the taint's value changed
	// and another added; a rollout bound.
	ng.MinNode, ng.MaxNode = 2, 6
	ng.Labels = map[string]string{"env": "prod", "zone": "a"}
	ng.Taints = []cloud.Taint{{Key: "dedicated", Value: "api", Effect: "NoSchedule"}, {Key: "spot", Effect: "PreferNoSchedule"}}
	ng.Rollout = &cloud.Rollout{MaxUnavailable: "25%"}
	require.NoError(t, p.UpdateNodeGroup(ctx, rec.call("op-2-scale"), ref, ng, false, 0))
	ups := f.find("UpdateNodegroupConfig")
	require.Len(t, ups, 1)
	b := ups[0].Body
	require.Equal(t, map[string]any{"addOrUpdateLabels": map[string]any{"env": "prod", "zone": "a"}, "removeLabels": []any{"tier"}}, b["labels"])
	require.ElementsMatch(t, []any{
		map[string]any{"key": "dedicated", "value": "api", "effect": "NO_SCHEDULE"},
		map[string]any{"key": "spot", "effect": "PREFER_NO_SCHEDULE"},
	}, b["taints"].(map[string]any)["addOrUpdateTaints"])
	require.Equal(t, map[string]any{"minSize": 2.0, "maxSize": 6.0, "desiredSize": 2.0}, b["scalingConfig"])
	require.Equal(t, map[string]any{"maxUnavailablePercentage": 25.0}, b["updateConfig"])
	require.Empty(t, f.find("UpdateNodegroupVersion"), "a config change rolled the nodes")
	got, err := directTo(m, region).eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String("upd"), NodegroupName: awssdk.String("arm")})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"env": "prod", "zone": "a"}, got.Nodegroup.Labels)
	require.Equal(t, int32(6), awssdk.ToInt32(got.Nodegroup.ScalingConfig.MaxSize))

	// The same again changes nothing; a version moves the nodes, polled to the end.
	require.NoError(t, p.UpdateNodeGroup(ctx, rec.call("op-3"), ref, ng, false, 0))
	require.Len(t, f.find("UpdateNodegroupConfig"), 1)
	ng.Version = "1.31"
	require.NoError(t, p.UpdateNodeGroup(ctx, rec.call("op-4-node-group-upgrade"), ref, ng, true, 0))
	vs := f.find("UpdateNodegroupVersion")
	require.Len(t, vs, 1)
	require.Equal(t, "1.31", vs[0].Body["version"])
	require.NotEmpty(t, f.find("DescribeUpdate"), "the rollout was not polled")
	got, err = viaProxy(f).eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String("upd"), NodegroupName: awssdk.String("arm")})
	require.NoError(t, err)
	require.Equal(t, "1.31", awssdk.ToString(got.Nodegroup.Version))

	// Replace without a version rolls to the latest AMI release of the same version.
	ng.Version = ""
	require.NoError(t, p.UpdateNodeGroup(ctx, rec.call("op-5-node-group-replace"), ref, ng, true, 0))
	require.Len(t, f.find("UpdateNodegroupVersion"), 2)
	require.Nil(t, f.find("UpdateNodegroupVersion")[1].Body["version"])

	// An update that EKS says failed is ErrFailed with its reasons.
	f.fail(op("UpdateNodegroupVersion"), 404, "ResourceNotFoundException", "No node group found for name: arm.", "", 1)
	err = p.UpdateNodeGroup(ctx, rec.call("op-6"), ref, ng, true, 0)
	require.ErrorIs(t, err, cloud.ErrNotFound)
}

// viaProxy are SDK clients talking to the proxy (what the provider sees).
func viaProxy(f *fakeAWS) direct {
	cfg := awssdk.Config{Region: region, BaseEndpoint: awssdk.String(f.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAMOTO", "moto-secret", "")}
	return direct{eks: eks.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg)}
}

func upgrade(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	ref, err := p.CreateControlPlane(ctx, rec.call("op-1-control-plane"), spec("up"), cloud.NetworkRef{})
	require.NoError(t, err)

	err = p.UpgradeControlPlane(ctx, rec.call("op-2-hop"), ref, "1.32")
	require.ErrorIs(t, err, cloud.ErrInvalid, "two minors at once")
	require.Empty(t, f.find("UpdateClusterVersion"))

	require.NoError(t, p.UpgradeControlPlane(ctx, rec.call("op-2-1-control-plane-upgrade"), ref, "1.31"))
	ups := f.find("UpdateClusterVersion")
	require.Len(t, ups, 1)
	require.Equal(t, "1.31", ups[0].Body["version"])
	require.Equal(t, "op-2-1-control-plane-upgrade", ups[0].Body["clientRequestToken"])
	require.NotEmpty(t, f.find("DescribeUpdate"))
	got, err := viaProxy(f).eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("up")})
	require.NoError(t, err)
	require.Equal(t, "1.31", awssdk.ToString(got.Cluster.Version))

	// Retried after it succeeded: nothing more to do.
	require.NoError(t, p.UpgradeControlPlane(ctx, rec.call("op-2-1-control-plane-upgrade"), ref, "1.31"))
	require.Len(t, f.find("UpdateClusterVersion"), 1)
	require.Contains(t, strings.Join(rec.all(), "\n"), "runs Kubernetes 1.31 already")
}

func tagsAddonsSettings(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	ref, err := p.CreateControlPlane(ctx, rec.call("op-1-control-plane"), spec("tags"), cloud.NetworkRef{})
	require.NoError(t, err)

	require.NoError(t, p.UpdateTags(ctx, rec.call("op-2-tags"), ref, map[string]string{"owner": "sre"}))
	d := directTo(m, region)
	got, err := d.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("tags")})
	require.NoError(t, err)
	require.Equal(t, "sre", got.Cluster.Tags["owner"])
	require.NotContains(t, got.Cluster.Tags, "team", "a tag the update dropped stayed")
	require.Equal(t, "op-1-control-plane", got.Cluster.Tags[aws.TagToken], "the provider's own tag was removed")

	require.NoError(t, p.InstallAddons(ctx, rec.call("op-1-addons"), ref, "1.30"))
	var names []string
	for _, r := range f.find("CreateAddon") {
		names = append(names, r.Body["addonName"].(string))
		require.Equal(t, "v1.30.0-eksbuild.1", r.Body["addonVersion"])
		require.Equal(t, "OVERWRITE", r.Body["resolveConflicts"])
	}
	require.Equal(t, aws.Addons, names)
	// Installing again for the next minor updates each add-on.
	require.NoError(t, p.InstallAddons(ctx, rec.call("op-2-addons-upgrade"), ref, "1.31"))
	require.Len(t, f.find("UpdateAddon"), 3)
	require.Len(t, f.find("CreateAddon"), 3)

	require.NoError(t, p.UpdateClusterSettings(ctx, rec.call("op-3-settings"), ref, cloud.ClusterSettings{EKS: &cloud.EKSSettings{AMIFamily: "Bottlerocket"}}))
	got, err = d.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("tags")})
	require.NoError(t, err)
	require.Equal(t, "Bottlerocket", got.Cluster.Tags[aws.TagAMIFamily])
	// Node groups made from now on take it.
	require.NoError(t, p.CreateNodeGroup(ctx, rec.call("op-4-ng"), ref, cloud.NodeGroupSpec{Name: "br", MinNode: 1, MaxNode: 2, MachineTypes: []string{"c6i.large"}}))
	require.Equal(t, "BOTTLEROCKET_x86_64", f.find("CreateNodegroup")[0].Body["amiType"])
	err = p.UpdateClusterSettings(ctx, rec.call("op-5"), ref, cloud.ClusterSettings{EKS: &cloud.EKSSettings{AMIFamily: "Ubuntu"}})
	require.ErrorIs(t, err, cloud.ErrInvalid)
	require.Contains(t, err.Error(), "launch template")
}

func deletes(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	s := spec("del")
	ref, err := p.CreateControlPlane(ctx, rec.call("op-1-control-plane"), s, cloud.NetworkRef{})
	require.NoError(t, err)
	require.NoError(t, p.CreateNodeGroup(ctx, rec.call("op-1-node-groups-a"), ref, cloud.NodeGroupSpec{Name: "a", MinNode: 1, MaxNode: 2}))
	require.NoError(t, p.CreateNodeGroup(ctx, rec.call("op-1-node-groups-b"), ref, cloud.NodeGroupSpec{Name: "b", MinNode: 1, MaxNode: 2}))

	// A node group someone deleted a moment before: its delete is a success.
	f.vanish("DeleteNodegroup")
	require.NoError(t, p.DeleteNodeGroup(ctx, rec.call("op-2-delete"), ref, "a"))
	d := directTo(m, region)
	groups, err := d.eks.ListNodegroups(ctx, &eks.ListNodegroupsInput{ClusterName: awssdk.String("del")})
	require.NoError(t, err)
	require.Equal(t, []string{"b"}, groups.Nodegroups)

	// A rollback whose create never returned a reference finds the cluster by the
	// create's token in the call's region, and deletes its node groups first.
	require.NoError(t, p.DeleteControlPlane(ctx, rec.call("op-1-control-plane"), cloud.ClusterRef{}))
	clusters, err := d.eks.ListClusters(ctx, &eks.ListClustersInput{})
	require.NoError(t, err)
	require.Empty(t, clusters.Clusters)
	require.Contains(t, f.ops("DeleteNodegroup", "DeleteCluster"), "DeleteNodegroup")
	// Gone is gone.
	require.NoError(t, p.DeleteControlPlane(ctx, rec.call("op-1-control-plane"), ref))
	require.NoError(t, p.DeleteNodeGroup(ctx, rec.call("op-2-delete"), ref, "b"))
}

func errorsClassified(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	ref, err := p.CreateControlPlane(ctx, rec.call("op-1-control-plane"), spec("err"), cloud.NetworkRef{})
	require.NoError(t, err)
	ng := cloud.NodeGroupSpec{Name: "ng", MinNode: 1, MaxNode: 2, MachineTypes: []string{"t3.large"}}
	cases := []struct {
		status                int
		code, msg, retryAfter string
		kind                  error
		wait                  time.Duration
		says                  string
	}{
		{429, "ThrottlingException", "Rate exceeded", "12", cloud.ErrThrottled, 12 * time.Second, "slow down"},
		{429, "TooManyRequestsException", "Too many", "", cloud.ErrThrottled, aws.DefaultRetryAfter, "slow down"},
		{400, "ResourceLimitExceededException", "Nodegroup limit exceeded", "", cloud.ErrQuotaExceeded, 0, "raise the quota"},
		{400, "VcpuLimitExceeded", "You have requested more vCPU capacity", "", cloud.ErrQuotaExceeded, 0, "Service Quotas"},
		{403, "AccessDeniedException", "User is not authorized", "", cloud.ErrInvalid, 0, "eks:CreateNodegroup"},
		{400, "InvalidParameterException", "Instance type t3.huge is not supported", "", cloud.ErrInvalid, 0, "t3.huge"},
		{404, "ResourceNotFoundException", "No cluster found", "", cloud.ErrNotFound, 0, "not found"},
		{409, "ResourceInUseException", "NodeGroup already exists with name ng", "", nil, 0, "cannot find it"},
		{400, "UnsupportedAvailabilityZoneException", "No capacity", "", cloud.ErrFailed, 0, "cannot do it there"},
		{500, "ServerException", "Internal error", "", nil, 0, "transient"},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			ft := f.fail(op("CreateNodegroup"), tc.status, tc.code, tc.msg, tc.retryAfter, 1)
			err := p.CreateNodeGroup(ctx, rec.call("op-err-"+tc.code), ref, ng)
			require.Equal(t, 1, ft.hits)
			require.Error(t, err)
			require.Equal(t, tc.kind, cloud.KindOf(err), "%v", err)
			require.Contains(t, err.Error(), tc.says)
			if tc.kind == nil {
				return
			}
			var ce *cloud.Error
			require.True(t, errors.As(err, &ce))
			require.Equal(t, tc.code, ce.Code)
			if d, ok := cloud.RetryAfter(err); ok {
				require.Equal(t, tc.wait, d)
			}
		})
	}
	// EC2's codes too: a quota on VPCs.
	f.fail(op("CreateVpc"), 400, "VpcLimitExceeded", "The maximum number of VPCs has been reached.", "", 1)
	_, err = p.CreateNetwork(ctx, rec.call("op-net"), spec("err"))
	require.ErrorIs(t, err, cloud.ErrQuotaExceeded)
	require.Contains(t, err.Error(), "VpcLimitExceeded")
	// Invalid specs never reach AWS.
	before := len(f.ops())
	err = p.CreateNodeGroup(ctx, rec.call("op-bad"), ref, cloud.NodeGroupSpec{Name: "bad", MinNode: 1, MaxNode: 2, Taints: []cloud.Taint{{Key: "k", Effect: "Sometimes"}}})
	require.ErrorIs(t, err, cloud.ErrInvalid)
	require.Len(t, f.ops(), before)
}

func kubeconfig(t *testing.T, m *testmoto.Server) {
	f := newFakeOn(t, m)
	p, ctx, rec := newProvider(t, f), t.Context(), &progress{}
	ref, err := p.CreateControlPlane(ctx, rec.call("op-1-control-plane"), spec("kc"), cloud.NetworkRef{})
	require.NoError(t, err)
	kc, err := p.Kubeconfig(ctx, rec.call("op-1-kubeconfig"), ref)
	require.NoError(t, err)
	var cfg struct {
		Clusters []struct {
			Cluster map[string]string
		}
		Users []struct {
			User map[string]string
		}
		CurrentContext string `json:"current-context"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(kc), &cfg))
	d, err := directTo(m, region).eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("kc")})
	require.NoError(t, err)
	require.Equal(t, awssdk.ToString(d.Cluster.Endpoint), cfg.Clusters[0].Cluster["server"])
	require.Equal(t, awssdk.ToString(d.Cluster.CertificateAuthority.Data), cfg.Clusters[0].Cluster["certificate-authority-data"])
	require.Equal(t, "kc", cfg.CurrentContext)

	token := cfg.Users[0].User["token"]
	enc, ok := strings.CutPrefix(token, "k8s-aws-v1.")
	require.True(t, ok, token)
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	require.NoError(t, err)
	u, err := url.Parse(string(raw))
	require.NoError(t, err)
	q := u.Query()
	require.Equal(t, "GetCallerIdentity", q.Get("Action"))
	require.Equal(t, "900", q.Get("X-Amz-Expires"), "a token good for 15 minutes")
	require.Contains(t, q.Get("X-Amz-SignedHeaders"), "x-k8s-aws-id")
	require.Contains(t, q.Get("X-Amz-Credential"), region+"/sts/aws4_request")
	require.NotEmpty(t, q.Get("X-Amz-Signature"))
	require.NotContains(t, kc, "moto-secret", "the kubeconfig carries the secret key")
}

func tag(tags []ec2types.Tag, key string) string {
	for _, t := range tags {
		if awssdk.ToString(t.Key) == key {
			return awssdk.ToString(t.Value)
		}
	}
	return ""
}
