// Package devissuer is a development OIDC provider, so that `make run` lets anyone
// sign in without an account anywhere: a real OpenID Provider (github.com/zitadel/
// oidc/v3's op package: discovery, JWKS, device authorization grant (RFC 8628),
// authorization code with PKCE) over an in-memory storage in which every user name
// is a user and no password is asked. It must never face a network: cmd/api refuses
// to start it on anything but loopback, or with a public URL that is not loopback.
//
// Its signing key lives in memory: tokens it issued stop working when the process
// restarts (sign in again).
package devissuer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// ClientID is the public client (no secret) a CLI signs in with.
const ClientID = "astro-cli"

// TokenLifetime is how long the access and ID tokens it issues are valid.
const TokenLifetime = time.Hour

// Paths of the pages a person uses to sign in.
const (
	DevicePath = "/device"
	LoginPath  = "/login"
)

// Options configure an Issuer.
type Options struct {
	// Issuer is the URL the provider is reached at, e.g. http://localhost:8081.
	Issuer string
	// Audience is put in every access token's aud (the API's ASTRO_OIDC_AUDIENCE),
	// besides ClientID.
	Audience string
	// EmailDomain makes a user name an email address: name@EmailDomain; default
	// localhost (so user "admin" is the bootstrap admin admin@localhost).
	EmailDomain string
}

// Issuer is the development OpenID Provider, an http.Handler.
type Issuer struct {
	http.Handler
	storage *storage
}

// New returns the development issuer for opts.
func New(opts Options) (*Issuer, error) {
	if opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("devissuer: Issuer and Audience are required")
	}
	if opts.EmailDomain == "" {
		opts.EmailDomain = "localhost"
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devissuer: signing key: %w", err)
	}
	st := &storage{
		audience: opts.Audience, domain: opts.EmailDomain,
		key:          signingKey{id: uuid.NewString(), key: key},
		authRequests: map[string]*authRequest{}, codes: map[string]string{},
		deviceCodes: map[string]*op.DeviceAuthorizationState{}, userCodes: map[string]string{},
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		return nil, err
	}
	cfg := &op.Config{
		CryptoKey:          cryptoKey,
		CodeMethodS256:     true,
		SupportedUILocales: []language.Tag{language.English},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     10 * time.Minute,
			PollInterval: 2 * time.Second,
			UserFormPath: DevicePath,
			UserCode:     op.UserCodeBase20,
		},
	}
	provider, err := op.NewProvider(cfg, st, op.StaticIssuer(opts.Issuer), op.WithAllowInsecure())
	if err != nil {
		return nil, fmt.Errorf("devissuer: %w", err)
	}
	mux := http.NewServeMux()
	pages := &pages{storage: st, callback: op.AuthCallbackURL(provider)}
	interceptor := op.NewIssuerInterceptor(provider.IssuerFromRequest)
	mux.HandleFunc(DevicePath, pages.device)
	mux.HandleFunc(LoginPath, interceptor.HandlerFunc(pages.login))
	mux.Handle("/", provider)
	return &Issuer{Handler: mux, storage: st}, nil
}

// ApproveDevice signs username in on the device authorization whose user code is
// userCode, as the device page does.
func (i *Issuer) ApproveDevice(userCode, username string) error {
	return i.storage.completeDevice(userCode, username)
}

// userName is what a user name may be: it becomes an email address's local part.
var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Subject is the token subject of user name.
func Subject(name string) string { return "dev-" + name }

func nameOf(subject string) string { return subject[len("dev-"):] }

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.key.PublicKey }

// client is the one public client, for a CLI: device code, or authorization code
// with PKCE to a loopback redirect.
type client struct{}

func (client) GetID() string { return ClientID }
func (client) RedirectURIs() []string {
	return []string{"http://127.0.0.1/callback", "http://localhost/callback"}
}
func (client) PostLogoutRedirectURIs() []string { return nil }
func (client) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeNative
}
func (client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodNone }
func (client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeDeviceCode}
}
func (client) LoginURL(id string) string            { return LoginPath + "?authRequestID=" + id }
func (client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeJWT }
func (client) IDTokenLifetime() time.Duration       { return TokenLifetime }
func (client) DevMode() bool                        { return true }
func (client) IsScopeAllowed(string) bool           { return false }
func (client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (client) ClockSkew() time.Duration             { return 0 }
func (client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// authRequest is an authorization code request in flight.
type authRequest struct {
	id       string
	req      oidc.AuthRequest
	subject  string
	authTime time.Time
	done     bool
}

func (a *authRequest) GetID() string                      { return a.id }
func (a *authRequest) GetACR() string                     { return "" }
func (a *authRequest) GetAMR() []string                   { return []string{"dev"} }
func (a *authRequest) GetAudience() []string              { return []string{a.req.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.authTime }
func (a *authRequest) GetClientID() string                { return a.req.ClientID }
func (a *authRequest) GetNonce() string                   { return a.req.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.req.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.req.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.req.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.req.Scopes }
func (a *authRequest) GetState() string                   { return a.req.State }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.done }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.req.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.req.CodeChallenge, Method: a.req.CodeChallengeMethod}
}

// storage is op.Storage in memory.
type storage struct {
	audience, domain string
	key              signingKey

	mu           sync.Mutex
	authRequests map[string]*authRequest
	codes        map[string]string // code → auth request ID
	deviceCodes  map[string]*op.DeviceAuthorizationState
	userCodes    map[string]string // user code → device code
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.DeviceAuthorizationStorage     = (*storage)(nil)
	_ op.CanGetPrivateClaimsFromRequest = (*storage)(nil)
)

