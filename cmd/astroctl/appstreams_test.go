package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// streamServer serves an application's events and logs streams as the contract says:
// logs end with a normal close (without follow), events stay open.
func streamServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Astro-API-Key") != "astro_k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/api/v1/applications/web/") {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"application not found","error_code":"NOT_FOUND","status":404,"details":{},"trace_id":"t"}`))
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := r.Context()
		switch r.URL.Path {
		case "/api/v1/applications/web/logs/stream":
			if r.URL.Query().Get("follow") != "false" || r.URL.Query().Get("tail") != "5" {
				t.Errorf("logs query %s", r.URL.RawQuery)
			}
			_ = conn.Write(ctx, websocket.MessageText, []byte(`{"pod":"web-1","container":"app","line":"listening on :8080"}`))
			_ = conn.Write(ctx, websocket.MessageText, []byte(`{"pod":"web-2","container":"app","line":"GET / 200"}`))
			_ = conn.Close(websocket.StatusNormalClosure, "")
		case "/api/v1/applications/web/events/stream":
			if r.URL.Query().Get("k8s") != "true" {
				t.Errorf("events query %s", r.URL.RawQuery)
			}
			_ = conn.Write(ctx, websocket.MessageText, []byte(`{"source":"pulse","type":"SyncSucceeded","reason":"Synced","message":"synced to v1","timestamp":"2026-11-30T10:00:00Z"}`))
			_ = conn.Write(ctx, websocket.MessageText, []byte(`{"source":"kubernetes","type":"Normal","reason":"Pulled","message":"image pulled","timestamp":"2026-11-30T10:00:01Z","involvedObject":{"kind":"Pod","name":"web-1"}}`))
			<-ctx.Done() // open until the client leaves
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAppLogsAndEvents(t *testing.T) {
	isolate(t)
	quietAfter = 200 * time.Millisecond
	srv := streamServer(t)
	auth := []string{"--server", srv.URL, "--api-key", "astro_k"}

	out, errOut, code := astroctl(t, "", append([]string{"app", "logs", "web", "--tail", "5"}, auth...)...)
	if code != 0 || out != "[web-1/app] listening on :8080\n[web-2/app] GET / 200\n" {
		t.Fatalf("logs: %d %q %s", code, out, errOut)
	}
	out, _, code = astroctl(t, "", append([]string{"app", "logs", "web", "--tail", "5", "-o", "json"}, auth...)...)
	if code != 0 || !strings.HasPrefix(out, `{"container":"app","line":"listening on :8080","pod":"web-1"}`+"\n") || strings.Count(out, "\n") != 2 {
		t.Fatalf("logs -o json: %d %q", code, out)
	}
	// Events: the recent ones, then it stops once the stream is quiet.
	start := time.Now()
	out, errOut, code = astroctl(t, "", append([]string{"app", "events", "web", "-k"}, auth...)...)
	if code != 0 || !strings.Contains(out, "SyncSucceeded") || !strings.Contains(out, "Pod/web-1") || !strings.Contains(out, "image pulled") || time.Since(start) > 5*time.Second {
		t.Fatalf("events: %d %q %s", code, out, errOut)
	}
	if _, errOut, code := astroctl(t, "", append([]string{"app", "logs", "nope"}, auth...)...); code != exitNotFound || !strings.Contains(errOut, "application not found") {
		t.Fatalf("unknown app: %d %s", code, errOut)
	}
}
