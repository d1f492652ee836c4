// Package gcp is the GKE provider (cloud.Key gcp/gke): it fills the whole
// cloud.Provider contract with Google's official clients, container/v1 for clusters
// and node pools and compute/v1 for the cluster's VPC network, acting in the GCP
// project of the session the registry built.
//
// How the contract maps onto GKE:
//
//   - Network: an auto-mode VPC network per cluster, named after the create's token
//     (astro-<hash>), so a retried create finds it and a delete by the token finds it
//     without a reference; its insert carries a request ID derived from the token.
//     A spec that names a network (GKESpec.NetworkID, Subnet) brings its own: it is
//     checked to exist, used as it is and never deleted. Only networks whose
//     description says Astro Plane made them are ever deleted.
//   - Control plane: clusters.create with the spec (release channel, version,
//     Autopilot, workload identity pool PROJECT.svc.id.goog, private nodes and the
//     master CIDR, master authorized networks, maintenance window, resource labels
//     with the call's token hashed into astro-token). GKE needs a Standard cluster to
//     have a node pool from the start, so the spec's first node group is created with
//     the cluster and the others by nodePools.create. A retried create finds the
//     cluster by name and token; status maps PROVISIONING to CREATING, RUNNING,
//     RECONCILING and DEGRADED to ACTIVE, and ERROR to a typed error carrying GKE's
//     reason (quota, …).
//   - Node pools: labels, taints, spot, machine type, image type, version,
//     autoscaling by total node counts (a fixed size when min = max: autoscaling off
//     and setSize per zone), surge upgrade settings from the Rollout; every change
//     waits on its long-running operation, reporting progress as it polls.
//   - Upgrades one minor at a time (clusters.update desiredMasterVersion), tags as
//     resource labels (setResourceLabels with the label fingerprint), settings
//     (release channel and authorized networks by clusters.update, maintenance window
//     by setMaintenancePolicy, node image type by nodePools.update of every pool).
//     GKE manages add-ons itself: InstallAddons checks the cluster and reports.
//   - Kubeconfig: endpoint and CA from clusters.get, authentication by an exec config
//     for gke-gcloud-auth-plugin (or, with Options.KubeconfigToken, the session's
//     access token).
//   - Errors: googleapi errors and failed operations are typed by HTTP code, status
//     and reason (errors.go): 404 not found, 409 already exists, 429 and rate limits
//     throttled (with GKE's retry delay), quota exceeded with the metric, permission
//     denied and invalid arguments non-retryable with what to fix.
//
// Tests run it against cloud/gcp/gkefake, a wire server of GKE's REST API.
package gcp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"
	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	"google.golang.org/api/option"

	"github.com/astropulse/astroplane/cloud"
)

// Key is the provider key of this implementation.
var Key = cloud.Key{Provider: "gcp", Provisioner: "gke"}

// Credential values a session of a GCP account carries (cloud.Credentials.Values).
const (
	// AccessTokenKey is the OAuth2 access token the clients send (obtained by
	// workload identity federation and iamcredentials generateAccessToken, or from
	// the vault); Credentials.Expires is its expiry.
	AccessTokenKey = "accessToken"
	// ProjectKey, when set, is the project to act in if the spec names none.
	ProjectKey = "projectID"
)

// Labels the provider puts on what it makes.
const (
	// LabelToken holds the hash of the create's token (labels cannot hold the token
	// itself: at most 63 lowercase characters).
	LabelToken = "astro-token"
	// LabelManaged marks resources Astro Plane manages.
	LabelManaged = "managed-by"
	managedValue = "astro-plane"
)

// Options configure the provider.
type Options struct {
	// Endpoint is the root URL of the APIs (a server serving container/v1 under v1/
	// and compute/v1 under compute/v1/); empty = Google's.
	Endpoint string
	// HTTPClient is the transport under the authentication; nil = http.DefaultClient's.
	HTTPClient *http.Client
	// ClientOptions are added to the clients' options (tests add
	// option.WithoutAuthentication when the session has no token).
	ClientOptions []option.ClientOption
	// PollInterval is how often long-running operations are polled; zero = 5 s.
	PollInterval time.Duration
	// KubeconfigToken makes Kubeconfig authenticate with the session's access token
	// (valid until it expires, at most an hour) instead of gke-gcloud-auth-plugin.
	KubeconfigToken bool
}

