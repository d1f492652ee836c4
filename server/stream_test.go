package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/clusters"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// streamEnv is liveEnv with the worker writing the progress feed, as cmd/worker
// does, and the server on a listener for WebSocket clients.
func streamEnv(t *testing.T, stepDelay time.Duration, opts server.Options) (*env, string) {
	t.Helper()
	dev := testtemporal.Start(t)
	tc := dev.Client()
	e := newEnvWith(t, tc, opts)
	feed := activities.NewProgressFeed(e.store, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); feed.Run(ctx) }()
	stopWorker := e.startWorker(tc, sim.Registry(sim.New(stepDelay)), worker.Options{BackgroundActivityContext: activities.WithProgressFeed(context.Background(), feed)})
	srv := httptest.NewServer(e.srv)
	t.Cleanup(func() { srv.Close(); stopWorker(); cancel(); <-done })
	return e, "ws" + strings.TrimPrefix(srv.URL, "http")
}

type streamEvent struct {
	Type     string `json:"type"`
	Progress struct {
		Status string `json:"status"`
		Steps  []struct {
			Name   string         `json:"name"`
			Status string         `json:"status"`
			Detail map[string]any `json:"detail"`
		} `json:"steps"`
	} `json:"progress"`
	Error string `json:"error"`
}

// running returns the running step's name and its detail.
func (ev streamEvent) running() (string, map[string]any) {
	for _, s := range ev.Progress.Steps {
		if s.Status == "RUNNING" {
			return s.Name, s.Detail
		}
	}
	return "", nil
}

func dialStream(t *testing.T, ctx context.Context, url, key string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{httpx.HeaderAPIKey: {key}}})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", url, err, resp)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// A provider's progress reports reach an open stream as they happen: several
// heartbeat details while one step runs (a heartbeat makes no history event, and
// Temporal's heartbeats are throttled to seconds), each a moment after it was
// reported.
func TestStreamPushesHeartbeatDetailsAsTheyHappen(t *testing.T) {
	e, base := streamEnv(t, 6*time.Second, server.Options{}) // the sim reports once a second
	opID := deploy(t, e, eksManifest("beats"))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	conn := dialStream(t, ctx, base+"/api/v1/clusters/beats/progress/stream?operationId="+opID, e.key)
	beats := map[string][]time.Duration{} // step → delay of each new heartbeat
	seen := map[string]bool{}
	for {
		var ev streamEvent
		if err := wsjson.Read(ctx, conn, &ev); err != nil {
			t.Fatalf("read after %v: %v", beats, err)
		}
		got := time.Now()
		if ev.Type != "progress" {
			t.Fatalf("event %+v before three heartbeats of one step: %v", ev, beats)
		}
		step, detail := ev.running()
		at, _ := detail["lastHeartbeatAt"].(string)
		when, err := time.Parse(time.RFC3339Nano, at)
		if step == "" || err != nil || seen[at] {
			continue
		}
		seen[at] = true
		beats[step] = append(beats[step], got.Sub(when))
		if len(beats[step]) >= 3 {
			break
		}
	}
	// Temporal's throttled heartbeats would take seconds (0.8 × the heartbeat
	// timeout) and, making no history event, push nothing; the feed takes
	// milliseconds (make bench (d) measures them). The bound leaves room for a
	// loaded machine.
	for step, delays := range beats {
		for _, d := range delays[1:] { // the first may predate the stream
			if d > 3*time.Second {
				t.Errorf("step %s: a heartbeat reached the stream %s after it was reported (all: %v)", step, d, delays)
			}
		}
	}
}

