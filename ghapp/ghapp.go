// Package ghapp talks to GitHub (or GitHub Enterprise Server) as a GitHub App: it
// signs the app's JWTs (RS256, iat backdated 60 s, exp 9 minutes ahead), mints
// installation access tokens and caches the unscoped ones until shortly before they
// expire, and reads installations, repositories, branches and contents through
// GitHub's REST API. GitHub's rate limits come back as *RateLimitError (primary:
// X-RateLimit-Remaining 0 and X-RateLimit-Reset; secondary: Retry-After), its
// outages as *UnavailableError; listings are conditional requests (ETag,
// If-None-Match) and a 304 answers from the cached page.
//
// The private key is read once from a file the configuration names; neither it nor
// any token is ever logged or put in an error.
package ghapp

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultAPIURL is github.com's REST API.
const DefaultAPIURL = "https://api.github.com"

// Environment variables Config reads.
const (
	EnvAppID          = "ASTRO_GITHUB_APP_ID"
	EnvAppSlug        = "ASTRO_GITHUB_APP_SLUG"
	EnvPrivateKeyFile = "ASTRO_GITHUB_APP_PRIVATE_KEY_FILE"
	EnvWebhookSecret  = "ASTRO_GITHUB_WEBHOOK_SECRET" //nolint:gosec // a variable's name, not a credential
	EnvAPIURL         = "ASTRO_GITHUB_API_URL"
)

// Config configures an App.
type Config struct {
	AppID          int64
	Slug           string
	PrivateKeyFile string
	WebhookSecret  string
	// APIURL is the REST API's base: https://api.github.com (default) or a GitHub
	// Enterprise Server's https://HOST/api/v3.
	APIURL string
	// WebHost is the host repository URLs name (github.com, an Enterprise Server's
	// host); default: github.com for api.github.com, else APIURL's host.
	WebHost string
}

// ConfigFromEnv reads Config from the ASTRO_GITHUB_* variables; ok is false when
// no app is configured (no app ID).
func ConfigFromEnv() (cfg Config, ok bool, err error) {
	id := os.Getenv(EnvAppID)
	if id == "" {
		return cfg, false, nil
	}
	cfg.AppID, err = strconv.ParseInt(id, 10, 64)
	if err != nil || cfg.AppID <= 0 {
		return cfg, false, fmt.Errorf("%s: not a GitHub App ID", EnvAppID)
	}
	cfg.Slug, cfg.PrivateKeyFile = os.Getenv(EnvAppSlug), os.Getenv(EnvPrivateKeyFile)
	cfg.WebhookSecret, cfg.APIURL = os.Getenv(EnvWebhookSecret), os.Getenv(EnvAPIURL)
	if cfg.PrivateKeyFile == "" {
		return cfg, false, fmt.Errorf("%s is required with %s", EnvPrivateKeyFile, EnvAppID)
	}
	return cfg, true, nil
}

// App is a GitHub App's client.
type App struct {
	id   int64
	slug string
	key  *rsa.PrivateKey
	base string
	web  string
	hc   *http.Client
	now  func() time.Time

	mu     sync.Mutex
	tokens map[int64]Token         // unscoped installation tokens
	etags  map[string]cachedResult // GET listings by URL and token's installation
}

type cachedResult struct {
	etag string
	body []byte
	next string
}

// New returns the App cfg configures, reading its private key file.
func New(cfg Config, hc *http.Client) (*App, error) {
	pemBytes, err := os.ReadFile(cfg.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("github app private key: %w", err)
	}
	return NewWithKey(cfg, pemBytes, hc)
}

