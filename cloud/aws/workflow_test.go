package aws_test

import (
	"context"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/awsconnect"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/aws"
	"github.com/astropulse/astroplane/internal/testflow"
	"github.com/astropulse/astroplane/internal/testmoto"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

const secretKey = "moto-secret-key-never-in-history"

// keys gives every account the test's static keys, as the worker's credential
// source would after opening the vault or assuming the connected role.
type keys struct{}

func (keys) Credentials(context.Context, cloud.AccountRef) (cloud.Credentials, error) {
	return cloud.Credentials{Values: map[string]string{aws.CredAccessKeyID: "AKIAWORKFLOW", aws.CredSecretAccessKey: secretKey,
		aws.CredSessionToken: "session-token-never-in-history"}, Expires: time.Now().Add(time.Hour)}, nil
}

// stack is the real workflows and activities (testflow), with aws/eks served by the
// provider against moto behind the proxy.
type stack struct {
	*testflow.Stack
	m *testmoto.Server
	f *fakeAWS
}

func newStack(t *testing.T) *stack {
	t.Helper()
	m := testmoto.Start(t)
	f := newFakeOn(t, m)
	clouds := cloud.NewRegistry(keys{})
	clouds.Register(cloud.Key{Provider: "aws", Provisioner: "eks"}, aws.Factory(aws.Options{Endpoint: f.URL, PollInterval: 5 * time.Millisecond}))
	return &stack{Stack: testflow.Start(t, clouds), m: m, f: f}
}

// noSecrets fails when the histories of ops hold the session's keys or a token.
func (s *stack) noSecrets(ops ...string) {
	s.T.Helper()
	s.NoSecrets(ops, secretKey, "session-token-never-in-history", "k8s-aws-v1.", "X-Amz-Signature")
}

func eksSpec(name, org string) cloud.ClusterSpec {
	return cloud.ClusterSpec{
		Name: name, Provider: "aws", ProvisionerType: "eks", Region: region, AccountID: account, KubernetesVersion: "1.30", CredentialsType: "static",
		Account: cloud.AccountRef{OrgID: org, Provider: "aws", AccountID: account, CredentialsType: "static", VaultRef: "vault-1"},
		EKS:     &cloud.EKSSpec{AccountID: account, AMIFamily: "AL2023"},
		Tags:    map[string]string{"team": "core"},
		NodeGroups: []cloud.NodeGroupSpec{{Name: "default", MinNode: 1, MaxNode: 3, InstanceType: cloud.InstanceOnDemand,
			MachineTypes: []string{"t3.medium"}, Labels: map[string]string{"env": "dev"}}},
	}
}

// TestWorkflowsOnEKS runs deploy → update (a version hop, the node group rolled to
// it, then scaled and relabelled) → delete through the real workflows, activities,
// registry and SDK client against moto, and checks what AWS was asked and what moto
// holds after each. The node group's first create is throttled (retried after
// AWS's Retry-After); it vanishes while its delete runs. Then a deploy over quota
// fails and rolls back.
func TestWorkflowsOnEKS(t *testing.T) {
	s := newStack(t)
	t.Run("DeployUpdateDelete", func(t *testing.T) { s.T = t; lifecycle(t, s) })
	t.Run("DeployOverQuotaRollsBack", func(t *testing.T) { s.T = t; overQuota(t, s) })
}

func lifecycle(t *testing.T, s *stack) {
	f, ctx := s.f, t.Context()
	spec := eksSpec("prod", s.OrgID)
	cl := store.Cluster{ID: store.NewID(), OrgID: s.OrgID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: region, Status: store.ClusterPending}

	f.Fail(op("CreateNodegroup"), 429, "ThrottlingException", "Rate exceeded", "2", 1)
	deployID, err := s.Run(cl, workflows.OpDeploy, "DeployCluster", workflows.DeployClusterInput{Spec: spec})
	require.NoError(t, err, "deploy")
	got := s.Cluster(cl.ID)
	require.Equal(t, store.ClusterReady, got.Status, got.StatusMessage)
	require.Equal(t, "arn:aws:eks:"+region+":"+account+":cluster/prod", got.ExternalID)
	require.True(t, strings.HasPrefix(got.NetworkID, "arn:aws:ec2:"+region+":"+account+":vpc/"), got.NetworkID)
	require.NotEmpty(t, got.Endpoint)
	creates := f.Find("CreateNodegroup")
	require.Len(t, creates, 2, "one throttled create, one retried")
	// Retried after the 2s AWS asked for: not the activity's own first interval
	// (1s), nor the provider's default (5s).
	gap := creates[1].At.Sub(creates[0].At)
	require.GreaterOrEqual(t, gap, 2*time.Second, "the throttled create was retried before AWS's Retry-After")
	require.Less(t, gap, aws.DefaultRetryAfter, "the throttled create waited the default, not AWS's Retry-After")
	require.Len(t, f.Find("CreateCluster"), 1)
	require.Equal(t, deployID+"-control-plane", f.Find("CreateCluster")[0].Body["clientRequestToken"])
	require.Len(t, f.Find("CreateAddon"), 3)
	require.Len(t, f.Find("CreateVpc"), 1)

	proxy := viaProxy(f)
	c, err := proxy.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("prod")})
	require.NoError(t, err)
	require.Equal(t, "1.30", awssdk.ToString(c.Cluster.Version))
	require.Equal(t, "core", c.Cluster.Tags["team"])
	ng, err := proxy.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String("prod"), NodegroupName: awssdk.String("default")})
	require.NoError(t, err)
	require.Equal(t, "1.30", awssdk.ToString(ng.Nodegroup.Version))
	require.Equal(t, "AL2023_x86_64_STANDARD", string(ng.Nodegroup.AmiType))
	require.Equal(t, deployID+"-node-groups-default", ng.Nodegroup.Tags[aws.TagToken])

	// Update: one minor, the node group rolled to it, then scaled and relabelled.
	f.Reset()
	rolled := spec.NodeGroups[0]
	rolled.Version = "1.31"
	scaled := rolled
	scaled.MinNode, scaled.MaxNode = 2, 5
	scaled.Labels = map[string]string{"env": "prod", "tier": "api"}
	ref := cloud.ClusterRef{Provider: "aws", ExternalID: got.ExternalID, Endpoint: got.Endpoint}
	updateID, err := s.Run(got, workflows.OpUpdate, "UpdateCluster", workflows.UpdateClusterInput{Current: spec, Ref: ref, Steps: []workflows.UpdateStep{
		{Name: "1-control-plane-upgrade", Kind: workflows.KindControlPlaneUpgrade, Version: "1.31"},
		{Name: "2-node-group-upgrade", Kind: workflows.KindNodeGroupUpgrade, Version: "1.31", NodeGroup: &rolled},
		{Name: "3-node-group-scale", Kind: workflows.KindNodeGroupScale, NodeGroup: &scaled},
		{Name: "4-addons-upgrade", Kind: workflows.KindAddonsUpgrade, Version: "1.31"},
	}})
	require.NoError(t, err, "update")
	require.Equal(t, []string{"UpdateClusterVersion", "UpdateNodegroupVersion", "UpdateNodegroupConfig", "UpdateAddon", "UpdateAddon", "UpdateAddon"},
		f.Ops("UpdateClusterVersion", "UpdateNodegroupVersion", "UpdateNodegroupConfig", "UpdateAddon"))
	require.Equal(t, updateID+"-1-control-plane-upgrade", f.Find("UpdateClusterVersion")[0].Body["clientRequestToken"])
	cfg := f.Find("UpdateNodegroupConfig")[0].Body
	require.Equal(t, map[string]any{"minSize": 2.0, "maxSize": 5.0, "desiredSize": 2.0}, cfg["scalingConfig"])
	require.Equal(t, map[string]any{"addOrUpdateLabels": map[string]any{"env": "prod", "tier": "api"}}, cfg["labels"])
	c, err = proxy.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("prod")})
	require.NoError(t, err)
	require.Equal(t, "1.31", awssdk.ToString(c.Cluster.Version))
	ng, err = proxy.eks.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: awssdk.String("prod"), NodegroupName: awssdk.String("default")})
	require.NoError(t, err)
	require.Equal(t, "1.31", awssdk.ToString(ng.Nodegroup.Version))
	require.Equal(t, map[string]string{"env": "prod", "tier": "api"}, ng.Nodegroup.Labels)
	require.Equal(t, int32(5), awssdk.ToInt32(ng.Nodegroup.ScalingConfig.MaxSize))
	got = s.Cluster(cl.ID)
	require.Equal(t, store.ClusterReady, got.Status, got.StatusMessage)
	require.Equal(t, "1.31", got.KubernetesVersion)

	// Delete, the node group vanishing under its delete.
	f.Reset()
	f.Vanish("DeleteNodegroup")
	after := spec
	after.KubernetesVersion, after.NodeGroups = "1.31", []cloud.NodeGroupSpec{scaled}
	deleteID, err := s.Run(got, workflows.OpDelete, "DeleteCluster", workflows.DeleteClusterInput{Spec: after, Ref: ref,
		Network: cloud.NetworkRef{ID: got.NetworkID}, CreateOperationID: deployID, PriorStatus: store.ClusterReady})
	require.NoError(t, err, "delete")
	require.Equal(t, store.ClusterDeleted, s.Cluster(cl.ID).Status)
	require.Equal(t, []string{"DeleteNodegroup", "DeleteCluster", "DeleteVpc"}, f.Ops("DeleteNodegroup", "DeleteCluster", "DeleteVpc"))
	s.nothingLeft("prod")
	s.noSecrets(deployID, updateID, deleteID)
	s.allowedByTheConnectTemplate()
}

