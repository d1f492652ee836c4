package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/server/about"
)

// TestVersionReportsTheServers: version prints astroctl's version and the real API
// server's (GET /api/v1/version, public: it works before any login).
func TestVersionReportsTheServers(t *testing.T) {
	isolate(t)
	ds := startDevStack(t)
	stdout, stderr, c := astroctl(t, "", "version", "--server", ds.api, "-o", "json")
	var v struct {
		Client      map[string]any `json:"client"`
		Server      map[string]any `json:"server"`
		ServerError string         `json:"serverError"`
	}
	if c != exitOK || json.Unmarshal([]byte(stdout), &v) != nil {
		t.Fatalf("version: exit %d\n%s\n%s", c, stdout, stderr)
	}
	sv, _ := v.Server["version"].(map[string]any)
	if v.Server["url"] != ds.api || sv["version"] != about.Version || sv["apiVersion"] != contractVersion() || sv["goVersion"] != runtime.Version() || v.ServerError != "" {
		t.Fatalf("server: %+v", v)
	}
	if v.Client["version"] != version || v.Client["apiVersion"] != contractVersion() {
		t.Fatalf("client: %+v", v.Client)
	}
	stdout, _, c = astroctl(t, "", "version", "--server", ds.api, "--server-required")
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if c != exitOK || len(lines) != 3 || !strings.HasPrefix(lines[1], "astroctl") || !strings.HasPrefix(lines[2], "server") || !strings.Contains(lines[2], ds.api) {
		t.Fatalf("version table: exit %d\n%s", c, stdout)
	}
}

// TestVersionWithoutTheServer: with the server unreachable, unknown, or too old to
// say, astroctl's version still prints and the exit code is 0, unless
// --server-required asks for 1.
func TestVersionWithoutTheServer(t *testing.T) {
	isolate(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	old := httptest.NewServer(http.NotFoundHandler())
	defer old.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unreachable", []string{"--server", down}, "could not be reached"},
		{"no server", nil, "no server to ask"},
		{"older server", []string{"--server", old.URL}, "does not say its version"},
	} {
		stdout, stderr, c := astroctl(t, "", append([]string{"version"}, tc.args...)...)
		if c != exitOK || !regexp.MustCompile(`(?m)^astroctl\s+`+version+`\s`).MatchString(stdout) || !strings.Contains(stdout, "unknown") || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d\n%s\n%s", tc.name, c, stdout, stderr)
		}
		stdout, stderr, c = astroctl(t, "", append([]string{"version", "--server-required"}, tc.args...)...)
		if c != exitFailed || !strings.Contains(stdout, "astroctl") || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s --server-required: exit %d\n%s\n%s", tc.name, c, stdout, stderr)
		}
	}
	stdout, _, c := astroctl(t, "", "version", "--server", down, "-o", "json")
	var v map[string]any
	if c != exitOK || json.Unmarshal([]byte(stdout), &v) != nil || v["server"] != nil || !strings.Contains(v["serverError"].(string), "could not be reached") {
		t.Fatalf("json: exit %d %s", c, stdout)
	}
}