// NewWithKey is New with the private key's PEM given.
func NewWithKey(cfg Config, pemBytes []byte, hc *http.Client) (*App, error) {
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
	if err != nil {
		return nil, errors.New("github app private key: not an RSA private key in PEM")
	}
	if cfg.AppID <= 0 {
		return nil, errors.New("github app: app ID is required")
	}
	base := strings.TrimRight(cfg.APIURL, "/")
	if base == "" {
		base = DefaultAPIURL
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("github app: API URL %q is not an http(s) URL", cfg.APIURL)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &App{id: cfg.AppID, slug: cfg.Slug, key: key, base: base, web: strings.ToLower(cfg.WebHost), hc: hc, now: time.Now,
		tokens: map[int64]Token{}, etags: map[string]cachedResult{}}, nil
}

// WebHost is the host of the GitHub the app talks to: github.com for
// api.github.com, the Enterprise Server's host otherwise.
func (a *App) WebHost() string {
	if a.web != "" {
		return a.web
	}
	u, _ := url.Parse(a.base)
	h := strings.ToLower(u.Hostname())
	if h == "api.github.com" {
		return "github.com"
	}
	return h
}

// ID is the app's ID; Slug its URL name.
func (a *App) ID() int64                     { return a.id }
func (a *App) Slug() string                  { return a.slug }
func (a *App) SetClock(now func() time.Time) { a.now = now }

// JWTLifetime is how far ahead an app JWT expires (GitHub allows at most 10 minutes).
const JWTLifetime = 9 * time.Minute

// AppJWT signs an app JWT: iss the app's ID, iat 60 s in the past (clock drift),
// exp JWTLifetime ahead.
func (a *App) AppJWT() (string, error) {
	now := a.now()
	claims := jwt.RegisteredClaims{Issuer: strconv.FormatInt(a.id, 10),
		IssuedAt: jwt.NewNumericDate(now.Add(-60 * time.Second)), ExpiresAt: jwt.NewNumericDate(now.Add(JWTLifetime))}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(a.key)
}

// Errors.
var (
	// ErrNotFound is GitHub's 404 (or a 403 that hides one).
	ErrNotFound = errors.New("github: not found")
	// ErrUnauthorized is GitHub refusing the app's credentials (401).
	ErrUnauthorized = errors.New("github: app credentials refused")
)

// RateLimitError is GitHub's primary or secondary rate limit: wait RetryAfter.
type RateLimitError struct {
	Secondary  bool
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	kind := "primary"
	if e.Secondary {
		kind = "secondary"
	}
	return fmt.Sprintf("github: %s rate limit; retry after %s", kind, e.RetryAfter.Round(time.Second))
}

// UnavailableError is GitHub failing (5xx, or not answering).
type UnavailableError struct{ Status int }

func (e *UnavailableError) Error() string {
	if e.Status == 0 {
		return "github: unreachable"
	}
	return fmt.Sprintf("github: unavailable (HTTP %d)", e.Status)
}

// StatusError is any other answer GitHub refused with.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string { return fmt.Sprintf("github: HTTP %d: %s", e.Status, e.Message) }

// call is one request; token is "Bearer <jwt>" or "token <installation token>".
// answer is what call keeps of a response (its body is read and closed).
type answer struct {
	StatusCode int
	Header     http.Header
}

func (a *App) call(ctx context.Context, method, path, auth string, body any, hdr http.Header) (answer, []byte, error) {
	u := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		u = a.base + path
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return answer{}, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return answer{}, nil, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return answer{}, nil, ctx.Err()
		}
		return answer{}, nil, &UnavailableError{}
	}
	defer func() { _ = resp.Body.Close() }()
	ans := answer{StatusCode: resp.StatusCode, Header: resp.Header}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return ans, nil, &UnavailableError{Status: resp.StatusCode}
	}
	if err := a.statusErr(ans, b); err != nil {
		return ans, nil, err
	}
	return ans, b, nil
}

func (a *App) statusErr(resp answer, b []byte) error {
	st := resp.StatusCode
	if st < 300 || st == http.StatusNotModified {
		return nil
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" && (st == http.StatusForbidden || st == http.StatusTooManyRequests) {
		secs, _ := strconv.Atoi(ra)
		return &RateLimitError{Secondary: true, RetryAfter: time.Duration(max(secs, 1)) * time.Second}
	}
	if (st == http.StatusForbidden || st == http.StatusTooManyRequests) && resp.Header.Get("X-RateLimit-Remaining") == "0" {
		reset, _ := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
		wait := time.Unix(reset, 0).Sub(a.now())
		return &RateLimitError{RetryAfter: max(wait, time.Second)}
	}
	switch {
	case st == http.StatusNotFound:
		return ErrNotFound
	case st == http.StatusUnauthorized:
		return ErrUnauthorized
	case st >= 500:
		return &UnavailableError{Status: st}
	}
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &m)
	return &StatusError{Status: st, Message: m.Message}
}

// Account is an installation's account.
type Account struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	Type  string `json:"type"`
}

// Installation is GitHub's installation object (the fields the platform keeps).
type Installation struct {
	ID                  int64             `json:"id"`
	AppID               int64             `json:"app_id"`
	Account             Account           `json:"account"`
	RepositorySelection string            `json:"repository_selection"`
	Permissions         map[string]string `json:"permissions"`
	SuspendedAt         *time.Time        `json:"suspended_at"`
}