// allowedByTheConnectTemplate fails when the provider made a call the connected
// account's role (awsconnect's template at level manage) does not allow.
func (s *stack) allowedByTheConnectTemplate() {
	s.T.Helper()
	granted := append(append([]string{}, awsconnect.ReadActions...), awsconnect.ManageActions...)
	granted = append(granted, "sts:GetCallerIdentity") // needs no permission
	for action := range s.f.Actions() {
		ok := false
		for _, g := range granted {
			if prefix, wild := strings.CutSuffix(g, "*"); g == action || wild && strings.HasPrefix(action, prefix) {
				ok = true
			}
		}
		require.True(s.T, ok, "the provider calls %s, which the connect template does not grant", action)
	}
}

// nothingLeft fails when moto holds an EKS cluster, or a VPC of the cluster name.
func (s *stack) nothingLeft(name string) {
	s.T.Helper()
	d := directTo(s.m, region)
	clusters, err := d.eks.ListClusters(s.T.Context(), &eks.ListClustersInput{})
	require.NoError(s.T, err)
	require.Empty(s.T, clusters.Clusters, "EKS clusters left")
	vpcs, err := d.ec2.DescribeVpcs(s.T.Context(), &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: awssdk.String("tag:" + aws.TagCluster), Values: []string{name}}}})
	require.NoError(s.T, err)
	require.Empty(s.T, vpcs.Vpcs, "VPCs left")
	subnets, err := d.ec2.DescribeSubnets(s.T.Context(), &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: awssdk.String("tag:" + aws.TagCluster), Values: []string{name}}}})
	require.NoError(s.T, err)
	require.Empty(s.T, subnets.Subnets, "subnets left")
}

