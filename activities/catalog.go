package activities

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/oauth2"
	"google.golang.org/api/compute/v1"
	"google.golang.org/api/container/v1"
	"google.golang.org/api/option"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/catalog/awscatalog"
	"github.com/astropulse/astroplane/catalog/azurecatalog"
	"github.com/astropulse/astroplane/catalog/gcpcatalog"
	"github.com/astropulse/astroplane/cloud"
)

// LookupCatalogInput asks a connected account's live catalog of one region, or,
// with no Region, the account's list of regions. It names the account and how the
// worker gets its credentials, never the credentials.
type LookupCatalogInput struct {
	Account cloud.AccountRef
	Region  string
}

// LiveMachineType is a catalog.MachineTypeInfo under short JSON names: a region's
// list (about 1,200 types on AWS) travels in the workflow's history twice.
type LiveMachineType struct {
	Name          string  `json:"n"`
	CPUMillicores int     `json:"c,omitempty"`
	MemoryMiB     int     `json:"m,omitempty"`
	Category      string  `json:"k,omitempty"`
	Architecture  string  `json:"a,omitempty"`
	GPUs          int     `json:"g,omitempty"`
	GPUType       string  `json:"gt,omitempty"`
	PricePerHour  float64 `json:"p,omitempty"`
}

// Info is the type as package catalog describes it.
func (m LiveMachineType) Info() catalog.MachineTypeInfo {
	return catalog.MachineTypeInfo{Name: m.Name, CPUMillicores: m.CPUMillicores, MemoryMiB: m.MemoryMiB,
		Category: catalog.Category(m.Category), Architecture: catalog.Architecture(m.Architecture),
		GPUs: m.GPUs, GPUType: m.GPUType, PricePerHour: m.PricePerHour}
}

func liveMachineType(m catalog.MachineTypeInfo) LiveMachineType {
	return LiveMachineType{Name: m.Name, CPUMillicores: m.CPUMillicores, MemoryMiB: m.MemoryMiB,
		Category: string(m.Category), Architecture: string(m.Architecture), GPUs: m.GPUs, GPUType: m.GPUType,
		PricePerHour: m.PricePerHour}
}

// LookupCatalogResult is the live catalog's answer. Each half says on its own
// whether the provider answered: a question it could not answer carries the reason
// (never a credential) in its Error field, and the caller falls back to the static
// tables for that half only.
type LookupCatalogResult struct {
	// MachineTypes are every type the account can run in the region, when
	// MachineTypesError is empty.
	MachineTypes      []LiveMachineType `json:",omitempty"`
	MachineTypesError string            `json:",omitempty"`
	// Versions are the managed service's supported minors, newest first, when
	// VersionsError is empty.
	Versions      []catalog.Version `json:",omitempty"`
	VersionsError string            `json:",omitempty"`
	// Unavailable means the provider cannot answer these questions at all (its
	// endpoint does not implement them, or this worker has no live catalog of it).
	MachineTypesUnavailable, VersionsUnavailable bool `json:",omitempty"`
	// Zones are the region's zones, sorted, when ZonesError is empty (none for an
	// Azure region without zones).
	Zones            []string `json:"z,omitempty"`
	ZonesError       string   `json:"ze,omitempty"`
	ZonesUnavailable bool     `json:"zu,omitempty"`
	// RegionUnknown means the provider itself says the region does not exist (for
	// this account); ZonesError says how, and the other questions are not asked.
	RegionUnknown bool `json:"ru,omitempty"`
	// Regions are the account's regions, sorted, when RegionsError is empty: the
	// answer of a lookup without a Region (which asks nothing else).
	Regions            []string `json:"r,omitempty"`
	RegionsError       string   `json:"re,omitempty"`
	RegionsUnavailable bool     `json:"rn,omitempty"`
}

// LiveFactory builds the live catalog of one account and region from credentials
// the worker loaded. It makes no call; the catalog's own calls may fail later.
type LiveFactory func(ctx context.Context, account cloud.AccountRef, creds cloud.Credentials, region string) (catalog.Live, error)

