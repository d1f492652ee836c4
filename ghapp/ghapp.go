// Package ghapp talks to GitHub (or GitHub Enterprise Server) as a GitHub App: it
// signs the app's JWTs (RS256, iat backdated 60 s, exp 9 minutes ahead), mints
// installation access tokens and caches the unscoped ones until shortly before they
// expire, and reads installations, repositories, branches and contents through
// GitHub's REST API with go-github (github.com/google/go-github). GitHub's rate
// limits come back as *RateLimitError (primary: X-RateLimit-Remaining 0 and
// X-RateLimit-Reset; secondary: Retry-After), its outages as *UnavailableError;
// listings are conditional requests (ETag, If-None-Match, added by a transport of
// ghapp's own under go-github) and a 304 answers from the cached page.
//
// The private key is read once from a file the configuration names; neither it nor
// any token is ever logged or put in an error (go-github's errors, which quote
// request URLs and answers, are mapped onto ghapp's and never passed on).
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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-github/v75/github"
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
	gh   *github.Client // unauthenticated; see client
	now  func() time.Time

	mu     sync.Mutex
	tokens map[int64]Token         // unscoped installation tokens
	etags  map[string]cachedResult // GET listings by URL and token's installation
}

type cachedResult struct {
	etag   string
	body   []byte
	header http.Header
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
	a := &App{id: cfg.AppID, slug: cfg.Slug, key: key, base: base, web: strings.ToLower(cfg.WebHost), now: time.Now,
		tokens: map[int64]Token{}, etags: map[string]cachedResult{}}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c := *hc
	c.Transport = etagTransport{a: a, next: next}
	a.gh = github.NewClient(&c)
	if base != DefaultAPIURL {
		// APIURL is the whole base (an Enterprise Server's https://HOST/api/v3, or
		// any other): it is set as go-github's BaseURL as given, since
		// WithEnterpriseURLs would append /api/v3/ to a base without it.
		u, _ := url.Parse(base + "/")
		a.gh.BaseURL = u
	}
	return a, nil
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

// maxBody caps how much of an answer is read.
const maxBody = 16 << 20

// cacheKey is the context key naming a listing's ETag cache (its installation).
type cacheKey struct{}

// etagTransport is what go-github does not do: a GET whose context carries a
// cacheKey is sent with the ETag of the last answer for its URL (If-None-Match),
// and a 304 is answered from that cached answer (body and headers, Link included,
// so go-github's pagination goes on as if GitHub had answered 200). Every answer's
// body is capped at maxBody.
type etagTransport struct {
	a    *App
	next http.RoundTripper
}

func (t etagTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	prefix, cached := req.Context().Value(cacheKey{}).(string)
	cached = cached && req.Method == http.MethodGet
	key := prefix + req.URL.String()
	var old cachedResult
	var have bool
	if cached {
		t.a.mu.Lock()
		old, have = t.a.etags[key]
		t.a.mu.Unlock()
		if have {
			req = req.Clone(req.Context())
			req.Header.Set("If-None-Match", old.etag)
		}
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if have && resp.StatusCode == http.StatusNotModified {
		_ = resp.Body.Close()
		h := old.header.Clone()
		h.Set("X-From-Cache", "1") // go-github then leaves its rate-limit bookkeeping alone
		return &http.Response{Status: "200 OK", StatusCode: http.StatusOK, Proto: resp.Proto, ProtoMajor: resp.ProtoMajor,
			ProtoMinor: resp.ProtoMinor, Header: h, Body: io.NopCloser(bytes.NewReader(old.body)),
			ContentLength: int64(len(old.body)), Request: req}, nil
	}
	body := io.LimitReader(resp.Body, maxBody)
	if et := resp.Header.Get("ETag"); cached && et != "" && resp.StatusCode == http.StatusOK {
		b, err := io.ReadAll(body)
		_ = resp.Body.Close()
		if err != nil {
			return nil, err
		}
		t.a.mu.Lock()
		t.a.etags[key] = cachedResult{etag: et, body: b, header: resp.Header.Clone()}
		t.a.mu.Unlock()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return resp, nil
	}
	resp.Body = struct {
		io.Reader
		io.Closer
	}{body, resp.Body}
	return resp, nil
}

// ghErr maps go-github's errors onto ghapp's. None of go-github's errors is
// passed on: they quote request URLs and answers, ghapp's name only the status.
func (a *App) ghErr(ctx context.Context, resp *github.Response, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		return &RateLimitError{RetryAfter: max(rl.Rate.Reset.Sub(a.now()), time.Second)}
	case errors.As(err, &ab):
		return &RateLimitError{Secondary: true, RetryAfter: max(ab.GetRetryAfter(), time.Second)}
	case errors.Is(err, github.ErrPathForbidden):
		return ErrNotFound // a path with ".." names nothing in a repository
	case errors.As(err, &er) && er.Response != nil:
		return a.statusErr(er.Response.StatusCode, er.Response.Header, er.Message)
	case resp != nil && resp.Response != nil && resp.StatusCode >= 300:
		return a.statusErr(resp.StatusCode, resp.Header, "")
	case resp != nil && resp.Response != nil:
		return errors.New("github: unreadable answer")
	}
	return &UnavailableError{}
}

// statusErr classifies an error answer go-github did not: a secondary limit
// without go-github's documentation URL (403 or 429 with Retry-After), a primary
// one answered 429, 404, 401 and 5xx.
func (a *App) statusErr(st int, h http.Header, message string) error {
	if st < 300 {
		return nil
	}
	if ra := h.Get("Retry-After"); ra != "" && (st == http.StatusForbidden || st == http.StatusTooManyRequests) {
		secs, _ := strconv.Atoi(ra)
		return &RateLimitError{Secondary: true, RetryAfter: time.Duration(max(secs, 1)) * time.Second}
	}
	if (st == http.StatusForbidden || st == http.StatusTooManyRequests) && h.Get("X-RateLimit-Remaining") == "0" {
		reset, _ := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
		return &RateLimitError{RetryAfter: max(time.Unix(reset, 0).Sub(a.now()), time.Second)}
	}
	switch {
	case st == http.StatusNotFound:
		return ErrNotFound
	case st == http.StatusUnauthorized:
		return ErrUnauthorized
	case st >= 500:
		return &UnavailableError{Status: st}
	}
	return &StatusError{Status: st, Message: message}
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

// client is go-github's client authenticated with token (an app JWT or an
// installation token); GitHub's own answers decide rate limits (per installation),
// so go-github's client-side check is bypassed.
func (a *App) client(ctx context.Context, token string) (context.Context, *github.Client) {
	return context.WithValue(ctx, github.BypassRateLimitCheck, true), a.gh.WithAuthToken(token)
}

func (a *App) appClient(ctx context.Context) (context.Context, *github.Client, error) {
	j, err := a.AppJWT()
	if err != nil {
		return ctx, nil, err
	}
	ctx, c := a.client(ctx, j)
	return ctx, c, nil
}

func (a *App) instClient(ctx context.Context, id int64) (context.Context, *github.Client, error) {
	t, err := a.InstallationToken(ctx, id, nil)
	if err != nil {
		return ctx, nil, err
	}
	ctx, c := a.client(ctx, t.Token)
	return ctx, c, nil
}

// maxPages bounds a listing.
const maxPages = 100

// pages calls list for page 1 and every next page GitHub names (Response.NextPage).
func (a *App) pages(ctx context.Context, list func(github.ListOptions) (*github.Response, error)) error {
	opt := github.ListOptions{PerPage: 100}
	for range maxPages {
		resp, err := list(opt)
		if err != nil {
			return a.ghErr(ctx, resp, err)
		}
		if resp.NextPage == 0 {
			return nil
		}
		opt.Page = resp.NextPage
	}
	return nil
}

// conditional makes ctx's GETs conditional, cached under installation id.
func conditional(ctx context.Context, id int64) context.Context {
	return context.WithValue(ctx, cacheKey{}, strconv.FormatInt(id, 10)+" ")
}

func permsMap(p *github.InstallationPermissions) map[string]string {
	if p == nil {
		return nil
	}
	b, _ := json.Marshal(p)
	var m map[string]string
	_ = json.Unmarshal(b, &m)
	return m
}

// ghPerms is m as go-github's permissions; a name go-github does not know is
// refused rather than dropped (dropping the only one would widen the token).
func ghPerms(m map[string]string) (*github.InstallationPermissions, error) {
	if len(m) == 0 {
		return nil, nil
	}
	b, _ := json.Marshal(m)
	var p github.InstallationPermissions
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, &StatusError{Status: http.StatusUnprocessableEntity, Message: "unreadable permissions"}
	}
	back := permsMap(&p)
	for k, v := range m {
		if back[k] != v {
			return nil, &StatusError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf("unknown permission %q", k)}
		}
	}
	return &p, nil
}

