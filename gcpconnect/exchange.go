package gcpconnect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"
	iamcredentials "google.golang.org/api/iamcredentials/v1"
	"google.golang.org/api/option"
	sts "google.golang.org/api/sts/v1"
)

// Constants of the token exchange (RFC 8693 as Google's STS takes it).
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange" //nolint:gosec // a grant type's name, not a credential
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"            //nolint:gosec // a token type's name, not a credential
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"   //nolint:gosec // a token type's name, not a credential
	ScopeCloudPlatform     = "https://www.googleapis.com/auth/cloud-platform"
)

// Bounds of temporary credentials' lifetime: generateAccessToken's, an hour at most
// unless the organization policy constraints/iam.allowServiceAccountCredentialLifetimeExtension
// allows more, which a connection cannot count on.
const (
	MinDuration     = 5 * time.Minute
	MaxDuration     = time.Hour
	DefaultDuration = time.Hour
)

var (
	// ErrNotReady means the federation is not (yet) in place: the pool, provider or
	// service account does not exist, or the binding is missing or has not propagated.
	// Worth waiting for.
	ErrNotReady = errors.New("the workload identity federation is not ready")
	// ErrCondition means the provider exists but refuses the organization's token
	// (its attribute condition names another organization, or it trusts another
	// issuer or keys): running the setup script unchanged fixes it.
	ErrCondition = errors.New("the workload identity provider refuses this organization's token")
)

// Endpoints are where Google's APIs are reached: empty, Google's own; a wire server
// in tests and development.
type Endpoints struct {
	// STS is the base URL of sts.googleapis.com (…/ with v1/token under it).
	STS string
	// IAMCredentials is the base URL of iamcredentials.googleapis.com.
	IAMCredentials string
	// HTTPClient makes the calls; nil: one with a 30 s timeout.
	HTTPClient *http.Client
}

// Token is a service account's access token.
type Token struct {
	AccessToken string    `json:"accessToken"`
	ExpireTime  time.Time `json:"expireTime"`
}

// Exchange is what temporary credentials are and what verifying a connection does:
// the platform's token for orgID is exchanged at STS for a federated token of the
// organization's principal in the project's pool, which generateAccessToken turns
// into serviceAccount's access token for lifetime (clamped to MinDuration …
// MaxDuration). A refusal meaning the setup is not (yet) there wraps ErrNotReady;
// a provider refusing the organization wraps ErrCondition; anything else (network,
// 5xx, throttling) is returned as it is, for a retry.
func Exchange(ctx context.Context, e Endpoints, id *Identity, orgID, projectNumber, serviceAccount string, lifetime time.Duration) (Token, error) {
	lifetime = min(max(lifetime, MinDuration), MaxDuration)
	hc := e.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	audience := Audience(projectNumber, orgID)
	subject, err := id.SubjectToken(orgID, audience, time.Now())
	if err != nil {
		return Token{}, err
	}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if e.STS != "" {
		opts = append(opts, option.WithEndpoint(e.STS))
	}
	ssvc, err := sts.NewService(ctx, opts...)
	if err != nil {
		return Token{}, err
	}
	fed, err := ssvc.V1.Token(&sts.GoogleIdentityStsV1ExchangeTokenRequest{
		GrantType: GrantTypeTokenExchange, Audience: audience, Scope: ScopeCloudPlatform,
		RequestedTokenType: TokenTypeAccessToken, SubjectToken: subject, SubjectTokenType: TokenTypeJWT,
	}).Context(ctx).Do()
	if err != nil {
		return Token{}, classifySTS(err)
	}
	authed := &http.Client{Timeout: hc.Timeout, Transport: &oauth2.Transport{
		Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: fed.AccessToken, TokenType: "Bearer"}), Base: hc.Transport}}
	opts = []option.ClientOption{option.WithHTTPClient(authed)}
	if e.IAMCredentials != "" {
		opts = append(opts, option.WithEndpoint(e.IAMCredentials))
	}
	isvc, err := iamcredentials.NewService(ctx, opts...)
	if err != nil {
		return Token{}, err
	}
	out, err := isvc.Projects.ServiceAccounts.GenerateAccessToken("projects/-/serviceAccounts/"+serviceAccount,
		&iamcredentials.GenerateAccessTokenRequest{Scope: []string{ScopeCloudPlatform},
			Lifetime: fmt.Sprintf("%ds", int(lifetime/time.Second))}).Context(ctx).Do()
	if err != nil {
		return Token{}, classifyIAM(serviceAccount, err)
	}
	exp, err := time.Parse(time.RFC3339Nano, out.ExpireTime)
	if err != nil {
		return Token{}, fmt.Errorf("generateAccessToken: expireTime %q: %w", out.ExpireTime, err)
	}
	return Token{AccessToken: out.AccessToken, ExpireTime: exp}, nil
}

// classifySTS sorts STS's refusals (OAuth errors: 400 with error and
// error_description). A pool or provider that does not exist (invalid_target) is
// not ready; a provider refusing the token (unauthorized_client: the attribute
// condition; invalid_grant: issuer, keys or audience) refuses the organization.
func classifySTS(err error) error {
	var g *googleapi.Error
	if !errors.As(err, &g) {
		return fmt.Errorf("sts token exchange: %w", err)
	}
	body := g.Body
	switch {
	case g.Code == http.StatusBadRequest && strings.Contains(body, "invalid_target"),
		g.Code == http.StatusNotFound:
		return fmt.Errorf("sts token exchange: the workload identity pool or provider does not exist (yet): %s: %w", describe(g), ErrNotReady)
	case g.Code == http.StatusBadRequest && (strings.Contains(body, "unauthorized_client") || strings.Contains(body, "invalid_grant")),
		g.Code == http.StatusUnauthorized || g.Code == http.StatusForbidden:
		return fmt.Errorf("sts token exchange: %s: %w", describe(g), ErrCondition)
	}
	return fmt.Errorf("sts token exchange: %w", err)
}

// classifyIAM sorts generateAccessToken's refusals: a service account not there
// (404) or not (yet) impersonable by the organization's principal (403) is not
// ready; an invalid request (400, e.g. a lifetime above the project's limit) is a
// refusal of the request; the rest is retryable.
func classifyIAM(serviceAccount string, err error) error {
	var g *googleapi.Error
	if errors.As(err, &g) && (g.Code == http.StatusNotFound || g.Code == http.StatusForbidden) {
		return fmt.Errorf("generateAccessToken for %s: %s: %w", serviceAccount, describe(g), ErrNotReady)
	}
	return fmt.Errorf("generateAccessToken for %s: %w", serviceAccount, err)
}

// describe is a Google error's message for a user: Google's message, or an OAuth
// error's description (STS answers those).
func describe(g *googleapi.Error) string {
	if g.Message != "" {
		return fmt.Sprintf("%d %s", g.Code, g.Message)
	}
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal([]byte(g.Body), &oauth) == nil && oauth.Error != "" {
		return fmt.Sprintf("%d %s: %s", g.Code, oauth.Error, oauth.Description)
	}
	return fmt.Sprintf("%d %s", g.Code, strings.TrimSpace(g.Body))
}
