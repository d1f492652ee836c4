package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/store"
)

// KubeClients is the one place a cluster record becomes a client-go config: the
// kubeconfig the cluster's provider issues (through Cluster's clouds, as
// IssueKubeconfig asks it), parsed with clientcmd. Configs are cached per cluster
// and asked again once TTL has passed, before the credentials in them expire (EKS
// tokens last 15 minutes, GKE and AKS ones an hour). Safe for concurrent use; the
// kubeconfig never leaves the worker's memory. A registered agent's tunnel would be
// another implementation of ClusterClients.
type KubeClients struct {
	Cluster *Cluster
	// TTL is how long a config is used; default 10 minutes.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu    sync.Mutex
	cache map[string]kubeEntry
}

type kubeEntry struct {
	cfg     *rest.Config
	expires time.Time
}

var _ ClusterClients = (*KubeClients)(nil)

func (k *KubeClients) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Config returns a client config of orgID's cluster clusterID, from the cache while
// it is fresh.
func (k *KubeClients) Config(ctx context.Context, orgID, clusterID string) (*rest.Config, error) {
	key := orgID + "/" + clusterID
	k.mu.Lock()
	if e, ok := k.cache[key]; ok && k.now().Before(e.expires) {
		k.mu.Unlock()
		return rest.CopyConfig(e.cfg), nil
	}
	k.mu.Unlock()
	cfg, err := k.issue(ctx, orgID, clusterID)
	if err != nil {
		return nil, err
	}
	ttl := k.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	k.mu.Lock()
	if k.cache == nil {
		k.cache = map[string]kubeEntry{}
	}
	k.cache[key] = kubeEntry{cfg: cfg, expires: k.now().Add(ttl)}
	k.mu.Unlock()
	return rest.CopyConfig(cfg), nil
}

// Forget drops the cached config of a cluster (e.g. after the API refused its
// credentials), so the next use asks for a new kubeconfig.
func (k *KubeClients) Forget(orgID, clusterID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.cache, orgID+"/"+clusterID)
}

// Dynamic returns a dynamic client of orgID's cluster clusterID.
func (k *KubeClients) Dynamic(ctx context.Context, orgID, clusterID string) (dynamic.Interface, error) {
	cfg, err := k.Config(ctx, orgID, clusterID)
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

func (k *KubeClients) issue(ctx context.Context, orgID, clusterID string) (*rest.Config, error) {
	cl, err := k.Cluster.Store.GetCluster(ctx, orgID, clusterID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, temporal.NewNonRetryableApplicationError("cluster "+clusterID+" not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	if cl.Status != store.ClusterReady && cl.Status != store.ClusterUpdating {
		return nil, fmt.Errorf("cluster %s is %s, not READY", cl.Name, cl.Status)
	}
	var spec ClusterSpec
	if err := json.Unmarshal(cl.State, &spec); err != nil || len(cl.State) == 0 {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("cluster %s has no recorded state", cl.Name), ErrTypeInvalidInput, err)
	}
	p, err := k.Cluster.providerFor(ctx, spec)
	if err != nil {
		return nil, err
	}
	ref := ClusterRef{Provider: cl.Provider, ExternalID: cl.ExternalID, Endpoint: cl.Endpoint}
	var kc string
	err = inActivity(ctx, spec, cloud.Call{Token: "kubeclient-" + cl.ID, Step: "kubeconfig"}, func(c cloud.Call) (err error) {
		kc, err = p.Kubeconfig(ctx, c, ref)
		return err
	})
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
	if err != nil {
		// The text may hold credentials: not quoted.
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the %s provider returned a kubeconfig of cluster %s that does not parse", spec.Provider, cl.Name), ErrTypeInvalidInput, nil)
	}
	return cfg, nil
}

// RoutedClusters reaches registered clusters (provisioner type "registered")
// through Registered, the API's proxy to their agents' tunnels, and every other
// cluster through Provisioned, the provider's kubeconfig. A nil Registered refuses
// registered clusters, saying what the worker lacks.
type RoutedClusters struct {
	Store       *store.Store
	Registered  ClusterClients
	Provisioned ClusterClients
}

var _ ClusterClients = RoutedClusters{}

// Dynamic implements ClusterClients.
func (r RoutedClusters) Dynamic(ctx context.Context, orgID, clusterID string) (dynamic.Interface, error) {
	cl, err := r.Store.GetCluster(ctx, orgID, clusterID)
	if err != nil || cl.ProvisionerType != registeredClusters {
		return r.Provisioned.Dynamic(ctx, orgID, clusterID) // it reports a missing cluster its way
	}
	if r.Registered == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"registered cluster %s: this worker has no way to its agent (ASTRO_API_INTERNAL_URL and ASTRO_AGENT_PROXY_KEY)", cl.Name), ErrTypeInvalidInput, nil)
	}
	return r.Registered.Dynamic(ctx, orgID, clusterID)
}

// registeredClusters is the provisioner type of clusters an agent joined.
const registeredClusters = "registered"
