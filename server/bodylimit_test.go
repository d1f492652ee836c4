package server_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/astropulse/astroplane/server/httpx"
)

// onlyReader hides a reader's length, so the client sends it chunked.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// sendOverHTTP sends body to a real HTTP server, chunked when chunked is set (no
// Content-Length), and returns the answer checked against the contract.
func sendOverHTTP(t *testing.T, srv *httptest.Server, method, path, key string, body []byte, chunked bool) answer {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = onlyReader{bytes.NewReader(body)}
	}
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, r)
	must(t, err)
	if chunked {
		req.ContentLength = -1
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(httpx.HeaderAPIKey, key)
	resp, err := srv.Client().Do(req)
	must(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(t, err)
	a := answer{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	check, _ := http.NewRequest(method, path, nil)
	checkAnswer(t, check, a)
	return a
}

// bigJSON is a JSON object of about n bytes.
func bigJSON(n int) []byte {
	return []byte(`{"apiVersion":"platform.astropulse.io/v1","kind":"K8sCluster","padding":"` + strings.Repeat("x", n) + `"}`)
}

// TestChunkedBodiesOverTheLimitAre413: a body sent without Content-Length (chunked)
// that grows past the limit is refused with 413 and the error envelope, on every
// route that takes a body, through the real HTTP server and middleware; one under the
// limit is read (and judged on its content).
func TestChunkedBodiesOverTheLimitAre413(t *testing.T) {
	e := keyedEnv(t) // limit 64 KiB
	var mu sync.Mutex
	var seen []int64 // the Content-Length each request arrived with (-1: chunked)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.ContentLength)
		mu.Unlock()
		e.srv.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	arrivedChunked := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == -1
	}
	over, under := bigJSON(96<<10), bigJSON(8<<10)
	for _, route := range []struct{ method, path string }{
		{http.MethodPost, "/api/v1/clusters"},
		{http.MethodPut, "/api/v1/clusters/prod"},
		{http.MethodPut, "/api/v1/approval-policy"},
		{http.MethodPut, "/api/v1/notifications/integrations"},
	} {
		for _, chunked := range []bool{true, false} {
			a := sendOverHTTP(t, srv, route.method, route.path, e.key, over, chunked)
			if arrivedChunked() != chunked {
				t.Fatalf("%s %s: sent chunked=%v, arrived with Content-Length %v", route.method, route.path, chunked, seen)
			}
			if a.Status != http.StatusRequestEntityTooLarge {
				t.Fatalf("%s %s, %d bytes, chunked=%v: %d %s", route.method, route.path, len(over), chunked, a.Status, a.Body)
			}
			if env := a.Error(t); env.Code != httpx.CodePayloadTooLarge {
				t.Fatalf("%s %s chunked=%v: error_code %q", route.method, route.path, chunked, env.Code)
			}
		}
		if a := sendOverHTTP(t, srv, route.method, route.path, e.key, under, true); a.Status == http.StatusRequestEntityTooLarge || a.Status < 400 {
			t.Fatalf("%s %s, %d bytes chunked: %d %s", route.method, route.path, len(under), a.Status, a.Body)
		}
	}
}
