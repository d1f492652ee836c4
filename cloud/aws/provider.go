// Package aws is the EKS provider (key aws/eks) of the cloud contract: networks
// (a VPC with public and private subnets in two availability zones, or the
// manifest's own VPC), control planes, managed node groups, add-ons, upgrades and
// token-based kubeconfigs, through aws-sdk-go-v2 (service/eks, service/ec2, and
// sts for the kubeconfig's presigned token).
//
// Every create is idempotent on the call's token: EKS creates carry it as their
// clientRequestToken, and every resource is tagged with it (TagToken), so a
// retried create finds what the first made. Errors are classified where they meet
// the SDK (errors.go): the workflow retries, so the SDK's own retries are off.
//
// References carry their region: a control plane's ExternalID is its EKS cluster
// ARN, a network's ID the VPC's ARN. Tests run the real SDK client against moto
// (internal/testmoto) behind a small wire server of their own.
package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/astropulse/astroplane/cloud"
)

// Keys of cloud.Credentials.Values an AWS session authenticates with: what a
// credential source fills (static keys from the vault, or the temporary keys of an
// assumed role).
const (
	CredAccessKeyID     = "accessKeyId"
	CredSecretAccessKey = "secretAccessKey"
	CredSessionToken    = "sessionToken"
)

// IAM roles the provider passes to EKS, in the cluster's account: the connect
// template creates them (arn:aws:iam::{account}:role/{name}).
const (
	// ClusterRoleName is the EKS cluster service role (AmazonEKSClusterPolicy).
	ClusterRoleName = "AstroEKSClusterRole"
	// NodeRoleName is the node instance role of managed node groups
	// (AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy, AmazonEC2ContainerRegistryReadOnly).
	NodeRoleName = "AstroEKSNodeRole"
)

// Tags the provider puts on what it creates. Tag keys under TagPrefix are its own:
// UpdateTags never removes them.
const (
	TagPrefix = "astroplane.io/"
	// TagCluster is the cluster's name.
	TagCluster = TagPrefix + "cluster"
	// TagToken is the create's idempotency token (hashed when long).
	TagToken = TagPrefix + "token"
	// TagManaged marks a network the provider made (and may delete); a
	// bring-your-own VPC never carries it.
	TagManaged = TagPrefix + "managed"
	// TagRole is a subnet's or route table's role: public or private.
	TagRole = TagPrefix + "role"
	// TagAMIFamily on an EKS cluster records its node image family: node groups
	// created after it take it.
	TagAMIFamily = TagPrefix + "ami-family"
)

// Options configure the provider; the zero value talks to AWS itself.
type Options struct {
	// Endpoint, when set, is the base URL of every AWS service the provider calls
	// (moto, a wire server in tests). Without it the SDK's own resolution applies,
	// which honours AWS_ENDPOINT_URL.
	Endpoint string
	// Region is the region of calls whose reference names none and whose call
	// carries none; default us-east-1.
	Region string
	// PollInterval is how often long calls ask EKS how far they are; default 15s.
	PollInterval time.Duration
	// DefaultCredentials lets a session without credentials use the SDK's default
	// chain (environment, shared config, instance role). Off by default: a session
	// without keys is refused rather than acting as the worker's own identity.
	DefaultCredentials bool
	// HTTPClient, when set, makes every request (tests).
	HTTPClient aws.HTTPClient
}

// Factory returns the cloud.Factory of the aws/eks key:
//
//	r.Register(cloud.Key{Provider: "aws", Provisioner: "eks"}, aws.Factory(aws.Options{}))
func Factory(opts Options) cloud.Factory {
	return func(ctx context.Context, s *cloud.Session) (cloud.Provider, error) { return New(ctx, s, opts) }
}

// Provider is the EKS provider acting in one session's account. It is safe for
// concurrent use; its SDK clients are built per region on first use.
type Provider struct {
	opts    Options
	session *cloud.Session
	base    aws.Config

	mu      sync.Mutex
	regions map[string]*clients
}

var _ cloud.Provider = (*Provider)(nil)

// clients are the SDK clients of one region.
type clients struct {
	eks *eks.Client
	ec2 *ec2.Client
	sts *sts.PresignClient
}

