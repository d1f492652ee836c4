// Package ghfake is a wire server of the parts of GitHub's REST API a GitHub App
// uses, as GitHub documents them, for tests: app JWTs checked against the app's
// public key (RS256, iss the app ID, at most 10 minutes), installation tokens
// scoped as asked (repositories, repository_ids, permissions) and enforced on every
// later request, Link-header pagination, ETags with 304, rate-limit headers and
// injectable primary/secondary rate limits.
package ghfake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Repo is a repository of the fake.
type Repo struct {
	ID            int64
	Owner, Name   string
	DefaultBranch string
	Branches      []string
	// Files maps a path to its content (the same on every branch).
	Files map[string]string
}

// Installation is an installation of the fake's app.
type Installation struct {
	ID          int64
	Account     string
	AccountType string // User or Organization
	Permissions map[string]string
	Repos       []*Repo
}

// IssuedToken is a token the fake minted, with its scope.
type IssuedToken struct {
	Installation int64
	Repos        []int64 // nil: all of the installation's
	Permissions  map[string]string
	ExpiresAt    time.Time
}

// Server is the fake GitHub.
type Server struct {
	*httptest.Server
	AppID int64
	Key   *rsa.PrivateKey
	// PerPage is the page size of listings (default 2, to exercise pagination).
	PerPage int

	mu            sync.Mutex
	installations map[int64]*Installation
	tokens        map[string]IssuedToken
	// limited: the next N requests answer a rate limit (primary or secondary).
	limitedN   int
	secondary  bool
	failN      int
	Requests   []string // "METHOD path" of every request
	NotModifed int      // 304s answered
}

// New starts a fake with a fresh app key.
func New(appID int64) *Server {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	s := &Server{AppID: appID, Key: key, PerPage: 2, installations: map[int64]*Installation{}, tokens: map[string]IssuedToken{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// AddInstallation adds in.
func (s *Server) AddInstallation(in *Installation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.installations[in.ID] = in
}

// RemoveInstallation uninstalls the app from id.
func (s *Server) RemoveInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.installations, id)
}

// RateLimit makes the next n requests answer a rate limit: secondary (403 with
// Retry-After) or primary (403 with X-RateLimit-Remaining 0).
func (s *Server) RateLimit(n int, secondary bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitedN, s.secondary = n, secondary
}

// Fail makes the next n requests answer 502, as GitHub does in an outage.
func (s *Server) Fail(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN = n
}

// Token returns what the fake knows of a token it issued.
func (s *Server) Token(tok string) (IssuedToken, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tok]
	return t, ok
}

// Issued returns every token the fake minted.
func (s *Server) Issued() map[string]IssuedToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]IssuedToken{}
	for k, v := range s.tokens {
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, st int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(st)
	_ = json.NewEncoder(w).Encode(v)
}

func msg(w http.ResponseWriter, st int, m string) {
	writeJSON(w, st, map[string]string{"message": m, "documentation_url": "https://docs.github.com/rest"})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Requests = append(s.Requests, r.Method+" "+r.URL.Path)
	reset := time.Now().Add(time.Hour).Unix()
	w.Header().Set("X-RateLimit-Limit", "5000")
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset, 10))
	if s.failN > 0 {
		s.failN--
		msg(w, http.StatusBadGateway, "Server Error")
		return
	}
	if s.limitedN > 0 {
		s.limitedN--
		if s.secondary {
			w.Header().Set("Retry-After", "30")
			w.Header().Set("X-RateLimit-Remaining", "4000")
			msg(w, http.StatusForbidden, "You have exceeded a secondary rate limit.")
			return
		}
		w.Header().Set("X-RateLimit-Remaining", "0")
		msg(w, http.StatusForbidden, "API rate limit exceeded for installation.")
		return
	}
	w.Header().Set("X-RateLimit-Remaining", "4999")
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/app/"):
		if !s.appAuthorized(r) {
			msg(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
			return
		}
		s.serveApp(w, r, strings.TrimPrefix(p, "/app"))
	default:
		tok, ok := s.installationAuth(r)
		if !ok {
			msg(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		s.serveInstallation(w, r, tok)
	}
}

// appAuthorized checks the app JWT as GitHub does.
func (s *Server) appAuthorized(r *http.Request) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	var c jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return &s.Key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuedAt(), jwt.WithExpirationRequired(), jwt.WithLeeway(0))
	if err != nil || c.Issuer != strconv.FormatInt(s.AppID, 10) || c.IssuedAt == nil {
		return false
	}
	return c.ExpiresAt.Sub(c.IssuedAt.Time) <= 10*time.Minute
}

