package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/config"
)

// tokenLeeway: an access token expiring sooner than this is refreshed before a
// request rather than sent.
const tokenLeeway = 30 * time.Second

// deviceLogin signs a user in to server with the OIDC device authorization grant
// (RFC 8628): it asks the API which issuer and public client to use (GET
// /api/v1/auth/config), shows the verification URI and user code, polls the issuer
// until the user approved, then saves the tokens as context name and makes it current.
func (a *app) deviceLogin(cmd *cobra.Command, server, name string) error {
	ctx := cmd.Context()
	anon, err := a.clientFor(config.Context{Name: name, Server: server})
	if err != nil {
		return err
	}
	resp, err := anon.client.GetAuthConfigWithResponse(ctx)
	var ac apiclient.AuthConfig
	if err == nil {
		ac, _, err = decode[apiclient.AuthConfig](resp, resp.Body, nil)
	}
	if err != nil {
		return fmt.Errorf("ask %s how users sign in: %w", server, err)
	}
	if ac.Oidc == nil {
		return withCode(exitAuth, fmt.Errorf("%s signs users in with API keys only (no OIDC client for the CLI): astroctl auth login --api-key KEY --server %s", server, server))
	}
	o := *ac.Oidc
	party, err := rp.NewRelyingPartyOIDC(ctx, o.Issuer, o.ClientId, "", "", o.Scopes, rp.WithHTTPClient(&http.Client{Timeout: a.timeout}))
	if err != nil {
		return fmt.Errorf("reach the OIDC issuer %s: %w", o.Issuer, err)
	}
	var extra any
	if aud := str(o.Audience); aud != "" {
		// Auth0 issues an access token for the API only when asked for its audience;
		// other issuers ignore the parameter.
		extra = httphelper.FormAuthorization(func(v url.Values) { v.Set("audience", aud) })
	}
	da, err := rp.DeviceAuthorization(ctx, o.Scopes, party, extra)
	if err != nil {
		return withCode(exitAuth, fmt.Errorf("start the device sign-in at %s: %w", o.Issuer, err))
	}
	fmt.Fprintf(a.stderr, "To sign in, open %s and enter the code %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(a.stderr, "(or open %s)\n", da.VerificationURIComplete)
	}
	fmt.Fprintln(a.stderr, "Waiting for you to sign in (Ctrl-C gives up)...")
	lifetime := time.Duration(da.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = 10 * time.Minute
	}
	interval := time.Duration(da.Interval) * time.Second
	if interval <= 0 {
		interval = 5 * time.Second // RFC 8628 section 3.2's default
	}
	pctx, cancel := context.WithTimeout(ctx, lifetime)
	defer cancel()
	tok, err := rp.DeviceAccessToken(pctx, da.DeviceCode, interval, party)
	switch {
	case err != nil && ctx.Err() != nil:
		return withCode(exitAuth, errors.New("sign-in abandoned (Ctrl-C): nothing saved"))
	case err != nil && pctx.Err() != nil:
		return withCode(exitAuth, fmt.Errorf("the code %s expired before anyone approved it: run astroctl auth login again", da.UserCode))
	case err != nil:
		return withCode(exitAuth, fmt.Errorf("sign-in refused by %s: %w", o.Issuer, err))
	}
	login := &config.OIDCLogin{Issuer: o.Issuer, ClientID: o.ClientId, Scopes: o.Scopes,
		AccessToken: tok.AccessToken, RefreshToken: tok.RefreshToken}
	if tok.ExpiresIn > 0 {
		login.Expiry = time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second) //nolint:gosec // G115: seconds from the issuer, far below overflow
	}
	cur := config.Context{Name: name, Server: server, Org: a.org, OIDC: login}
	s, err := a.clientFor(cur)
	if err != nil {
		return err
	}
	// The reference's first call after a login: creates the user's profile, or returns it.
	pr, err := s.client.CreateUserProfileWithResponse(ctx)
	var prof apiclient.UserProfile
	if err == nil {
		prof, _, err = decode[apiclient.UserProfile](pr, pr.Body, nil)
	}
	if err != nil {
		return fmt.Errorf("the issuer signed you in, but %s refused the token: %w", server, err)
	}
	login.User = string(prof.Email)
	if cur.Org == "" {
		cur.Org = str(prof.ActiveOrgId)
	}
	path, cfg, err := loadConfig()
	if err != nil {
		return err
	}
	cfg.Set(cur)
	cfg.CurrentContext = name
	if err := cfg.Save(path); err != nil {
		return err
	}
	org := cur.Org
	if org == "" {
		org = "none yet"
	}
	fmt.Fprintf(a.stdout, "Logged in to %s as %s (organization %s); context %q is current (saved in %s).\n",
		server, login.User, org, name, path)
	return nil
}

// refresh replaces cur's expired access token using its refresh token, and saves the
// new tokens in the context of that name in the file at path.
func (a *app) refresh(cur *config.Context, path string) error {
	l := cur.OIDC
	relogin := "astroctl auth login --server " + cur.Server + " --context " + cur.Name
	if l.RefreshToken == "" {
		return withCode(exitAuth, fmt.Errorf("the sign-in of context %q expired at %s and the issuer gave no refresh token: %s",
			cur.Name, l.Expiry.Format(time.RFC3339), relogin))
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	party, err := rp.NewRelyingPartyOIDC(ctx, l.Issuer, l.ClientID, "", "", l.Scopes, rp.WithHTTPClient(&http.Client{Timeout: a.timeout}))
	if err != nil {
		return fmt.Errorf("refresh the sign-in of context %q: reach the OIDC issuer %s: %w", cur.Name, l.Issuer, err)
	}
	toks, err := rp.RefreshTokens[*oidc.IDTokenClaims](ctx, party, l.RefreshToken, "", "")
	if err != nil {
		return withCode(exitAuth, fmt.Errorf("refresh the sign-in of context %q: %w: %s", cur.Name, err, relogin))
	}
	n := *l
	n.AccessToken, n.Expiry = toks.AccessToken, toks.Expiry
	if toks.RefreshToken != "" { // a rotated refresh token replaces the old one
		n.RefreshToken = toks.RefreshToken
	}
	cur.OIDC = &n
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	if stored, ok := cfg.Get(cur.Name); ok && stored.OIDC != nil {
		stored.OIDC = &n
		cfg.Set(stored)
		return cfg.Save(path)
	}
	return nil
}
