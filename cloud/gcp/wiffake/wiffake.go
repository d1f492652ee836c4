// Package wiffake is a wire server of GCP workload identity federation for tests: an
// http.Handler (serve it with httptest) speaking the REST shapes of Google's Security
// Token Service (POST v1/token, RFC 8693 token exchange, answering OAuth errors
// {"error":"invalid_target","error_description":…}) and of the IAM Service Account
// Credentials API (POST v1/projects/-/serviceAccounts/EMAIL:generateAccessToken,
// answering Google's JSON error shape), with the IAM state they read in memory:
// projects, workload identity pools and OIDC providers (issuer, public keys,
// attribute mapping and condition), service accounts, project role bindings and
// service account bindings. The official clients (google.golang.org/api/sts/v1 and
// iamcredentials/v1) work against it unchanged: option.WithEndpoint(srv.URL+"/").
//
// The state is made the way a customer makes it: Run interprets the gcloud commands
// of a setup script. It checks what Google checks that a platform could get wrong:
// the exchange's grantType, requestedTokenType, subjectTokenType, scope and audience
// (the provider's canonical name, which must exist); the subject token's ES256/RS256
// signature against the provider's keys, its issuer, audience and expiry; the
// attribute condition; for generateAccessToken the federated bearer token, the
// service account, the principal's roles/iam.workloadIdentityUser binding on it, the
// scope and the lifetime (at most an hour).
package wiffake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Server is the fake; make one with New. Safe for concurrent use.
type Server struct {
	// Propagation is how many generateAccessToken calls for a service account are
	// refused (403, as while IAM propagates) after its workloadIdentityUser binding
	// is made; set before use.
	Propagation int

	mu        sync.Mutex
	projects  map[string]string // project ID → number
	pools     map[string]bool   // projects/N/locations/global/workloadIdentityPools/P
	providers map[string]*Provider
	accounts  map[string]*account // by email
	roles     map[string][]Binding
	federated map[string]issued // federated token → principal
	access    map[string]issued // access token → service account
	files     map[string]string
	requests  []Request
	failNext  map[string][]int // method → statuses to answer next
}

// Provider is an OIDC provider of a pool as the fake holds it.
type Provider struct {
	Name      string // projects/N/locations/global/workloadIdentityPools/P/providers/ID
	Issuer    string
	JWKS      jose.JSONWebKeySet
	Mapping   map[string]string // google.subject → assertion.sub …
	Condition string
}

// Binding is a role granted to a member.
type Binding struct {
	Role   string
	Member string
}

type account struct {
	project  string
	bindings []Binding
	// refusals left before its impersonation binding has propagated
	propagating int
}

type issued struct {
	who     string
	scope   string
	expires time.Time
}

// Request is a request the server received: Method is sts.token or
// generateAccessToken, Name the service account (generateAccessToken), Body the
// request's fields (JSON or form, as JSON), Auth its Authorization header.
type Request struct {
	Method string
	Name   string
	Body   map[string]any
	Auth   string
	At     time.Time
}

// New returns an empty fake.
func New() *Server {
	return &Server{projects: map[string]string{}, pools: map[string]bool{}, providers: map[string]*Provider{},
		accounts: map[string]*account{}, roles: map[string][]Binding{}, federated: map[string]issued{},
		access: map[string]issued{}, files: map[string]string{}, failNext: map[string][]int{}}
}

// AddProject makes a project the customer owns.
func (s *Server) AddProject(id, number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[id] = number
}

// FailNext makes the next calls of method (sts.token, generateAccessToken) answer
// the statuses given, one each, before answering normally again.
func (s *Server) FailNext(method string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext[method] = append(s.failNext[method], statuses...)
}

// Requests returns the requests of method received so far, in order.
func (s *Server) Requests(method string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

// Provider returns a copy of the provider of that full name.
func (s *Server) Provider(name string) (Provider, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.providers[name]
	if !ok {
		return Provider{}, false
	}
	return *p, true
}

// ProjectRoles returns the project's role bindings.
func (s *Server) ProjectRoles(projectID string) []Binding {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.roles[projectID])
}

// AccountBindings returns the bindings on a service account; ok false when it does
// not exist.
func (s *Server) AccountBindings(email string) ([]Binding, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.accounts[email]
	if !ok {
		return nil, false
	}
	return slices.Clone(a.bindings), true
}