func account(in *Installation) map[string]any {
	return map[string]any{"login": in.Account, "id": in.ID * 10, "type": in.AccountType}
}

func (s *Server) installationJSON(in *Installation) map[string]any {
	sel := "all"
	return map[string]any{"id": in.ID, "app_id": s.AppID, "account": account(in), "repository_selection": sel,
		"permissions": in.Permissions, "suspended_at": nil}
}

func (s *Server) serveApp(w http.ResponseWriter, r *http.Request, p string) {
	if p == "/installations" && r.Method == http.MethodGet {
		ids := make([]int64, 0, len(s.installations))
		for id := range s.installations {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		out := []map[string]any{}
		for _, id := range ids {
			out = append(out, s.installationJSON(s.installations[id]))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	rest, ok := strings.CutPrefix(p, "/installations/")
	if !ok {
		msg(w, http.StatusNotFound, "Not Found")
		return
	}
	idStr, tail, _ := strings.Cut(rest, "/")
	id, _ := strconv.ParseInt(idStr, 10, 64)
	in := s.installations[id]
	if in == nil {
		msg(w, http.StatusNotFound, "Not Found")
		return
	}
	switch {
	case tail == "" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.installationJSON(in))
	case tail == "access_tokens" && r.Method == http.MethodPost:
		s.mint(w, r, in)
	default:
		msg(w, http.StatusNotFound, "Not Found")
	}
}

func (s *Server) mint(w http.ResponseWriter, r *http.Request, in *Installation) {
	var req struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			msg(w, http.StatusBadRequest, "Problems parsing JSON")
			return
		}
	}
	it := IssuedToken{Installation: in.ID, Permissions: in.Permissions, ExpiresAt: time.Now().Add(time.Hour).UTC().Truncate(time.Second)}
	var repos []map[string]any
	if len(req.Repositories) > 0 || len(req.RepositoryIDs) > 0 {
		it.Repos = []int64{}
		for _, name := range req.Repositories {
			rp := findRepo(in, in.Account, name)
			if rp == nil {
				msg(w, http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
				return
			}
			it.Repos = append(it.Repos, rp.ID)
		}
		for _, rid := range req.RepositoryIDs {
			found := false
			for _, rp := range in.Repos {
				found = found || rp.ID == rid
			}
			if !found {
				msg(w, http.StatusUnprocessableEntity, "There is at least one repository that does not exist or is not accessible to the parent installation.")
				return
			}
			it.Repos = append(it.Repos, rid)
		}
		for _, rp := range in.Repos {
			for _, rid := range it.Repos {
				if rp.ID == rid {
					repos = append(repos, map[string]any{"id": rp.ID, "full_name": rp.Owner + "/" + rp.Name})
				}
			}
		}
	}
	if len(req.Permissions) > 0 {
		for k, v := range req.Permissions {
			granted := in.Permissions[k]
			if granted == "" || (v == "write" && granted != "write") {
				msg(w, http.StatusUnprocessableEntity, "The permissions requested are not granted to this installation.")
				return
			}
		}
		it.Permissions = req.Permissions
	}
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	tok := "ghs_" + hex.EncodeToString(b)
	s.tokens[tok] = it
	out := map[string]any{"token": tok, "expires_at": it.ExpiresAt.Format(time.RFC3339), "permissions": it.Permissions,
		"repository_selection": "all"}
	if repos != nil {
		out["repositories"] = repos
		out["repository_selection"] = "selected"
	}
	writeJSON(w, http.StatusCreated, out)
}

func findRepo(in *Installation, owner, name string) *Repo {
	for _, rp := range in.Repos {
		if strings.EqualFold(rp.Owner, owner) && strings.EqualFold(rp.Name, name) {
			return rp
		}
	}
	return nil
}

func (s *Server) installationAuth(r *http.Request) (IssuedToken, bool) {
	a := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(a, "token ")
	if !ok {
		tok, ok = strings.CutPrefix(a, "Bearer ")
	}
	if !ok {
		return IssuedToken{}, false
	}
	it, ok := s.tokens[tok]
	if !ok || time.Now().After(it.ExpiresAt) || s.installations[it.Installation] == nil {
		return IssuedToken{}, false
	}
	return it, true
}

func (it IssuedToken) sees(rp *Repo) bool {
	if it.Repos == nil {
		return true
	}
	for _, id := range it.Repos {
		if id == rp.ID {
			return true
		}
	}
	return false
}

// page answers items[page] with Link headers and an ETag (304 on If-None-Match).
func (s *Server) page(w http.ResponseWriter, r *http.Request, items []any, wrap func([]any) any) {
	per := s.PerPage
	if per <= 0 {
		per = 30
	}
	pg, _ := strconv.Atoi(r.URL.Query().Get("page"))
	pg = max(pg, 1)
	last := max((len(items)+per-1)/per, 1)
	lo, hi := min((pg-1)*per, len(items)), min(pg*per, len(items))
	body, _ := json.Marshal(wrap(items[lo:hi]))
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if pg < last {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(pg+1))
		next := fmt.Sprintf("%s%s?%s", s.URL, r.URL.Path, q.Encode())
		q.Set("page", strconv.Itoa(last))
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next", <%s%s?%s>; rel="last"`, next, s.URL, r.URL.Path, q.Encode()))
	}
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		s.NotModifed++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(body)
}