func (a *App) appAuth() (string, error) {
	j, err := a.AppJWT()
	return "Bearer " + j, err
}

// GetInstallation reads installation id as the app (GET /app/installations/{id}).
func (a *App) GetInstallation(ctx context.Context, id int64) (Installation, error) {
	var in Installation
	auth, err := a.appAuth()
	if err != nil {
		return in, err
	}
	_, b, err := a.call(ctx, http.MethodGet, fmt.Sprintf("/app/installations/%d", id), auth, nil, nil)
	if err != nil {
		return in, err
	}
	err = json.Unmarshal(b, &in)
	return in, err
}

// ListInstallations lists the app's installations (GET /app/installations, every page).
func (a *App) ListInstallations(ctx context.Context) ([]Installation, error) {
	auth, err := a.appAuth()
	if err != nil {
		return nil, err
	}
	var out []Installation
	err = a.pages(ctx, "/app/installations?per_page=100", auth, func(b []byte) error {
		var page []Installation
		if err := json.Unmarshal(b, &page); err != nil {
			return err
		}
		out = append(out, page...)
		return nil
	})
	return out, err
}

// TokenOptions scope an installation token (POST /app/installations/{id}/access_tokens).
type TokenOptions struct {
	Repositories  []string          `json:"repositories,omitempty"` // names, without owner
	RepositoryIDs []int64           `json:"repository_ids,omitempty"`
	Permissions   map[string]string `json:"permissions,omitempty"`
	// Fresh mints a new token even when nothing scopes it (never cached).
	Fresh bool `json:"-"`
}

// Token is an installation access token. Its value is a secret: never log it.
type Token struct {
	Token        string            `json:"token"`
	ExpiresAt    time.Time         `json:"expires_at"`
	Permissions  map[string]string `json:"permissions"`
	Repositories []struct {
		FullName string `json:"full_name"`
	} `json:"repositories"`
}

// tokenMargin is how long before its expiry a cached token is replaced.
const tokenMargin = 5 * time.Minute

// InstallationToken returns an installation token: a cached one while it has more
// than tokenMargin left when opts is empty, a freshly minted one when opts scope it.
func (a *App) InstallationToken(ctx context.Context, id int64, opts *TokenOptions) (Token, error) {
	scoped := opts != nil && (len(opts.Repositories) > 0 || len(opts.RepositoryIDs) > 0 || len(opts.Permissions) > 0)
	fresh := scoped || (opts != nil && opts.Fresh)
	if !fresh {
		a.mu.Lock()
		t, ok := a.tokens[id]
		a.mu.Unlock()
		if ok && a.now().Add(tokenMargin).Before(t.ExpiresAt) {
			return t, nil
		}
	}
	auth, err := a.appAuth()
	if err != nil {
		return Token{}, err
	}
	var body any = struct{}{}
	if scoped {
		body = opts
	}
	_, b, err := a.call(ctx, http.MethodPost, fmt.Sprintf("/app/installations/%d/access_tokens", id), auth, body, nil)
	if err != nil {
		return Token{}, err
	}
	var t Token
	if err := json.Unmarshal(b, &t); err != nil {
		return Token{}, errors.New("github: unreadable access token answer")
	}
	if !fresh {
		a.mu.Lock()
		a.tokens[id] = t
		a.mu.Unlock()
	}
	return t, nil
}

// Forget drops installation id's cached token and listings.
func (a *App) Forget(id int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.tokens, id)
	prefix := strconv.FormatInt(id, 10) + " "
	for k := range a.etags {
		if strings.HasPrefix(k, prefix) {
			delete(a.etags, k)
		}
	}
}

var linkNext = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// pages GETs url and every next page its Link headers name, conditionally with the
// ETag of the last answer for that page (a 304 reuses the cached body); cacheKey
// empty: no conditional requests.
func (a *App) pages(ctx context.Context, u, auth string, each func([]byte) error) error {
	return a.pagesCached(ctx, "", u, auth, each)
}

