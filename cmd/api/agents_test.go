package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/tunnel"
)

// The tunnel CA is made once and read back after; the endpoint starts only when
// configured; the internal proxy answers its prefix (401 without a credential) and
// leaves every other path to the API.
func TestStartAgents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	a, err := loadOrMakeCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadOrMakeCA(dir)
	if err != nil || !bytes.Equal(a.PEM(), b.PEM()) {
		t.Fatalf("the CA read back differs: %v", err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	log := slog.New(slog.DiscardHandler)

	deps, same, stop, err := startAgents(t.Context(), AgentsConfig{}, ":8080", nil, log)
	if err != nil || deps.Tunnel != nil {
		t.Fatalf("unconfigured: %v %v", deps.Tunnel, err)
	}
	stop()
	rec := httptest.NewRecorder()
	same(api).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tunnel.ProxyPrefix+"o/c/", nil))
	if rec.Code != http.StatusTeapot {
		t.Fatalf("unconfigured: the proxy prefix answered %d", rec.Code)
	}
	if _, _, _, err := startAgents(t.Context(), AgentsConfig{TunnelAddr: "127.0.0.1:0", TunnelCADir: dir, ProxyKey: "abcd"}, ":8080", nil, log); err == nil {
		t.Fatal("a short proxy key was accepted")
	}
	deps, wrap, stop, err := startAgents(t.Context(), AgentsConfig{TunnelAddr: "127.0.0.1:0", TunnelCADir: dir, ProxyKey: strings.Repeat("ab", 32),
		TunnelEndpoint: "https://tunnel.example.com:8443"}, ":8080", nil, log)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if deps.Tunnel == nil || deps.Endpoint != "https://tunnel.example.com:8443" || !bytes.Equal(deps.Tunnel.CA.PEM(), a.PEM()) || deps.Proxy == nil {
		t.Fatalf("configured: %+v", deps)
	}
	h := wrap(api)
	for path, want := range map[string]int{tunnel.ProxyPrefix + "org/cluster/api/v1/namespaces": http.StatusUnauthorized, "/api/v1/clusters": http.StatusTeapot} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Fatalf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}
