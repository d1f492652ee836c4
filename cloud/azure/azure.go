// Package azure is the AKS provider: the cloud.Provider contract on Azure Resource
// Manager through the official SDK — azcore's pipeline and pollers,
// armcontainerservice/v6 (managed clusters, agent pools) and armresources (the
// resource group).
//
// What it makes, and how a retried call finds it again:
//
//   - Network: the resource group AKSSpec.ResourceGroup, created in the cluster's
//     region if it does not exist, tagged astro-token with the create's token. A
//     group that existed is used as it is and never deleted (its NetworkRef says
//     "existing:"); a group we created is deleted with the cluster, unless it holds
//     resources we did not make. The cluster's VNet is AKS's own managed VNet (in the
//     node resource group AKS creates and deletes with the cluster): no VNet of ours.
//   - Control plane: a managed cluster (identity SystemAssigned, RBAC on) whose system
//     agent pool is the first node group; CreateControlPlane returns once Azure has
//     accepted the PUT and ControlPlaneStatus maps its provisioningState. It carries
//     the tag astro-token: a create retried with the same token returns the cluster it
//     finds, and a cluster of that name without our token is ErrAlreadyExists.
//   - Node groups: agent pools (labels, taints, spot, autoscaling, VM size,
//     orchestrator version, max surge), created and changed by polling Azure's
//     long-running operations with progress reports.
//
// Errors: Azure's answers (azcore.ResponseError: HTTP status and error code) become
// cloud's typed errors in classify. Throttling (429) is not retried by the SDK: it is
// returned as ErrThrottled with the Retry-After Azure asked for, so the activity's
// retry waits that long.
package azure

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azcloud "github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	"golang.org/x/time/rate"

	"github.com/astropulse/astroplane/cloud"
)

// Keys of cloud.Credentials.Values the provider reads. Either an access token for
// Azure Resource Manager (obtained by federation; ExpiresOn, or Credentials.Expires,
// says until when), or a service principal's tenant, client ID and secret.
const (
	CredAccessToken  = "accessToken"
	CredExpiresOn    = "expiresOn" // RFC 3339
	CredTenantID     = "tenantId"
	CredClientID     = "clientId"
	CredClientSecret = "clientSecret"
)

// Tags the provider sets on what it creates.
const (
	// TagToken is the token of the call that created the resource.
	TagToken = "astro-token"
	// TagCluster names the cluster a resource belongs to.
	TagCluster = "astro-cluster"
	// TagPool marks the agent pool created with the control plane (value "system").
	TagPool = "astro-pool"
)

// Options configure the provider. The zero value talks to Azure's public cloud.
type Options struct {
	// Transport carries the HTTP requests; nil = azcore's default. Tests plug the
	// SDK's fake servers in here.
	Transport policy.Transporter
	// Endpoint is the Resource Manager endpoint; empty = Azure's public cloud.
	Endpoint string
	// Credential replaces the credential built from the session's values.
	Credential azcore.TokenCredential
	// PollInterval is how often long-running operations are polled; zero = 10s.
	PollInterval time.Duration
}

// Provider manages AKS clusters in one Azure subscription (the session's account).
// It is safe for concurrent use.
type Provider struct {
	sub  string
	cred azcore.TokenCredential
	opts *arm.ClientOptions
	poll time.Duration
	lim  *rate.Limiter

	mu      sync.Mutex
	clients map[string]*clients // by subscription
}

var _ cloud.Provider = (*Provider)(nil)

type clients struct {
	clusters  *armcontainerservice.ManagedClustersClient
	pools     *armcontainerservice.AgentPoolsClient
	groups    *armresources.ResourceGroupsClient
	resources *armresources.Client
}

// Factory returns the cloud.Factory of azure/aks: a Provider per session.
func Factory(opts Options) cloud.Factory {
	return func(_ context.Context, s *cloud.Session) (cloud.Provider, error) { return New(s, opts) }
}

// New returns a provider acting in s's account with s's credentials.
func New(s *cloud.Session, opts Options) (*Provider, error) {
	co := &arm.ClientOptions{ClientOptions: policy.ClientOptions{
		Transport: opts.Transport,
		// 429 is left to the caller: ErrThrottled carries the delay Azure asked for and
		// the activity's retry waits it, rather than the SDK sleeping inside a call.
		Retry: policy.RetryOptions{StatusCodes: []int{408, 500, 502, 503, 504}},
	}}
	if opts.Endpoint != "" {
		co.Cloud = azcloud.Configuration{
			ActiveDirectoryAuthorityHost: azcloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[azcloud.ServiceName]azcloud.ServiceConfiguration{
				azcloud.ResourceManager: {Endpoint: opts.Endpoint, Audience: azcloud.AzurePublic.Services[azcloud.ResourceManager].Audience},
			},
		}
		co.InsecureAllowCredentialWithHTTP = strings.HasPrefix(opts.Endpoint, "http://")
	}
	cred := opts.Credential
	if cred == nil {
		var err error
		if cred, err = credential(s, opts.Transport); err != nil {
			return nil, err
		}
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = 10 * time.Second
	}
	return &Provider{sub: s.Account.AccountID, cred: cred, opts: co, poll: poll, lim: s.Limiter, clients: map[string]*clients{}}, nil
}

