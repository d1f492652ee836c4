// Package server is the REST API's composition root: Echo routes generated from
// openapi.yaml, the middleware that authenticates and validates every request against
// that contract, and the resource groups' handlers (server/<group>) composed into the
// generated interface, with the 501 fallback below them. It holds no handler itself;
// the plumbing the groups share is server/httpx.
package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/internal/oidcauth"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server/about"
	"github.com/astropulse/astroplane/server/agents"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/apikeys"
	"github.com/astropulse/astroplane/server/approvals"
	"github.com/astropulse/astroplane/server/apps"
	auditlog "github.com/astropulse/astroplane/server/audit"
	"github.com/astropulse/astroplane/server/catalog"
	"github.com/astropulse/astroplane/server/cloudaccounts"
	"github.com/astropulse/astroplane/server/clusters"
	"github.com/astropulse/astroplane/server/ghintegration"
	"github.com/astropulse/astroplane/server/health"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/kubeaccess"
	"github.com/astropulse/astroplane/server/livecatalog"
	"github.com/astropulse/astroplane/server/notifications"
	"github.com/astropulse/astroplane/server/orgs"
	"github.com/astropulse/astroplane/server/pricing"
	"github.com/astropulse/astroplane/server/profiles"
	"github.com/astropulse/astroplane/server/ratelimit"
	"github.com/astropulse/astroplane/server/tiers"
	"github.com/astropulse/astroplane/server/users"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/tunnel"
)

// Options configure a Server.
type Options struct {
	Store    *store.Store
	Temporal client.Client
	Log      *slog.Logger
	// TaskQueue is where workflows are started; default workflows.TaskQueue.
	TaskQueue string
	// LiveCatalog asks connected accounts' live catalogs through the worker;
	// default one over Store and Temporal with livecatalog's defaults.
	LiveCatalog *livecatalog.Lookup
	// MaxBodyBytes limits request bodies; default 1 MiB.
	MaxBodyBytes int64
	// Signer verifies approval and unsubscribe links; without it they answer 501.
	Signer *approval.Signer
	// Box seals notification integrations' secrets; without it they answer 501.
	Box *secrets.Box
	// Guard vets outbound URLs (webhooks) against server-side request forgery.
	Guard notify.Guard
	// ServerSMTPHost is the server-wide mail relay the worker sends email through
	// (ASTRO_SMTP_HOST); empty: there is none, and an email integration must bring
	// its own smtp relay.
	ServerSMTPHost string
	// RateLimits limit requests per client IP and per credential (429 with
	// Retry-After above them); nil: no limit (tests, the benchmark). cmd/api always
	// sets them (ASTRO_RATE_LIMIT_*).
	RateLimits *ratelimit.Limits
	// TrustedProxies are the proxies whose X-Forwarded-For names the client: the
	// address audit events and per-IP rate limits use. Empty: the client is the
	// connection's peer and X-Forwarded-For is ignored, whoever sends it.
	TrustedProxies []netip.Prefix
	// Verifier checks users' OIDC bearer tokens; without it bearer tokens are
	// refused (401) and only API keys authenticate.
	Verifier *oidcauth.Verifier
	// SignIn is what GET /api/v1/auth/config tells clients about signing users in
	// (the issuer and the device-flow client); nil: API keys only.
	SignIn *about.SignIn
	// Metrics, when set, record every request's duration and the cluster operations
	// asked for (see NewMetrics); nil: none.
	Metrics *Metrics
	// TracerProvider makes a server span of every request, which the Temporal
	// client's tracing interceptor (internal/telemetry) continues into the
	// workflow; nil: the global provider (a no-op one unless telemetry set it).
	TracerProvider trace.TracerProvider
	// CloudConnectTimeout bounds a cloud account connection's wait for the customer's
	// role (ASTRO_CLOUD_CONNECT_TIMEOUT; zero: an hour); CloudConnectPoll is its first
	// wait between attempts (zero: 10 s).
	CloudConnectTimeout, CloudConnectPoll time.Duration
	// Streams caps the progress streams open on this process per API key and per
	// organization (zero values: 50 and 500); see clusters.StreamLimits.
	Streams clusters.StreamLimits
	// ClusterConfigs reach applications' clusters for their events and logs
	// streams; default kubeaccess.FromWorker over Store, Temporal and Box.
	ClusterConfigs kubeaccess.ClusterConfigs
	// Agents configure registered clusters' operations (docs/registered-clusters.md);
	// their Store, Temporal, TaskQueue and Log are the server's.
	Agents agents.Deps
	// GitHub is the Integrations group's GitHub App (docs/github.md); without its App
	// the group answers 501. Its Store, Audit and Log are the server's.
	GitHub ghintegration.Deps
}

