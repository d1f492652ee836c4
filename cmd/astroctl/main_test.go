package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const examples = "testdata/examples/"

// astroctl runs one command line in-process with its own configuration file.
func astroctl(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func isolate(t *testing.T) {
	t.Setenv("ASTROCTL_CONFIG", filepath.Join(t.TempDir(), "config.yaml"))
	t.Setenv("ASTROCTL_API_KEY", "")
	t.Setenv("ASTROCTL_PROGRESS", "poll")
	pollInterval = 10 * time.Millisecond
}

func TestExitCodes(t *testing.T) {
	isolate(t)
	// Placeholders: refused before anything is sent (no context needed), each field named.
	_, errOut, code := astroctl(t, "", "clusters", "apply", "-f", examples+"gcp_gke_cluster.yaml")
	if code != exitValidation || !strings.Contains(errOut, "spec.provisioner.gke.projectId") || !strings.Contains(errOut, "<YOUR_GCP_PROJECT_ID>") {
		t.Fatalf("placeholders: %d %s", code, errOut)
	}
	// A kind the command does not apply.
	_, errOut, code = astroctl(t, "", "app", "profile", "apply", "-f", examples+"apps_hello-world_demo.yaml", "--set", "YOUR_PROFILE_NAME=p")
	if code != exitValidation || !strings.Contains(errOut, "kind: Application") {
		t.Fatalf("wrong kind: %d %s", code, errOut)
	}
	// Usage errors and bad -o are validation errors too.
	if _, _, code := astroctl(t, "", "clusters", "get", "a", "b"); code != exitValidation {
		t.Fatalf("two names: %d", code)
	}
	if _, _, code := astroctl(t, "", "clusters", "get", "-o", "xml", "--server", "http://x", "--api-key", "k"); code != exitValidation {
		t.Fatalf("-o xml: %d", code)
	}
	// Not logged in.
	if _, errOut, code := astroctl(t, "", "clusters", "get"); code != exitAuth || !strings.Contains(errOut, "auth login") {
		t.Fatalf("no context: %d %s", code, errOut)
	}
	for status, want := range map[int]int{400: exitValidation, 422: exitValidation, 401: exitAuth, 403: exitAuth, 404: exitNotFound, 410: exitNotFound, 409: exitFailed, 500: exitFailed, 503: exitFailed} {
		if got := exitCode(newAPIError(status, nil)); got != want {
			t.Errorf("HTTP %d: exit %d, want %d", status, got, want)
		}
	}
}

// fakeAPI answers a deploy of "web" whose operation ends as final says.
func fakeAPI(t *testing.T, final string) *httptest.Server {
	t.Helper()
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Astro-API-Key") != "astro_k" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid API key","error_code":"UNAUTHORIZED","status":401,"details":{},"trace_id":"t"}`)
			return
		}
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/clusters/web":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error":"cluster not found","error_code":"NOT_FOUND","status":404,"details":{},"trace_id":"t"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/clusters":
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprint(w, `{"data":{"operationId":"op-1","clusterId":"web"},"id":"t","message":"accepted","status":"accepted"}`)
		case r.URL.Path == "/api/v1/clusters/web/progress" && r.URL.Query().Get("operationId") == "op-1":
			polls++
			status, step := "RUNNING", "RUNNING"
			if polls > 2 {
				status, step = final, map[string]string{"SUCCEEDED": "SUCCEEDED"}[final]
				if step == "" {
					step = "FAILED"
				}
			}
			fmt.Fprintf(w, `{"data":{"operationId":"op-1","operationType":"deploy","status":%q,"percent":50,"steps":[{"name":"network","status":%q,"message":"quota exceeded"}]},"id":"t","message":"","status":"success"}`, status, step)
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestApplyWaitsAndExitsAsTheOperationEnds(t *testing.T) {
	set := []string{"--set", "YOUR_CLUSTER_NAME=web", "--set", "YOUR_REGION=us-central1", "--set", "YOUR_GCP_PROJECT_ID=my-project-123456"}
	for final, want := range map[string]int{"SUCCEEDED": exitOK, "FAILED": exitFailed, "REJECTED": exitFailed, "CANCELLED": exitFailed} {
		t.Run(final, func(t *testing.T) {
			isolate(t)
			srv := fakeAPI(t, final)
			args := append([]string{"clusters", "apply", "-f", examples + "gcp_gke_cluster.yaml", "--server", srv.URL, "--api-key", "astro_k"}, set...)
			out, errOut, code := astroctl(t, "", args...)
			if code != want || !strings.Contains(out, "deploy started, operation op-1") || !strings.Contains(out+errOut, "deploy "+final) {
				t.Fatalf("exit %d (want %d)\n%s\n%s", code, want, out, errOut)
			}
			if strings.Contains(out+errOut, "\x1b[") {
				t.Fatalf("colour or redraws when not on a terminal: %q", out)
			}
			if final == "FAILED" && !strings.Contains(errOut, "step network failed: quota exceeded") {
				t.Fatalf("failure without its step: %s", errOut)
			}
		})
	}
	isolate(t)
	srv := fakeAPI(t, "SUCCEEDED")
	// --no-wait prints the operation and returns.
	out, _, code := astroctl(t, "", append([]string{"clusters", "apply", "--no-wait", "-f", examples + "gcp_gke_cluster.yaml", "--server", srv.URL, "--api-key", "astro_k"}, set...)...)
	if code != 0 || !strings.Contains(out, "operation op-1") || strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("--no-wait: %d %s", code, out)
	}
	// A refused key: exit 3 with the API's message.
	_, errOut, code := astroctl(t, "", "clusters", "get", "web", "--server", srv.URL, "--api-key", "astro_bad")
	if code != exitAuth || !strings.Contains(errOut, "invalid API key") {
		t.Fatalf("bad key: %d %s", code, errOut)
	}
}