// A deploy refused by a quota fails for good with what to do about it, and rolls
// back: moto holds nothing of the cluster afterwards.
func overQuota(t *testing.T, s *stack) {
	s.f.Reset()
	spec := eksSpec("quota", s.OrgID)
	cl := store.Cluster{ID: store.NewID(), OrgID: s.OrgID, Name: "quota", Provider: "aws", ProvisionerType: "eks", Region: region, Status: store.ClusterPending}
	s.f.Fail(op("CreateNodegroup"), 400, "ResourceLimitExceededException", "Nodegroups limit per cluster exceeded", "", -1)
	deployID, err := s.Run(cl, workflows.OpDeploy, "DeployCluster", workflows.DeployClusterInput{Spec: spec})
	require.Error(t, err)
	require.Len(t, s.f.Find("CreateNodegroup"), 1, "a quota error was retried")
	got := s.Cluster(cl.ID)
	require.Equal(t, store.ClusterFailed, got.Status)
	for _, says := range []string{"ResourceLimitExceededException", "Nodegroups limit per cluster exceeded", "raise the quota"} {
		require.Contains(t, got.StatusMessage, says)
	}
	require.Equal(t, []string{"DeleteCluster", "DeleteVpc"}, s.f.Ops("DeleteCluster", "DeleteVpc"), "rollback")
	s.nothingLeft("quota")
	s.noSecrets(deployID)
}