// SetCondition replaces a provider's attribute condition (a customer editing it).
func (s *Server) SetCondition(name, condition string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.providers[name]; ok {
		p.Condition = condition
	}
}

// AccessTokenInfo says whose an access token the fake issued is (the service
// account's email) and until when, as tokeninfo would; ok false when unknown or
// expired.
func (s *Server) AccessTokenInfo(token string) (email string, expires time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.access[token]
	if !ok || time.Now().After(t.expires) {
		return "", time.Time{}, false
	}
	return t.who, t.expires, true
}

// ServeHTTP answers the two methods.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	path := strings.TrimPrefix(r.URL.Path, "/")
	var method, name string
	switch {
	case r.Method == http.MethodPost && path == "v1/token":
		method = "sts.token"
	case r.Method == http.MethodPost && strings.HasPrefix(path, "v1/projects/-/serviceAccounts/") && strings.HasSuffix(path, ":generateAccessToken"):
		method = "generateAccessToken"
		name = strings.TrimSuffix(strings.TrimPrefix(path, "v1/projects/-/serviceAccounts/"), ":generateAccessToken")
		if n, err := url.PathUnescape(name); err == nil {
			name = n
		}
	default:
		googleError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("%s %s is not a method of this server", r.Method, r.URL.Path))
		return
	}
	body := map[string]any{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		q, _ := url.ParseQuery(string(raw))
		for k := range q {
			body[k] = q.Get(k)
		}
	} else if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: method, Name: name, Body: body, Auth: r.Header.Get("Authorization"), At: time.Now()})
	if q := s.failNext[method]; len(q) > 0 {
		s.failNext[method] = q[1:]
		googleError(w, q[0], http.StatusText(q[0]), "injected failure")
		return
	}
	if method == "sts.token" {
		s.token(w, body)
		return
	}
	s.generateAccessToken(w, name, r.Header.Get("Authorization"), body)
}

func str(body map[string]any, k string) string {
	v, _ := body[k].(string)
	if v == "" { // the form encoding names them in snake case
		v, _ = body[snake(k)].(string)
	}
	return v
}

