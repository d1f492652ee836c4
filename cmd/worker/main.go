// Command worker runs the Astro Plane workflows and activities on a Temporal task
// queue. It is the only process that talks to clouds. Configuration comes from the
// environment (see Config and the README).
package main

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/credsource"
	"github.com/astropulse/astroplane/internal/config"
	"github.com/astropulse/astroplane/internal/telemetry"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// Config is the worker process's configuration.
type Config struct {
	// SimStepDelay is how long each simulated cloud call takes.
	SimStepDelay time.Duration `env:"ASTRO_SIM_STEP_DELAY" envDefault:"3s"`
	// SimLedger, when set, is the file the simulated cloud records what it makes in
	// (sim.OpenLedger): it outlives the worker and is shared by every worker naming it.
	SimLedger string `env:"ASTRO_SIM_LEDGER"`
	// SimIgnoreTokens makes the simulated cloud a cloud without idempotency (a retried
	// create makes a second resource): for checking that the chaos suite catches it.
	SimIgnoreTokens bool `env:"ASTRO_SIM_IGNORE_TOKENS"`
	// SimKubeconfig, when set, is the kubeconfig file of the Kubernetes API server every
	// simulated cluster is (make run's, written by cmd/devkube), so applications can
	// be deployed on them.
	SimKubeconfig string `env:"ASTRO_SIM_KUBECONFIG"`
	// Clouds are the clouds this worker provisions in for real, through their SDKs
	// (aws, gcp, azure, comma-separated): their managed provisioners (EKS, GKE, AKS)
	// act in the clusters' own accounts with the credentials of the Cloud group
	// (connected accounts, the vault). Empty: every cloud is simulated.
	Clouds []string `env:"ASTRO_CLOUDS" envSeparator:","`
	// AWSPlatformPrincipal is the ARN of the platform's AWS identity, which
	// customers' connection roles trust (the worker runs as it: AWS_* variables,
	// an instance or pod role).
	AWSPlatformPrincipal string `env:"ASTRO_AWS_PLATFORM_PRINCIPAL"`
	// AWSTemplateBucket is the S3 bucket AWS connection templates are published to
	// (the CloudFormation console reads quick-create templates from S3 only);
	// empty: the API serves them (enough for moto and local runs).
	AWSTemplateBucket    string `env:"ASTRO_AWS_TEMPLATE_BUCKET"`
	AWSTemplateBucketURL string `env:"ASTRO_AWS_TEMPLATE_BUCKET_URL"`
	// GCP is the platform's GCP identity for GCP connections (ASTRO_GCP_*, gcpconnect.go).
	GCP gcpConfig
	// Azure is the platform's Azure identity for Azure connections (ASTRO_AZURE_*, azureconnect.go).
	Azure azureConfig
	// Agents is the way into registered clusters (ASTRO_API_INTERNAL_URL, agents.go).
	Agents agentsConfig
	// MaxConcurrentActivities caps the activities this worker runs at once.
	MaxConcurrentActivities int `env:"ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES" envDefault:"200"`

	// PublicURL is where users reach the API: the base of approval links.
	PublicURL string `env:"ASTRO_PUBLIC_URL" envDefault:"http://localhost:8080"`
	// SMTP is the server's relay for email notifications: its host (Relay, which the
	// API reads too) and these.
	SMTPPort     int    `env:"ASTRO_SMTP_PORT" envDefault:"587"`
	SMTPUsername string `env:"ASTRO_SMTP_USERNAME"`
	SMTPPassword string `env:"ASTRO_SMTP_PASSWORD"`
	SMTPFrom     string `env:"ASTRO_SMTP_FROM" envDefault:"astro-plane@localhost"`
	// SMTPStartTLS is required, opportunistic or none.
	SMTPStartTLS string `env:"ASTRO_SMTP_STARTTLS" envDefault:"required"`

	Log      config.Log
	Store    config.Store
	Temporal config.Temporal
	Keys     config.Keys
	Relay    config.Relay
	// Telemetry is the metrics listener (ASTRO_METRICS_ADDR); traces follow OTEL_EXPORTER_OTLP_*.
	Telemetry config.Telemetry
}

