package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/config"
)

func (a *app) authCommand() *cobra.Command {
	auth := &cobra.Command{Use: "auth", Short: "Log in and out"}
	var contextName string
	login := &cobra.Command{
		Use:   "login [--server URL] [--api-key KEY] [--org ORG] [--context NAME]",
		Short: "Sign in to a server (in a browser, or with an API key) as a named context and make it current",
		Long: `Without --api-key, signs you in with the OIDC device flow (RFC 8628): astroctl asks the
server which OIDC issuer and client to use (GET /api/v1/auth/config), prints a URL and a code,
and waits while you open the URL on any device, enter the code and sign in. The tokens (access,
refresh, expiry) are saved; later commands send the access token and refresh it when it expires
(issuers that give no refresh token: run auth login again). --server defaults to the current
context's server.

With --api-key, checks the key against the server and saves it instead.

Either way the server, organization and credential are saved as a context (named --context,
default: the server's host) in astroctl's configuration file (os.UserConfigDir()/astroctl/
config.yaml, or $ASTROCTL_CONFIG; readable by you only, 0600), and the context becomes current.`,
		Example: `  astroctl auth login --server https://astro.example.com
  astroctl auth login            # again, for the current context's server
  astroctl auth login --api-key astro_… --server https://astro.example.com
  astroctl auth login --api-key "$ASTRO_KEY" --server http://localhost:8080 --context dev --org acme`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			server := a.server
			if server == "" && a.key() == "" {
				if _, cfg, err := loadConfig(); err == nil {
					if cur, err := cfg.Current(""); err == nil {
						server = cur.Server
						if contextName == "" {
							contextName = cur.Name
						}
					}
				}
			}
			if server == "" {
				return withCode(exitValidation, fmt.Errorf("--server is required (the API's URL, such as https://astro.example.com)"))
			}
			u, err := url.Parse(server)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return withCode(exitValidation, fmt.Errorf("--server %q: an http(s) URL such as https://astro.example.com", server))
			}
			name := contextName
			if name == "" {
				name = u.Host
			}
			if a.key() == "" {
				return a.deviceLogin(cmd, server, name)
			}
			s, err := a.sessionFor(config.Context{Name: name, Server: server, Org: a.org, APIKey: a.key()})
			if err != nil {
				return err
			}
			who, err := s.whoami(cmd)
			if err != nil {
				return fmt.Errorf("check the key against %s: %w", server, err)
			}
			if !who.Valid {
				return withCode(exitAuth, fmt.Errorf("the API key is %s", who.Status))
			}
			ctx := s.ctx
			if ctx.Org == "" {
				ctx.Org = str(who.OrgId)
			}
			path, err := config.Path()
			if err != nil {
				return err
			}
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			cfg.Set(ctx)
			cfg.CurrentContext = name
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Logged in to %s as API key %s (organization %s); context %q is current (saved in %s).\n",
				ctx.Server, keyLabel(who), ctx.Org, name, path)
			return nil
		},
	}
	login.Flags().StringVar(&contextName, "context", "", "name of the context to save (default: the server's host)")
	logout := &cobra.Command{
		Use:     "logout [CONTEXT]",
		Short:   "Forget a context and its credentials: API key or tokens (the current one by default)",
		Example: "  astroctl auth logout\n  astroctl auth logout dev",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, cfg, err := loadConfig()
			if err != nil {
				return err
			}
			name := cfg.CurrentContext
			if len(args) == 1 {
				name = args[0]
			}
			if !cfg.Delete(name) {
				return withCode(exitNotFound, fmt.Errorf("no context %q", name))
			}
			if err := cfg.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Context %q removed.\n", name)
			return nil
		},
	}
	auth.AddCommand(login, logout)
	return auth
}

func keyLabel(v apiclient.ApiKeyValidation) string {
	if n := str(v.Name); n != "" {
		return n + " (" + str(v.KeyId) + ")"
	}
	return str(v.KeyId)
}

// sessionFor is a session for ctx as it stands (no configuration file read).
func (a *app) sessionFor(ctx config.Context) (*session, error) {
	return a.clientFor(ctx)
}

// whoami asks the API about the session's own key.
func (s *session) whoami(cmd *cobra.Command) (apiclient.ApiKeyValidation, error) {
	resp, err := s.client.ValidateApiKeyWithResponse(cmd.Context(), &apiclient.ValidateApiKeyParams{XValidateAPIKey: s.ctx.APIKey})
	if err != nil {
		return apiclient.ApiKeyValidation{}, err
	}
	v, _, err := decode[apiclient.ApiKeyValidation](resp, resp.Body, nil)
	return v, err
}

