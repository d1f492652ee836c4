package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/apiclient"
	"github.com/astropulse/astroplane/cmd/astroctl/internal/config"
)

// version is astroctl's version, set at build time:
// go build -ldflags "-X main.version=v1.2.3" ./cmd/astroctl
var version = "dev"

// app holds one invocation's streams and global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	contextName string // --context
	server      string // --server
	apiKey      string // --api-key (also ASTROCTL_API_KEY)
	org         string // --org
	output      string // -o
	noColor     bool
	timeout     time.Duration // --request-timeout
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr}
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "astroctl",
		Short: "Drive Astro Plane: clusters, application profiles and applications from manifests",
		Long: `astroctl drives the Astro Plane API: log in, apply manifests (K8sCluster,
K8sClusterRegistration, ApplicationProfile, Application) and follow the operations they start.

Manifests are YAML or JSON, several documents to a file; -f takes a file, a directory (every
*.yaml, *.yml and *.json in it, clusters first, then profiles, then applications) or - for
standard input. Placeholders left in a manifest (<YOUR_REGION>, ${NAME}) are refused before
anything is sent, naming the field; --set NAME=VALUE fills them.

` + exitCodesHelp,
		Example: `  astroctl auth login --server https://astro.example.com
  astroctl auth login --api-key astro_… --server https://astro.example.com
  astroctl clusters apply -f eks.yaml --set YOUR_CLUSTER_NAME=prod
  astroctl clusters get
  astroctl apply -f manifests/`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&a.contextName, "context", "", "the context to use (default: the current one)")
	pf.StringVar(&a.server, "server", "", "API URL, overriding the context's")
	pf.StringVar(&a.apiKey, "api-key", "", "API key, overriding the context's (or ASTROCTL_API_KEY)")
	pf.StringVar(&a.org, "org", "", "organization, overriding the context's")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, wide, json or yaml")
	pf.BoolVar(&a.noColor, "no-color", false, "no colour even on a terminal (also NO_COLOR)")
	pf.DurationVar(&a.timeout, "request-timeout", 60*time.Second, "how long one API request may take")
	root.AddCommand(
		a.authCommand(), a.whoamiCommand(), a.configCommand(), a.versionCommand(),
		a.applyCommand(), a.clustersCommand(), a.appCommand(), a.cloudCommand(), a.apikeysCommand(), a.infraCommand(), a.orgsCommand(), a.auditCommand(),
	)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetIn(a.stdin)
	return root
}

// session is a resolved context and a client for it.
type session struct {
	ctx    config.Context
	client *apiclient.ClientWithResponses
	http   *http.Client
}

// session resolves the context (flags override it) and builds a client.
func (a *app) session() (*session, error) {
	path, err := config.Path()
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	cur, err := cfg.Current(a.contextName)
	if err != nil && (a.server == "" || a.key() == "") {
		return nil, withCode(exitAuth, err)
	}
	if a.server != "" {
		cur.Server = a.server
	}
	if k := a.key(); k != "" {
		cur.APIKey = k
	}
	if a.org != "" {
		cur.Org = a.org
	}
	if cur.APIKey == "" && cur.OIDC == nil {
		return nil, withCode(exitAuth, fmt.Errorf("context %q has no credentials: astroctl auth login", cur.Name))
	}
	if cur.APIKey == "" && cur.OIDC.Expired(time.Now(), tokenLeeway) {
		if err := a.refresh(&cur, path); err != nil {
			return nil, err
		}
	}
	return a.clientFor(cur)
}

// clientFor builds a client of cur's server sending cur's key, or else its user's
// access token (with the organization to act for, when the context names one).
func (a *app) clientFor(cur config.Context) (*session, error) {
	hc := &http.Client{Timeout: a.timeout}
	c, err := apiclient.NewClientWithResponses(strings.TrimRight(cur.Server, "/"), apiclient.WithHTTPClient(hc),
		apiclient.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			for k, v := range (&session{ctx: cur}).headers() {
				req.Header[k] = v
			}
			return nil
		}))
	if err != nil {
		return nil, err
	}
	return &session{ctx: cur, client: c, http: hc}, nil
}

// headers are the credential (and organization) headers of the session's requests,
// for the WebSocket streams the generated client does not open.
func (s *session) headers() http.Header {
	h := http.Header{"User-Agent": {"astroctl/" + version}}
	switch {
	case s.ctx.APIKey != "":
		h.Set("X-Astro-API-Key", s.ctx.APIKey)
	case s.ctx.OIDC != nil:
		h.Set("Authorization", "Bearer "+s.ctx.OIDC.AccessToken)
		if s.ctx.Org != "" {
			h.Set("X-Astro-Organization-ID", s.ctx.Org)
		}
	}
	return h
}

func (a *app) key() string {
	if a.apiKey != "" {
		return a.apiKey
	}
	return os.Getenv("ASTROCTL_API_KEY")
}

// response is what every generated *Response has.
type response interface {
	StatusCode() int
}

// data checks a generated response and returns the envelope's data; an answer
// outside 2xx is an *apiError.
func data(resp response, body []byte, err error) (json.RawMessage, error) {
	if err != nil {
		return nil, err
	}
	if s := resp.StatusCode(); s < 200 || s > 299 {
		return nil, newAPIError(s, body)
	}
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("answer is not the API's JSON envelope: %w", err)
	}
	return env.Data, nil
}

// decode checks the response and decodes its data into T.
func decode[T any](resp response, body []byte, err error) (T, json.RawMessage, error) {
	var v T
	raw, err := data(resp, body, err)
	if err != nil {
		return v, nil, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, raw, fmt.Errorf("decode the answer: %w", err)
	}
	return v, raw, nil
}

// isTerminal reports whether w is a terminal (colour and live redraws then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (a *app) color() bool {
	return !a.noColor && os.Getenv("NO_COLOR") == "" && isTerminal(a.stdout)
}