// New builds the provider of s's account. Credentials come from
// s.Credentials.Values (CredAccessKeyID, CredSecretAccessKey, CredSessionToken);
// a session without them is ErrInvalid unless opts.DefaultCredentials.
func New(ctx context.Context, s *cloud.Session, opts Options) (*Provider, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 15 * time.Second
	}
	loads := []func(*config.LoadOptions) error{
		config.WithRegion(opts.Region),
		// The workflow's retry policy retries, after the delay a throttled call asks
		// for; retrying here too would multiply the attempts and hide throttling.
		config.WithRetryMaxAttempts(1),
	}
	v := s.Credentials.Values
	switch {
	case v[CredAccessKeyID] != "" && v[CredSecretAccessKey] != "":
		loads = append(loads, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(
			v[CredAccessKeyID], v[CredSecretAccessKey], v[CredSessionToken])))
	case !opts.DefaultCredentials:
		return nil, cloud.Errorf(cloud.ErrInvalid, "no AWS access keys for %s (the credential source gave none)", s.Account)
	}
	if opts.HTTPClient != nil {
		loads = append(loads, config.WithHTTPClient(opts.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loads...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if opts.Endpoint != "" {
		cfg.BaseEndpoint = aws.String(opts.Endpoint)
	}
	return &Provider{opts: opts, session: s, base: cfg, regions: map[string]*clients{}}, nil
}

// in returns the clients of region (the default region when empty).
func (p *Provider) in(region string) *clients {
	if region == "" {
		region = p.opts.Region
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.regions[region]; c != nil {
		return c
	}
	cfg := p.base.Copy()
	cfg.Region = region
	c := &clients{eks: eks.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg), sts: sts.NewPresignClient(sts.NewFromConfig(cfg))}
	p.regions[region] = c
	return c
}

// regionOf is the region a call acts in: the reference's, else the call's, else
// the default.
func (p *Provider) regionOf(c cloud.Call, fromRef string) string {
	switch {
	case fromRef != "":
		return fromRef
	case c.Region != "":
		return c.Region
	}
	return p.opts.Region
}

// pace waits for the account's rate limiter before an extra call (a poll): the
// registry paces each provider call, the provider its own polls.
func (p *Provider) pace(ctx context.Context) error {
	if p.session == nil || p.session.Limiter == nil {
		return ctx.Err()
	}
	return p.session.Limiter.Wait(ctx)
}

// sleep waits one poll interval, or until ctx is done.
func (p *Provider) sleep(ctx context.Context) error {
	t := time.NewTimer(p.opts.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return p.pace(ctx)
	}
}

// accountID is the AWS account the provider acts in.
func (p *Provider) accountID(spec *cloud.ClusterSpec) string {
	if spec != nil {
		if spec.EKS != nil && spec.EKS.AccountID != "" {
			return spec.EKS.AccountID
		}
		if spec.AccountID != "" {
			return spec.AccountID
		}
	}
	if p.session != nil {
		return p.session.Account.AccountID
	}
	return ""
}

// partition is the ARN partition of region.
func partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// roleARN is the ARN of the IAM role name in account.
func roleARN(region, account, name string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition(region), account, name)
}

// requestToken is what a call's token becomes on the wire: itself when it is a
// short printable token, else a hash of it (EKS and EC2 request tokens are at most
// 64 characters).
func requestToken(token string) string {
	ok := len(token) <= 64
	for _, r := range token {
		if r < 0x21 || r > 0x7e {
			ok = false
		}
	}
	if ok {
		return token
	}
	sum := sha256.Sum256([]byte(token))
	return "astro-" + hex.EncodeToString(sum[:])[:58]
}

// arn is a parsed Amazon Resource Name.
type arn struct {
	Partition, Service, Region, Account, Resource string
}

// parseARN parses s, or reports that it is not an ARN.
func parseARN(s string) (arn, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return arn{}, false
	}
	return arn{Partition: parts[1], Service: parts[2], Region: parts[3], Account: parts[4], Resource: parts[5]}, true
}

// clusterOf is the EKS cluster a reference names (its ARN, or a bare name in the
// call's region) and its region; ok is false for an empty reference.
func (p *Provider) clusterOf(c cloud.Call, ref cloud.ClusterRef) (name, region string, ok bool) {
	if ref.ExternalID == "" {
		return "", "", false
	}
	if a, isARN := parseARN(ref.ExternalID); isARN && a.Service == "eks" && strings.HasPrefix(a.Resource, "cluster/") {
		return strings.TrimPrefix(a.Resource, "cluster/"), a.Region, true
	}
	return ref.ExternalID, p.regionOf(c, ""), true
}

// tagsWith returns the cluster's tags with the provider's own.
func tagsWith(user map[string]string, own ...string) map[string]string {
	out := make(map[string]string, len(user)+len(own)/2)
	for k, v := range user {
		out[k] = v
	}
	for i := 0; i+1 < len(own); i += 2 {
		out[own[i]] = own[i+1]
	}
	return out
}