// Catalog holds the dependencies of the live catalog activity and its cache:
// answers are kept per account and region for TTL, at most MaxEntries of them.
// Safe for concurrent use.
type Catalog struct {
	// Credentials loads an account's credentials (the cluster activities' source).
	Credentials cloud.CredentialSource
	// Live builds a provider's live catalog, by provider (aws, gcp, azure); a
	// provider without one answers Unavailable.
	Live map[string]LiveFactory
	// TTL is how long answers are kept; zero = catalog.DefaultLiveTTL.
	TTL time.Duration
	// MaxEntries bounds the (account, region) pairs kept; zero = 512. The least
	// recently used goes first.
	MaxEntries int
	// Now is the clock; nil = time.Now.
	Now func() time.Time

	mu      sync.Mutex
	entries map[liveKey]*liveEntry
}

type liveKey struct {
	account cloud.AccountRef
	region  string
}

// liveEntry is one account's catalog of one region: a catalog.Cache around a live
// catalog rebuilt with fresh credentials when they are about to expire.
type liveEntry struct {
	cache *catalog.Cache
	used  time.Time
}

// LookupCatalog answers an account's zones, machine types and Kubernetes versions
// in a region from the provider's own APIs (cached); without a Region, the
// account's regions alone (cached per account). Failures of the provider are in
// the result, not returned: the caller falls back to the static tables. It fails
// only on a malformed input.
func (a *Catalog) LookupCatalog(ctx context.Context, in LookupCatalogInput) (LookupCatalogResult, error) {
	if in.Account.OrgID == "" || in.Account.Provider == "" {
		return LookupCatalogResult{}, temporal.NewNonRetryableApplicationError("a catalog lookup needs an organization and a provider", ErrTypeInvalidInput, nil)
	}
	var out LookupCatalogResult
	if a.Live[in.Account.Provider] == nil {
		msg := fmt.Sprintf("this worker has no live catalog of %s", in.Account.Provider)
		if in.Region == "" {
			out.RegionsError, out.RegionsUnavailable = msg, true
			return out, nil
		}
		out.MachineTypesError, out.VersionsError, out.ZonesError = msg, msg, msg
		out.MachineTypesUnavailable, out.VersionsUnavailable, out.ZonesUnavailable = true, true, true
		return out, nil
	}
	live := a.entry(in)
	if in.Region == "" {
		regions, err := live.Regions(ctx)
		if err != nil {
			out.RegionsError, out.RegionsUnavailable = err.Error(), errors.Is(err, catalog.ErrLiveUnavailable)
		} else {
			out.Regions = regions
		}
		return out, nil
	}
	zones, err := live.Zones(ctx, in.Region)
	switch {
	case errors.Is(err, catalog.ErrUnknownRegion):
		out.ZonesError, out.RegionUnknown = err.Error(), true
		out.MachineTypesError, out.VersionsError = err.Error(), err.Error()
		return out, nil
	case err != nil:
		out.ZonesError, out.ZonesUnavailable = err.Error(), errors.Is(err, catalog.ErrLiveUnavailable)
	default:
		out.Zones = zones
	}
	types, err := live.MachineTypes(ctx, in.Region)
	if err != nil {
		out.MachineTypesError, out.MachineTypesUnavailable = err.Error(), errors.Is(err, catalog.ErrLiveUnavailable)
	} else {
		out.MachineTypes = make([]LiveMachineType, len(types))
		for i, m := range types {
			out.MachineTypes[i] = liveMachineType(m)
		}
	}
	versions, err := live.KubernetesVersions(ctx)
	if err != nil {
		out.VersionsError, out.VersionsUnavailable = err.Error(), errors.Is(err, catalog.ErrLiveUnavailable)
	} else {
		out.Versions = versions
	}
	return out, nil
}

