package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/config"
)

func (a *app) authCommand() *cobra.Command {
	auth := &cobra.Command{Use: "auth", Short: "Log in and out"}
	var contextName string
	login := &cobra.Command{
		Use:   "login --api-key KEY --server URL [--org ORG] [--context NAME]",
		Short: "Save an API key for a server as a named context and make it current",
		Long: `Checks the API key against the server, then saves the server, organization and key as a
context (named --context, default: the server's host) in astroctl's configuration file
(os.UserConfigDir()/astroctl/config.yaml, or $ASTROCTL_CONFIG; readable by you only, 0600),
and makes it the current context.

Only API keys for now: the OIDC device flow (log in with a browser, no key to copy) is not
implemented yet. Create a key in the console or with astroctl apikeys create.`,
		Example: `  astroctl auth login --api-key astro_… --server https://astro.example.com
  astroctl auth login --api-key "$ASTRO_KEY" --server http://localhost:8080 --context dev --org acme`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.key() == "" || a.server == "" {
				return withCode(exitValidation, fmt.Errorf("--api-key and --server are required (the OIDC device flow is not implemented yet)"))
			}
			u, err := url.Parse(a.server)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return withCode(exitValidation, fmt.Errorf("--server %q: an http(s) URL such as https://astro.example.com", a.server))
			}
			name := contextName
			if name == "" {
				name = u.Host
			}
			s, err := a.sessionFor(config.Context{Name: name, Server: a.server, Org: a.org, APIKey: a.key()})
			if err != nil {
				return err
			}
			who, err := s.whoami(cmd)
			if err != nil {
				return fmt.Errorf("check the key against %s: %w", a.server, err)
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
		Short:   "Forget a context's credentials (the current one by default)",
		Example: `  astroctl auth logout dev`,
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
		Short:   "Show the current context, its server, organization and API key",
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

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print astroctl's version, the API contract it was built from, and whether the server answers",
		Long: `Prints astroctl's version and the version of the API contract (openapi.yaml) its client was
generated from. The API has no version endpoint yet, so for the server it says whether the
current context's server answers its health probe (/healthz); with no context, the client only.`,
		Example: "  astroctl version\n  astroctl version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			out := map[string]any{"client": version, "apiContract": contractVersion()}
			server := "(no context)"
			if s, err := a.session(); err == nil {
				out["server"] = s.ctx.Server
				server = s.ctx.Server + ": " + s.health(cmd)
				out["serverHealth"] = s.health(cmd)
			}
			raw, _ := json.Marshal(out)
			return a.print(raw, table{header: []string{"CLIENT", "API CONTRACT", "SERVER"}, rows: [][]string{{version, contractVersion(), server}}})
		},
	}
}

// contractVersion is info.version of the openapi.yaml the client was generated from.
func contractVersion() string {
	sw, err := apiclient.GetSpec()
	if err != nil || sw.Info == nil {
		return "unknown"
	}
	return sw.Info.Version
}

func (s *session) health(cmd *cobra.Command) string {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, strings.TrimRight(s.ctx.Server, "/")+"/healthz", nil)
	if err != nil {
		return "unreachable"
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return "unreachable"
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("unhealthy (HTTP %d)", resp.StatusCode)
	}
	return "healthy"
}
