package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/config"
	"github.com/astropulse/astroplane/internal/devissuer"
	"github.com/astropulse/astroplane/internal/oidcauth"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/about"
	"github.com/astropulse/astroplane/store"
)

// lockedBuffer is a bytes.Buffer a running command writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// devStack is the real API server (SQLite) trusting the real development issuer, in
// process; alice is a user of it, admin of organization acme.
type devStack struct {
	api, issuer string
}

func startDevStack(t *testing.T) devStack {
	t.Helper()
	var issuer http.Handler
	iss := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { issuer.ServeHTTP(w, r) }))
	t.Cleanup(iss.Close)
	di, err := devissuer.New(devissuer.Options{Issuer: iss.URL, Audience: "astro-plane"})
	if err != nil {
		t.Fatal(err)
	}
	issuer = di
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	u, _, err := st.SignIn(t.Context(), store.Identity{Issuer: iss.URL, Subject: devissuer.Subject("alice"), Email: "alice@localhost", EmailVerified: true, Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateOrganizationWithAdmin(t.Context(), &store.Organization{Name: "acme"}, u.ID); err != nil {
		t.Fatal(err)
	}
	verifier, err := oidcauth.New(oidcauth.Config{Issuer: iss.URL, Audience: "astro-plane"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{Store: st, TaskQueue: "astro-test", Verifier: verifier,
		SignIn: &about.SignIn{Issuer: iss.URL, ClientID: devissuer.ClientID, Audience: "astro-plane"}})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(srv)
	t.Cleanup(api.Close)
	return devStack{api: api.URL, issuer: iss.URL}
}

var userCodeLine = regexp.MustCompile(`open (\S+) and enter the code (\S+)`)

// TestDeviceLoginWithTheDevIssuer: auth login without --api-key runs the device flow
// against the issuer the API names; the test approves the code on the issuer's
// /device page as a person would; login completes, the tokens are saved (0600), and
// whoami names the user, their organization and role through the bearer token.
// logout forgets them.
func TestDeviceLoginWithTheDevIssuer(t *testing.T) {
	isolate(t)
	ds := startDevStack(t)
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"auth", "login", "--server", ds.api, "--context", "dev"}, strings.NewReader(""), &out, &errb)
	}()

	var verify, code string
	deadline := time.Now().Add(20 * time.Second)
	for code == "" {
		if m := userCodeLine.FindStringSubmatch(errb.String()); m != nil {
			verify, code = m[1], m[2]
			break
		}
		select {
		case c := <-done:
			t.Fatalf("login ended (exit %d) before showing a code:\n%s\n%s", c, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no user code shown:\n%s", errb.String())
		}
	}
	if verify != ds.issuer+devissuer.DevicePath {
		t.Fatalf("verification URI %q, want the issuer's %s page", verify, devissuer.DevicePath)
	}
	// A wrong code is refused by the page, and login keeps waiting.
	wrong, err := http.PostForm(verify, url.Values{"user_code": {"WRONG-CODE"}, "username": {"alice"}})
	if err != nil {
		t.Fatal(err)
	}
	wrong.Body.Close()
	if wrong.StatusCode != http.StatusBadRequest {
		t.Fatalf("wrong code: %d", wrong.StatusCode)
	}
	resp, err := http.PostForm(verify, url.Values{"user_code": {code}, "username": {"alice"}})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("approve %s: %v %v", code, resp, err)
	}
	resp.Body.Close()
	select {
	case c := <-done:
		if c != exitOK || !strings.Contains(out.String(), "as alice@localhost") || !strings.Contains(out.String(), `context "dev" is current`) {
			t.Fatalf("login: exit %d\n%s\n%s", c, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("login did not complete after approval:\n%s", errb.String())
	}

	path := os.Getenv(config.EnvPath)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file %v %v", fi, err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ := cfg.Get("dev")
	if ctx.APIKey != "" || ctx.OIDC == nil || strings.Count(ctx.OIDC.AccessToken, ".") != 2 || ctx.OIDC.Issuer != ds.issuer ||
		ctx.OIDC.ClientID != devissuer.ClientID || ctx.OIDC.User != "alice@localhost" {
		t.Fatalf("saved context %+v (oidc %+v)", ctx, ctx.OIDC)
	}
	if left := time.Until(ctx.OIDC.Expiry); left < devissuer.TokenLifetime-time.Minute || left > devissuer.TokenLifetime {
		t.Fatalf("token expiry in %s, want about %s", left, devissuer.TokenLifetime)
	}

	stdout, stderr, c := astroctl(t, "", "whoami", "-o", "json")
	var who map[string]any
	if c != exitOK || json.Unmarshal([]byte(stdout), &who) != nil {
		t.Fatalf("whoami: exit %d\n%s\n%s", c, stdout, stderr)
	}
	if who["user"] != "alice@localhost" || who["context"] != "dev" || who["role"] != "admin" || who["organizationName"] != "acme" || who["issuer"] != ds.issuer {
		t.Fatalf("whoami: %v", who)
	}
	if stdout, _, c := astroctl(t, "", "whoami"); c != exitOK || !strings.Contains(stdout, "alice@localhost") || !strings.Contains(stdout, "admin") {
		t.Fatalf("whoami table: exit %d\n%s", c, stdout)
	}
	// Other commands send the token too.
	if stdout, stderr, c := astroctl(t, "", "orgs"); c != exitOK || !strings.Contains(stdout, "acme") {
		t.Fatalf("orgs with the token: exit %d\n%s\n%s", c, stdout, stderr)
	}

	// Expired, and this issuer gives no refresh token: log in again, says whoami.
	ctx.OIDC.Expiry = time.Now().Add(-time.Minute)
	cfg.Set(ctx)
	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, stderr, c := astroctl(t, "", "whoami"); c != exitAuth || !strings.Contains(stderr, "expired") || !strings.Contains(stderr, "auth login --server "+ds.api) {
		t.Fatalf("expired token: exit %d\n%s", c, stderr)
	}

	if _, stderr, c := astroctl(t, "", "auth", "logout"); c != exitOK {
		t.Fatalf("logout: exit %d %s", c, stderr)
	}
	if raw, _ := os.ReadFile(path); strings.Contains(string(raw), "accessToken") {
		t.Fatalf("logout left the tokens:\n%s", raw)
	}
	if _, _, c := astroctl(t, "", "whoami"); c != exitAuth {
		t.Fatalf("whoami after logout: exit %d", c)
	}
}

// TestDeviceLoginRefusedWithoutOIDC: a server that signs users in with API keys only
// says so, and login points at --api-key.
func TestDeviceLoginRefusedWithoutOIDC(t *testing.T) {
	isolate(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/auth/config" || r.Header.Get("Authorization") != "" || r.Header.Get("X-Astro-API-Key") != "" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
		fmt.Fprint(w, `{"data":{},"id":"t","message":"API keys only","status":"success"}`)
	}))
	defer api.Close()
	_, stderr, c := astroctl(t, "", "auth", "login", "--server", api.URL)
	if c != exitAuth || !strings.Contains(stderr, "API keys only") || !strings.Contains(stderr, "--api-key") {
		t.Fatalf("exit %d: %s", c, stderr)
	}
	if _, err := os.Stat(os.Getenv(config.EnvPath)); err == nil {
		t.Fatal("a refused login saved a context")
	}
	if _, stderr, c := astroctl(t, "", "auth", "login"); c != exitValidation || !strings.Contains(stderr, "--server") {
		t.Fatalf("no server, no context: exit %d %s", c, stderr)
	}
}