// entry returns the cached catalog of the input's account and region, making it
// (and evicting the least recently used beyond MaxEntries) when missing.
func (a *Catalog) entry(in LookupCatalogInput) *catalog.Cache {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	k := liveKey{account: in.Account, region: in.Region}
	if e := a.entries[k]; e != nil {
		e.used = now
		return e.cache
	}
	if a.entries == nil {
		a.entries = map[liveKey]*liveEntry{}
	}
	limit := a.MaxEntries
	if limit <= 0 {
		limit = 512
	}
	for len(a.entries) >= limit {
		var oldest liveKey
		var at time.Time
		for k, e := range a.entries {
			if at.IsZero() || e.used.Before(at) {
				oldest, at = k, e.used
			}
		}
		delete(a.entries, oldest)
	}
	src := &refreshingLive{a: a, account: in.Account, region: in.Region}
	e := &liveEntry{cache: catalog.NewCache(src, a.TTL), used: now}
	a.entries[k] = e
	return e.cache
}

// CachedCatalogs reports how many (account, region) pairs a's cache holds. (Not a
// method: every exported method of an activity struct is registered as an activity.)
func CachedCatalogs(a *Catalog) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

func (a *Catalog) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// refreshingLive is an account's live catalog of one region, built with the
// account's credentials on first use and again when they are within five minutes
// of expiring.
type refreshingLive struct {
	a       *Catalog
	account cloud.AccountRef
	region  string

	mu      sync.Mutex
	live    catalog.Live
	expires time.Time
}

func (r *refreshingLive) current(ctx context.Context) (catalog.Live, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live != nil && (r.expires.IsZero() || r.a.now().Before(r.expires.Add(-5*time.Minute))) {
		return r.live, nil
	}
	var creds cloud.Credentials
	if r.a.Credentials != nil {
		var err error
		if creds, err = r.a.Credentials.Credentials(ctx, r.account); err != nil {
			return nil, fmt.Errorf("credentials of %s: %w", r.account, err)
		}
	}
	live, err := r.a.Live[r.account.Provider](ctx, r.account, creds, r.region)
	if err != nil {
		return nil, err
	}
	r.live, r.expires = live, creds.Expires
	return live, nil
}

func (r *refreshingLive) MachineTypes(ctx context.Context, region string) ([]catalog.MachineTypeInfo, error) {
	live, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	return live.MachineTypes(ctx, region)
}

func (r *refreshingLive) Zones(ctx context.Context, region string) ([]string, error) {
	live, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	return catalog.LiveZones(ctx, live, region)
}

func (r *refreshingLive) Regions(ctx context.Context) ([]string, error) {
	live, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	return catalog.LiveRegions(ctx, live)
}

func (r *refreshingLive) KubernetesVersions(ctx context.Context) ([]catalog.Version, error) {
	live, err := r.current(ctx)
	if err != nil {
		return nil, err
	}
	return live.KubernetesVersions(ctx)
}

// AWSCatalogOptions configure the AWS live catalog; the zero value talks to AWS
// itself (the SDK's resolution honours AWS_ENDPOINT_URL).
type AWSCatalogOptions struct {
	// Endpoint, when set, is the base URL of EC2 and EKS (moto in tests).
	Endpoint string
}

// AWSCatalog is the LiveFactory of AWS: catalog/awscatalog with the account's keys
// (accessKeyId, secretAccessKey, sessionToken, as the credential source gives
// them), EKS versions asked in the region looked up (the account's regions asked
// of us-east-1 when none is).
func AWSCatalog(opts AWSCatalogOptions) LiveFactory {
	return func(ctx context.Context, account cloud.AccountRef, creds cloud.Credentials, region string) (catalog.Live, error) {
		if region == "" {
			region = "us-east-1"
		}
		v := creds.Values
		if v["accessKeyId"] == "" || v["secretAccessKey"] == "" {
			return nil, cloud.Errorf(cloud.ErrInvalid, "no AWS access keys for %s", account)
		}
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region), config.WithRetryMaxAttempts(2),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(v["accessKeyId"], v["secretAccessKey"], v["sessionToken"])))
		if err != nil {
			return nil, fmt.Errorf("aws config: %w", err)
		}
		if opts.Endpoint != "" {
			cfg.BaseEndpoint = aws.String(opts.Endpoint)
		}
		return awscatalog.New(ec2.NewFromConfig(cfg), eks.NewFromConfig(cfg)), nil
	}
}

