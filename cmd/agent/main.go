// Command agent runs inside a registered cluster: it trades its one-time registration
// token for a client certificate, keeps one outbound tunnel to the control plane and
// answers the control plane's requests with its cluster's Kubernetes API, as its
// ServiceAccount. It never listens. See docs/registered-clusters.md.
//
// Configuration (flags override the environment):
//
//	-endpoint  ASTRO_AGENT_ENDPOINT   the tunnel endpoint, https://HOST:PORT
//	-ca-file   ASTRO_AGENT_CA_FILE    PEM of the tunnel CA (or ASTRO_AGENT_CA, the PEM itself)
//	-token-file ASTRO_AGENT_TOKEN_FILE the registration token (or ASTRO_AGENT_TOKEN)
//	-state-dir ASTRO_AGENT_STATE_DIR  where its key and certificate are kept, or
//	-cert-secret ASTRO_AGENT_CERT_SECRET a Secret of its namespace (POD_NAMESPACE, or the
//	                                  ServiceAccount's) keeping them instead
//	-kubeconfig ASTRO_AGENT_KUBECONFIG a kubeconfig instead of the in-cluster ServiceAccount
//	-region    ASTRO_AGENT_REGION     the region to report (default: the nodes' label)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/astropulse/astroplane/tunnel"
)

// version is set at build time (-ldflags "-X main.version=…").
var version = "dev"

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		if errors.Is(err, tunnel.ErrTokenRefused) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

func run() error {
	endpoint := flag.String("endpoint", env("ASTRO_AGENT_ENDPOINT", ""), "tunnel endpoint, https://HOST:PORT")
	caFile := flag.String("ca-file", env("ASTRO_AGENT_CA_FILE", ""), "PEM file of the tunnel CA")
	tokenFile := flag.String("token-file", env("ASTRO_AGENT_TOKEN_FILE", ""), "file holding the registration token")
	stateDir := flag.String("state-dir", env("ASTRO_AGENT_STATE_DIR", "/var/lib/astro-agent"), "where the key and certificate are kept")
	kubeconfig := flag.String("kubeconfig", env("ASTRO_AGENT_KUBECONFIG", ""), "kubeconfig (default: in-cluster ServiceAccount)")
	certSecret := flag.String("cert-secret", env("ASTRO_AGENT_CERT_SECRET", ""), "Secret of the agent's namespace keeping its key and certificate")
	region := flag.String("region", env("ASTRO_AGENT_REGION", ""), "region to report")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return nil
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("component", "astro-agent", "version", version)
	if *endpoint == "" || !strings.HasPrefix(*endpoint, "https://") {
		return errors.New("-endpoint (ASTRO_AGENT_ENDPOINT): an https:// URL is required")
	}
	caPEM := []byte(os.Getenv("ASTRO_AGENT_CA"))
	if *caFile != "" {
		b, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("-ca-file: %w", err)
		}
		caPEM = b
	}
	if len(caPEM) == 0 {
		return errors.New("-ca-file (ASTRO_AGENT_CA_FILE or ASTRO_AGENT_CA): the tunnel CA is required")
	}
	token := os.Getenv("ASTRO_AGENT_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("-token-file: %w", err)
		}
		token = strings.TrimSpace(string(b))
	}
	var kube *rest.Config
	var err error
	if *kubeconfig != "" {
		kube, err = clientcmd.BuildConfigFromFlags("", *kubeconfig)
	} else {
		kube, err = rest.InClusterConfig()
	}
	if err != nil {
		return fmt.Errorf("kubernetes: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var certs tunnel.CertStore = tunnel.DirStore(*stateDir)
	if *certSecret != "" {
		ns := os.Getenv("POD_NAMESPACE")
		if ns == "" {
			b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
			if err != nil {
				return fmt.Errorf("-cert-secret: the agent's namespace (POD_NAMESPACE): %w", err)
			}
			ns = strings.TrimSpace(string(b))
		}
		cs, err := kubernetes.NewForConfig(kube)
		if err != nil {
			return err
		}
		certs = tunnel.SecretStore{Client: cs, Namespace: ns, Name: *certSecret}
	}
	a := &tunnel.Agent{
		Endpoint: *endpoint, CAPEM: caPEM, Token: token, Store: certs,
		Kube: kube, Version: version, Region: *region, Logger: log,
	}
	log.Info("starting", "endpoint", *endpoint)
	return a.Run(ctx)
}
