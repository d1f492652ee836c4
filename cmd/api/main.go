// Command api serves the Astro Plane REST API. Configuration comes from the
// environment (see Config and the README).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/bootstrap"
	"github.com/astropulse/astroplane/internal/config"
	"github.com/astropulse/astroplane/internal/telemetry"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/clusters"
	"github.com/astropulse/astroplane/server/ghintegration"
	"github.com/astropulse/astroplane/server/ratelimit"
	"github.com/astropulse/astroplane/store"
)

// Config is the API process's configuration.
type Config struct {
	HTTPAddr        string        `env:"ASTRO_HTTP_ADDR" envDefault:":8080"`
	MaxBodyBytes    int64         `env:"ASTRO_MAX_BODY_BYTES" envDefault:"1048576"`
	ShutdownTimeout time.Duration `env:"ASTRO_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// BootstrapAPIKey, when set, is the first admin's API key on a fresh install.
	BootstrapAPIKey     string `env:"ASTRO_BOOTSTRAP_API_KEY"`
	BootstrapOrg        string `env:"ASTRO_BOOTSTRAP_ORG" envDefault:"default"`
	BootstrapAdminEmail string `env:"ASTRO_BOOTSTRAP_ADMIN_EMAIL" envDefault:"admin@localhost"`
	// StreamsPerKey and StreamsPerOrg cap the progress streams (WebSockets) open on
	// this process per API key (or user of a bearer token) and per organization.
	StreamsPerKey int `env:"ASTRO_STREAMS_PER_KEY" envDefault:"50"`
	StreamsPerOrg int `env:"ASTRO_STREAMS_PER_ORG" envDefault:"500"`
	// KeyCacheTTL is how long an API key's lookup (the key, its revocation, its
	// owner's role) and an organization's approval policy are reused by this
	// process: changes made through it apply at once, those made through other
	// replicas within the TTL; 0 reads them on every request.
	KeyCacheTTL time.Duration `env:"ASTRO_KEY_CACHE_TTL" envDefault:"1s"`
	// CloudConnectTimeout is how long a cloud account connection waits for the
	// customer to create its role before it fails.
	CloudConnectTimeout time.Duration `env:"ASTRO_CLOUD_CONNECT_TIMEOUT" envDefault:"1h"`

	Log      config.Log
	Store    config.Store
	Temporal config.Temporal
	Keys     config.Keys
	// Relay says whether the server has a mail relay (ASTRO_SMTP_HOST, the worker's):
	// without one, an email integration must bring its own smtp.
	Relay config.Relay
	// OIDC is user sign-in with bearer tokens, and the development issuer.
	OIDC config.OIDC
	// Agents is registered clusters' tunnel endpoint (cmd/api/agents.go).
	Agents AgentsConfig
	// Edge is rate limiting and the trusted proxies (ASTRO_RATE_LIMIT_*, ASTRO_TRUSTED_PROXIES).
	Edge config.Edge
	// Telemetry is the metrics listener (ASTRO_METRICS_ADDR); traces follow OTEL_EXPORTER_OTLP_*.
	Telemetry config.Telemetry
}

// orgName is what an organization's name may be: it is the first part of every
// operation ID (org.cluster.operation.suffix), so it holds no dot.
var orgName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// Validate reports every variable whose value the API cannot run with, by name.
func (c Config) Validate() error {
	errs := []error{c.Log.Validate(), c.Store.Validate(), c.Temporal.Validate(), c.Keys.Validate(), c.Relay.Validate(), c.OIDC.Validate(), c.Edge.Validate(), c.Telemetry.Validate()}
	if err := config.HostPort(c.HTTPAddr, true); err != nil {
		errs = append(errs, fmt.Errorf("ASTRO_HTTP_ADDR: %w", err))
	}
	if c.Telemetry.MetricsAddr != "" && c.Telemetry.MetricsAddr == c.HTTPAddr {
		errs = append(errs, fmt.Errorf("ASTRO_METRICS_ADDR: %q is ASTRO_HTTP_ADDR too: metrics have a listener of their own", c.Telemetry.MetricsAddr))
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, fmt.Errorf("ASTRO_MAX_BODY_BYTES: %d is not a positive number of bytes", c.MaxBodyBytes))
	}
	if c.StreamsPerKey <= 0 {
		errs = append(errs, fmt.Errorf("ASTRO_STREAMS_PER_KEY: %d is not a positive number", c.StreamsPerKey))
	}
	if c.StreamsPerOrg <= 0 {
		errs = append(errs, fmt.Errorf("ASTRO_STREAMS_PER_ORG: %d is not a positive number", c.StreamsPerOrg))
	}
	if c.KeyCacheTTL < 0 || c.KeyCacheTTL > time.Minute {
		errs = append(errs, fmt.Errorf("ASTRO_KEY_CACHE_TTL: %s is not between 0s and 1m (a revoked key works on other replicas for up to this long)", c.KeyCacheTTL))
	}
	if c.CloudConnectTimeout < time.Minute || c.CloudConnectTimeout > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("ASTRO_CLOUD_CONNECT_TIMEOUT: %s is not between 1m and 168h", c.CloudConnectTimeout))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("ASTRO_SHUTDOWN_TIMEOUT: %s is not a positive duration", c.ShutdownTimeout))
	}
	if c.BootstrapAPIKey != "" && apikey.Check(c.BootstrapAPIKey) != nil {
		// The key itself is never echoed.
		errs = append(errs, fmt.Errorf("ASTRO_BOOTSTRAP_API_KEY: must be %d–%d letters, digits, '-' or '_' (a key starting with %s must carry its checksum: take one from a key this server made)", apikey.MinLength, apikey.MaxLength, apikey.Prefix))
	}
	if !orgName.MatchString(c.BootstrapOrg) {
		errs = append(errs, fmt.Errorf("ASTRO_BOOTSTRAP_ORG: %q is not a lower-case DNS label (a-z, 0-9, '-')", c.BootstrapOrg))
	}
	if a, err := mail.ParseAddress(c.BootstrapAdminEmail); err != nil || a.Name != "" {
		errs = append(errs, fmt.Errorf("ASTRO_BOOTSTRAP_ADMIN_EMAIL: %q is not an email address", c.BootstrapAdminEmail))
	}
	return errors.Join(errs...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:])
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

// dispatch runs what the command line asks: the API (no arguments), or -migrate.
func dispatch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	migrateOnly := fs.Bool("migrate", false, "bring the store's schema (ASTRO_DATABASE_URL) up to date and exit, serving nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (the API is configured by ASTRO_* environment variables)", fs.Args())
	}
	if *migrateOnly {
		var cfg MigrateConfig
		if err := config.Parse(&cfg); err != nil {
			return err
		}
		return migrate(ctx, cfg)
	}
	return run(ctx)
}

// MigrateConfig is what `api -migrate` reads: the store and logging alone, so a
// migrations job (the Helm chart's) needs neither Temporal nor the keys.
type MigrateConfig struct {
	Log   config.Log
	Store config.Store
}

// Validate reports every variable whose value the migration cannot run with.
func (c MigrateConfig) Validate() error {
	return errors.Join(c.Log.Validate(), c.Store.Validate())
}

// migrate brings the store's schema up to date and returns. store.Open migrates
// under PostgreSQL's advisory lock, so it is safe beside API and worker replicas
// starting at the same time (which migrate on open too: the job only makes a failed
// migration fail a deploy, before any new pod starts).
func migrate(ctx context.Context, cfg MigrateConfig) error {
	log, err := cfg.Log.NewLogger()
	if err != nil {
		return err
	}
	start := time.Now()
	st, err := store.Open(ctx, cfg.Store.DatabaseURL, log)
	if err != nil {
		return err
	}
	driver := st.Driver()
	if err := st.Close(); err != nil {
		return fmt.Errorf("close the store: %w", err)
	}
	log.Info("schema up to date", "store", driver, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
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
	st.CacheKeyLookups(cfg.KeyCacheTTL)

	res, err := bootstrap.Run(ctx, st, bootstrap.Options{
		OrgName: cfg.BootstrapOrg, AdminEmail: cfg.BootstrapAdminEmail, APIKey: cfg.BootstrapAPIKey,
	})
	if err != nil {
		return err
	}
	switch {
	case res.Created:
		log.Info("bootstrapped a fresh install", "orgID", res.OrgID, "org", cfg.BootstrapOrg, "admin", cfg.BootstrapAdminEmail)
		if cfg.BootstrapAPIKey == "" {
			// Shown once, on the terminal only: never through the logger.
			fmt.Fprintf(os.Stdout, "\nBootstrap admin API key (shown once, store it now):\n  %s\n\n", res.Key)
		}
	case res.Adopted:
		log.Warn("ASTRO_BOOTSTRAP_API_KEY was unknown to this store: adopted as a new admin key", "orgID", res.OrgID, "org", cfg.BootstrapOrg)
	}

	tel, err := telemetry.Start(ctx, "astro-api", cfg.Telemetry.MetricsAddr, log)
	if err != nil {
		return err
	}
	defer flushSpans(ctx, tel, log)
	metrics, err := server.NewMetrics(tel.Registry)
	if err != nil {
		return err
	}
	tc, err := cfg.Temporal.Dial(ctx, log, tel.Temporal)
	if err != nil {
		return err
	}
	defer tc.Close()

	box, signer, guard, err := cfg.Keys.Open()
	if err != nil {
		return err
	}
	if box == nil || signer == nil {
		log.Warn("ASTRO_ENCRYPTION_KEY or ASTRO_APPROVAL_SIGNING_KEY unset: notification integrations or approval links answer 501")
	}
	verifier, err := cfg.OIDC.Verifier()
	if err != nil {
		return err
	}
	if cfg.OIDC.Dev {
		stopDev, err := startDevIssuer(ctx, cfg.OIDC, log)
		if err != nil {
			return err
		}
		defer stopDev()
	}
	if verifier != nil {
		log.Info("users sign in with OIDC bearer tokens", "issuer", verifier.Issuer())
	}
	proxies, err := cfg.Edge.Proxies()
	if err != nil {
		return err
	}
	github, err := ghintegration.DepsFromEnv(cfg.Keys.SigningKey) // docs/github.md
	if err != nil {
		return err
	}
	agentDeps, withProxy, stopTunnel, err := startAgents(ctx, cfg.Agents, cfg.HTTPAddr, st, log)
	if err != nil {
		return err
	}
	defer stopTunnel()
	srv, err := server.New(server.Options{
		Store: st, Temporal: tc, Log: log, TaskQueue: cfg.Temporal.TaskQueue, MaxBodyBytes: cfg.MaxBodyBytes,
		Box: box, Signer: signer, Guard: guard, ServerSMTPHost: cfg.Relay.SMTPHost, Verifier: verifier, SignIn: cliSignIn(cfg.OIDC),
		RateLimits:     &ratelimit.Limits{PerIP: cfg.Edge.RateIP, BurstIP: cfg.Edge.BurstIP, PerKey: cfg.Edge.RateKey, BurstKey: cfg.Edge.BurstKey},
		TrustedProxies: proxies, Metrics: metrics, TracerProvider: tel.TracerProvider,
		Streams:             clusters.StreamLimits{PerKey: cfg.StreamsPerKey, PerOrg: cfg.StreamsPerOrg},
		CloudConnectTimeout: cfg.CloudConnectTimeout,
		Agents:              agentDeps,
		GitHub:              github,
	})
	if err != nil {
		return err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	httpSrv := &http.Server{Handler: withProxy(srv), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	log.Info("api listening", "addr", ln.Addr().String(), "store", st.Driver(), "temporal", cfg.Temporal.Address)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("api shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout) // ctx is done already
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// flushSpans sends the spans still buffered before the process exits.
func flushSpans(ctx context.Context, tel *telemetry.Process, log *slog.Logger) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(sctx); err != nil {
		log.Warn("flushing traces", "err", err)
	}
}