func (a *app) whoamiCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "whoami",
		Short:   "Show the current context, its server, organization and who you are (API key, or signed-in user)",
		Example: "  astroctl whoami\n  astroctl whoami -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			s, err := a.session()
			if err != nil {
				return err
			}
			if s.ctx.APIKey == "" {
				return a.whoamiUser(cmd, s)
			}
			who, err := s.whoami(cmd)
			if err != nil {
				return err
			}
			out := map[string]any{"context": s.ctx.Name, "server": s.ctx.Server, "organization": str(who.OrgId),
				"keyId": str(who.KeyId), "keyName": str(who.Name), "status": who.Status, "valid": who.Valid}
			if who.ExpiresAt != nil {
				out["expiresAt"] = who.ExpiresAt
			}
			raw, _ := json.Marshal(out)
			expires := "never"
			if who.ExpiresAt != nil {
				expires = who.ExpiresAt.String()
			}
			return a.print(raw, table{
				header: []string{"CONTEXT", "SERVER", "ORGANIZATION", "API KEY", "STATUS", "EXPIRES"},
				rows:   [][]string{{s.ctx.Name, s.ctx.Server, str(who.OrgId), keyLabel(who), string(who.Status), expires}},
			})
		},
	}
}

// whoamiUser shows the user a device-flow sign-in is for, from the API's profile of
// them (GET /api/v1/users/me), and their role in the context's organization.
func (a *app) whoamiUser(cmd *cobra.Command, s *session) error {
	resp, err := s.client.GetCurrentUserProfileWithResponse(cmd.Context())
	var prof apiclient.UserProfile
	if err == nil {
		prof, _, err = decode[apiclient.UserProfile](resp, resp.Body, nil)
	}
	if err != nil {
		return err
	}
	org := s.ctx.Org
	if org == "" {
		org = str(prof.ActiveOrgId)
	}
	role, orgName := "", ""
	for _, m := range prof.Memberships {
		if m.OrgId == org || str(m.OrgName) == org {
			role, orgName = string(m.Role), str(m.OrgName)
		}
	}
	expires := "unknown"
	out := map[string]any{"context": s.ctx.Name, "server": s.ctx.Server, "user": string(prof.Email), "userId": prof.Id.String(),
		"name": str(prof.Name), "organization": org, "organizationName": orgName, "role": role, "issuer": s.ctx.OIDC.Issuer,
		"refreshable": s.ctx.OIDC.RefreshToken != ""}
	if !s.ctx.OIDC.Expiry.IsZero() {
		out["tokenExpiresAt"] = s.ctx.OIDC.Expiry
		expires = s.ctx.OIDC.Expiry.Format(time.RFC3339)
	}
	raw, _ := json.Marshal(out)
	return a.print(raw, table{
		header: []string{"CONTEXT", "SERVER", "USER", "ORGANIZATION", "ROLE", "TOKEN EXPIRES"},
		rows:   [][]string{{s.ctx.Name, s.ctx.Server, string(prof.Email), org, role, expires}},
	})
}

func loadConfig() (string, *config.Config, error) {
	path, err := config.Path()
	if err != nil {
		return "", nil, err
	}
	cfg, err := config.Load(path)
	return path, cfg, err
}

func (a *app) configCommand() *cobra.Command {
	cfg := &cobra.Command{Use: "config", Short: "Contexts: which server, organization and key astroctl uses"}
	use := &cobra.Command{
		Use:     "use-context NAME",
		Short:   "Make NAME the current context",
		Example: "  astroctl config use-context prod",
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, c, err := loadConfig()
			if err != nil {
				return err
			}
			if _, ok := c.Get(args[0]); !ok {
				return withCode(exitNotFound, fmt.Errorf("no context %q (astroctl config get-contexts lists them)", args[0]))
			}
			c.CurrentContext = args[0]
			if err := c.Save(path); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Switched to context %q.\n", args[0])
			return nil
		},
	}
	get := &cobra.Command{
		Use:     "get-contexts",
		Short:   "List the contexts; * marks the current one (keys are never shown)",
		Example: "  astroctl config get-contexts",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			_, c, err := loadConfig()
			if err != nil {
				return err
			}
			t := table{header: []string{"CURRENT", "NAME", "SERVER", "ORGANIZATION"}}
			var list []map[string]any
			for _, x := range c.Contexts {
				cur := ""
				if x.Name == c.CurrentContext {
					cur = "*"
				}
				t.rows = append(t.rows, []string{cur, x.Name, x.Server, x.Org})
				list = append(list, map[string]any{"name": x.Name, "server": x.Server, "org": x.Org, "current": cur == "*"})
			}
			raw, _ := json.Marshal(list)
			return a.print(raw, t)
		},
	}
	current := &cobra.Command{
		Use:     "current-context",
		Short:   "Print the current context's name",
		Example: "  astroctl config current-context",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			_, c, err := loadConfig()
			if err != nil {
				return err
			}
			if c.CurrentContext == "" {
				return withCode(exitAuth, config.ErrNoContext)
			}
			fmt.Fprintln(a.stdout, c.CurrentContext)
			return nil
		},
	}
	cfg.AddCommand(use, get, current)
	return cfg
}
