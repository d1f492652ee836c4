package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAppApplyWaitsForTheDeploy applies the users' profile and hello-world examples in
// one go (the profile first whatever the order given) and waits for the app: DEPLOYED
// is exit 0, FAILED exit 1 with where to look.
func TestAppApplyWaitsForTheDeploy(t *testing.T) {
	for final, want := range map[string]int{"DEPLOYED": exitOK, "FAILED": exitFailed} {
		t.Run(final, func(t *testing.T) {
			isolate(t)
			var sent []string
			polls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodPost && r.URL.Path == "/api/v1/app-profiles":
					sent = append(sent, "profile")
					w.WriteHeader(http.StatusCreated)
					fmt.Fprint(w, `{"data":{"id":"p1","orgId":"o","profileName":"profile3","clusterName":"prod","placement":"explicit","availabilityTier":"basic","createdAt":"2026-11-30T10:00:00Z"},"id":"t","message":"","status":"success"}`)
				case r.Method == http.MethodPost && r.URL.Path == "/api/v1/applications":
					sent = append(sent, "app")
					w.WriteHeader(http.StatusAccepted)
					fmt.Fprint(w, `{"data":{"appId":"a1","name":"hello-world","clusterName":"prod","operationId":"op"},"id":"t","message":"","status":"accepted"}`)
				case r.Method == http.MethodGet && r.URL.Path == "/api/v1/applications/hello-world":
					polls++
					status, health := "DEPLOYING", "Progressing"
					if polls > 2 {
						status, health = final, map[string]string{"DEPLOYED": "Healthy", "FAILED": "Degraded"}[final]
					}
					fmt.Fprintf(w, `{"data":{"id":"a1","orgId":"o","name":"hello-world","profileName":"profile3","status":%q,"syncStatus":"Synced","health":%q,"message":"image pulled","createdAt":"2026-11-30T10:00:00Z"},"id":"t","message":"","status":"success"}`, status, health)
				default:
					t.Errorf("unexpected %s %s", r.Method, r.URL)
				}
			}))
			defer srv.Close()
			out, errOut, code := astroctl(t, "", "app", "apply", "-f", examples+"apps_hello-world_demo.yaml", "-f", examples+"app-profiles_profile3.yaml",
				"--set", "YOUR_PROFILE_NAME=profile3", "--set", "YOUR_CLUSTER_NAME=prod", "--server", srv.URL, "--api-key", "k")
			if code != want || strings.Join(sent, ",") != "profile,app" || !strings.Contains(out, "DEPLOYING · Synced · Progressing") {
				t.Fatalf("exit %d (want %d), sent %v\n%s\n%s", code, want, sent, out, errOut)
			}
			if final == "FAILED" && !strings.Contains(errOut, "astroctl app events hello-world -k") {
				t.Fatalf("failure: %s", errOut)
			}
			if final == "DEPLOYED" && !strings.Contains(out, "app/hello-world: DEPLOYED") {
				t.Fatalf("done: %s", out)
			}
		})
	}
}

// TestAppDeleteWaitsUntilGone deletes an application and waits: gone (404) is exit 0,
// a FAILED delete exit 1 with its message; --no-wait returns once it is requested.
func TestAppDeleteWaitsUntilGone(t *testing.T) {
	for _, tc := range []struct {
		name, final string
		args        []string
		want, polls int
	}{
		{name: "gone", final: "gone", want: exitOK, polls: 3},
		{name: "failed", final: "FAILED", want: exitFailed, polls: 3},
		{name: "no-wait", final: "gone", args: []string{"--no-wait"}, want: exitOK, polls: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolate(t)
			polls, deletes := 0, 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == http.MethodDelete && r.URL.Path == "/api/v1/applications/hello-world":
					deletes++
					w.WriteHeader(http.StatusAccepted)
					fmt.Fprint(w, `{"data":{"appId":"a1","name":"hello-world","operationId":"op","status":"DELETING"},"id":"t","message":"deleting hello-world","status":"accepted"}`)
				case r.Method == http.MethodGet && r.URL.Path == "/api/v1/applications/hello-world":
					polls++
					status, message := "DELETING", "deleting"
					if polls == 3 && tc.final == "gone" {
						w.WriteHeader(http.StatusNotFound)
						fmt.Fprint(w, `{"code":"NOT_FOUND","message":"application hello-world not found","status":404,"id":"t"}`)
						return
					}
					if polls == 3 {
						status, message = tc.final, "delete failed at delete-application: cluster unreachable"
					}
					fmt.Fprintf(w, `{"data":{"id":"a1","orgId":"o","name":"hello-world","profileName":"profile3","status":%q,"message":%q,"createdAt":"2026-11-30T10:00:00Z"},"id":"t","message":"","status":"success"}`, status, message)
				default:
					t.Errorf("unexpected %s %s", r.Method, r.URL)
				}
			}))
			defer srv.Close()
			out, errOut, code := astroctl(t, "", append([]string{"app", "delete", "hello-world", "--server", srv.URL, "--api-key", "k"}, tc.args...)...)
			if code != tc.want || deletes != 1 || polls != tc.polls {
				t.Fatalf("exit %d (want %d), %d deletes, %d polls (want %d)\n%s\n%s", code, tc.want, deletes, polls, tc.polls, out, errOut)
			}
			switch tc.name {
			case "gone":
				if out != "app/hello-world: delete requested\n  DELETING · deleting\napp/hello-world: deleted\n" {
					t.Fatalf("stdout: %q", out)
				}
			case "failed":
				if !strings.Contains(errOut, "app/hello-world: delete FAILED: delete failed at delete-application: cluster unreachable") ||
					!strings.Contains(errOut, "astroctl app events hello-world -k") {
					t.Fatalf("stderr: %q", errOut)
				}
			case "no-wait":
				if out != "app/hello-world: delete requested\n" || !strings.Contains(errOut, "astroctl app status hello-world") {
					t.Fatalf("stdout %q, stderr %q", out, errOut)
				}
			}
		})
	}
}
