// Package entrafake is a wire server of the Microsoft identity platform as
// azidentity's ClientAssertionCredential calls it (the tenant's OpenID configuration
// and the token endpoint, over TLS as azidentity requires), holding the managed
// identities, federated credentials and role assignments a setup script makes. Its
// token endpoint checks the documented request fields (grant_type client_credentials,
// client_assertion_type jwt-bearer, a scope of .default), the assertion's RS256
// signature against the keys of the issuer it names, its audience and lifetime, and
// that a federated credential of the identity trusts that issuer and subject; it
// answers Entra's error bodies (AADSTS codes) otherwise. RunScript plays the az CLI
// over a setup script. For tests only.
package entrafake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
	rgfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources/fake"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Identity is a user-assigned managed identity.
type Identity struct {
	Tenant, Subscription, Group, Name string
	ClientID, PrincipalID             string
	Federated                         []Federated
}

// Federated is a federated identity credential.
type Federated struct {
	Name, Issuer, Subject string
	Audiences             []string
}

// RoleAssignment is a role of a principal on a scope.
type RoleAssignment struct{ PrincipalID, Role, Scope string }

// Server is the fake identity platform; its URL is an authority host.
type Server struct {
	*httptest.Server
	mu         sync.Mutex
	tenants    map[string]bool
	groups     map[string]bool // /subscriptions/S/resourceGroups/G (lowercase)
	keys       map[string]jose.JSONWebKeySet
	identities []*Identity
	roles      []RoleAssignment
	// TokenLifetime is the expires_in of tokens issued (default 3599 s).
	TokenLifetime time.Duration
	requests      []url.Values
	issued        []string
}

// New starts a server knowing tenant (the tenants az is signed in to).
func New(tenants ...string) *Server {
	s := &Server{tenants: map[string]bool{}, groups: map[string]bool{}, keys: map[string]jose.JSONWebKeySet{}, TokenLifetime: 3599 * time.Second}
	for _, t := range tenants {
		s.tenants[strings.ToLower(t)] = true
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// TrustIssuer gives the keys issuer serves at its jwks_uri (what Entra fetches).
func (s *Server) TrustIssuer(issuer string, jwks []byte) error {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[issuer] = set
	return nil
}

// AddResourceGroup makes a resource group of subscription.
func (s *Server) AddResourceGroup(subscription, group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[strings.ToLower("/subscriptions/"+subscription+"/resourceGroups/"+group)] = true
}

// Allowed reports whether some role is assigned on scope or a scope above it.
func (s *Server) Allowed(scope string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope = strings.ToLower(scope)
	for _, r := range s.roles {
		if rs := strings.ToLower(r.Scope); scope == rs || strings.HasPrefix(scope, rs+"/") {
			return true
		}
	}
	return false
}

// Roles returns the role assignments made.
func (s *Server) Roles() []RoleAssignment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.roles)
}

// Identities returns the identities made.
func (s *Server) Identities() []Identity {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Identity, 0, len(s.identities))
	for _, i := range s.identities {
		c := *i
		c.Federated = slices.Clone(i.Federated)
		out = append(out, c)
	}
	return out
}

