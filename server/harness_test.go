package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// env is a server on a fresh SQLite store with one bootstrapped org and its admin key.
type env struct {
	t      testing.TB
	tc     client.Client
	srv    *server.Server
	store  *store.Store
	dbPath string // the SQLite file of the store
	logs   *syncBuffer
	box    *secrets.Box // the server's (Options.Box), which startWorker's worker seals with
	orgID  string
	userID string
	key    string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t testing.TB, tc client.Client) *env {
	t.Helper()
	return newEnvWith(t, tc, server.Options{})
}

// newEnvWith is newEnv with extra server options (keys, guard).
func newEnvWith(t testing.TB, tc client.Client, opts server.Options) *env {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "astro.db")
	st, err := store.Open(context.Background(), "sqlite://"+dbPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	st.CacheKeyLookups(time.Second) // as cmd/api runs it: every test sees its own key changes at once
	logs := &syncBuffer{}
	opts.Store, opts.Temporal, opts.TaskQueue, opts.MaxBodyBytes = st, tc, workflows.TaskQueue, 64<<10
	opts.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Guard.Resolver == nil {
		opts.Guard.Resolver = testHosts // no server test depends on DNS or the internet
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, tc: tc, srv: srv, store: st, dbPath: dbPath, logs: logs, box: opts.Box}
	e.orgID, e.userID, e.key = e.newOrg("acme", store.RoleAdmin)
	return e
}

// testResolver answers the host names server tests use from its table, and no
// other: every other name does not exist, as if NXDOMAIN.
type testResolver map[string][]netip.Addr

func (r testResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// testHosts is the DNS of server tests (the guard's resolver unless a test sets its
// own): public relays and webhook hosts, and names that point into the server's own
// network, which the request-forgery guard must refuse.
var testHosts = testResolver{
	"example.com":        {netip.MustParseAddr("93.184.216.34")},
	"smtp.example.com":   {netip.MustParseAddr("93.184.216.34")},
	"smtp.acme.example":  {netip.MustParseAddr("93.184.216.35")},
	"smtp.other.example": {netip.MustParseAddr("93.184.216.36")},
	"mail.corp.example":  {netip.MustParseAddr("10.1.2.3")},
	"relay.lo.example":   {netip.MustParseAddr("127.0.0.1")},
	"mixed.example":      {netip.MustParseAddr("93.184.216.37"), netip.MustParseAddr("fd00::25")},
}

// newOrg creates an organization with one member of role and returns the org ID,
// the member's ID and an API key of theirs.
func (e *env) newOrg(name, role string) (orgID, userID, key string) {
	e.t.Helper()
	ctx := context.Background()
	org := store.Organization{ID: store.NewID(), Name: name}
	user := store.User{ID: store.NewID(), Email: name + "-" + role + "@example.com"}
	must(e.t, e.store.CreateOrganization(ctx, &org))
	must(e.t, e.store.CreateUser(ctx, &user))
	must(e.t, e.store.AddMember(ctx, org.ID, user.ID, role))
	return org.ID, user.ID, e.newKey(org.ID, user.ID, func(*store.APIKey) {})
}

func (e *env) newKey(orgID, userID string, edit func(*store.APIKey)) string {
	e.t.Helper()
	key := apikey.Generate()
	k := store.APIKey{ID: store.NewID(), OrgID: orgID, UserID: userID, Source: "cli", Hash: apikey.Hash(key)}
	edit(&k)
	must(e.t, e.store.CreateAPIKey(context.Background(), &k))
	return key
}

type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// Envelope decodes a success answer.
func (a answer) Envelope(t testing.TB) httpx.Envelope {
	t.Helper()
	var env httpx.Envelope
	if err := json.Unmarshal(a.Body, &env); err != nil {
		t.Fatalf("decode envelope %s: %v", a.Body, err)
	}
	return env
}

// Error decodes an error answer, checking it has every envelope field.
func (a answer) Error(t testing.TB) httpx.ErrorEnvelope {
	t.Helper()
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(a.Body, &fields); err != nil {
		t.Fatalf("decode error envelope %q: %v", a.Body, err)
	}
	for _, f := range []string{"details", "error", "error_code", "status", "trace_id"} {
		if _, ok := fields[f]; !ok {
			t.Fatalf("error envelope %s lacks %q", a.Body, f)
		}
	}
	var env httpx.ErrorEnvelope
	_ = json.Unmarshal(a.Body, &env)
	if env.Status != a.Status {
		t.Fatalf("envelope status %d != HTTP status %d", env.Status, a.Status)
	}
	if env.TraceID == "" || env.TraceID != a.Header.Get(httpx.HeaderRequestID) {
		t.Fatalf("trace_id %q does not match X-Request-ID %q", env.TraceID, a.Header.Get(httpx.HeaderRequestID))
	}
	return env
}

// do sends a request through the real router, middleware and error handler. body is
// sent as JSON unless it is a []byte, which is sent as is.
func (e *env) do(method, path, key string, body any, headers ...string) answer {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		must(e.t, err)
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set(httpx.HeaderAPIKey, key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	a := answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	checkAnswer(e.t, req, a)
	return a
}

var (
	routerOnce sync.Once
	router     routers.Router
)

// checkAnswer fails the test when an answer does not match its operation's response
// in openapi.yaml (status declared, body valid against the schema): the server's
// answers cannot drift from the contract unnoticed.
func checkAnswer(t testing.TB, req *http.Request, a answer) {
	t.Helper()
	routerOnce.Do(func() {
		// Pages are HTML, setup scripts shell; their schema is a string.
		for _, ct := range []string{"text/html", "text/x-shellscript"} {
			openapi3filter.RegisterBodyDecoder(ct, func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
				b, err := io.ReadAll(r)
				return string(b), err
			})
		}
		spec, err := api.GetSpec()
		if err != nil {
			panic(err)
		}
		spec.Servers = nil // match any host
		if router, err = legacy.NewRouter(spec); err != nil {
			panic(err)
		}
	})
	route, params, err := router.FindRoute(req)
	if err != nil {
		return // not an operation of the contract (healthz, unknown routes)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 a.Status, Header: a.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(a.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s answered %d outside the contract: %v\nbody: %s", req.Method, req.URL.Path, a.Status, err, a.Body)
	}
}

// listData returns a success answer's data, failing the test unless it is a list: an
// error answer must never pass for an empty list.
func listData(t testing.TB, a answer) []any {
	t.Helper()
	d, ok := a.Envelope(t).Data.([]any)
	if !ok {
		t.Fatalf("answer %d has no list in data: %s", a.Status, a.Body)
	}
	return d
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// eksManifest is the EKS example of shared/examples with its placeholders filled.
func eksManifest(name string) map[string]any {
	return map[string]any{
		"apiVersion": "platform.astropulse.io/v1",
		"kind":       "K8sCluster",
		"spec": map[string]any{
			"clusterName": name,
			"provider":    "aws",
			"region":      "us-east-1",
			"provisioner": map[string]any{
				"type": "eks",
				"eks":  map[string]any{"accountId": "123456789012", "credentials": map[string]any{"type": "dynamic"}},
			},
			"clusterSpec": map[string]any{"dataPlane": map[string]any{"nodeGroups": []any{
				map[string]any{"name": "default-pool", "minNode": 1, "maxNode": 3, "instanceType": "ondemand",
					"machineTypes": []any{"t3.medium"}, "labels": map[string]any{"environment": "dev"}},
			}}},
		},
	}
}

// waitFor polls check until it reports done or the timeout passes.
func waitFor[T any](t *testing.T, timeout time.Duration, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, done := check()
		if done {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in %s; last value %v", timeout, v)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
