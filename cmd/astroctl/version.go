package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/config"
)

func (a *app) versionCommand() *cobra.Command {
	var required bool
	cmd := &cobra.Command{
		Use:   "version [--server-required]",
		Short: "Print astroctl's version and the server's",
		Long: `Prints astroctl's version (with the Go version it was built with, the source revision when
the build recorded one, and the API contract its client was generated from), then the server's,
from GET /api/v1/version: the server of --server, else of the current context. That endpoint is
public, so no credentials are sent and none are needed.

When no server is known or it cannot be reached, astroctl's version is still printed, with the
reason on standard error, and the exit code is 0; with --server-required it is then 1, for
scripts that need the server.`,
		Example: "  astroctl version\n  astroctl version -o json\n  astroctl version --server https://astro.example.com --server-required",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.checkOutput(); err != nil {
				return err
			}
			client := clientVersion()
			out := map[string]any{"client": client}
			t := table{header: []string{"COMPONENT", "VERSION", "API", "GO", "REVISION", "SERVER"}}
			t.rows = append(t.rows, []string{"astroctl", client.Version, client.ApiVersion, client.GoVersion, orDash(str(client.Revision)), ""})
			server, sv, serr := a.serverVersion(cmd)
			if serr == nil {
				out["server"] = map[string]any{"url": server, "version": sv}
				t.rows = append(t.rows, []string{"server", sv.Version, sv.ApiVersion, sv.GoVersion, orDash(str(sv.Revision)), server})
			} else {
				out["serverError"] = serr.Error()
				t.rows = append(t.rows, []string{"server", "unknown", "", "", "", orDash(server)})
			}
			raw, _ := json.Marshal(out)
			if err := a.print(raw, t); err != nil {
				return err
			}
			if serr != nil {
				if required {
					return withCode(exitFailed, serr)
				}
				fmt.Fprintln(a.stderr, "Warning: "+serr.Error())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&required, "server-required", false, "exit 1 when the server's version cannot be had (default: exit 0, astroctl's version only)")
	return cmd
}

// serverVersion asks the server of --server, else of the current context, for its
// version; the URL it asked (empty when none is known) and why it could not.
func (a *app) serverVersion(cmd *cobra.Command) (string, apiclient.ServerVersion, error) {
	server := a.server
	if server == "" {
		_, cfg, err := loadConfig()
		if err != nil {
			return "", apiclient.ServerVersion{}, err
		}
		cur, err := cfg.Current(a.contextName)
		if err != nil {
			return "", apiclient.ServerVersion{}, fmt.Errorf("no server to ask (--server, or a context: astroctl auth login): %w", err)
		}
		server = cur.Server
	}
	s, err := a.clientFor(config.Context{Server: server}) // public: no credentials sent
	if err != nil {
		return server, apiclient.ServerVersion{}, err
	}
	resp, err := s.client.GetServerVersionWithResponse(cmd.Context())
	if err != nil {
		return server, apiclient.ServerVersion{}, fmt.Errorf("the server %s could not be reached: %w", server, err)
	}
	v, _, err := decode[apiclient.ServerVersion](resp, resp.Body, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
		return server, v, fmt.Errorf("the server %s does not say its version (no /api/v1/version: an older server)", server)
	}
	if err != nil {
		return server, v, fmt.Errorf("the server %s did not say its version: %w", server, err)
	}
	return server, v, nil
}

// clientVersion is astroctl's own version, as the API's version answer has it.
func clientVersion() apiclient.ServerVersion {
	v := apiclient.ServerVersion{Version: version, ApiVersion: contractVersion(), GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				rev := s.Value
				v.Revision = &rev
			}
		}
	}
	return v
}

// contractVersion is info.version of the openapi.yaml the client was generated from.
func contractVersion() string {
	sw, err := apiclient.GetSpec()
	if err != nil || sw.Info == nil {
		return "unknown"
	}
	return sw.Info.Version
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