// Validate reports every variable whose value the worker cannot run with, by name.
func (c Config) Validate() error {
	errs := []error{c.Log.Validate(), c.Store.Validate(), c.Temporal.Validate(), c.Keys.Validate(), c.Relay.Validate(), c.Telemetry.Validate()}
	if c.SimStepDelay < 0 {
		errs = append(errs, fmt.Errorf("ASTRO_SIM_STEP_DELAY: %s is negative", c.SimStepDelay))
	}
	if err := checkClouds(c.Clouds); err != nil {
		errs = append(errs, err)
	}
	if c.MaxConcurrentActivities <= 0 {
		errs = append(errs, fmt.Errorf("ASTRO_WORKER_MAX_CONCURRENT_ACTIVITIES: %d is not a positive number", c.MaxConcurrentActivities))
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("ASTRO_PUBLIC_URL: %q is not an absolute http(s) URL without credentials, query or fragment", c.PublicURL))
	}
	if c.SMTPPort < 1 || c.SMTPPort > 65535 {
		errs = append(errs, fmt.Errorf("ASTRO_SMTP_PORT: %d is not a port number (1–65535)", c.SMTPPort))
	}
	if a, err := mail.ParseAddress(c.SMTPFrom); err != nil || a.Address == "" {
		errs = append(errs, fmt.Errorf("ASTRO_SMTP_FROM: %q is not an email address", c.SMTPFrom))
	}
	switch c.SMTPStartTLS {
	case notify.StartTLSRequired, notify.StartTLSOpportunistic, notify.StartTLSNone:
	default:
		errs = append(errs, fmt.Errorf("ASTRO_SMTP_STARTTLS: %q is not %s, %s or %s", c.SMTPStartTLS,
			notify.StartTLSRequired, notify.StartTLSOpportunistic, notify.StartTLSNone))
	}
	if c.SMTPUsername != "" && c.Relay.SMTPHost == "" {
		errs = append(errs, errors.New("ASTRO_SMTP_USERNAME: set without ASTRO_SMTP_HOST"))
	}
	return errors.Join(errs...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg Config
	if err := config.Parse(&cfg); err != nil {
		return err
	}
	log, err := cfg.Log.NewLogger()
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.Store.DatabaseURL, log)
	if err != nil {
		return err
	}
	defer st.Close()
	tel, err := telemetry.Start(ctx, "astro-worker", cfg.Telemetry.MetricsAddr, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}()
	finished, err := finishedCounter(tel.Registry)
	if err != nil {
		return err
	}
	tc, err := cfg.Temporal.Dial(ctx, log, tel.Temporal)
	if err != nil {
		return err
	}
	defer tc.Close()

	// Provider calls' progress reports go to the store's progress feed, from which the
	// API pushes them to open progress streams at once.
	feed := activities.NewProgressFeed(st, log)
	feedCtx, stopFeed := context.WithCancel(context.WithoutCancel(ctx))
	feedDone := make(chan struct{})
	go func() { defer close(feedDone); feed.Run(feedCtx) }()
	defer func() { stopFeed(); <-feedDone }()
	w := worker.New(tc, cfg.Temporal.TaskQueue, worker.Options{MaxConcurrentActivityExecutionSize: cfg.MaxConcurrentActivities,
		BackgroundActivityContext: activities.WithProgressFeed(context.Background(), feed)})
	notifier, err := notifierActivities(cfg, st)
	if err != nil {
		return err
	}
	cloudSim := sim.New(cfg.SimStepDelay)
	cloudSim.IgnoreTokens = cfg.SimIgnoreTokens
	cloudSim.KubeconfigFile = cfg.SimKubeconfig
	if cfg.SimLedger != "" {
		if cloudSim.Ledger, err = sim.OpenLedger(cfg.SimLedger); err != nil {
			return fmt.Errorf("ASTRO_SIM_LEDGER: %w", err)
		}
		defer cloudSim.Ledger.Close()
	}
	platform, err := platformAWS(ctx)
	if err != nil {
		return err
	}
	gcpPlatform, err := platformGCP(cfg)
	if err != nil {
		return err
	}
	creds := credsource.New(st, notifier.Box, platform)
	if gcpPlatform != nil {
		creds.WithGCP(gcpPlatform.Identity, gcpPlatform.Endpoints) // dynamic credentials of connected GCP projects
	}
	cluster := clusterActivities(st, cloudSim, cloudRegistry(cloudSim, cfg.Clouds, creds))
	cluster.Box = notifier.Box // seals the kubeconfigs it issues (ASTRO_ENCRYPTION_KEY)
	cluster.Finished = func(opType, status string) { finished.WithLabelValues(opType, status).Inc() }
	accounts := &activities.CloudAccounts{Store: st, AWS: platform, PlatformPrincipal: cfg.AWSPlatformPrincipal,
		TemplateBaseURL: strings.TrimRight(cfg.PublicURL, "/") + "/api/v1/cloud/aws/templates/",
		TemplateBucket:  cfg.AWSTemplateBucket, TemplateBucketURL: cfg.AWSTemplateBucketURL}
	accounts.GCP = gcpPlatform
	if accounts.Azure, err = platformAzure(cfg, log); err != nil {
		return err
	}
	creds.WithAzure(accounts.Azure.Identity, accounts.Azure.Endpoints) // dynamic credentials of connected Azure subscriptions
	if ok, err := publishAzureIdentity(ctx, st, accounts.Azure.Identity); err != nil {
		return err
	} else if ok {
		log.Info("Azure identity's issuer documents published for the API to serve", "issuer", accounts.Azure.Identity.Issuer())
	}
	agentActs, agentConfigs, err := agentActivities(st, cfg.Agents)
	if err != nil {
		return err
	}
	clusters := activities.RoutedClusters{Store: st, Provisioned: &activities.KubeClients{Cluster: cluster}}
	if reach, ok := agentConfigs.(activities.ClusterClients); ok { // registered clusters, through the API's proxy
		clusters.Registered = reach
	}
	apps := &activities.Apps{Store: st, Clusters: clusters, ChartRepoURL: strings.TrimRight(cfg.PublicURL, "/") + "/api/v1/charts"}
	if apps.GitHub, err = githubApp(); err != nil { // ASTRO_GITHUB_*: private repositories' tokens
		return err
	}
	// Live catalogs of connected accounts (LookupCatalog).
	liveCatalog := &activities.Catalog{Credentials: creds, Live: map[string]activities.LiveFactory{
		"aws": activities.AWSCatalog(activities.AWSCatalogOptions{}), "gcp": activities.GCPCatalog(activities.GCPCatalogOptions{}),
		"azure": activities.AzureCatalog(activities.AzureCatalogOptions{})}}
	workflows.Register(w, workflows.Dependencies{Cluster: cluster, Notifier: notifier, CloudAccounts: accounts, Apps: apps, Catalog: liveCatalog, Agents: agentActs})
	log.Info("worker starting", "taskQueue", cfg.Temporal.TaskQueue, "temporal", cfg.Temporal.Address, "store", st.Driver(),
		"realClouds", strings.Join(cfg.Clouds, ","))
	return w.Run(interruptOn(ctx))
}

