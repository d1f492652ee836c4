package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/astropulse/astroplane/internal/testtemporal"
)

// temporalServer is the Temporal server of a run: the server's own binary
// (temporal-server, built from go.temporal.io/server by make), all four services in
// one process, on PostgreSQL (databases temporal and temporal_visibility).
type temporalServer struct {
	addr string
	proc *proc
	tc   sdkclient.Client
}

// numHistoryShards is fixed for the life of a cluster; 16 lets the history service
// spread 1,000 workflows without being a production size (512+).
const numHistoryShards = 16

// serverConfig is the server's static configuration (config/scaleout.yaml), after
// the server's own config/development-postgres12.yaml: persistence and visibility on
// PostgreSQL through the postgres12 plugin, every service on loopback.
var serverConfig = template.Must(template.New("config").Parse(`log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: {{.Shards}}
  datastores:
    default:
      sql:
        pluginName: postgres12
        databaseName: temporal
        connectAddr: "127.0.0.1:{{.PGPort}}"
        connectProtocol: tcp
        user: postgres
        password: ""
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    visibility:
      sql:
        pluginName: postgres12
        databaseName: temporal_visibility
        connectAddr: "127.0.0.1:{{.PGPort}}"
        connectProtocol: tcp
        user: postgres
        password: ""
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc:
      grpcPort: {{.Frontend}}
      membershipPort: {{.FrontendMembership}}
      bindOnLocalHost: true
      httpPort: {{.FrontendHTTP}}
  matching:
    rpc:
      grpcPort: {{.Matching}}
      membershipPort: {{.MatchingMembership}}
      bindOnLocalHost: true
  history:
    rpc:
      grpcPort: {{.History}}
      membershipPort: {{.HistoryMembership}}
      bindOnLocalHost: true
  worker:
    rpc:
      grpcPort: {{.Worker}}
      membershipPort: {{.WorkerMembership}}
      bindOnLocalHost: true
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:{{.Frontend}}"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: {{.DynamicConfig}}
  pollInterval: 10s
`))

// dynamicConfig: search attributes are read fresh on every request, so the ones just
// added are usable at once (the dev server does the same); IDs as long as ours.
const dynamicConfig = `system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
limit.maxIDLength:
  - value: 255
`

type serverPorts struct {
	Shards, PGPort                                                           int
	Frontend, FrontendMembership, FrontendHTTP, Matching, MatchingMembership int
	History, HistoryMembership, Worker, WorkerMembership                     int
	DynamicConfig                                                            string
}

// startTemporal sets up Temporal's schemas on pg with temporal-sql-tool, renders the
// server's configuration into dir, starts the server, registers the default
// namespace and adds the control plane's search attributes.
func startTemporal(ctx context.Context, cfg config, dir string, pg *postgres, log *slog.Logger) (*temporalServer, error) {
	if err := setupSchemas(ctx, cfg.sqlTool, pg); err != nil {
		return nil, err
	}
	confDir := filepath.Join(dir, "temporal", "config")
	if err := os.MkdirAll(confDir, 0o750); err != nil {
		return nil, err
	}
	p := serverPorts{Shards: numHistoryShards, PGPort: pg.port, DynamicConfig: filepath.Join(confDir, "dynamic.yaml")}
	for _, port := range []*int{&p.Frontend, &p.FrontendMembership, &p.FrontendHTTP, &p.Matching, &p.MatchingMembership,
		&p.History, &p.HistoryMembership, &p.Worker, &p.WorkerMembership} {
		var err error
		if *port, err = freePort(ctx); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(p.DynamicConfig, []byte(dynamicConfig), 0o600); err != nil {
		return nil, err
	}
	var conf strings.Builder
	if err := serverConfig.Execute(&conf, p); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(confDir, "scaleout.yaml"), []byte(conf.String()), 0o600); err != nil {
		return nil, err
	}
	proc, err := startProc("temporal-server", cfg.temporalServer, dir, nil,
		"--root", filepath.Join(dir, "temporal"), "--config", "config", "--env", "scaleout", "--allow-no-auth", "start")
	if err != nil {
		return nil, err
	}
	ts := &temporalServer{addr: fmt.Sprintf("127.0.0.1:%d", p.Frontend), proc: proc}
	if err := ts.prepare(ctx, log); err != nil {
		proc.kill()
		return nil, fmt.Errorf("temporal server (log in %s): %w", proc.logPath, err)
	}
	return ts, nil
}

