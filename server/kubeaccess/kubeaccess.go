// Package kubeaccess is how the API reaches a cluster's Kubernetes API (for the
// application event and log streams) without holding cloud credentials: the worker,
// the only process that decrypts them, asks the cluster's provider for a kubeconfig
// through the IssueKubeconfig workflow and seals it to the store; the API opens it
// and keeps the client config, with its bounded-lifetime token like a user's
// kubeconfig, in memory until shortly before it expires.
//
// ClusterConfigs is the seam: a registered cluster's agent tunnel is another
// implementation.
package kubeaccess

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// ClusterConfigs gives client-go configs of organizations' clusters.
// Implementations are safe for concurrent use. Errors wrap ErrClusterNotFound,
// ErrNoControlPlane or ErrUnavailable, whose messages may be shown to the caller.
type ClusterConfigs interface {
	// Config returns a config of orgID's cluster clusterID, valid for a while (a
	// caller holding it for long, e.g. a stream, asks again when the cluster's API
	// refuses it, after Forget).
	Config(ctx context.Context, orgID, clusterID string) (*rest.Config, error)
	// Forget drops what is cached of the cluster, so the next Config asks anew.
	Forget(orgID, clusterID string)
}

// Errors of ClusterConfigs, matched with errors.Is.
var (
	// ErrClusterNotFound: the organization has no such cluster.
	ErrClusterNotFound = errors.New("cluster not found")
	// ErrNoControlPlane: the cluster has no Kubernetes API to reach now (not READY).
	ErrNoControlPlane = errors.New("cluster has no Kubernetes API to reach now")
	// ErrUnavailable: the configuration could not be had now (no worker, no
	// encryption key, the provider refused); the message says why.
	ErrUnavailable = errors.New("cluster access unavailable")
)

// GrantUser is the user ID the API's own kubeconfig grants are recorded under: no
// user's ID (those are UUIDs), so a user's GET of their kubeconfig never returns one.
const GrantUser = "astro-api"

// Defaults of FromWorker.
const (
	DefaultLifetime = 15 * time.Minute
	DefaultRefresh  = 3 * time.Minute
	DefaultWait     = 30 * time.Second
)

// FromWorker is the ClusterConfigs of managed clusters: configs from kubeconfigs
// the worker issues through the IssueKubeconfig workflow, sealed to the store for
// this API to open, cached per cluster until Refresh before they expire.
type FromWorker struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	// Box opens the sealed kubeconfigs; nil: every Config is ErrUnavailable.
	Box *secrets.Box
	// Lifetime is how long the credentials asked for last; default 15 minutes
	// (the IssueKubeconfig bounds: 5 minutes to a day).
	Lifetime time.Duration
	// Refresh is how long before expiry a cached config is replaced; default 3
	// minutes.
	Refresh time.Duration
	// Wait bounds one issue (the workflow and the provider's call); default 30s.
	Wait time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu        sync.Mutex
	cache     map[string]*entry
	lastPrune time.Time
}

type entry struct {
	mu      sync.Mutex // held while the config is being issued: one issue per cluster at a time
	cfg     *rest.Config
	expires time.Time
}

var _ ClusterConfigs = (*FromWorker)(nil)

func (f *FromWorker) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Config implements ClusterConfigs.
func (f *FromWorker) Config(ctx context.Context, orgID, clusterID string) (*rest.Config, error) {
	key := orgID + "/" + clusterID
	f.mu.Lock()
	if f.cache == nil {
		f.cache = map[string]*entry{}
	}
	e := f.cache[key]
	if e == nil {
		e = &entry{}
		f.cache[key] = e
	}
	f.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cfg != nil && f.now().Before(e.expires.Add(-orDefault(f.Refresh, DefaultRefresh))) {
		return rest.CopyConfig(e.cfg), nil
	}
	cfg, expires, err := f.issue(ctx, orgID, clusterID)
	if err != nil {
		return nil, err
	}
	e.cfg, e.expires = cfg, expires
	return rest.CopyConfig(cfg), nil
}

// Forget implements ClusterConfigs.
func (f *FromWorker) Forget(orgID, clusterID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.cache, orgID+"/"+clusterID)
}

