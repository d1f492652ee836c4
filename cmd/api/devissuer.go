package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/astropulse/astroplane/internal/config"
	"github.com/astropulse/astroplane/internal/devissuer"
)

// startDevIssuer serves the development OIDC issuer on cfg.DevAddr (loopback only:
// Validate refused anything else) and returns a function that stops it. It warns
// loudly: anyone who reaches it signs in as anyone.
func startDevIssuer(ctx context.Context, cfg config.OIDC, log *slog.Logger) (stop func(), err error) {
	audience := cfg.Audience
	if audience == "" {
		audience = config.DevAudience
	}
	iss, err := devissuer.New(devissuer.Options{Issuer: cfg.DevIssuerURL(), Audience: audience})
	if err != nil {
		return nil, err
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.DevAddr)
	if err != nil {
		return nil, fmt.Errorf("ASTRO_DEV_OIDC_ADDR: listen on %s: %w", cfg.DevAddr, err)
	}
	srv := &http.Server{Handler: iss, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("development OIDC issuer stopped", "err", err)
		}
	}()
	log.Warn("DEVELOPMENT OIDC ISSUER ENABLED (ASTRO_DEV_OIDC=true): any user name signs in without a password; never use it in production",
		"issuer", cfg.DevIssuerURL(), "addr", ln.Addr().String(), "audience", audience)
	fmt.Fprintf(os.Stderr, "\n*** DEVELOPMENT OIDC ISSUER on %s: anyone who reaches it signs in as anyone. Never in production. ***\n\n", cfg.DevIssuerURL())
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}, nil
}
