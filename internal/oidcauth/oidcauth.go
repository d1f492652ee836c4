// Package oidcauth verifies the OIDC bearer tokens users sign in with, against any
// issuer's discovery document and JWKS (Auth0, Okta, Keycloak, Dex, Google, the
// development issuer): signature, issuer, audience, expiry and not-before with a
// clock skew. Parsing and signature checks are github.com/coreos/go-oidc/v3's; this
// package adds lazy discovery (the API starts while the issuer is down, and a
// bearer request then answers 503 until it is back), a bounded key cache, and the
// mapping of configurable claim names to an Identity.
package oidcauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Errors of Verify. Check them with errors.Is.
var (
	// ErrInvalidToken means the token is not one this API accepts: bad signature,
	// unknown key, another issuer or audience, expired, not yet valid, or missing a
	// claim the configuration names (401).
	ErrInvalidToken = errors.New("invalid bearer token")
	// ErrUnavailable means the issuer's discovery document or keys could not be
	// fetched, so no token can be checked now (503).
	ErrUnavailable = errors.New("OIDC issuer unavailable")
)

// Config says which tokens a Verifier accepts and how to read them.
type Config struct {
	// Issuer is the issuer URL; its discovery document is Issuer +
	// "/.well-known/openid-configuration", and tokens' iss must equal it.
	Issuer string
	// Audience must be among the token's aud (Auth0: the API identifier; Okta:
	// the authorization server's audience; Keycloak, Dex, Google: the client ID).
	Audience string
	// SubjectClaim, EmailClaim, EmailVerifiedClaim and NameClaim name the claims
	// read into an Identity; defaults sub, email, email_verified and name. Auth0
	// access tokens carry email only under a namespaced custom claim, e.g.
	// https://example.com/email.
	SubjectClaim, EmailClaim, EmailVerifiedClaim, NameClaim string
	// ClockSkew is the leeway allowed on exp and nbf; default one minute.
	ClockSkew time.Duration
	// KeysMaxAge bounds how long fetched signing keys are trusted before the JWKS
	// is fetched again, so a key the issuer removed stops working within it even
	// when no unknown kid forces a refresh; default one hour.
	KeysMaxAge time.Duration
	// HTTPClient fetches discovery and keys; default a client with a 10s timeout.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Identity is who a verified token says the caller is.
type Identity struct {
	Issuer  string
	Subject string
	// Email is empty when the token carries none.
	Email         string
	EmailVerified bool
	Name          string
	Expiry        time.Time
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg  Config
	base context.Context // carries the HTTP client; never cancelled

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	// attributor checks only the signature and issuer (see Attribute).
	attributor *oidc.IDTokenVerifier
	lastTry    time.Time
	lastErr    error
}

// discoveryRetry is how long a failed discovery is remembered before it is tried
// again: a down issuer is not asked on every request.
const discoveryRetry = 5 * time.Second

// New returns a Verifier for cfg. It contacts the issuer only when the first token
// arrives.
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("oidcauth: Issuer and Audience are required")
	}
	if cfg.SubjectClaim == "" {
		cfg.SubjectClaim = "sub"
	}
	if cfg.EmailClaim == "" {
		cfg.EmailClaim = "email"
	}
	if cfg.EmailVerifiedClaim == "" {
		cfg.EmailVerifiedClaim = "email_verified"
	}
	if cfg.NameClaim == "" {
		cfg.NameClaim = "name"
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = time.Minute
	}
	if cfg.KeysMaxAge <= 0 {
		cfg.KeysMaxAge = time.Hour
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{cfg: cfg, base: oidc.ClientContext(context.Background(), cfg.HTTPClient)}, nil
}

// Issuer is the issuer whose tokens v accepts.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }

// Verify checks raw (the token, without "Bearer ") and returns its Identity.
// Errors wrap ErrInvalidToken or ErrUnavailable; their text never holds the token.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	verifier, err := v.discover() //nolint:contextcheck // discovery outlives the request that triggers it (v.base)
	if err != nil {
		return Identity{}, err
	}
	tok, err := verifier.Verify(oidc.ClientContext(ctx, v.cfg.HTTPClient), raw)
	if err != nil {
		if strings.Contains(err.Error(), "get keys failed") {
			return Identity{}, fmt.Errorf("%w: fetch signing keys: %v", ErrUnavailable, err) //nolint:errorlint // callers match ErrUnavailable
		}
		return Identity{}, fmt.Errorf("%w: %s", ErrInvalidToken, strings.TrimPrefix(err.Error(), "oidc: "))
	}
	var claims map[string]json.RawMessage
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err) //nolint:errorlint // as above
	}
	// go-oidc allows nbf five minutes early whatever the configuration; hold it to
	// the configured skew.
	if nbf, ok := numberClaim(claims["nbf"]); ok && time.Unix(nbf, 0).After(v.cfg.Now().Add(v.cfg.ClockSkew)) {
		return Identity{}, fmt.Errorf("%w: not valid yet (nbf %s)", ErrInvalidToken, time.Unix(nbf, 0).UTC().Format(time.RFC3339))
	}
	id := Identity{Issuer: tok.Issuer, Expiry: tok.Expiry}
	id.Subject = stringClaim(claims[v.cfg.SubjectClaim])
	if id.Subject == "" {
		return Identity{}, fmt.Errorf("%w: no %q claim", ErrInvalidToken, v.cfg.SubjectClaim)
	}
	id.Email = stringClaim(claims[v.cfg.EmailClaim])
	id.Name = stringClaim(claims[v.cfg.NameClaim])
	id.EmailVerified = boolClaim(claims[v.cfg.EmailVerifiedClaim])
	return id, nil
}

