package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/astropulse/astroplane/server/agents"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/tunnel"
)

// AgentsConfig configures registered clusters' tunnel endpoint on this API process
// (docs/registered-clusters.md).
type AgentsConfig struct {
	// TunnelAddr is where agents connect (TLS, client certificates); empty: this
	// process serves no tunnel and registering answers 503.
	TunnelAddr string `env:"ASTRO_TUNNEL_ADDR"`
	// TunnelEndpoint is the address agents dial, as written in install manifests
	// (default https://localhost:PORT of TunnelAddr).
	TunnelEndpoint string `env:"ASTRO_TUNNEL_ENDPOINT"`
	// TunnelHosts are the names and addresses of the endpoint's serving certificate
	// (comma-separated; default localhost,127.0.0.1 and TunnelEndpoint's host).
	TunnelHosts string `env:"ASTRO_TUNNEL_HOSTS"`
	// TunnelCADir holds the tunnel CA (ca.pem, ca-key.pem), made on first start when
	// absent; every replica must share it (mount one Secret).
	TunnelCADir string `env:"ASTRO_TUNNEL_CA_DIR" envDefault:".data/tunnel-ca"`
	// AgentImage is the agent's container image written in install manifests.
	AgentImage string `env:"ASTRO_AGENT_IMAGE" envDefault:"ghcr.io/astropulse/astro-agent:latest"`
	// AgentTokenTTL is how long a registration token lasts (and a registration waits).
	AgentTokenTTL time.Duration `env:"ASTRO_AGENT_TOKEN_TTL" envDefault:"24h"`
	// ProxyKey (hex, at least 32 bytes) signs the worker's credentials for the
	// internal per-cluster proxy (tunnel.ProxyPrefix); empty: no proxy.
	ProxyKey string `env:"ASTRO_AGENT_PROXY_KEY"`
	// ReplicaURL is this replica's internal base URL, recorded as the holder of its
	// tunnels so other replicas relay to it (default http://HOSTNAME:PORT of ASTRO_HTTP_ADDR).
	ReplicaURL string `env:"ASTRO_REPLICA_URL"`
}

// startAgents starts the tunnel endpoint when configured. It returns the agent
// operations' dependencies, what puts the internal proxy in front of the API's
// handler, and what stops the endpoint.
func startAgents(ctx context.Context, cfg AgentsConfig, httpAddr string, st *store.Store, log *slog.Logger) (agents.Deps, func(http.Handler) http.Handler, func(), error) {
	deps := agents.Deps{Image: cfg.AgentImage, TokenTTL: cfg.AgentTokenTTL}
	same := func(h http.Handler) http.Handler { return h }
	if cfg.TunnelAddr == "" {
		return deps, same, func() {}, nil
	}
	ca, err := loadOrMakeCA(cfg.TunnelCADir)
	if err != nil {
		return deps, nil, nil, err
	}
	_, tport, err := net.SplitHostPort(cfg.TunnelAddr)
	if err != nil {
		return deps, nil, nil, fmt.Errorf("ASTRO_TUNNEL_ADDR: %w", err)
	}
	endpoint := cfg.TunnelEndpoint
	if endpoint == "" {
		endpoint = "https://localhost:" + tport
	}
	hosts := []string{"localhost", "127.0.0.1"}
	if h := strings.TrimSpace(cfg.TunnelHosts); h != "" {
		hosts = strings.Split(h, ",")
	}
	if u := strings.TrimPrefix(endpoint, "https://"); u != endpoint {
		if h, _, err := net.SplitHostPort(u); err == nil {
			hosts = append(hosts, h)
		} else {
			hosts = append(hosts, strings.TrimSuffix(u, "/"))
		}
	}
	cert, err := ca.ServerCertificate(hosts...)
	if err != nil {
		return deps, nil, nil, err
	}
	replica := cfg.ReplicaURL
	if replica == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(httpAddr)
		replica = "http://" + host + ":" + port
	}
	ts := &tunnel.Server{CA: ca, Registry: agents.Registry{Store: st}, Replica: replica, Logger: log.With("component", "tunnel")}
	srv := &http.Server{Addr: cfg.TunnelAddr, Handler: ts.Handler(), TLSConfig: ts.TLSConfig(cert), ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.TunnelAddr)
	if err != nil {
		return deps, nil, nil, fmt.Errorf("tunnel endpoint: %w", err)
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("tunnel endpoint", "err", err)
		}
	}()
	log.Info("agent tunnel endpoint listening", "addr", ln.Addr().String(), "endpoint", endpoint, "replica", replica)
	deps.Tunnel, deps.Endpoint = ts, endpoint
	wrap := same
	if cfg.ProxyKey != "" {
		key, err := hex.DecodeString(cfg.ProxyKey)
		if err != nil || len(key) < 32 {
			_ = srv.Close()
			return deps, nil, nil, errors.New("ASTRO_AGENT_PROXY_KEY: hex of at least 32 bytes is required")
		}
		deps.Proxy = &tunnel.Proxied{Base: replica, Key: tunnel.ProxyKey(key)}
		proxy := ts.ProxyHandler(tunnel.ProxyKey(key), replica, func(r *http.Request, org, cluster string) (string, error) {
			a, err := st.GetClusterAgent(r.Context(), org, cluster)
			return a.Replica, err
		})
		wrap = func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, tunnel.ProxyPrefix) {
					proxy.ServeHTTP(w, r)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}
	return deps, wrap, stop, nil
}

// loadOrMakeCA reads the tunnel CA from dir, or makes one there on first start.
func loadOrMakeCA(dir string) (*tunnel.CA, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	certPEM, cerr := os.ReadFile(certPath) //nolint:gosec // G304: the operator's ASTRO_TUNNEL_CA_DIR
	keyPEM, kerr := os.ReadFile(keyPath)   //nolint:gosec // G304: the operator's ASTRO_TUNNEL_CA_DIR
	if cerr == nil && kerr == nil {
		return tunnel.LoadCA(certPEM, keyPEM)
	}
	if !errors.Is(cerr, os.ErrNotExist) || !errors.Is(kerr, os.ErrNotExist) {
		return nil, fmt.Errorf("ASTRO_TUNNEL_CA_DIR: %w", errors.Join(cerr, kerr))
	}
	ca, err := tunnel.NewCA()
	if err != nil {
		return nil, err
	}
	key, err := ca.KeyPEM()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyPath, key, 0o600); err != nil {
		return nil, err
	}
	return ca, os.WriteFile(certPath, ca.PEM(), 0o600)
}