// Provider is the GKE provider of one account. It is safe for concurrent use.
type Provider struct {
	gke     *container.Service
	gce     *compute.Service
	project string // the session's project, for calls whose arguments name none
	token   *oauth2.Token
	poll    time.Duration
	opts    Options
}

var _ cloud.Provider = (*Provider)(nil)

// Factory returns the factory of GKE providers: each builds its clients from the
// session — its access token, its limiter pacing every request — and acts in the
// session's project.
func Factory(opts Options) cloud.Factory {
	return func(ctx context.Context, s *cloud.Session) (cloud.Provider, error) { return New(ctx, s, opts) }
}

// New returns the GKE provider of the session's account.
func New(ctx context.Context, s *cloud.Session, opts Options) (*Provider, error) {
	p := &Provider{project: s.Account.AccountID, poll: opts.PollInterval, opts: opts}
	if v := s.Credentials.Values[ProjectKey]; v != "" && p.project == "" {
		p.project = v
	}
	if p.poll <= 0 {
		p.poll = 5 * time.Second
	}
	base := http.DefaultTransport
	if opts.HTTPClient != nil && opts.HTTPClient.Transport != nil {
		base = opts.HTTPClient.Transport
	}
	base = paced{base: base, lim: s.Limiter}
	var copts []option.ClientOption
	if tok := s.Credentials.Values[AccessTokenKey]; tok != "" {
		p.token = &oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: s.Credentials.Expires}
		src := oauth2.StaticTokenSource(p.token)
		copts = append(copts, option.WithHTTPClient(&http.Client{Transport: &oauth2.Transport{Source: src, Base: base}}))
	} else if len(opts.ClientOptions) == 0 {
		return nil, cloud.Errorf(cloud.ErrInvalid, "the credentials of %s hold no GCP access token (%s)", s.Account, AccessTokenKey)
	} else {
		copts = append(copts, option.WithHTTPClient(&http.Client{Transport: base}))
	}
	// The SDK's own debug logging (GOOGLE_SDK_GO_LOGGING_LEVEL) logs requests and
	// answers whole: off, so nothing of an account's ever reaches the worker's logs.
	copts = append(copts, option.WithLogger(slog.New(slog.DiscardHandler)))
	copts = append(copts, opts.ClientOptions...)
	gkeOpts, gceOpts := copts, copts
	if opts.Endpoint != "" {
		root := strings.TrimSuffix(opts.Endpoint, "/") + "/"
		gkeOpts = append(append([]option.ClientOption{}, copts...), option.WithEndpoint(root))
		gceOpts = append(append([]option.ClientOption{}, copts...), option.WithEndpoint(root+"compute/v1/"))
	}
	var err error
	if p.gke, err = container.NewService(ctx, gkeOpts...); err != nil {
		return nil, fmt.Errorf("gke client: %w", err)
	}
	if p.gce, err = compute.NewService(ctx, gceOpts...); err != nil {
		return nil, fmt.Errorf("compute client: %w", err)
	}
	return p, nil
}

// paced waits for the account's limiter before every request: the registry paces
// the provider's calls, this its polls and follow-up requests as well.
type paced struct {
	base http.RoundTripper
	lim  *rate.Limiter
}

func (t paced) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.lim != nil {
		if err := t.lim.Wait(r.Context()); err != nil {
			return nil, err
		}
	}
	return t.base.RoundTrip(r)
}

// projectOf is the project a spec's cluster lives in.
func (p *Provider) projectOf(spec cloud.ClusterSpec) string {
	switch {
	case spec.GKE != nil && spec.GKE.ProjectID != "":
		return spec.GKE.ProjectID
	case spec.AccountID != "":
		return spec.AccountID
	case spec.Account.AccountID != "":
		return spec.Account.AccountID
	}
	return p.project
}

// clusterPath is the resource name of a spec's cluster.
func (p *Provider) clusterPath(spec cloud.ClusterSpec) string {
	return fmt.Sprintf("projects/%s/locations/%s/clusters/%s", p.projectOf(spec), spec.Region, spec.Name)
}

// parentOf is projects/P/locations/L of a cluster's resource name.
func parentOf(clusterPath string) string {
	seg := strings.Split(clusterPath, "/")
	return strings.Join(seg[:4], "/")
}

// shortName is the last segment of a resource name.
func shortName(name string) string { return name[strings.LastIndex(name, "/")+1:] }

func splitPath(path string) []string { return strings.Split(path, "/") }
