package aws

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"sigs.k8s.io/yaml"

	"github.com/astropulse/astroplane/cloud"
)

// TokenTTL is how long a kubeconfig's token works: EKS accepts a presigned
// GetCallerIdentity for at most 15 minutes.
const TokenTTL = 15 * time.Minute

// tokenPrefix marks an EKS bearer token (as aws eks get-token makes it).
const tokenPrefix = "k8s-aws-v1." //nolint:gosec // G101: the format's prefix, not a credential

// Kubeconfig returns a kubeconfig for the EKS cluster: its endpoint and CA from
// DescribeCluster, and a bearer token good for TokenTTL — a presigned STS
// GetCallerIdentity URL bound to the cluster by the x-k8s-aws-id header,
// "k8s-aws-v1." + base64url, as aws eks get-token makes it — acting as the
// session's identity (the cluster's creator, admin by the create's access config).
// The file holds a credential: the caller keeps it out of workflow history.
func (p *Provider) Kubeconfig(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	name, region, ok := p.clusterOf(c, ref)
	if !ok {
		return "", cloud.Errorf(cloud.ErrNotFound, "no EKS cluster for a kubeconfig: the reference is empty")
	}
	cl := p.in(region)
	c.Report("fetching the endpoint and CA of EKS cluster " + name)
	out, err := cl.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil {
		return "", classify(err, "describe EKS cluster "+name)
	}
	endpoint := aws.ToString(out.Cluster.Endpoint)
	if endpoint == "" {
		return "", fmt.Errorf("EKS cluster %s has no endpoint yet (status %s)", name, out.Cluster.Status)
	}
	var ca string
	if out.Cluster.CertificateAuthority != nil {
		ca = aws.ToString(out.Cluster.CertificateAuthority.Data)
	}
	token, expires, err := p.token(ctx, cl, name)
	if err != nil {
		return "", err
	}
	return kubeconfigFor(name, endpoint, ca, token, expires)
}

// token is a bearer token for cluster, and when it expires.
func (p *Provider) token(ctx context.Context, cl *clients, cluster string) (string, time.Time, error) {
	signed := time.Now()
	req, err := cl.sts.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(o *sts.Options) {
			o.APIOptions = append(o.APIOptions,
				smithyhttp.AddHeaderValue("x-k8s-aws-id", cluster),
				smithyhttp.AddHeaderValue("X-Amz-Expires", fmt.Sprint(int(TokenTTL.Seconds()))))
		})
	})
	if err != nil {
		return "", time.Time{}, classify(err, "sign a token for EKS cluster "+cluster)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(req.URL)), signed.Add(TokenTTL), nil
}

// kubeconfigFor is the kubeconfig file of one cluster with a bearer token.
func kubeconfigFor(name, endpoint, ca, token string, expires time.Time) (string, error) {
	cluster := map[string]any{"server": endpoint}
	if ca != "" {
		cluster["certificate-authority-data"] = ca
	}
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"clusters":        []any{map[string]any{"name": name, "cluster": cluster}},
		"users":           []any{map[string]any{"name": name, "user": map[string]any{"token": token}}},
		"contexts":        []any{map[string]any{"name": name, "context": map[string]any{"cluster": name, "user": name}}},
		"current-context": name,
		"preferences":     map[string]any{},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("# EKS cluster %s; the token expires at %s\n%s", name, expires.UTC().Format(time.RFC3339), b), nil
}