// TestExpiredTokenIsRefreshed: a context whose access token expired is refreshed
// with its refresh token at the issuer's token endpoint before the request, the
// request carries the new token, and the new tokens (a rotated refresh token too)
// are saved.
func TestExpiredTokenIsRefreshed(t *testing.T) {
	isolate(t)
	var issuerURL string
	var refreshes int
	iss := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q,"jwks_uri":%q,"authorization_endpoint":%q}`,
				issuerURL, issuerURL+"/token", issuerURL+"/keys", issuerURL+"/authorize")
		case "/token":
			_ = r.ParseForm()
			if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != "r1" || r.PostForm.Get("client_id") != "cli" {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"error":"invalid_grant"}`)
				return
			}
			refreshes++
			fmt.Fprint(w, `{"access_token":"fresh","token_type":"Bearer","expires_in":3600,"refresh_token":"r2"}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer iss.Close()
	issuerURL = iss.URL
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer fresh" || r.Header.Get("X-Astro-Organization-Id") != "org-1" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"bad token","error_code":"UNAUTHORIZED","status":401,"details":{},"trace_id":"t"}`)
			return
		}
		fmt.Fprint(w, `{"data":{"id":"00000000-0000-4000-8000-000000000001","email":"bob@example.com","activeOrgId":"org-1",
			"memberships":[{"orgId":"org-1","orgName":"acme","role":"viewer"}]},"id":"t","message":"","status":"success"}`)
	}))
	defer api.Close()
	path := os.Getenv(config.EnvPath)
	cfg := &config.Config{CurrentContext: "c"}
	cfg.Set(config.Context{Name: "c", Server: api.URL, Org: "org-1", OIDC: &config.OIDCLogin{Issuer: iss.URL, ClientID: "cli",
		AccessToken: "stale", RefreshToken: "r1", Expiry: time.Now().Add(10 * time.Second)}}) // within the leeway
	if err := cfg.Save(path); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, c := astroctl(t, "", "whoami")
	if c != exitOK || !strings.Contains(stdout, "bob@example.com") || !strings.Contains(stdout, "viewer") || refreshes != 1 {
		t.Fatalf("whoami: exit %d, %d refreshes\n%s\n%s", c, refreshes, stdout, stderr)
	}
	saved, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := saved.Get("c")
	if got.OIDC.AccessToken != "fresh" || got.OIDC.RefreshToken != "r2" || time.Until(got.OIDC.Expiry) < 50*time.Minute {
		t.Fatalf("saved after refresh: %+v", got.OIDC)
	}
	// Fresh now: no second refresh.
	if _, _, c := astroctl(t, "", "whoami"); c != exitOK || refreshes != 1 {
		t.Fatalf("second whoami: exit %d, %d refreshes", c, refreshes)
	}
	// A refused refresh token: exit 3, log in again.
	got.OIDC.Expiry, got.OIDC.RefreshToken = time.Now().Add(-time.Hour), "revoked"
	saved.Set(got)
	if err := saved.Save(path); err != nil {
		t.Fatal(err)
	}
	if _, stderr, c := astroctl(t, "", "whoami"); c != exitAuth || !strings.Contains(stderr, "auth login") {
		t.Fatalf("refused refresh: exit %d %s", c, stderr)
	}
}
