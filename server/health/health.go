// Package health answers the probes outside the contract: GET /healthz (the process
// is up) and GET /readyz (the store and Temporal answer).
package health

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// Server answers the probes.
type Server struct {
	store    *store.Store
	temporal client.Client
	log      *slog.Logger
}

// NewServer returns the probes of st and tc (a nil tc is never ready); why a
// dependency is down goes to log, never into the answer.
func NewServer(st *store.Store, tc client.Client, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{store: st, temporal: tc, log: log}
}

// Healthz reports the process up.
func (s *Server) Healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz reports ready when the store and Temporal both answer within two seconds.
func (s *Server) Readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "temporal": "ok"}
	ready := true
	// The probe is public: it says which dependency is down, never why (an error's
	// text names hosts, ports, users and versions). The cause is in the API's log.
	if err := s.store.Ping(ctx); err != nil {
		checks["store"], ready = "unavailable", false
		s.log.WarnContext(ctx, "readiness: store unavailable", "err", err)
	}
	if s.temporal == nil {
		checks["temporal"], ready = "not configured", false
	} else if _, err := s.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		checks["temporal"], ready = "unavailable", false
		s.log.WarnContext(ctx, "readiness: Temporal unavailable", "err", err)
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