// finishedCounter registers astro_operations_finished_total{type, outcome} on reg:
// the operations the worker recorded as ended (activities.Cluster.Finished).
func finishedCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "astro_operations_finished_total",
		Help: "Cluster operations ended, by type (deploy, update, delete) and outcome (succeeded, failed, cancelled, rejected, expired).",
	}, []string{"type", "outcome"})
	return c, reg.Register(c)
}

// clusterActivities wires the cluster activities to clouds (cloudRegistry: the real
// clouds ASTRO_CLOUDS lists, the simulated one for the rest), polling as often as
// the simulated cloud's steps need.
func clusterActivities(st *store.Store, cloudSim *sim.Provider, clouds *cloud.Registry) *activities.Cluster {
	return &activities.Cluster{
		Store:        st,
		Clouds:       clouds,
		PollInterval: max(cloudSim.StepDelay/4, 50*time.Millisecond),
	}
}

// notifierActivities wires the approval and notification activities.
func notifierActivities(cfg Config, st *store.Store) (*activities.Notifier, error) {
	box, signer, guard, err := cfg.Keys.Open()
	if err != nil {
		return nil, err
	}
	return &activities.Notifier{
		Store: st, Box: box, Signer: signer, PublicURL: cfg.PublicURL, HTTP: guard.HTTPClient(30 * time.Second), Guard: &guard,
		SMTP: notify.SMTPConfig{Host: cfg.Relay.SMTPHost, Port: cfg.SMTPPort, Username: cfg.SMTPUsername, Password: cfg.SMTPPassword,
			From: cfg.SMTPFrom, StartTLS: cfg.SMTPStartTLS, Timeout: 30 * time.Second},
	}, nil
}

// interruptOn adapts ctx to the channel worker.Run stops on.
func interruptOn(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}
