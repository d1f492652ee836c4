// Package health answers the probes outside the contract: GET /healthz (the process
// is up) and GET /readyz (the store and Temporal answer).
package health

import (
	"context"
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
}

// NewServer returns the probes of st and tc (a nil tc is never ready).
func NewServer(st *store.Store, tc client.Client) *Server { return &Server{store: st, temporal: tc} }

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
