package ghapp_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/astropulse/astroplane/ghapp"
	"github.com/astropulse/astroplane/ghapp/ghfake"
)

func newApp(t *testing.T) (*ghapp.App, *ghfake.Server) {
	t.Helper()
	f := ghfake.New(4242)
	t.Cleanup(f.Close)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.Key)})
	a, err := ghapp.NewWithKey(ghapp.Config{AppID: 4242, APIURL: f.URL + "/"}, pemKey, f.Client())
	if err != nil {
		t.Fatal(err)
	}
	repos := []*ghfake.Repo{}
	for i, n := range []string{"a", "b", "c", "d", "e"} {
		repos = append(repos, &ghfake.Repo{ID: int64(100 + i), Owner: "acme", Name: n, DefaultBranch: "main",
			Branches: []string{"main", "dev", "x"}, Files: map[string]string{"deploy/app.yaml": "kind: App\n", "README.md": "hi"}})
	}
	f.AddInstallation(&ghfake.Installation{ID: 7, Account: "acme", AccountType: "Organization",
		Permissions: map[string]string{"contents": "read", "metadata": "read"}, Repos: repos})
	return a, f
}

func TestAppAgainstWireServer(t *testing.T) {
	a, f := newApp(t)
	ctx := context.Background()
	in, err := a.GetInstallation(ctx, 7)
	if err != nil || in.Account.Login != "acme" || in.Permissions["contents"] != "read" {
		t.Fatalf("installation %+v %v", in, err)
	}
	if _, err := a.GetInstallation(ctx, 8); !errors.Is(err, ghapp.ErrNotFound) {
		t.Fatalf("unknown installation: %v", err)
	}
	t1, err := a.InstallationToken(ctx, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	t2, _ := a.InstallationToken(ctx, 7, nil)
	if t1.Token != t2.Token || len(f.Issued()) != 1 {
		t.Fatalf("the unscoped token was not cached: %d minted", len(f.Issued()))
	}
	repos, err := a.ListRepositories(ctx, 7)
	if err != nil || len(repos) != 5 {
		t.Fatalf("pagination not followed: %d repos, %v", len(repos), err)
	}
	if _, err := a.ListRepositories(ctx, 7); err != nil || f.NotModifed != 3 {
		t.Fatalf("second listing should be three 304s, got %d (%v)", f.NotModifed, err)
	}
	sc, err := a.InstallationToken(ctx, 7, &ghapp.TokenOptions{Repositories: []string{"b"}, Permissions: map[string]string{"contents": "read"}})
	if err != nil {
		t.Fatal(err)
	}
	it, _ := f.Token(sc.Token)
	if len(it.Repos) != 1 || it.Repos[0] != 101 || it.Permissions["contents"] != "read" || len(it.Permissions) != 1 {
		t.Fatalf("scoped token at the wire server: %+v", it)
	}
	if _, err := a.InstallationToken(ctx, 7, &ghapp.TokenOptions{Permissions: map[string]string{"contents": "write"}}); err == nil {
		t.Fatal("write beyond the installation's grant was minted")
	}
	entries, dir, err := a.GetContents(ctx, 7, "acme", "a", "deploy/app.yaml", "dev")
	if err != nil || dir || len(entries) != 1 || entries[0].Encoding != "base64" {
		t.Fatalf("file: %+v %v %v", entries, dir, err)
	}
	entries, dir, err = a.GetContents(ctx, 7, "acme", "a", "", "")
	if err != nil || !dir || len(entries) != 2 {
		t.Fatalf("root: %+v %v %v", entries, dir, err)
	}
	f.RateLimit(1, true)
	var rl *ghapp.RateLimitError
	if _, err := a.ListBranches(ctx, 7, "acme", "a"); !errors.As(err, &rl) || !rl.Secondary || rl.RetryAfter.Seconds() != 30 {
		t.Fatalf("secondary limit: %v", err)
	}
	f.RateLimit(1, false)
	if _, err := a.ListBranches(ctx, 7, "acme", "a"); !errors.As(err, &rl) || rl.Secondary || rl.RetryAfter.Minutes() < 50 {
		t.Fatalf("primary limit: %v", err)
	}
	br, err := a.ListBranches(ctx, 7, "acme", "a")
	if err != nil || strings.Join(br, ",") != "main,dev,x" {
		t.Fatalf("branches %v %v", br, err)
	}
}

func TestAppJWTClaims(t *testing.T) {
	a, f := newApp(t)
	now := time.Unix(1_800_000_000, 0)
	a.SetClock(func() time.Time { return now })
	raw, err := a.AppJWT()
	if err != nil {
		t.Fatal(err)
	}
	var c jwt.RegisteredClaims
	if _, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return &f.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return now })); err != nil {
		t.Fatal(err)
	}
	if c.Issuer != "4242" || !c.IssuedAt.Equal(now.Add(-60*time.Second)) || c.ExpiresAt.Sub(now) > 10*time.Minute-time.Minute ||
		c.ExpiresAt.Sub(c.IssuedAt.Time) > 10*time.Minute {
		t.Fatalf("claims %+v", c)
	}
}

func TestForeignKeyRefused(t *testing.T) {
	_, f := newApp(t)
	other := ghfake.New(4242)
	defer other.Close()
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other.Key)})
	a, _ := ghapp.NewWithKey(ghapp.Config{AppID: 4242, APIURL: f.URL}, pemKey, f.Client())
	if _, err := a.GetInstallation(context.Background(), 7); !errors.Is(err, ghapp.ErrUnauthorized) {
		t.Fatalf("a JWT of another key: %v", err)
	}
}

func TestParseRepoURL(t *testing.T) {
	for _, u := range []string{"https://github.com/Acme/Deploy", "https://github.com/acme/deploy.git", "http://github.com/acme/deploy/",
		"git@github.com:acme/deploy.git", "ssh://git@github.com/acme/deploy.git", "acme/deploy", "https://ghe.corp/acme/deploy/tree/main"} {
		o, n, err := ghapp.ParseRepoURL(u)
		if err != nil || o != "acme" || n != "deploy" {
			t.Errorf("%s: %s/%s %v", u, o, n, err)
		}
	}
	for _, u := range []string{"", "acme", "ftp://x/acme/deploy", "https://github.com/acme/..", "https://github.com/ac me/x"} {
		if _, _, err := ghapp.ParseRepoURL(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
