package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Configs is the seam through which the platform reaches a registered cluster: the
// same shape as server/kubeaccess.ClusterConfigs (API side) and, through Dynamic, as
// activities.ClusterClients (worker side), so either wires in a registered cluster by
// choosing one of these for clusters whose provisioner type is "registered".
type Configs interface {
	Config(ctx context.Context, orgID, clusterID string) (*rest.Config, error)
	Forget(orgID, clusterID string)
}

// Local reaches clusters whose tunnel this API replica holds, and the others through
// Fallback (the internal proxy of any replica, which relays to the holder); nil
// Fallback: ErrNotConnected.
type Local struct {
	Server   *Server
	Fallback Configs
}

// Config implements Configs.
func (l Local) Config(ctx context.Context, orgID, clusterID string) (*rest.Config, error) {
	cfg, err := l.Server.RESTConfig(orgID, clusterID)
	if errors.Is(err, ErrNotConnected) && l.Fallback != nil {
		return l.Fallback.Config(ctx, orgID, clusterID)
	}
	return cfg, err
}

// Forget implements Configs (nothing is cached).
func (Local) Forget(string, string) {}

// Proxied reaches clusters through the API's internal proxy (ProxyHandler), for the
// worker, which holds no tunnel: each config carries a fresh credential for that one
// cluster, valid for TTL (default 10 minutes).
type Proxied struct {
	// Base is the API's internal address, e.g. http://astro-api.internal:8080.
	Base string
	Key  ProxyKey
	TTL  time.Duration
	TLS  rest.TLSClientConfig
}

// Config implements Configs.
func (p Proxied) Config(_ context.Context, orgID, clusterID string) (*rest.Config, error) {
	ttl := p.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	return p.Key.ProxyConfig(p.Base, orgID, clusterID, ttl, p.TLS)
}

// Forget implements Configs (nothing is cached).
func (Proxied) Forget(string, string) {}

// Dynamic is activities.ClusterClients' method: a dynamic client through the proxy.
func (p Proxied) Dynamic(ctx context.Context, orgID, clusterID string) (dynamic.Interface, error) {
	cfg, err := p.Config(ctx, orgID, clusterID)
	if err != nil {
		return nil, err
	}
	return dynamic.NewForConfig(cfg)
}

// Rotate asks org's cluster's agent to rotate its certificate through the proxy, for
// a replica that does not hold the tunnel (Server.Rotate on the one that does).
func (p Proxied) Rotate(ctx context.Context, orgID, clusterID string) error {
	cfg, err := p.Config(ctx, orgID, clusterID)
	if err != nil {
		return err
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Host+RotatePath, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("agent rotation through the proxy: %s %s", resp.Status, b)
	}
	return nil
}
