package main

import (
	"strings"
	"testing"

	"github.com/astropulse/astroplane/tunnel"
)

// Without ASTRO_API_INTERNAL_URL the activities run without a way into clusters; with
// it a proxy key is required, and configs point at the API's internal proxy.
func TestAgentActivities(t *testing.T) {
	a, p, err := agentActivities(nil, agentsConfig{})
	if err != nil || a == nil || a.Clusters != nil || p != nil {
		t.Fatalf("unconfigured: %v %v %v", a, p, err)
	}
	if _, _, err := agentActivities(nil, agentsConfig{APIInternalURL: "http://api:8080"}); err == nil {
		t.Fatal("no proxy key accepted")
	}
	a, p, err = agentActivities(nil, agentsConfig{APIInternalURL: "http://api:8080/", ProxyKey: strings.Repeat("cd", 32)})
	if err != nil || a.Clusters == nil {
		t.Fatal(err)
	}
	cfg, err := p.Config(t.Context(), "org", "cluster")
	if err != nil || cfg.Host != "http://api:8080"+tunnel.ProxyPrefix+"org/cluster" || cfg.BearerToken == "" {
		t.Fatalf("config: %+v %v", cfg, err)
	}
}