func account(u *github.User) Account {
	return Account{Login: u.GetLogin(), ID: u.GetID(), Type: u.GetType()}
}

func installation(in *github.Installation) Installation {
	out := Installation{ID: in.GetID(), AppID: in.GetAppID(), Account: account(in.Account),
		RepositorySelection: in.GetRepositorySelection(), Permissions: permsMap(in.Permissions)}
	if in.SuspendedAt != nil {
		t := in.SuspendedAt.Time
		out.SuspendedAt = &t
	}
	return out
}

// GetInstallation reads installation id as the app (GET /app/installations/{id}).
func (a *App) GetInstallation(ctx context.Context, id int64) (Installation, error) {
	ctx, c, err := a.appClient(ctx)
	if err != nil {
		return Installation{}, err
	}
	in, resp, err := c.Apps.GetInstallation(ctx, id)
	if err != nil {
		return Installation{}, a.ghErr(ctx, resp, err)
	}
	return installation(in), nil
}

// ListInstallations lists the app's installations (GET /app/installations, every page).
func (a *App) ListInstallations(ctx context.Context) ([]Installation, error) {
	ctx, c, err := a.appClient(ctx)
	if err != nil {
		return nil, err
	}
	var out []Installation
	err = a.pages(ctx, func(opt github.ListOptions) (*github.Response, error) {
		page, resp, err := c.Apps.ListInstallations(ctx, &opt)
		for _, in := range page {
			out = append(out, installation(in))
		}
		return resp, err
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
	req := &github.InstallationTokenOptions{}
	if scoped {
		perms, err := ghPerms(opts.Permissions)
		if err != nil {
			return Token{}, err
		}
		req = &github.InstallationTokenOptions{Repositories: opts.Repositories, RepositoryIDs: opts.RepositoryIDs, Permissions: perms}
	}
	ctx, c, err := a.appClient(ctx)
	if err != nil {
		return Token{}, err
	}
	it, resp, err := c.Apps.CreateInstallationToken(ctx, id, req)
	if err != nil {
		return Token{}, a.ghErr(ctx, resp, err)
	}
	t := Token{Token: it.GetToken(), ExpiresAt: it.GetExpiresAt().Time, Permissions: permsMap(it.Permissions)}
	for _, r := range it.Repositories {
		t.Repositories = append(t.Repositories, struct {
			FullName string `json:"full_name"`
		}{r.GetFullName()})
	}
	if t.Token == "" {
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

func repository(r *github.Repository) Repository {
	return Repository{ID: r.GetID(), Name: r.GetName(), FullName: r.GetFullName(), Owner: account(r.Owner),
		Private: r.GetPrivate(), HTMLURL: r.GetHTMLURL(), CloneURL: r.GetCloneURL(), DefaultBranch: r.GetDefaultBranch()}
}

// validRepo: go-github puts owner and name into the path unescaped, so a name
// that is not a GitHub name (or is a dot segment) is refused before it is sent.
func validRepo(owner, name string) bool {
	for _, s := range []string{owner, name} {
		if !ghName.MatchString(s) || s == "." || s == ".." {
			return false
		}
	}
	return true
}

// ListRepositories lists what installation id can reach (GET
// /installation/repositories, every page, conditionally).
func (a *App) ListRepositories(ctx context.Context, id int64) ([]Repository, error) {
	ctx, c, err := a.instClient(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx = conditional(ctx, id)
	var out []Repository
	err = a.pages(ctx, func(opt github.ListOptions) (*github.Response, error) {
		page, resp, err := c.Apps.ListRepos(ctx, &opt)
		if page != nil {
			for _, r := range page.Repositories {
				out = append(out, repository(r))
			}
		}
		return resp, err
	})
	return out, err
}

// GetRepository reads owner/name with installation id's token.
func (a *App) GetRepository(ctx context.Context, id int64, owner, name string) (Repository, error) {
	if !validRepo(owner, name) {
		return Repository{}, ErrNotFound
	}
	ctx, c, err := a.instClient(ctx, id)
	if err != nil {
		return Repository{}, err
	}
	r, resp, err := c.Repositories.Get(ctx, owner, name)
	if err != nil {
		return Repository{}, a.ghErr(ctx, resp, err)
	}
	return repository(r), nil
}

// ListBranches lists owner/name's branch names (every page, conditionally).
func (a *App) ListBranches(ctx context.Context, id int64, owner, name string) ([]string, error) {
	if !validRepo(owner, name) {
		return nil, ErrNotFound
	}
	ctx, c, err := a.instClient(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx = conditional(ctx, id)
	var out []string
	err = a.pages(ctx, func(opt github.ListOptions) (*github.Response, error) {
		page, resp, err := c.Repositories.ListBranches(ctx, owner, name, &github.BranchListOptions{ListOptions: opt})
		for _, b := range page {
			out = append(out, b.GetName())
		}
		return resp, err
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

func content(c *github.RepositoryContent) Content {
	out := Content{Type: c.GetType(), Name: c.GetName(), Path: c.GetPath(), SHA: c.GetSHA(), Size: c.GetSize(), Encoding: c.GetEncoding()}
	if c.Content != nil {
		out.Content = *c.Content // base64, as GitHub sends it
	}
	return out
}

// GetContents reads path at ref ("" the default branch): a file (one entry, its
// content base64 as GitHub sends it) or a directory's entries (dir true).
func (a *App) GetContents(ctx context.Context, id int64, owner, name, path, ref string) (entries []Content, dir bool, err error) {
	if !validRepo(owner, name) {
		return nil, false, ErrNotFound
	}
	ctx, c, err := a.instClient(ctx, id)
	if err != nil {
		return nil, false, err
	}
	file, list, resp, err := c.Repositories.GetContents(ctx, owner, name, strings.Trim(path, "/"), &github.RepositoryContentGetOptions{Ref: ref})
	if err != nil {
		return nil, false, a.ghErr(ctx, resp, err)
	}
	if file != nil {
		return []Content{content(file)}, false, nil
	}
	entries = make([]Content, 0, len(list))
	for _, e := range list {
		entries = append(entries, content(e))
	}
	return entries, true, nil
}