func (a *App) pagesCached(ctx context.Context, cacheKey, u, auth string, each func([]byte) error) error {
	for n := 0; u != "" && n < 100; n++ {
		var hdr http.Header
		a.mu.Lock()
		cached, have := a.etags[cacheKey+u]
		a.mu.Unlock()
		if cacheKey != "" && have {
			hdr = http.Header{"If-None-Match": {cached.etag}}
		}
		resp, b, err := a.call(ctx, http.MethodGet, u, auth, nil, hdr)
		if err != nil {
			return err
		}
		next := ""
		if resp.StatusCode == http.StatusNotModified && have {
			b, next = cached.body, cached.next
		} else {
			if m := linkNext.FindStringSubmatch(resp.Header.Get("Link")); m != nil {
				next = m[1]
			}
			if et := resp.Header.Get("ETag"); cacheKey != "" && et != "" {
				a.mu.Lock()
				a.etags[cacheKey+u] = cachedResult{etag: et, body: b, next: next}
				a.mu.Unlock()
			}
		}
		if err := each(b); err != nil {
			return err
		}
		if next != "" && !strings.HasPrefix(next, a.base+"/") {
			return errors.New("github: a Link header points outside the API")
		}
		u = next
	}
	return nil
}

// Repository is GitHub's repository object (the fields the platform shows).
type Repository struct {
	ID            int64   `json:"id"`
	Name          string  `json:"name"`
	FullName      string  `json:"full_name"`
	Owner         Account `json:"owner"`
	Private       bool    `json:"private"`
	HTMLURL       string  `json:"html_url"`
	CloneURL      string  `json:"clone_url"`
	DefaultBranch string  `json:"default_branch"`
}

func (a *App) instAuth(ctx context.Context, id int64) (string, error) {
	t, err := a.InstallationToken(ctx, id, nil)
	return "token " + t.Token, err
}

// ListRepositories lists what installation id can reach (GET
// /installation/repositories, every page, conditionally).
func (a *App) ListRepositories(ctx context.Context, id int64) ([]Repository, error) {
	auth, err := a.instAuth(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []Repository
	err = a.pagesCached(ctx, strconv.FormatInt(id, 10)+" ", "/installation/repositories?per_page=100", auth, func(b []byte) error {
		var page struct {
			Repositories []Repository `json:"repositories"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return err
		}
		out = append(out, page.Repositories...)
		return nil
	})
	return out, err
}

// GetRepository reads owner/name with installation id's token.
func (a *App) GetRepository(ctx context.Context, id int64, owner, name string) (Repository, error) {
	var r Repository
	auth, err := a.instAuth(ctx, id)
	if err != nil {
		return r, err
	}
	_, b, err := a.call(ctx, http.MethodGet, "/repos/"+url.PathEscape(owner)+"/"+url.PathEscape(name), auth, nil, nil)
	if err != nil {
		return r, err
	}
	err = json.Unmarshal(b, &r)
	return r, err
}

// ListBranches lists owner/name's branch names (every page, conditionally).
func (a *App) ListBranches(ctx context.Context, id int64, owner, name string) ([]string, error) {
	auth, err := a.instAuth(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []string
	u := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/branches?per_page=100"
	err = a.pagesCached(ctx, strconv.FormatInt(id, 10)+" ", u, auth, func(b []byte) error {
		var page []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return err
		}
		for _, br := range page {
			out = append(out, br.Name)
		}
		return nil
	})
	return out, err
}

// Content is a file or directory entry of GET /repos/{o}/{r}/contents/{path}.
type Content struct {
	Type     string `json:"type"` // file, dir, symlink, submodule
	Name     string `json:"name"`
	Path     string `json:"path"`
	SHA      string `json:"sha"`
	Size     int    `json:"size"`
	Encoding string `json:"encoding,omitempty"`
	Content  string `json:"content,omitempty"`
}

// GetContents reads path at ref ("" the default branch): a file (one entry, its
// content base64 as GitHub sends it) or a directory's entries (dir true).
func (a *App) GetContents(ctx context.Context, id int64, owner, name, path, ref string) (entries []Content, dir bool, err error) {
	auth, err := a.instAuth(ctx, id)
	if err != nil {
		return nil, false, err
	}
	p := strings.Trim(path, "/")
	segs := strings.Split(p, "/")
	for i := range segs {
		segs[i] = url.PathEscape(segs[i])
	}
	u := "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/contents/" + strings.Join(segs, "/")
	if ref != "" {
		u += "?ref=" + url.QueryEscape(ref)
	}
	_, b, err := a.call(ctx, http.MethodGet, u, auth, nil, nil)
	if err != nil {
		return nil, false, err
	}
	if len(bytes.TrimSpace(b)) > 0 && bytes.TrimSpace(b)[0] == '[' {
		err = json.Unmarshal(b, &entries)
		return entries, true, err
	}
	var one Content
	if err := json.Unmarshal(b, &one); err != nil {
		return nil, false, err
	}
	return []Content{one}, false, nil
}
