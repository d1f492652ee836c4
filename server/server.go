// Package server is the REST API: Echo routes generated from openapi.yaml, the
// middleware that authenticates and validates every request against that contract,
// the handlers, and the one place errors become HTTP answers.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/approvals"
	"github.com/astropulse/astroplane/server/catalog"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/notifications"
	"github.com/astropulse/astroplane/server/orgs"
	"github.com/astropulse/astroplane/store"
)

// Options configure a Server.
type Options struct {
	Store    *store.Store
	Temporal client.Client
	Log      *slog.Logger
	// TaskQueue is where workflows are started; default workflows.TaskQueue.
	TaskQueue string
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
}

// Server serves the API: every operation of openapi.yaml, answered by the handlers
// composed in handlers, behind the middleware that authenticates and validates each
// request against the contract.
type Server struct {
	store     *store.Store
	temporal  client.Client
	log       *slog.Logger
	taskQueue string
	audit     httpx.Audit
	contract  *contract
	echo      *echo.Echo
}

// The resource groups' handlers, named for embedding in handlers.
type (
	catalogServer       = catalog.Server
	orgsServer          = orgs.Server
	approvalsServer     = approvals.Server
	notificationsServer = notifications.Server
)

// handlers composes the resource groups' handlers into the generated interface. Each
// group is embedded at depth one and the 501 fallback at depth two: what a group
// builds wins over the fallback, and an operation two groups both build is an
// ambiguous selector at depth one, which handlers then lacks, so the assertion below
// fails to compile.
type handlers struct {
	*Server // groups not moved out yet
	*catalogServer
	*orgsServer
	*approvalsServer
	*notificationsServer
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
	s := &Server{store: opts.Store, temporal: opts.Temporal, log: opts.Log, taskQueue: opts.TaskQueue, contract: ct,
		audit: httpx.NewAudit(opts.Store, opts.Log)}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpx.ErrorHandler(opts.Log)
	e.Use(httpx.RequestID(), accessLog(opts.Log), recoverPanics(opts.Log), limitBody(opts.MaxBodyBytes),
		s.authenticate(), s.validate())
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	api.RegisterHandlers(e, handlers{
		Server:          s,
		catalogServer:   catalog.NewServer(),
		orgsServer:      orgs.NewServer(opts.Store),
		approvalsServer: approvals.NewServer(opts.Store, opts.Temporal, opts.Signer, s.audit),
		notificationsServer: notifications.NewServer(notifications.Deps{Store: opts.Store, Box: opts.Box, Guard: opts.Guard,
			Signer: opts.Signer, SMTPHost: opts.ServerSMTPHost, Audit: s.audit}),
	})
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

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz reports ready when the store and Temporal both answer within two seconds.
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "temporal": "ok"}
	ready := true
	if err := s.store.Ping(ctx); err != nil {
		checks["store"], ready = err.Error(), false
	}
	if s.temporal == nil {
		checks["temporal"], ready = "no client", false
	} else if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ready = err.Error(), false
	}
	if !ready {
		return &httpx.APIError{Status: http.StatusServiceUnavailable, Code: httpx.CodeServiceUnavailable, Message: "not ready", Details: toAny(checks)}
	}
	return c.JSON(http.StatusOK, map[string]any{"status": "ready", "checks": checks})
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