// setupSchemas creates Temporal's schemas at their latest version from the schema
// files the tool embeds (postgresql/v12), as the server's own Makefile does.
func setupSchemas(ctx context.Context, tool string, pg *postgres) error {
	for _, db := range []struct{ name, schema string }{
		{"temporal", "postgresql/v12/temporal"},
		{"temporal_visibility", "postgresql/v12/visibility"},
	} {
		base := []string{"--ep", "127.0.0.1", "-p", fmt.Sprint(pg.port), "-u", "postgres", "--pl", "postgres12", "--db", db.name}
		for _, step := range [][]string{{"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", db.schema}} {
			cmd := exec.CommandContext(ctx, tool, append(base, step...)...) //nolint:gosec // the tool named by -sql-tool
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("temporal-sql-tool %s on %s: %w\n%s", step[0], db.name, err, out)
			}
		}
	}
	return nil
}

// prepare waits for the frontend, registers the default namespace, adds the search
// attributes and waits until a start carrying them is accepted.
func (t *temporalServer) prepare(ctx context.Context, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var err error
	opts := sdkclient.Options{HostPort: t.addr, Namespace: "default", Logger: tlog.NewStructuredLogger(log)}
	for {
		if t.tc, err = sdkclient.DialContext(ctx, opts); err == nil {
			break
		}
		if werr := t.wait(ctx, "the frontend to answer", err); werr != nil {
			return werr
		}
	}
	for {
		_, err = t.tc.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: "default", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err == nil || errors.As(err, &exists) {
			break
		}
		if werr := t.wait(ctx, "the namespace registration", err); werr != nil {
			return werr
		}
	}
	attrs := map[string]enums.IndexedValueType{}
	for k := range testtemporal.SearchAttributes.GetUntypedValues() {
		attrs[k.GetName()] = enums.INDEXED_VALUE_TYPE_KEYWORD
	}
	for {
		_, err = t.tc.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: "default", SearchAttributes: attrs,
		})
		var exists *serviceerror.AlreadyExists
		if err == nil || errors.As(err, &exists) {
			break
		}
		if werr := t.wait(ctx, "adding the search attributes", err); werr != nil {
			return werr
		}
	}
	// The namespace cache refreshes every few seconds: wait until a visibility query
	// naming our attributes is answered in the namespace.
	for {
		_, err = t.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: "AstroOrgID = 'none' AND AstroClusterName = 'none' AND AstroOperationType = 'none' AND AstroProvider = 'none'",
		})
		if err == nil {
			return nil
		}
		if werr := t.wait(ctx, "the namespace and search attributes", err); werr != nil {
			return werr
		}
	}
}

// wait pauses before the next attempt at what, or says why it gives up.
func (t *temporalServer) wait(ctx context.Context, what string, last error) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, last)
	case <-t.proc.exited:
		return fmt.Errorf("exited while waiting for %s: %w", what, last)
	case <-time.After(250 * time.Millisecond):
		return nil
	}
}

func (t *temporalServer) close() {
	if t.tc != nil {
		t.tc.Close()
	}
	t.proc.stop()
}

// freePort returns a free loopback port below the kernel's ephemeral range, so no
// outgoing connection takes it before the server binds it.
func freePort(ctx context.Context) (int, error) {
	for range 100 {
		port := 20000 + rand.IntN(12000) //nolint:gosec // a port number, not a secret
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		return port, l.Close()
	}
	return 0, errors.New("no free port in 20000-32000")
}
