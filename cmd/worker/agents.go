package main

import (
	"encoding/hex"
	"errors"
	"strings"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/tunnel"
)

// agentsConfig is how the worker reaches registered clusters: through the API's
// internal per-cluster proxy (docs/registered-clusters.md), since the API replicas,
// not the worker, hold the agents' tunnels.
type agentsConfig struct {
	// APIInternalURL is an API replica's internal address (any replica: it relays to
	// the one holding the tunnel); empty: unregistering leaves the agent's objects.
	APIInternalURL string `env:"ASTRO_API_INTERNAL_URL"`
	// ProxyKey is the API's ASTRO_AGENT_PROXY_KEY (hex, at least 32 bytes).
	ProxyKey string `env:"ASTRO_AGENT_PROXY_KEY"`
}

// agentActivities are the registered clusters' activities, with the proxy when configured.
func agentActivities(st *store.Store, cfg agentsConfig) (*activities.Agents, tunnel.Configs, error) {
	a := &activities.Agents{Store: st}
	if cfg.APIInternalURL == "" {
		return a, nil, nil
	}
	key, err := hex.DecodeString(cfg.ProxyKey)
	if err != nil || len(key) < 32 {
		return nil, nil, errors.New("ASTRO_AGENT_PROXY_KEY: hex of at least 32 bytes is required with ASTRO_API_INTERNAL_URL")
	}
	p := tunnel.Proxied{Base: strings.TrimSuffix(cfg.APIInternalURL, "/"), Key: tunnel.ProxyKey(key)}
	a.Clusters = p
	return a, p, nil
}