// Server serves the API: every operation of openapi.yaml, answered by the handlers
// composed in handlers, behind the middleware that authenticates and validates each
// request against the contract.
type Server struct {
	store    *store.Store
	log      *slog.Logger
	verifier *oidcauth.Verifier
	contract *contract
	// keyAudit audits keys' new addresses and refused known keys.
	keyAudit *keyAudit
	// ruleFaults are the faults of a body beyond its schema (see validate).
	ruleFaults func(c echo.Context, operationID string, raw []byte) map[string]any
	echo       *echo.Echo
}

// The resource groups' handlers, named for embedding in handlers.
type (
	clustersServer      = clusters.Server
	approvalsServer     = approvals.Server
	notificationsServer = notifications.Server
	orgsServer          = orgs.Server
	catalogServer       = catalog.Server
	usersServer         = users.Server
	pricingServer       = pricing.Server
	apikeysServer       = apikeys.Server
	auditServer         = auditlog.Server
	cloudaccountsServer = cloudaccounts.Server
	tiersServer         = tiers.Server
	profilesServer      = profiles.Server
	appsServer          = apps.Server
	agentsServer        = agents.Server
	githubServer        = ghintegration.Server
	aboutServer         = about.Server
)

// handlers composes the resource groups' handlers into the generated interface. Each
// group is embedded at depth one and the 501 fallback at depth two: what a group
// builds wins over the fallback, and an operation two groups both build is an
// ambiguous selector at depth one, which handlers then lacks, so the assertion below
// fails to compile.
type handlers struct {
	*clustersServer
	*approvalsServer
	*notificationsServer
	*orgsServer
	*catalogServer
	*usersServer
	*pricingServer
	*apikeysServer
	*auditServer
	*cloudaccountsServer
	*tiersServer
	*profilesServer
	*appsServer
	*agentsServer
	*githubServer
	*aboutServer
	fallback
}

// fallback puts httpx.Unimplemented one level below the groups.
type fallback struct{ httpx.Unimplemented }

var _ api.ServerInterface = handlers{}