// issue asks the worker for a kubeconfig of the cluster and opens it.
func (f *FromWorker) issue(ctx context.Context, orgID, clusterID string) (*rest.Config, time.Time, error) {
	cl, err := f.Store.GetCluster(ctx, orgID, clusterID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, time.Time{}, fmt.Errorf("%w: %s", ErrClusterNotFound, clusterID)
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	if (cl.Status != store.ClusterReady && cl.Status != store.ClusterUpdating) || cl.ExternalID == "" {
		return nil, time.Time{}, fmt.Errorf("%w: cluster %s is %s", ErrNoControlPlane, cl.Name, cl.Status)
	}
	if f.Box == nil {
		return nil, time.Time{}, fmt.Errorf("%w: the server has no encryption key (ASTRO_ENCRYPTION_KEY) to open cluster credentials with", ErrUnavailable)
	}
	if f.Temporal == nil {
		return nil, time.Time{}, fmt.Errorf("%w: the server has no Temporal connection to ask the worker with", ErrUnavailable)
	}
	f.prune(ctx)
	var spec activities.ClusterSpec
	if len(cl.State) == 0 || json.Unmarshal(cl.State, &spec) != nil {
		return nil, time.Time{}, fmt.Errorf("%w: cluster %s has no recorded state", ErrNoControlPlane, cl.Name)
	}
	g := store.KubeconfigGrant{ID: "api-access." + cl.ID + "." + suffix(), OrgID: orgID, ClusterID: cl.ID, UserID: GrantUser,
		Duration: orDefault(f.Lifetime, DefaultLifetime)}
	if err := f.Store.CreateKubeconfigGrant(ctx, &g); err != nil {
		return nil, time.Time{}, err
	}
	wait, cancel := context.WithTimeout(ctx, orDefault(f.Wait, DefaultWait))
	defer cancel()
	run, err := f.Temporal.ExecuteWorkflow(wait, client.StartWorkflowOptions{
		ID: workflows.KubeconfigWorkflowID(g.ID), TaskQueue: f.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionTimeout: 5 * time.Minute,
		StaticSummary:            fmt.Sprintf("API access to cluster %s (application streams)", cl.Name),
	}, workflows.IssueKubeconfig, activities.IssueKubeconfigInput{
		OrgID: orgID, GrantID: g.ID, Spec: spec, Duration: g.Duration,
		Ref: activities.ClusterRef{Provider: cl.Provider, ExternalID: cl.ExternalID, Endpoint: cl.Endpoint},
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: the worker could not be asked for the cluster's credentials (%w)", ErrUnavailable, err)
	}
	if err := run.Get(wait, nil); err != nil && wait.Err() != nil {
		return nil, time.Time{}, fmt.Errorf("%w: the worker did not issue the cluster's credentials within %s", ErrUnavailable, orDefault(f.Wait, DefaultWait))
	}
	g, err = f.Store.GetKubeconfigGrant(ctx, orgID, g.ID)
	if err != nil {
		return nil, time.Time{}, err
	}
	if g.Status != store.KubeconfigReady || g.ExpiresAt == nil {
		msg := g.Message
		if msg == "" {
			msg = "the cluster's credentials were not issued"
		}
		return nil, time.Time{}, fmt.Errorf("%w: %s", ErrUnavailable, msg)
	}
	raw, err := f.Box.OpenBound(g.Sealed, activities.KubeconfigSeal(g.OrgID, g.ID))
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("open kubeconfig grant %s: %w", g.ID, err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(raw)
	if err != nil {
		// The text holds credentials: not quoted.
		return nil, time.Time{}, fmt.Errorf("%w: the kubeconfig of cluster %s does not parse", ErrUnavailable, cl.Name)
	}
	cfg.QPS, cfg.Burst = 20, 40
	return cfg, *g.ExpiresAt, nil
}

// prune deletes expired kubeconfig grants (the API's and users'), at most once a
// minute per process: the grants this makes would otherwise pile up.
func (f *FromWorker) prune(ctx context.Context) {
	f.mu.Lock()
	due := f.now().Sub(f.lastPrune) >= time.Minute
	if due {
		f.lastPrune = f.now()
	}
	f.mu.Unlock()
	if due {
		_, _ = f.Store.PruneKubeconfigGrants(ctx, time.Now()) // best effort: the next issue tries again
	}
}

func suffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ByProvisioner reaches registered clusters (provisioner type "registered") through
// Registered, the agent's tunnel, and every other cluster through Others, the
// provider's kubeconfig; a nil Registered refuses registered clusters as
// unavailable. It reads the cluster's record on each Config.
type ByProvisioner struct {
	Store      *store.Store
	Registered ClusterConfigs
	Others     ClusterConfigs
}

// Config implements ClusterConfigs.
func (b ByProvisioner) Config(ctx context.Context, orgID, clusterID string) (*rest.Config, error) {
	cl, err := b.Store.GetCluster(ctx, orgID, clusterID)
	if err != nil || cl.ProvisionerType != registered {
		return b.Others.Config(ctx, orgID, clusterID) // it reports a missing cluster its way
	}
	if b.Registered == nil {
		return nil, fmt.Errorf("%w: registered cluster %s: this API serves no agent tunnel (ASTRO_TUNNEL_ADDR)", ErrUnavailable, cl.Name)
	}
	cfg, err := b.Registered.Config(ctx, orgID, clusterID)
	if err != nil && !errors.Is(err, ErrClusterNotFound) && !errors.Is(err, ErrNoControlPlane) && !errors.Is(err, ErrUnavailable) {
		// The tunnel's own errors (no agent connected, no replica holds it) say
		// what is wrong in the platform's terms; the answer names them as such.
		return nil, fmt.Errorf("%w: registered cluster %s: its agent is not connected", ErrUnavailable, cl.Name)
	}
	return cfg, err
}

// Forget implements ClusterConfigs.
func (b ByProvisioner) Forget(orgID, clusterID string) {
	if b.Registered != nil {
		b.Registered.Forget(orgID, clusterID)
	}
	b.Others.Forget(orgID, clusterID)
}

// registered is the provisioner type of clusters an agent joined (server/agents).
const registered = "registered"
