package ghapp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/astropulse/astroplane/ghapp"
)

// enterprise is a GitHub Enterprise Server stand-in under /api/v3 whose repository
// answers are set per test; it records the paths it was asked.
type enterprise struct {
	mu    sync.Mutex
	paths []string
	repo  func(w http.ResponseWriter)
}

func (e *enterprise) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	e.paths = append(e.paths, r.Method+" "+r.URL.Path)
	e.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/api/v3/app/installations/7/access_tokens":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"token":"ghs_SECRETTOKEN","expires_at":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`))
	case strings.HasPrefix(r.URL.Path, "/api/v3/repos/"):
		e.repo(w)
	default:
		http.NotFound(w, r)
	}
}

func newEnterprise(t *testing.T) (*ghapp.App, *enterprise) {
	t.Helper()
	e := &enterprise{}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	a, err := ghapp.NewWithKey(ghapp.Config{AppID: 1, APIURL: srv.URL + "/api/v3"}, pemKey, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return a, e
}

func answer(st int, hdr map[string]string, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		_, _ = w.Write([]byte(body))
	}
}

func TestGoGitHubErrorsMapped(t *testing.T) {
	a, e := newEnterprise(t)
	ctx := context.Background()
	var rl *ghapp.RateLimitError
	var se *ghapp.StatusError
	var un *ghapp.UnavailableError
	for _, c := range []struct {
		name  string
		reply func(http.ResponseWriter)
		check func(error) bool
	}{
		{"secondary limit as go-github knows it", answer(http.StatusForbidden, map[string]string{"Retry-After": "45"},
			`{"message":"You have exceeded a secondary rate limit","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`),
			func(err error) bool { return errors.As(err, &rl) && rl.Secondary && rl.RetryAfter == 45*time.Second }},
		{"429 with Retry-After", answer(http.StatusTooManyRequests, map[string]string{"Retry-After": "7"}, `{"message":"slow down"}`),
			func(err error) bool { return errors.As(err, &rl) && rl.Secondary && rl.RetryAfter == 7*time.Second }},
		{"primary limit", answer(http.StatusForbidden, map[string]string{"X-RateLimit-Remaining": "0",
			"X-RateLimit-Reset": strconv.FormatInt(time.Now().Add(20*time.Minute).Unix(), 10)}, `{"message":"API rate limit exceeded"}`),
			func(err error) bool { return errors.As(err, &rl) && !rl.Secondary && rl.RetryAfter > 19*time.Minute }},
		{"refusal", answer(http.StatusUnprocessableEntity, nil, `{"message":"Validation Failed"}`),
			func(err error) bool {
				return errors.As(err, &se) && se.Status == 422 && se.Message == "Validation Failed"
			}},
		{"outage", answer(http.StatusBadGateway, nil, `oops`), func(err error) bool { return errors.As(err, &un) && un.Status == 502 }},
		{"not found", answer(http.StatusNotFound, nil, `{"message":"Not Found"}`), func(err error) bool { return errors.Is(err, ghapp.ErrNotFound) }},
	} {
		e.repo = c.reply
		_, err := a.GetRepository(ctx, 7, "acme", "deploy")
		if !c.check(err) {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "SECRETTOKEN") || strings.Contains(err.Error(), "/repos/")) {
			t.Errorf("%s: the error quotes the request: %v", c.name, err)
		}
	}
	// Each answer was GitHub's: a rate limit did not stop the next request client-side.
	if n := len(e.paths); n != 7 || e.paths[0] != "POST /api/v3/app/installations/7/access_tokens" || e.paths[1] != "GET /api/v3/repos/acme/deploy" {
		t.Fatalf("requests %v", e.paths)
	}
}

func TestRefusedBeforeSending(t *testing.T) {
	a, e := newEnterprise(t)
	e.repo = answer(http.StatusOK, nil, `{"id":1,"name":"x","full_name":"acme/x","type":"file","content":""}`)
	ctx := context.Background()
	var se *ghapp.StatusError
	if _, err := a.InstallationToken(ctx, 7, &ghapp.TokenOptions{Permissions: map[string]string{"no_such_permission": "read"}}); !errors.As(err, &se) || se.Status != 422 {
		t.Fatalf("an unknown permission (which would be dropped, widening the token): %v", err)
	}
	for _, on := range [][2]string{{"..", "x"}, {"acme", ".."}, {"a/b", "x"}, {"acme", "x?y"}} {
		if _, err := a.GetRepository(ctx, 7, on[0], on[1]); !errors.Is(err, ghapp.ErrNotFound) {
			t.Errorf("%s/%s: %v", on[0], on[1], err)
		}
	}
	if _, _, err := a.GetContents(ctx, 7, "acme", "x", "a/../../b", ""); !errors.Is(err, ghapp.ErrNotFound) {
		t.Errorf("a dot-dot path: %v", err)
	}
	for _, p := range e.paths {
		if p != "POST /api/v3/app/installations/7/access_tokens" {
			t.Fatalf("sent %s", p)
		}
	}
}