func repoJSON(base string, rp *Repo) map[string]any {
	return map[string]any{"id": rp.ID, "name": rp.Name, "full_name": rp.Owner + "/" + rp.Name, "private": true,
		"owner":    map[string]any{"login": rp.Owner, "type": "Organization"},
		"html_url": "https://github.com/" + rp.Owner + "/" + rp.Name, "clone_url": "https://github.com/" + rp.Owner + "/" + rp.Name + ".git",
		"default_branch": rp.DefaultBranch, "url": base + "/repos/" + rp.Owner + "/" + rp.Name}
}

func (s *Server) serveInstallation(w http.ResponseWriter, r *http.Request, it IssuedToken) {
	in := s.installations[it.Installation]
	p := r.URL.Path
	if p == "/installation/repositories" && r.Method == http.MethodGet {
		var items []any
		for _, rp := range in.Repos {
			if it.sees(rp) {
				items = append(items, repoJSON(s.URL, rp))
			}
		}
		s.page(w, r, items, func(page []any) any {
			return map[string]any{"total_count": len(items), "repositories": page}
		})
		return
	}
	rest, ok := strings.CutPrefix(p, "/repos/")
	if !ok || r.Method != http.MethodGet {
		msg(w, http.StatusNotFound, "Not Found")
		return
	}
	parts := strings.SplitN(rest, "/", 4)
	if len(parts) < 2 {
		msg(w, http.StatusNotFound, "Not Found")
		return
	}
	rp := findRepo(in, parts[0], parts[1])
	if rp == nil || !it.sees(rp) {
		msg(w, http.StatusNotFound, "Not Found")
		return
	}
	switch {
	case len(parts) == 2:
		writeJSON(w, http.StatusOK, repoJSON(s.URL, rp))
	case parts[2] == "branches":
		var items []any
		for _, b := range rp.Branches {
			items = append(items, map[string]any{"name": b, "protected": false})
		}
		s.page(w, r, items, func(page []any) any { return page })
	case parts[2] == "contents":
		if it.Permissions["contents"] == "" {
			msg(w, http.StatusForbidden, "Resource not accessible by integration")
			return
		}
		path := ""
		if len(parts) == 4 {
			path = strings.Trim(parts[3], "/")
		}
		if ref := r.URL.Query().Get("ref"); ref != "" && !contains(rp.Branches, ref) {
			msg(w, http.StatusNotFound, "No commit found for the ref "+ref)
			return
		}
		s.contents(w, rp, path)
	default:
		msg(w, http.StatusNotFound, "Not Found")
	}
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:20])
}

func (s *Server) contents(w http.ResponseWriter, rp *Repo, path string) {
	if body, ok := rp.Files[path]; ok {
		name := path[strings.LastIndex(path, "/")+1:]
		writeJSON(w, http.StatusOK, map[string]any{"type": "file", "name": name, "path": path, "sha": sha(body),
			"size": len(body), "encoding": "base64", "content": wrap76(base64.StdEncoding.EncodeToString([]byte(body)))})
		return
	}
	prefix := ""
	if path != "" {
		prefix = path + "/"
	}
	seen := map[string]bool{}
	var out []map[string]any
	keys := make([]string, 0, len(rp.Files))
	for k := range rp.Files {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		first, _, isDir := strings.Cut(rest, "/")
		if seen[first] {
			continue
		}
		seen[first] = true
		e := map[string]any{"name": first, "path": prefix + first, "sha": sha(prefix + first)}
		if isDir {
			e["type"], e["size"] = "dir", 0
		} else {
			e["type"], e["size"] = "file", len(rp.Files[k])
		}
		out = append(out, e)
	}
	if out == nil {
		msg(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// wrap76 breaks base64 into lines as GitHub's contents API does.
func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 60 {
		b.WriteString(s[:60] + "\n")
		s = s[60:]
	}
	b.WriteString(s + "\n")
	return b.String()
}
