package motoproxy_test

import (
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/cloud/aws/motoproxy"
	"github.com/astropulse/astroplane/internal/testmoto"
)

// Without recording (a development stack), the proxy still fills what moto lacks:
// a node group takes its cluster's version, version updates show in later
// describes, add-ons install; and it keeps no request.
func TestFillsWhatMotoLacksWithoutRecording(t *testing.T) {
	m := testmoto.Start(t)
	p, err := motoproxy.New(m.URL)
	require.NoError(t, err)
	p.Creating = 0
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: credentials.NewStaticCredentialsProvider("AKIA", "secret", "")}
	ek, ctx := eks.NewFromConfig(cfg), t.Context()
	subnets, err := ec2.NewFromConfig(cfg).DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	require.NoError(t, err)
	ids := []string{aws.ToString(subnets.Subnets[0].SubnetId), aws.ToString(subnets.Subnets[1].SubnetId)}
	_, err = ek.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String("c"), Version: aws.String("1.30"),
		RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: ids}})
	require.NoError(t, err)
	_, err = ek.CreateNodegroup(ctx, &eks.CreateNodegroupInput{ClusterName: aws.String("c"), NodegroupName: aws.String("ng"),
		NodeRole: aws.String("arn:aws:iam::123456789012:role/n"), Subnets: ids})
	require.NoError(t, err)
	ng, err := ek.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("c"), NodegroupName: aws.String("ng")})
	require.NoError(t, err)
	require.Equal(t, "1.30", aws.ToString(ng.Nodegroup.Version))

	up, err := ek.UpdateClusterVersion(ctx, &eks.UpdateClusterVersionInput{Name: aws.String("c"), Version: aws.String("1.31")})
	require.NoError(t, err)
	require.Equal(t, ekstypes.UpdateStatusInProgress, up.Update.Status)
	d, err := ek.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String("c"), UpdateId: up.Update.Id})
	require.NoError(t, err)
	require.Equal(t, ekstypes.UpdateStatusInProgress, d.Update.Status)
	d, err = ek.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String("c"), UpdateId: up.Update.Id})
	require.NoError(t, err)
	require.Equal(t, ekstypes.UpdateStatusSuccessful, d.Update.Status)
	c, err := ek.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c")})
	require.NoError(t, err)
	require.Equal(t, "1.31", aws.ToString(c.Cluster.Version))

	_, err = ek.UpdateNodegroupVersion(ctx, &eks.UpdateNodegroupVersionInput{ClusterName: aws.String("c"), NodegroupName: aws.String("ng")})
	require.NoError(t, err)
	ng, err = ek.DescribeNodegroup(ctx, &eks.DescribeNodegroupInput{ClusterName: aws.String("c"), NodegroupName: aws.String("ng")})
	require.NoError(t, err)
	require.Equal(t, "1.31", aws.ToString(ng.Nodegroup.Version), "a version update without a version takes the cluster's")

	_, err = ek.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("c"), AddonName: aws.String("coredns"), AddonVersion: aws.String("v1.31.0-eksbuild.1")})
	require.NoError(t, err)
	_, err = ek.CreateAddon(ctx, &eks.CreateAddonInput{ClusterName: aws.String("c"), AddonName: aws.String("coredns")})
	require.Error(t, err, "an add-on installed twice")
	_, err = ek.DescribeAddon(ctx, &eks.DescribeAddonInput{ClusterName: aws.String("nope"), AddonName: aws.String("coredns")})
	var nf *ekstypes.ResourceNotFoundException
	require.ErrorAs(t, err, &nf)

	require.Empty(t, p.Ops(), "requests kept without Record")
}
