// Package about serves what a client needs to know about this server before it signs
// anyone in: the server's version (GET /api/v1/version) and how users sign in
// (GET /api/v1/auth/config: the OIDC issuer and the public client a command-line
// client runs the device authorization grant with). Both are public.
package about

import (
	"runtime"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
)

// Version is the server's version, set at build time:
// go build -ldflags "-X github.com/astropulse/astroplane/server/about.Version=v1.2.3" ./cmd/api
var Version = "dev"

// SignIn is how users sign in with OIDC, as a command-line client needs it.
type SignIn struct {
	// Issuer is the OIDC issuer the API trusts.
	Issuer string
	// ClientID is the public client (no secret) allowed the device authorization
	// grant at Issuer; empty: no such client, and clients are told only API keys work.
	ClientID string
	// Audience is what the API requires in tokens' aud.
	Audience string
	// Scopes to ask for; default openid, profile, email and offline_access.
	Scopes []string
}

// DefaultScopes are asked for when SignIn names none: an ID token with the user's
// email (the API's first sign-in needs it) and a refresh token when the issuer
// grants one.
var DefaultScopes = []string{"openid", "profile", "email", "offline_access"}

// Server answers the Server group.
type Server struct {
	signIn  *SignIn
	version api.ServerVersion
}

// NewServer returns the handlers; signIn nil (or without a client ID) means users
// sign in with API keys only.
func NewServer(signIn *SignIn) *Server {
	if signIn != nil && (signIn.Issuer == "" || signIn.ClientID == "") {
		signIn = nil
	}
	if signIn != nil && len(signIn.Scopes) == 0 {
		s := *signIn
		s.Scopes = DefaultScopes
		signIn = &s
	}
	info, _ := debug.ReadBuildInfo()
	return &Server{signIn: signIn, version: build(info)}
}

// build is the version answer from the build information the binary carries (nil or
// without VCS settings when built with -buildvcs=false, or by go test).
func build(info *debug.BuildInfo) api.ServerVersion {
	v := api.ServerVersion{Version: Version, GoVersion: runtime.Version(), ApiVersion: contractVersion()}
	if info == nil {
		return v
	}
	if info.GoVersion != "" {
		v.GoVersion = info.GoVersion
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				rev := s.Value
				v.Revision = &rev
			}
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				v.RevisionTime = &t
			}
		case "vcs.modified":
			m := s.Value == "true"
			v.Modified = &m
		}
	}
	return v
}

// contractVersion is info.version of the openapi.yaml the server was generated from.
func contractVersion() string {
	sw, err := api.GetSpec()
	if err != nil || sw.Info == nil {
		return "unknown"
	}
	return sw.Info.Version
}

// GetServerVersion answers the server's version.
func (s *Server) GetServerVersion(c echo.Context) error {
	return httpx.OK(c, s.version, "astro plane "+s.version.Version)
}

// GetAuthConfig answers how users sign in: the OIDC issuer and device-flow client,
// or no oidc when only API keys authenticate.
func (s *Server) GetAuthConfig(c echo.Context) error {
	out := api.AuthConfig{}
	msg := "API keys only: this server has no OIDC client for command-line sign-in"
	if s.signIn != nil {
		o := api.AuthConfigOIDC{Issuer: s.signIn.Issuer, ClientId: s.signIn.ClientID, Scopes: s.signIn.Scopes}
		if s.signIn.Audience != "" {
			aud := s.signIn.Audience
			o.Audience = &aud
		}
		out.Oidc = &o
		msg = "sign in at " + s.signIn.Issuer
	}
	return httpx.OK(c, out, msg)
}