// credential builds the session's token credential from its values.
func credential(s *cloud.Session, transport policy.Transporter) (azcore.TokenCredential, error) {
	v := s.Credentials.Values
	switch {
	case v[CredAccessToken] != "":
		exp := s.Credentials.Expires
		if e := v[CredExpiresOn]; e != "" {
			t, err := time.Parse(time.RFC3339, e)
			if err != nil {
				return nil, cloud.Errorf(cloud.ErrInvalid, "Azure credentials of %s: %s is not an RFC 3339 time", s.Account, CredExpiresOn)
			}
			exp = t
		}
		return staticToken{token: v[CredAccessToken], expires: exp}, nil
	case v[CredTenantID] != "" && v[CredClientID] != "" && v[CredClientSecret] != "":
		cred, err := azidentity.NewClientSecretCredential(v[CredTenantID], v[CredClientID], v[CredClientSecret],
			&azidentity.ClientSecretCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: transport}})
		if err != nil {
			return nil, cloud.Errorf(cloud.ErrInvalid, "Azure service principal of %s: %v", s.Account, err)
		}
		return cred, nil
	}
	return nil, cloud.Errorf(cloud.ErrInvalid, "no Azure credentials for %s: the account needs an access token (%s) or a service principal (%s, %s, %s)",
		s.Account, CredAccessToken, CredTenantID, CredClientID, CredClientSecret)
}

// staticToken is an access token obtained elsewhere (by federation); the registry
// rebuilds the session, and so the token, before it expires.
type staticToken struct {
	token   string
	expires time.Time
}

func (t staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if !t.expires.IsZero() && time.Now().After(t.expires) {
		return azcore.AccessToken{}, fmt.Errorf("the Azure access token expired at %s", t.expires.UTC().Format(time.RFC3339))
	}
	exp := t.expires
	if exp.IsZero() {
		exp = time.Now().Add(time.Hour)
	}
	return azcore.AccessToken{Token: t.token, ExpiresOn: exp}, nil
}

// in returns the clients of subscription sub (the session's when empty).
func (p *Provider) in(sub string) (*clients, error) {
	if sub == "" {
		sub = p.sub
	}
	if sub == "" {
		return nil, cloud.Errorf(cloud.ErrInvalid, "no Azure subscription: the spec's aks.subscriptionId and the account are empty")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.clients[sub]; c != nil {
		return c, nil
	}
	mc, err := armcontainerservice.NewManagedClustersClient(sub, p.cred, p.opts)
	if err != nil {
		return nil, err
	}
	ap, err := armcontainerservice.NewAgentPoolsClient(sub, p.cred, p.opts)
	if err != nil {
		return nil, err
	}
	rg, err := armresources.NewResourceGroupsClient(sub, p.cred, p.opts)
	if err != nil {
		return nil, err
	}
	res, err := armresources.NewClient(sub, p.cred, p.opts)
	if err != nil {
		return nil, err
	}
	c := &clients{clusters: mc, pools: ap, groups: rg, resources: res}
	p.clients[sub] = c
	return c, nil
}

// await polls a long-running operation until it ends, reporting its progress, and
// returns its result.
func await[T any](ctx context.Context, p *Provider, c cloud.Call, what string, poller *runtime.Poller[T]) (T, error) {
	var zero T
	start := time.Now()
	c.Report(what + ": accepted by Azure")
	for !poller.Done() {
		if err := p.sleep(ctx); err != nil {
			return zero, err
		}
		if _, err := poller.Poll(ctx); err != nil { //nolint:bodyclose // the poller keeps the response and reads it in Result

			return zero, err
		}
		c.Report(fmt.Sprintf("%s: in progress for %s", what, time.Since(start).Round(time.Second)))
	}
	return poller.Result(ctx)
}

// sleep waits one poll interval (and the account's rate limit), or until ctx is done.
func (p *Provider) sleep(ctx context.Context) error {
	t := time.NewTimer(p.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	if p.lim != nil {
		return p.lim.Wait(ctx)
	}
	return nil
}

// ref names a managed cluster.
type ref struct{ sub, group, name string }

func (r ref) id() string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/%s", r.sub, r.group, r.name)
}

func (r ref) String() string {
	return fmt.Sprintf("managed cluster %q in resource group %q", r.name, r.group)
}

// parseCluster reads a ClusterRef's ExternalID, the managed cluster's resource ID.
func parseCluster(id string) (ref, bool) {
	r, err := arm.ParseResourceID(id)
	if err != nil || !strings.EqualFold(r.ResourceType.String(), "Microsoft.ContainerService/managedClusters") {
		return ref{}, false
	}
	return ref{sub: r.SubscriptionID, group: r.ResourceGroupName, name: r.Name}, true
}

// notFound reports whether err is Azure saying the resource does not exist.
func notFound(err error) bool { return errors.Is(classify(err, ""), cloud.ErrNotFound) }

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// azureTags returns tags as the SDK takes them, with extra added.
func azureTags(tags map[string]string, extra ...string) map[string]*string {
	out := make(map[string]*string, len(tags)+len(extra)/2)
	for k, v := range tags {
		out[k] = ptr(v)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		out[extra[i]] = ptr(extra[i+1])
	}
	return out
}
