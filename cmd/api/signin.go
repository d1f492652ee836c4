package main

import (
	"github.com/astropulse/astroplane/internal/config"
	"github.com/astropulse/astroplane/internal/devissuer"
	"github.com/astropulse/astroplane/server/about"
)

// cliSignIn is what GET /api/v1/auth/config tells astroctl about signing users in:
// the development issuer and its public client under ASTRO_DEV_OIDC, else
// ASTRO_OIDC_ISSUER with ASTRO_OIDC_CLI_CLIENT_ID; nil when there is no such client
// (astroctl then logs in with API keys only).
func cliSignIn(o config.OIDC) *about.SignIn {
	switch {
	case o.Dev:
		aud := o.Audience
		if aud == "" {
			aud = config.DevAudience
		}
		return &about.SignIn{Issuer: o.DevIssuerURL(), ClientID: devissuer.ClientID, Audience: aud}
	case o.Issuer != "" && o.CLIClientID != "":
		return &about.SignIn{Issuer: o.Issuer, ClientID: o.CLIClientID, Audience: o.Audience}
	}
	return nil
}
