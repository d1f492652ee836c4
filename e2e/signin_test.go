package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/internal/testpg"
	"github.com/astropulse/astroplane/internal/testreq"
)

// TestNewcomerSignsInAndRolesHold is the identity issue's "done when", on the real
// binaries (PostgreSQL, Temporal, the API with its development OIDC issuer, a
// worker): a newcomer signs in through the development issuer with the device flow
// (scripts/dev-token.sh, as the README tells a person to), creates a second
// organization (becoming its admin), and invites a viewer who signed in the same way;
// the viewer creates an API key of their own in that organization. The viewer's key
// is refused (403 with the error envelope) when it deploys; the same deploy with the
// newcomer's bearer token alone is accepted (202) and runs to its end.
func TestNewcomerSignsInAndRolesHold(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		testreq.Missing(t, "curl not found", "install curl (scripts/dev-token.sh signs in with it)")
	}
	pg := testpg.Require(t)
	issuerPort := stablePort(t)
	s := startStack(t, pg.NewDatabase(t),
		"ASTRO_DEV_OIDC=true", fmt.Sprintf("ASTRO_DEV_OIDC_ADDR=127.0.0.1:%d", issuerPort))
	issuer := fmt.Sprintf("http://localhost:%d", issuerPort)

	alice := devToken(t, issuer, "alice")
	bob := devToken(t, issuer, "bob")

	// The newcomer's first sign-in creates their user, with no organization yet.
	code, body := s.as(bearer(alice), http.MethodPost, "/api/v1/users/me", nil)
	requireStatus(t, http.StatusCreated, code, body)
	if ms := body["data"].(map[string]any)["memberships"]; ms != nil && len(ms.([]any)) != 0 {
		t.Fatalf("a newcomer belongs to %v", ms)
	}
	// The second organization (the bootstrap's default is the first): alice is its admin.
	code, body = s.as(bearer(alice), http.MethodPost, "/api/v1/orgs", map[string]any{"name": "alice-team"})
	requireStatus(t, http.StatusCreated, code, body)
	org := body["data"].(map[string]any)
	orgID := org["id"].(string)
	if org["role"] != "admin" {
		t.Fatalf("the creator's role is %v", org["role"])
	}

	// bob signs in, and alice adds him as a viewer by his user ID.
	code, body = s.as(bearer(bob), http.MethodPost, "/api/v1/users/me", nil)
	requireStatus(t, http.StatusCreated, code, body)
	bobID := body["data"].(map[string]any)["id"].(string)
	code, body = s.as(bearer(alice), http.MethodPost, "/api/v1/orgs/members",
		map[string]any{"orgId": orgID, "userId": bobID, "role": "viewer"})
	requireStatus(t, http.StatusCreated, code, body)

	// bob's own API key in alice-team.
	code, body = s.as(bearer(bob), http.MethodPost, "/api/v1/api-keys",
		map[string]any{"orgId": orgID, "name": "bob's laptop", "source": "cli", "duration": "720h"})
	requireStatus(t, http.StatusCreated, code, body)
	bobKey := body["data"].(map[string]any)["key"].(string)
	if !strings.HasPrefix(bobKey, "astro_") {
		t.Fatalf("bob's key %q", bobKey)
	}
	code, body = s.as(apiKey(bobKey), http.MethodGet, "/api/v1/clusters", nil)
	requireStatus(t, http.StatusOK, code, body) // a viewer reads

	// The viewer's key deploys: refused before anything starts, with the envelope.
	code, body = s.as(apiKey(bobKey), http.MethodPost, "/api/v1/clusters", gkeManifest("team-prod"))
	requireStatus(t, http.StatusForbidden, code, body)
	if body["error_code"] != "FORBIDDEN" || body["trace_id"] == "" || body["status"] != float64(http.StatusForbidden) {
		t.Fatalf("403 without the error envelope: %v", body)
	}
	details, _ := body["details"].(map[string]any)
	if details["requiredRole"] != "editor" || details["role"] != "viewer" {
		t.Fatalf("403 details %v", details)
	}
	// bob's bearer token is the viewer too.
	code, body = s.as(bearer(bob), http.MethodPost, "/api/v1/clusters", gkeManifest("team-prod"))
	requireStatus(t, http.StatusForbidden, code, body)

	// The same deploy with alice's token alone: accepted, in alice-team, and it runs.
	code, body = s.as(bearer(alice), http.MethodPost, "/api/v1/clusters", gkeManifest("team-prod"))
	requireStatus(t, http.StatusAccepted, code, body)
	opID := body["data"].(map[string]any)["operationId"].(string)
	if !strings.HasPrefix(opID, "alice-team.team-prod.deploy.") {
		t.Fatalf("operation %q is not alice-team's", opID)
	}
	s.waitProgressAs(bearer(alice), "team-prod", opID, "SUCCEEDED")

	// The bootstrap organization sees none of it.
	code, body = s.call(http.MethodGet, "/api/v1/clusters/team-prod", nil)
	requireStatus(t, http.StatusNotFound, code, body)
	t.Logf("alice (admin of alice-team, by bearer token) deployed %s; bob's viewer key was refused: %v", opID, details)

	// astroctl signs bob in the same way (the device flow, issuer from the API).
	astroctlDeviceLogin(t, s, "bob", "alice-team", "viewer")
}

// devToken signs name in through the development issuer with scripts/dev-token.sh
// (the device authorization grant, done with curl) and returns the access token.
func devToken(t *testing.T, issuer, name string) string {
	t.Helper()
	cmd := exec.Command("../scripts/dev-token.sh", name)
	cmd.Env = append(cmd.Environ(), "ASTRO_DEV_OIDC_URL="+issuer)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/dev-token.sh %s: %v\n%s", name, err, stderr.String())
	}
	tok := strings.TrimSpace(string(out))
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("scripts/dev-token.sh %s printed %q, not a JWT", name, tok)
	}
	return tok
}

// credential is a header that authenticates a request.
type credential struct{ name, value string }

func bearer(token string) credential { return credential{"Authorization", "Bearer " + token} }
func apiKey(key string) credential   { return credential{"X-Astro-API-Key", key} }

// as sends a request with cred (and nothing else that authenticates) and decodes the
// JSON answer.
func (s *stack) as(cred credential, method, path string, body any) (int, map[string]any) {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL()+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set(cred.name, cred.value)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		s.t.Fatalf("%s %s: decode answer: %v", method, path, err)
	}
	return resp.StatusCode, out
}

// waitProgressAs is waitProgress with cred.
func (s *stack) waitProgressAs(cred credential, cluster, opID, status string) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last any
	for time.Now().Before(deadline) {
		code, body := s.as(cred, http.MethodGet, "/api/v1/clusters/"+cluster+"/progress?operationId="+opID, nil)
		if code == http.StatusOK {
			if last = body["data"].(map[string]any)["status"]; last == status {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("operation %s never reached %s (last %v)", opID, status, last)
}

func requireStatus(t *testing.T, want, got int, body map[string]any) {
	t.Helper()
	if got != want {
		t.Fatalf("status %d, want %d: %v", got, want, body)
	}
}