// New returns a Server with its routes, middleware and error handling in place.
func New(opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.TaskQueue == "" {
		return nil, fmt.Errorf("server: TaskQueue is required")
	}
	ct, err := loadContract()
	if err != nil {
		return nil, err
	}
	audit := httpx.NewAudit(opts.Store, opts.Log)
	if opts.ClusterConfigs == nil && opts.Store != nil {
		routed := kubeaccess.ByProvisioner{Store: opts.Store,
			Others: &kubeaccess.FromWorker{Store: opts.Store, Temporal: opts.Temporal, TaskQueue: opts.TaskQueue, Box: opts.Box}}
		if opts.Agents.Tunnel != nil { // registered clusters: through their agent's tunnel, here or on its replica
			local := tunnel.Local{Server: opts.Agents.Tunnel}
			if opts.Agents.Proxy != nil {
				local.Fallback = opts.Agents.Proxy
			}
			routed.Registered = local
		}
		opts.ClusterConfigs = routed
	}
	if opts.LiveCatalog == nil && opts.Store != nil {
		opts.LiveCatalog = livecatalog.New(opts.Store.ConnectedAccounts, opts.Temporal, opts.TaskQueue)
	}
	h := handlers{
		clustersServer:  clusters.NewServer(opts.Store, opts.Temporal, opts.TaskQueue, opts.Log, audit, opts.Box).WithLiveCatalog(opts.LiveCatalog),
		approvalsServer: approvals.NewServer(opts.Store, opts.Temporal, opts.Signer, opts.Box, audit),
		notificationsServer: notifications.NewServer(notifications.Deps{Store: opts.Store, Box: opts.Box, Guard: opts.Guard,
			Signer: opts.Signer, SMTPHost: opts.ServerSMTPHost, Audit: audit}),
		orgsServer:    orgs.NewServer(opts.Store, audit),
		catalogServer: catalog.NewServer(opts.LiveCatalog),
		usersServer:   users.NewServer(opts.Store, audit),
		pricingServer: pricing.NewServer(),
		apikeysServer: apikeys.NewServer(opts.Store, audit),
		auditServer:   auditlog.NewServer(opts.Store, opts.Log),
		cloudaccountsServer: cloudaccounts.NewServer(cloudaccounts.Deps{Store: opts.Store, Temporal: opts.Temporal,
			TaskQueue: opts.TaskQueue, Box: opts.Box, Audit: audit, Log: opts.Log,
			ConnectTimeout: opts.CloudConnectTimeout, ConnectPoll: opts.CloudConnectPoll}),
		tiersServer:    tiers.NewServer(opts.Store),
		profilesServer: profiles.NewServer(profiles.Deps{Store: opts.Store}),
		appsServer: apps.NewServer(apps.Deps{Store: opts.Store, Temporal: opts.Temporal, TaskQueue: opts.TaskQueue, Log: opts.Log,
			Clusters: opts.ClusterConfigs, Streams: apps.StreamLimits{PerKey: opts.Streams.PerKey, PerOrg: opts.Streams.PerOrg}}),
	}
	ad := opts.Agents
	ad.Store, ad.Temporal, ad.TaskQueue, ad.Log = opts.Store, opts.Temporal, opts.TaskQueue, opts.Log
	h.agentsServer = agents.NewServer(ad)
	gd := opts.GitHub
	gd.Store, gd.Audit, gd.Log = opts.Store, audit, opts.Log
	h.githubServer = ghintegration.NewServer(gd)
	h.aboutServer = about.NewServer(opts.SignIn)
	h.SetStreamLimits(opts.Streams)
	s := &Server{store: opts.Store, log: opts.Log, verifier: opts.Verifier, contract: ct, ruleFaults: h.RuleFaults}
	s.keyAudit = newKeyAudit(opts.Store, audit)

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpx.ErrorHandler(opts.Log)
	e.IPExtractor = ipExtractor(opts.TrustedProxies)
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	routes := routeSet{}
	e.Use(observe(opts.Metrics, opts.TracerProvider, routes), httpx.RequestID(), accessLog(opts.Log), recoverPanics(opts.Log))
	if opts.RateLimits != nil {
		e.Use(ratelimit.New(*opts.RateLimits).Middleware())
	}
	e.Use(limitBody(opts.MaxBodyBytes), s.authenticate(), s.authorize(), s.auditMutations(audit), s.validate())
	probes := health.NewServer(opts.Store, opts.Temporal, opts.Log)
	e.GET("/healthz", probes.Healthz)
	e.GET("/readyz", probes.Readyz)
	e.GET(apps.ChartsPath+"/index.yaml", apps.ChartIndex)
	e.GET(apps.ChartsPath+"/:file", apps.ChartArchive)
	e.GET("/oidc/*", s.publishedDocument) // the Azure identity's issuer documents (documents.go)
	// The GitHub App's webhook, beyond the contract (docs/github.md).
	e.POST(ghintegration.WebhookPath, h.Webhook)
	api.RegisterHandlers(e, h)
	for _, r := range e.Routes() {
		routes[r.Path] = struct{}{}
	}
	s.echo = e
	return s, nil
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

// Routes lists the method and path of every route the server serves.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// ipExtractor is how the server learns a client's address (c.RealIP): from
// X-Forwarded-For only when the connection comes from one of trusted, walking the
// chain from the right past trusted hops; otherwise the connection's peer. Echo's
// default would believe X-Forwarded-For and X-Real-IP from anyone, and its XFF
// extractor trusts loopback and private ranges unless told not to.
func ipExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