func snake(k string) string {
	var b strings.Builder
	for _, r := range k {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// token is STS's v1/token.
func (s *Server) token(w http.ResponseWriter, body map[string]any) {
	switch {
	case str(body, "grantType") != "urn:ietf:params:oauth:grant-type:token-exchange":
		oauthError(w, "unsupported_grant_type", "Invalid grant_type: "+str(body, "grantType"))
		return
	case str(body, "requestedTokenType") != "urn:ietf:params:oauth:token-type:access_token":
		oauthError(w, "invalid_request", "Invalid requested_token_type: "+str(body, "requestedTokenType"))
		return
	case str(body, "subjectTokenType") != "urn:ietf:params:oauth:token-type:jwt" && str(body, "subjectTokenType") != "urn:ietf:params:oauth:token-type:id_token":
		oauthError(w, "invalid_request", "Invalid subject_token_type: "+str(body, "subjectTokenType"))
		return
	case str(body, "scope") == "":
		oauthError(w, "invalid_scope", "Scope is required when exchanging an external credential for a Google access token.")
		return
	case str(body, "subjectToken") == "":
		oauthError(w, "invalid_request", "The subject_token is required.")
		return
	}
	audience := str(body, "audience")
	name, ok := strings.CutPrefix(audience, "//iam.googleapis.com/")
	p := s.providers[name]
	if !ok || p == nil {
		oauthError(w, "invalid_target", `The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist.`)
		return
	}
	tok, err := jwt.ParseSigned(str(body, "subjectToken"), []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		oauthError(w, "invalid_grant", "Unable to parse the ID Token.")
		return
	}
	var claims jwt.Claims
	all := map[string]any{}
	verified := false
	for _, k := range p.JWKS.Keys {
		if len(tok.Headers) > 0 && tok.Headers[0].KeyID != "" && tok.Headers[0].KeyID != k.KeyID {
			continue
		}
		if tok.Claims(k.Key, &claims, &all) == nil {
			verified = true
			break
		}
	}
	switch {
	case !verified:
		oauthError(w, "invalid_grant", "Invalid JWT signature.")
		return
	case claims.Issuer != p.Issuer:
		oauthError(w, "invalid_grant", fmt.Sprintf("The issuer in ID Token %s does not match the expected ones: %s.", claims.Issuer, p.Issuer))
		return
	case !claims.Audience.Contains(audience) && !claims.Audience.Contains("https://iam.googleapis.com/"+name):
		oauthError(w, "invalid_grant", "The audience in ID Token ["+strings.Join(claims.Audience, ",")+"] does not match the expected audience.")
		return
	case claims.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, 0) != nil:
		oauthError(w, "invalid_grant", "ID Token issued at "+claims.IssuedAt.Time().String()+" is stale to sign-in.")
		return
	}
	attrs := map[string]string{}
	for target, expr := range p.Mapping {
		if claim, ok := strings.CutPrefix(expr, "assertion."); ok {
			if v, ok := all[claim].(string); ok {
				attrs[target] = v
			}
		}
	}
	if attrs["google.subject"] == "" {
		oauthError(w, "invalid_grant", "The mapped attribute 'google.subject' must not be empty.")
		return
	}
	if !conditionHolds(p.Condition, all) {
		oauthError(w, "unauthorized_client", "The given credential is rejected by the attribute condition.")
		return
	}
	pool, _, _ := strings.Cut(name, "/providers/")
	principal := "principal://iam.googleapis.com/" + pool + "/subject/" + attrs["google.subject"]
	fed := "fed-" + randomHex()
	s.federated[fed] = issued{who: principal, scope: str(body, "scope"), expires: time.Now().Add(time.Hour)}
	w.Header().Set("Content-Type", "application/json")
	//nolint:gosec // STS's answer's field names and a token type's name, no credential of ours
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": fed, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"token_type": "Bearer", "expires_in": 3600})
}

// conditionHolds evaluates the conditions the setup script writes: assertion.CLAIM
// == 'VALUE', joined by &&. Empty holds.
func conditionHolds(cond string, claims map[string]any) bool {
	if strings.TrimSpace(cond) == "" {
		return true
	}
	for _, part := range strings.Split(cond, "&&") {
		l, r, ok := strings.Cut(part, "==")
		claim, isClaim := strings.CutPrefix(strings.TrimSpace(l), "assertion.")
		want := strings.Trim(strings.TrimSpace(r), `'"`)
		if v, _ := claims[claim].(string); !ok || !isClaim || v != want {
			return false
		}
	}
	return true
}

// generateAccessToken is iamcredentials' projects.serviceAccounts.generateAccessToken.
func (s *Server) generateAccessToken(w http.ResponseWriter, email, auth string, body map[string]any) {
	fed, ok := s.federated[strings.TrimPrefix(auth, "Bearer ")]
	if !ok || !strings.HasPrefix(auth, "Bearer ") || time.Now().After(fed.expires) {
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	scopes, _ := body["scope"].([]any)
	if len(scopes) == 0 {
		googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Scope required.")
		return
	}
	lifetime := time.Hour
	if l := str(body, "lifetime"); l != "" {
		d, err := time.ParseDuration(l)
		if err != nil || !strings.HasSuffix(l, "s") {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration), \""+l+"\"")
			return
		}
		if d <= 0 || d > time.Hour {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "The lifetime must be between 1s and 3600s (without the organization policy constraints/iam.allowServiceAccountCredentialLifetimeExtension).")
			return
		}
		lifetime = d
	}
	a, ok := s.accounts[email]
	denied := "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist)."
	if !ok {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "Not found; Gaia id not found for email "+email)
		return
	}
	if !slices.Contains(a.bindings, Binding{Role: "roles/iam.workloadIdentityUser", Member: fed.who}) &&
		!slices.Contains(a.bindings, Binding{Role: "roles/iam.serviceAccountTokenCreator", Member: fed.who}) {
		googleError(w, http.StatusForbidden, "PERMISSION_DENIED", denied)
		return
	}
	if a.propagating > 0 {
		a.propagating--
		googleError(w, http.StatusForbidden, "PERMISSION_DENIED", denied)
		return
	}
	tok := "ya29.fake-" + randomHex()
	exp := time.Now().Add(lifetime).UTC()
	s.access[tok] = issued{who: email, expires: exp}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"accessToken": tok, "expireTime": exp.Format(time.RFC3339)})
}

func oauthError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func googleError(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