// GCPCatalogOptions configure the GCP live catalog; the zero value talks to Google.
type GCPCatalogOptions struct {
	// Endpoint, when set, is the root of the APIs (a server serving container/v1
	// under v1/ and compute/v1 under compute/v1/), as cloud/gcp's Options.Endpoint.
	Endpoint string
}

// GCPCatalog is the LiveFactory of GCP: catalog/gcpcatalog with the project's
// access token (accessToken, as the credential source gives it), in the account's
// project (or the credentials' projectID), GKE versions of the region looked up.
func GCPCatalog(opts GCPCatalogOptions) LiveFactory {
	return func(ctx context.Context, account cloud.AccountRef, creds cloud.Credentials, region string) (catalog.Live, error) {
		tok := creds.Values["accessToken"]
		if tok == "" {
			return nil, cloud.Errorf(cloud.ErrInvalid, "no GCP access token for %s", account)
		}
		project := account.AccountID
		if project == "" {
			project = creds.Values["projectID"]
		}
		src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: creds.Expires})
		copts := []option.ClientOption{
			option.WithHTTPClient(&http.Client{Transport: &oauth2.Transport{Source: src, Base: http.DefaultTransport}}),
			// The SDK's debug logging logs requests whole: off, as in cloud/gcp.
			option.WithLogger(slog.New(slog.DiscardHandler)),
		}
		gkeOpts, gceOpts := copts, copts
		if opts.Endpoint != "" {
			root := strings.TrimSuffix(opts.Endpoint, "/") + "/"
			gkeOpts = append(append([]option.ClientOption{}, copts...), option.WithEndpoint(root))
			gceOpts = append(append([]option.ClientOption{}, copts...), option.WithEndpoint(root+"compute/v1/"))
		}
		gke, err := container.NewService(ctx, gkeOpts...)
		if err != nil {
			return nil, fmt.Errorf("gke client: %w", err)
		}
		gce, err := compute.NewService(ctx, gceOpts...)
		if err != nil {
			return nil, fmt.Errorf("compute client: %w", err)
		}
		return gcpcatalog.New(gce, gke, project, region), nil
	}
}

// AzureCatalogOptions configure the Azure live catalog; the zero value talks to the
// Azure public cloud.
type AzureCatalogOptions struct {
	// ClientOptions are the clients' cloud, transport and retry options (tests
	// give a transport).
	ClientOptions *arm.ClientOptions
}

// AzureCatalog is the LiveFactory of Azure: catalog/azurecatalog with the
// subscription's Resource Manager token (accessToken, expiresOn as cloud/azure
// reads them), AKS versions of the region looked up.
func AzureCatalog(opts AzureCatalogOptions) LiveFactory {
	return func(_ context.Context, account cloud.AccountRef, creds cloud.Credentials, region string) (catalog.Live, error) {
		tok := azureToken{token: creds.Values["accessToken"], expires: creds.Expires}
		if tok.token == "" {
			return nil, cloud.Errorf(cloud.ErrInvalid, "no Azure access token for %s", account)
		}
		if e := creds.Values["expiresOn"]; e != "" {
			t, err := time.Parse(time.RFC3339, e)
			if err != nil {
				return nil, cloud.Errorf(cloud.ErrInvalid, "Azure credentials of %s: expiresOn is not an RFC 3339 time", account)
			}
			tok.expires = t
		}
		return azurecatalog.New(account.AccountID, region, tok, opts.ClientOptions)
	}
}

// azureToken is an access token the credential source obtained, as an
// azcore.TokenCredential.
type azureToken struct {
	token   string
	expires time.Time
}

func (t azureToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if !t.expires.IsZero() && time.Now().After(t.expires) {
		return azcore.AccessToken{}, fmt.Errorf("the Azure access token expired at %s", t.expires.UTC().Format(time.RFC3339))
	}
	exp := t.expires
	if exp.IsZero() {
		exp = time.Now().Add(time.Hour)
	}
	return azcore.AccessToken{Token: t.token, ExpiresOn: exp}, nil
}
