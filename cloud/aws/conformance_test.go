package aws_test

import (
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"golang.org/x/time/rate"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/aws"
	"github.com/astropulse/astroplane/cloud/conformance"
	"github.com/astropulse/astroplane/internal/testmoto"
)

const account = "123456789012" // moto's account

// session is a session of moto's account with static keys (moto takes any).
func session() *cloud.Session {
	return &cloud.Session{
		Account:     cloud.AccountRef{OrgID: "org", Provider: "aws", AccountID: account, CredentialsType: "static"},
		Credentials: cloud.Credentials{Values: map[string]string{aws.CredAccessKeyID: "AKIAMOTO", aws.CredSecretAccessKey: "moto-secret"}},
		Limiter:     rate.NewLimiter(rate.Inf, 1),
	}
}

// newProvider is the provider talking to f.
func newProvider(t *testing.T, f *fakeAWS) *aws.Provider {
	t.Helper()
	p, err := aws.New(t.Context(), session(), aws.Options{Endpoint: f.URL, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// direct are SDK clients talking to moto itself (not through the proxy): what the
// test sets up or checks does not show among the provider's requests.
type direct struct {
	eks *eks.Client
	ec2 *ec2.Client
}

func directTo(m *testmoto.Server, region string) direct {
	cfg := awssdk.Config{Region: region, BaseEndpoint: awssdk.String(m.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAMOTO", "moto-secret", "")}
	return direct{eks: eks.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg)}
}

// createCluster makes an EKS cluster in moto directly, on the default VPC's subnets.
func (d direct) createCluster(t *testing.T, name, version string) {
	t.Helper()
	subnets, err := d.ec2.DescribeSubnets(t.Context(), &ec2.DescribeSubnetsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range subnets.Subnets {
		ids = append(ids, awssdk.ToString(s.SubnetId))
	}
	_, err = d.eks.CreateCluster(t.Context(), &eks.CreateClusterInput{Name: awssdk.String(name), Version: awssdk.String(version),
		RoleArn: awssdk.String("arn:aws:iam::" + account + ":role/" + aws.ClusterRoleName), ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: ids}})
	if err != nil {
		t.Fatal(err)
	}
}

// The provider passes the contract's suite against moto behind the proxy. The
// suite's cases that name a control plane "x" find one: the harness makes it.
func TestConformance(t *testing.T) {
	m := testmoto.Start(t)
	var mu sync.Mutex
	fakes := map[cloud.Provider]*fakeAWS{}
	conformance.Run(t, conformance.Harness{
		New: func(t *testing.T) cloud.Provider {
			f := newFakeOn(t, m)
			directTo(m, "us-east-1").createCluster(t, "x", "1.31")
			p := newProvider(t, f)
			mu.Lock()
			fakes[p] = f
			mu.Unlock()
			return p
		},
		Inject: func(t *testing.T, p cloud.Provider, step string, err error) {
			mu.Lock()
			f := fakes[p]
			mu.Unlock()
			f.inject(step, err)
		},
		ActiveWithin: 10 * time.Second,
	})
}