// Streams are capped per key and per organization: over a cap, the upgrade is
// refused with 429 and the envelope naming the cap. Revoking a stream's key, here
// or on another replica (the store alone), closes it with 1008.
func TestStreamCapsAndKeyRevocation(t *testing.T) {
	e, base := streamEnv(t, time.Hour, server.Options{Streams: clusters.StreamLimits{PerKey: 1, PerOrg: 2}})
	opID := deploy(t, e, eksManifest("capped"))
	path := "/api/v1/clusters/capped/progress/stream?operationId=" + opID
	var idA, idB string
	keyA := e.newKey(e.orgID, e.userID, func(k *store.APIKey) { idA = k.ID })
	keyB := e.newKey(e.orgID, e.userID, func(k *store.APIKey) { idB = k.ID })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	connA := dialStream(t, ctx, base+path, keyA)
	var first streamEvent
	if err := wsjson.Read(ctx, connA, &first); err != nil || first.Type != "progress" {
		t.Fatalf("first event %+v, %v", first, err)
	}
	upgrade := []string{"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}
	a := e.do(http.MethodGet, path, keyA, nil, upgrade...)
	if a.Status != http.StatusTooManyRequests {
		t.Fatalf("second stream of key A: %d %s", a.Status, a.Body)
	}
	if env := a.Error(t); env.Code != httpx.CodeTooManyRequests || !strings.Contains(env.Error, "per key") {
		t.Fatalf("over the key's cap: %+v", env)
	}
	connB := dialStream(t, ctx, base+path, keyB)
	if err := wsjson.Read(ctx, connB, &first); err != nil {
		t.Fatal(err)
	}
	a = e.do(http.MethodGet, path, e.key, nil, upgrade...)
	if env := a.Error(t); a.Status != http.StatusTooManyRequests || !strings.Contains(env.Error, "per organization") {
		t.Fatalf("over the organization's cap: %d %+v", a.Status, env)
	}

	// Key A revoked through the API, key B in the store only (as another replica would).
	revokedAt := time.Now()
	if a := e.do(http.MethodPost, "/api/v1/orgs/"+e.orgID+"/api-keys/revoke", e.key, map[string]any{"keyId": idA, "reason": "test"}); a.Status != http.StatusOK {
		t.Fatalf("revoke: %d %s", a.Status, a.Body)
	}
	must(t, e.store.RevokeAPIKey(t.Context(), e.orgID, idB, "elsewhere", time.Now()))
	for name, conn := range map[string]*websocket.Conn{"A": connA, "B": connB} {
		var err error
		for err == nil {
			var ev streamEvent
			if err = wsjson.Read(ctx, conn, &ev); err == nil && ev.Type == "error" && ev.Error != "API key revoked" {
				t.Fatalf("stream %s: error event %q", name, ev.Error)
			}
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "API key revoked" {
			t.Fatalf("stream %s ended with %v, want close 1008 API key revoked", name, err)
		}
	}
	if d := time.Since(revokedAt); d > 5*time.Second {
		t.Fatalf("streams closed %s after their keys were revoked", d)
	}
	// The closed streams no longer count: the admin's key may stream again.
	conn := dialStream(t, ctx, base+path, e.key)
	if err := wsjson.Read(ctx, conn, &first); err != nil || first.Type != "progress" {
		t.Fatalf("stream after the others closed: %+v, %v", first, err)
	}
}

// failingTemporal is a Temporal client whose progress reads fail with an error
// naming internals.
type failingTemporal struct{ client.Client }

var errInternal = errors.New("dial tcp 10.0.3.7:7233: temporal-frontend.internal.example refused")

func (failingTemporal) DescribeWorkflow(context.Context, string, string) (*client.WorkflowExecutionDescription, error) {
	return nil, errInternal
}

func (failingTemporal) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, errInternal
}

// A stream that fails tells the client so with the request's trace ID, never the
// cause, which goes to the log.
func TestStreamFailureSaysNothingInternal(t *testing.T) {
	dev := testtemporal.Start(t)
	e := newEnv(t, failingTemporal{Client: dev.Client()})
	srv := httptest.NewServer(e.srv)
	t.Cleanup(srv.Close)
	opID := deploy(t, e, eksManifest("leaky")) // no worker: the workflow just waits
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/clusters/leaky/progress/stream?operationId=" + opID
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{httpx.HeaderAPIKey: {e.key}, httpx.HeaderRequestID: {"trace-leak-1"}}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	defer conn.CloseNow()
	var ev streamEvent
	if err := wsjson.Read(ctx, conn, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "error" || !strings.Contains(ev.Error, "trace-leak-1") || strings.Contains(ev.Error, "10.0.3.7") || strings.Contains(ev.Error, "internal") {
		t.Fatalf("error event %+v: want a generic message with the trace ID", ev)
	}
	err = wsjson.Read(ctx, conn, &ev)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusInternalError || strings.Contains(ce.Reason, "10.0.3.7") || !strings.Contains(ce.Reason, "trace-leak-1") {
		t.Fatalf("close %v", err)
	}
	waitFor(t, 5*time.Second, func() (string, bool) {
		logs := e.logs.String()
		return logs, strings.Contains(logs, errInternal.Error()) && strings.Contains(logs, "trace-leak-1")
	})
}