// Requests returns the token requests' forms, in order.
func (s *Server) Requests() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Issued returns the access tokens issued.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration":
		base := s.URL + "/" + parts[0]
		writeJSON(w, http.StatusOK, map[string]any{"token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "issuer": base + "/v2.0",
			"jwks_uri": base + "/discovery/v2.0/keys", "token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt"}})
	case r.Method == http.MethodPost && len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token":
		s.token(w, r, parts[0])
	default:
		entra(w, http.StatusNotFound, "invalid_request", 900561, "AADSTS900561: The endpoint only accepts POST requests.")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func entra(w http.ResponseWriter, status int, code string, n int, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc + "\r\nTrace ID: 00000000-0000-0000-0000-000000000000",
		"error_codes": []int{n}, "timestamp": time.Now().UTC().Format("2006-01-02 15:04:05Z")})
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		entra(w, http.StatusBadRequest, "invalid_request", 900144, "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	s.requests = append(s.requests, f)
	known := s.tenants[strings.ToLower(tenant)]
	s.mu.Unlock()
	if !known {
		entra(w, http.StatusBadRequest, "invalid_request", 90002, fmt.Sprintf("AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	for k, want := range map[string]string{"grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"} {
		if f.Get(k) != want {
			entra(w, http.StatusBadRequest, "invalid_request", 900144, fmt.Sprintf("AADSTS900144: The request body must contain the following parameter: '%s' (%s).", k, want))
			return
		}
	}
	if !slices.Contains(strings.Fields(f.Get("scope")), "https://management.azure.com/.default") {
		entra(w, http.StatusBadRequest, "invalid_scope", 70011, "AADSTS70011: The provided value for the input parameter 'scope' is not valid.")
		return
	}
	clientID, assertion := f.Get("client_id"), f.Get("client_assertion")
	s.mu.Lock()
	var id *Identity
	for _, i := range s.identities {
		if strings.EqualFold(i.ClientID, clientID) && strings.EqualFold(i.Tenant, tenant) {
			id = i
		}
	}
	s.mu.Unlock()
	if id == nil {
		entra(w, http.StatusBadRequest, "unauthorized_client", 700016, fmt.Sprintf("AADSTS700016: Application with identifier '%s' was not found in the directory '%s'.", clientID, tenant))
		return
	}
	iss, sub, aud, err := s.check(assertion)
	if err != nil {
		entra(w, http.StatusBadRequest, "invalid_client", 700024, "AADSTS700024: Client assertion is not within its valid time range or is not valid: "+err.Error())
		return
	}
	s.mu.Lock()
	match := slices.ContainsFunc(id.Federated, func(fc Federated) bool {
		return fc.Issuer == iss && fc.Subject == sub && slices.Contains(fc.Audiences, aud)
	})
	s.mu.Unlock()
	if !match {
		entra(w, http.StatusBadRequest, "invalid_client", 70021, fmt.Sprintf("AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'.", iss, sub, aud))
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "eyJ0eXAiOiJKV1QifQ.fake-arm-token." + hex.EncodeToString(b)
	s.mu.Lock()
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": int(s.TokenLifetime / time.Second),
		"ext_expires_in": int(s.TokenLifetime / time.Second), "access_token": tok})
}

// check verifies an assertion's signature with its issuer's keys and its lifetime;
// it returns its issuer, subject and audience.
func (s *Server) check(assertion string) (iss, sub, aud string, err error) {
	tok, err := jwt.ParseSigned(assertion, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return "", "", "", fmt.Errorf("not an RS256 JWT: %w", err)
	}
	var unverified jwt.Claims
	if err := tok.UnsafeClaimsWithoutVerification(&unverified); err != nil {
		return "", "", "", err
	}
	s.mu.Lock()
	keys, ok := s.keys[unverified.Issuer]
	s.mu.Unlock()
	if !ok {
		return "", "", "", fmt.Errorf("issuer %q is not reachable", unverified.Issuer)
	}
	var c jwt.Claims
	if err := tok.Claims(keys, &c); err != nil {
		return "", "", "", fmt.Errorf("signature: %w", err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, time.Minute); err != nil {
		return "", "", "", err
	}
	if len(c.Audience) != 1 || c.Expiry == nil || time.Until(c.Expiry.Time()) > time.Hour {
		return "", "", "", fmt.Errorf("one audience and an expiry within the hour are required")
	}
	return c.Issuer, c.Subject, c.Audience[0], nil
}

// Report is what a setup script's last command posts.
type Report struct {
	URL  string
	Body []byte
}

// RunScript plays the az CLI over script, signed in to tenant: variables, az account
// set, group create, identity create/show, identity federated-credential create, role
// assignment create; the curl that reports the identity is returned, not sent.
func (s *Server) RunScript(tenant, script string) (Report, error) {
	vars := map[string]string{}
	var sub string
	var rep Report
	for _, ln := range strings.Split(script, "\n") {
		ln = strings.TrimSpace(ln)
		if ln == "" || strings.HasPrefix(ln, "#") || strings.HasPrefix(ln, "set ") || strings.HasPrefix(ln, "echo ") {
			continue
		}
		if name, val, ok := strings.Cut(ln, "="); ok && isName(name) {
			if inner, ok := strings.CutPrefix(val, "$("); ok {
				out, err := s.az(tenant, &sub, words(strings.TrimSuffix(inner, ")"), vars))
				if err != nil {
					return rep, err
				}
				vars[name] = out
				continue
			}
			w := words(val, vars)
			if len(w) != 1 {
				return rep, fmt.Errorf("assignment %q", ln)
			}
			vars[name] = w[0]
			continue
		}
		w := words(ln, vars)
		switch w[0] {
		case "az":
			if _, err := s.az(tenant, &sub, w); err != nil {
				return rep, fmt.Errorf("%s: %w", ln, err)
			}
		case "curl":
			rep.Body = []byte(flag(w, "--data"))
			rep.URL = w[len(w)-1]
		default:
			return rep, fmt.Errorf("unknown command %q", w[0])
		}
	}
	return rep, nil
}

func isName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && r != '_' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// words splits a command line as bash does for the quoting the scripts use.
func words(s string, vars map[string]string) []string {
	var out []string
	var cur strings.Builder
	in := false
	expand := func(i int) int { // at '$': appends the variable, returns the last index used
		j := i + 1
		for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
			j++
		}
		cur.WriteString(vars[s[i+1:j]])
		return j - 1
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			in = true
		case '"':
			in = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				switch {
				case s[i] == '\\' && i+1 < len(s):
					i++
					cur.WriteByte(s[i])
				case s[i] == '$':
					i = expand(i)
				default:
					cur.WriteByte(s[i])
				}
			}
		case '$':
			in = true
			i = expand(i)
		case ' ':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func flag(w []string, name string) string {
	for i := range len(w) - 1 {
		if w[i] == name {
			return w[i+1]
		}
	}
	return ""
}

func newGUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Server) az(tenant string, sub *string, w []string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := strings.Join(w[1:min(len(w), 4)], " ")
	group := flag(w, "--resource-group")
	find := func(name string) *Identity {
		for _, i := range s.identities {
			if i.Subscription == *sub && strings.EqualFold(i.Group, group) && i.Name == name {
				return i
			}
		}
		return nil
	}
	groupID := strings.ToLower("/subscriptions/" + *sub + "/resourceGroups/" + group)
	switch {
	case strings.HasPrefix(cmd, "account set"):
		*sub = flag(w, "--subscription")
	case strings.HasPrefix(cmd, "group create"):
		s.groups[strings.ToLower("/subscriptions/"+*sub+"/resourceGroups/"+flag(w, "--name"))] = true
	case strings.HasPrefix(cmd, "identity create"):
		if !s.groups[groupID] {
			return "", fmt.Errorf("(ResourceGroupNotFound) Resource group '%s' could not be found", group)
		}
		if find(flag(w, "--name")) == nil {
			s.identities = append(s.identities, &Identity{Tenant: tenant, Subscription: *sub, Group: group, Name: flag(w, "--name"),
				ClientID: newGUID(), PrincipalID: newGUID()})
		}
	case strings.HasPrefix(cmd, "identity show"):
		i := find(flag(w, "--name"))
		if i == nil {
			return "", fmt.Errorf("(ResourceNotFound) identity %s not found", flag(w, "--name"))
		}
		switch flag(w, "--query") {
		case "clientId":
			return i.ClientID, nil
		case "principalId":
			return i.PrincipalID, nil
		}
		return "", fmt.Errorf("query %q", flag(w, "--query"))
	case strings.HasPrefix(cmd, "identity federated-credential create"):
		i := find(flag(w, "--identity-name"))
		if i == nil {
			return "", fmt.Errorf("(ResourceNotFound) identity %s not found", flag(w, "--identity-name"))
		}
		fc := Federated{Name: flag(w, "--name"), Issuer: flag(w, "--issuer"), Subject: flag(w, "--subject"), Audiences: []string{flag(w, "--audiences")}}
		i.Federated = slices.DeleteFunc(i.Federated, func(f Federated) bool { return f.Name == fc.Name })
		i.Federated = append(i.Federated, fc)
	case strings.HasPrefix(cmd, "role assignment create"):
		scope := flag(w, "--scope")
		if strings.Contains(scope, "/resourceGroups/") && !s.groups[strings.ToLower(scope)] {
			return "", fmt.Errorf("(ResourceGroupNotFound) scope %s", scope)
		}
		s.roles = append(s.roles, RoleAssignment{PrincipalID: flag(w, "--assignee-object-id"), Role: flag(w, "--role"), Scope: scope})
	default:
		return "", fmt.Errorf("unknown az command %q", cmd)
	}
	return "", nil
}

// ARMTransport is Azure Resource Manager for the identities' tokens: the SDK's own
// fake resource groups server (Get of a group, List of a subscription's groups),
// allowing a read where a role is assigned on the scope (else 403
// AuthorizationFailed; a group that does not exist, 404 ResourceGroupNotFound),
// behind a check that each request carries a bearer token this server issued (else
// 401 InvalidAuthenticationToken).
func (s *Server) ARMTransport(subscription string) policy.Transporter {
	srv := &rgfake.ResourceGroupsServer{
		Get: func(_ context.Context, group string, _ *armresources.ResourceGroupsClientGetOptions) (resp azfake.Responder[armresources.ResourceGroupsClientGetResponse], errResp azfake.ErrorResponder) {
			scope := "/subscriptions/" + subscription + "/resourceGroups/" + group
			s.mu.Lock()
			exists := s.groups[strings.ToLower(scope)]
			s.mu.Unlock()
			switch {
			case !s.Allowed(scope):
				errResp.SetResponseError(http.StatusForbidden, "AuthorizationFailed")
			case !exists:
				errResp.SetResponseError(http.StatusNotFound, "ResourceGroupNotFound")
			default:
				resp.SetResponse(http.StatusOK, armresources.ResourceGroupsClientGetResponse{ResourceGroup: armresources.ResourceGroup{
					ID: &scope, Name: &group, Location: ptr("eastus")}}, nil)
			}
			return resp, errResp
		},
		NewListPager: func(*armresources.ResourceGroupsClientListOptions) (resp azfake.PagerResponder[armresources.ResourceGroupsClientListResponse]) {
			if !s.Allowed("/subscriptions/" + subscription) {
				resp.AddResponseError(http.StatusForbidden, "AuthorizationFailed")
				return resp
			}
			resp.AddPage(http.StatusOK, armresources.ResourceGroupsClientListResponse{}, nil)
			return resp
		},
	}
	return bearerCheck{s: s, srv: srv}
}

type bearerCheck struct {
	s   *Server
	srv *rgfake.ResourceGroupsServer
}

func (b bearerCheck) Do(req *http.Request) (*http.Response, error) {
	tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if tok == "" || !slices.Contains(b.s.Issued(), tok) {
		body := `{"error":{"code":"InvalidAuthenticationToken","message":"The access token is invalid."}}`
		return &http.Response{StatusCode: http.StatusUnauthorized, Status: "401 Unauthorized", Request: req,
			Header: http.Header{"Content-Type": {"application/json"}, "X-Ms-Error-Code": {"InvalidAuthenticationToken"}},
			Body:   io.NopCloser(strings.NewReader(body))}, nil
	}
	// A transport per request: the fake keeps a pager it has answered an error from.
	return rgfake.NewResourceGroupsServerTransport(b.srv).Do(req)
}

func ptr[T any](v T) *T { return &v }