var errNotFound = errors.New("not found")

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &authRequest{id: uuid.NewString(), req: *req}
	s.authRequests[a.id] = a
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return nil, errNotFound
	}
	return a, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) completeAuthRequest(id, name string) error {
	if !userName.MatchString(name) {
		return errBadName
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return errNotFound
	}
	a.subject, a.authTime, a.done = Subject(name), time.Now(), true
	return nil
}

// CreateAccessToken returns a token ID; op signs the JWT access token itself.
func (s *storage) CreateAccessToken(context.Context, op.TokenRequest) (string, time.Time, error) {
	return uuid.NewString(), time.Now().Add(TokenLifetime), nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("the development issuer issues no refresh tokens; sign in again")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if id != ClientID {
		return nil, fmt.Errorf("client %q: %w", id, errNotFound)
	}
	return client{}, nil
}

func (s *storage) AuthorizeClientIDSecret(context.Context, string, string) error {
	return errors.New("the development issuer has no confidential clients")
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil // the ID token's claims come from SetUserinfoFromRequest
}

// SetUserinfoFromRequest fills the ID token's profile claims.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	s.userinfo(info, req.GetSubject())
	return nil
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, _, subject, _ string) error {
	s.userinfo(info, subject)
	return nil
}

func (s *storage) userinfo(info *oidc.UserInfo, subject string) {
	name := nameOf(subject)
	info.Subject = subject
	info.Email, info.EmailVerified = name+"@"+s.domain, true
	info.Name, info.PreferredUsername = name, name
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, _, subject, clientID string) error {
	resp.Active, resp.Subject, resp.ClientID = true, subject, clientID
	return nil
}

// GetPrivateClaimsFromRequest puts the profile claims in the access token too, as
// Auth0 does with custom claims: the API reads email and name from it.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	return s.profileClaims(req.GetSubject()), nil
}

func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, subject, _ string, _ []string) (map[string]any, error) {
	return s.profileClaims(subject), nil
}

func (s *storage) profileClaims(subject string) map[string]any {
	name := nameOf(subject)
	return map[string]any{"email": name + "@" + s.domain, "email_verified": true, "name": name}
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotFound
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("the development issuer takes no JWT profile grants")
}

func (s *storage) Health(context.Context) error { return nil }

func (s *storage) StoreDeviceAuthorization(_ context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.userCodes[userCode]; taken {
		return op.ErrDuplicateUserCode
	}
	s.deviceCodes[deviceCode] = &op.DeviceAuthorizationState{
		ClientID: clientID, Audience: []string{s.audience}, Scopes: scopes, Expires: expires,
	}
	s.userCodes[userCode] = deviceCode
	return nil
}

func (s *storage) GetDeviceAuthorizatonState(_ context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.deviceCodes[deviceCode]
	if !ok || st.ClientID != clientID {
		return nil, errNotFound
	}
	c := *st
	c.Audience = slices.Clone(st.Audience)
	return &c, nil
}

var errBadName = errors.New("a user name is 1–63 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit")

func (s *storage) completeDevice(userCode, name string) error {
	if !userName.MatchString(name) {
		return errBadName
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.deviceCodes[s.userCodes[userCode]]
	if !ok || time.Now().After(st.Expires) {
		return fmt.Errorf("user code %q: %w (or expired)", userCode, errNotFound)
	}
	if st.Done {
		return fmt.Errorf("user code %q was used already", userCode)
	}
	st.Subject, st.AuthTime, st.AMR, st.Done = Subject(name), time.Now(), []string{"dev"}, true
	return nil
}

// pages are the sign-in pages: no password, any user name.
type pages struct {
	storage  *storage
	callback func(context.Context, string) string
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><title>Astro Plane development sign-in</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">
<h1>Astro Plane development sign-in</h1>
<p><strong>Development issuer:</strong> no password is asked; any user name signs in as
NAME@{{.Domain}}. Never expose it to a network.</p>
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Form}}<form method="post">
{{if .AuthRequestID}}<input type="hidden" name="authRequestID" value="{{.AuthRequestID}}">{{else}}
<p><label>Code shown by your CLI <input name="user_code" value="{{.UserCode}}" required></label></p>{{end}}
<p><label>User name <input name="username" value="admin" required pattern="[a-z0-9][a-z0-9._\-]{0,62}"></label></p>
<p><button type="submit">Sign in</button></p>
</form>{{end}}
</body></html>`))

type pageData struct {
	Domain, Message, UserCode, AuthRequestID string
	Form                                     bool
}

// device serves the verification URI of the device flow: GET shows the form, POST
// (user_code, username) approves the device. curl works:
// curl -d user_code=ABCD-EFGH -d username=alice http://localhost:8081/device
func (p *pages) device(w http.ResponseWriter, r *http.Request) {
	data := pageData{Domain: p.storage.domain, Form: true, UserCode: r.FormValue("user_code")}
	if r.Method == http.MethodPost {
		if err := p.storage.completeDevice(r.PostFormValue("user_code"), r.PostFormValue("username")); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			data.Message = err.Error()
		} else {
			data.Form, data.Message = false, "Signed in as "+r.PostFormValue("username")+". Return to your terminal."
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, data)
}

// login is the login page of the authorization code flow.
func (p *pages) login(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("authRequestID")
	data := pageData{Domain: p.storage.domain, Form: true, AuthRequestID: id}
	if r.Method == http.MethodPost {
		if err := p.storage.completeAuthRequest(id, r.PostFormValue("username")); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			data.Message = err.Error()
		} else {
			http.Redirect(w, r, p.callback(r.Context(), id), http.StatusFound)
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = page.Execute(w, data)
}

// KeyID is the kid of the key tokens are signed with.
func (i *Issuer) KeyID() string { return i.storage.key.id }