// discover returns the verifier, fetching the discovery document first when it has
// not been (or when the last try failed more than discoveryRetry ago).
func (v *Verifier) discover() (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	now := v.cfg.Now()
	if v.lastErr != nil && now.Sub(v.lastTry) < discoveryRetry {
		return nil, v.lastErr
	}
	v.lastTry = now
	ctx, cancel := context.WithTimeout(v.base, 10*time.Second)
	defer cancel()
	provider, err := oidc.NewProvider(ctx, v.cfg.Issuer)
	if err != nil {
		v.lastErr = fmt.Errorf("%w: discovery of %s: %v", ErrUnavailable, v.cfg.Issuer, err) //nolint:errorlint // callers match ErrUnavailable
		return nil, v.lastErr
	}
	var meta struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURL == "" {
		v.lastErr = fmt.Errorf("%w: discovery of %s names no jwks_uri", ErrUnavailable, v.cfg.Issuer)
		return nil, v.lastErr
	}
	keys := &rotatingKeySet{base: v.base, url: meta.JWKSURL, maxAge: v.cfg.KeysMaxAge, now: v.cfg.Now}
	skew, now0 := v.cfg.ClockSkew, v.cfg.Now
	v.verifier = oidc.NewVerifier(v.cfg.Issuer, keys, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: signingAlgs(meta.Algs),
		// Expiry is checked against a clock running ClockSkew behind: a token
		// stays valid for ClockSkew after its exp.
		Now: func() time.Time { return now0().Add(-skew) },
	})
	v.attributor = oidc.NewVerifier(v.cfg.Issuer, keys, &oidc.Config{
		SkipClientIDCheck: true, SkipExpiryCheck: true, SupportedSigningAlgs: signingAlgs(meta.Algs),
	})
	v.lastErr = nil
	return v.verifier, nil
}

// Attribute returns the issuer and subject of a token Verify refused, when its
// signature and issuer hold — an expired token, or one for another audience, is
// still a sign-in attempt by that subject — so the refusal can be audited as theirs.
// ok is false for a token no one can be held to (forged, malformed, no subject).
func (v *Verifier) Attribute(ctx context.Context, raw string) (issuer, subject string, ok bool) {
	if _, err := v.discover(); err != nil { //nolint:contextcheck // as in Verify
		return "", "", false
	}
	v.mu.Lock()
	attributor := v.attributor
	v.mu.Unlock()
	tok, err := attributor.Verify(oidc.ClientContext(ctx, v.cfg.HTTPClient), raw)
	if err != nil {
		return "", "", false
	}
	var claims map[string]json.RawMessage
	if tok.Claims(&claims) != nil {
		return "", "", false
	}
	subject = stringClaim(claims[v.cfg.SubjectClaim])
	return tok.Issuer, subject, subject != ""
}

// signingAlgs keeps the asymmetric algorithms go-oidc verifies among those the
// issuer announces (never HS256: the audience is not a shared secret); none
// announced means RS256.
func signingAlgs(announced []string) []string {
	known := map[string]bool{oidc.RS256: true, oidc.RS384: true, oidc.RS512: true, oidc.ES256: true, oidc.ES384: true,
		oidc.ES512: true, oidc.PS256: true, oidc.PS384: true, oidc.PS512: true, oidc.EdDSA: true}
	var out []string
	for _, a := range announced {
		if known[a] {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = []string{oidc.RS256}
	}
	return out
}

// rotatingKeySet is go-oidc's RemoteKeySet (cached keys, fetched again when a
// token names a kid it does not hold), replaced by a fresh one once it is maxAge
// old, so a key removed from the JWKS is refused within maxAge at most.
type rotatingKeySet struct {
	base   context.Context
	url    string
	maxAge time.Duration
	now    func() time.Time

	mu      sync.Mutex
	set     *oidc.RemoteKeySet
	created time.Time
}

// VerifySignature implements oidc.KeySet.
func (k *rotatingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	k.mu.Lock()
	if now := k.now(); k.set == nil || now.Sub(k.created) >= k.maxAge {
		k.set, k.created = oidc.NewRemoteKeySet(k.base, k.url), now //nolint:contextcheck // the key set outlives any one request
	}
	set := k.set
	k.mu.Unlock()
	return set.VerifySignature(ctx, jwt)
}

func stringClaim(raw json.RawMessage) string {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// boolClaim reads true or "true" (some issuers send the string).
func boolClaim(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	return stringClaim(raw) == "true"
}

func numberClaim(raw json.RawMessage) (int64, bool) {
	if len(raw) == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, false
	}
	return int64(f), true
}
