package activities

import (
	"context"
	"crypto/ecdh"
	"crypto/hpke"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/gcpconnect"
	"github.com/astropulse/astroplane/store"
)

// ErrTypeGCPCondition is the error type of a project whose workload identity provider refuses the
// organization's token (its attribute condition, issuer or keys are not the setup
// script's).
const ErrTypeGCPCondition = "GCPAttributeCondition"

// GCPPlatform is the platform's GCP identity and where Google's APIs are: what GCP
// connections and their temporary credentials need.
type GCPPlatform struct {
	// Identity signs the subject tokens customers' providers trust.
	Identity *gcpconnect.Identity
	// Endpoints of STS and iamcredentials (empty: Google's).
	Endpoints gcpconnect.Endpoints
	// ScriptBaseURL is where the API serves setup scripts: a script's URL is it + its
	// token (cmd/worker: ASTRO_PUBLIC_URL + "/api/v1/cloud/gcp/scripts/"); empty: the
	// status shows the script only.
	ScriptBaseURL string
}

// PrepareGCPConnectionInput names the connection whose setup script to make.
type PrepareGCPConnectionInput struct {
	OrgID        string
	ConnectionID string
}

// PrepareGCPConnectionResult is what the workflow verifies: the organization's
// principal impersonating the service account in the project. None of it is secret.
type PrepareGCPConnectionResult struct {
	ProjectID      string
	ProjectNumber  string
	ServiceAccount string
	Provider       string // the pool provider's full resource name
}

func (a *CloudAccounts) gcpPlatform() (*GCPPlatform, error) {
	if a.GCP == nil || a.GCP.Identity == nil {
		return nil, temporal.NewNonRetryableApplicationError(
			"this worker has no platform GCP identity (ASTRO_GCP_PLATFORM_KEY_FILE or ASTRO_ENCRYPTION_KEY)", ErrTypeNotConfigured, nil)
	}
	return a.GCP, nil
}

// PrepareGCPConnection makes the connection's setup script (gcpconnect.Script) for
// its project, cluster and level, and records it with the names the workflow
// verifies. Repeated, it records the same script under the token it already has.
func (a *CloudAccounts) PrepareGCPConnection(ctx context.Context, in PrepareGCPConnectionInput) (PrepareGCPConnectionResult, error) {
	p, err := a.gcpPlatform()
	if err != nil {
		return PrepareGCPConnectionResult{}, err
	}
	c, err := a.Store.GetCloudConnection(ctx, in.OrgID, in.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return PrepareGCPConnectionResult{}, temporal.NewNonRetryableApplicationError("connection "+in.ConnectionID+" not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return PrepareGCPConnectionResult{}, err
	}
	script, err := gcpconnect.Script(gcpconnect.ScriptInput{ProjectID: c.AccountID, ProjectNumber: c.GCPProjectNumber, OrgID: in.OrgID,
		Cluster: c.ClusterName, Level: c.Level, Issuer: p.Identity.Issuer(), JWKS: p.Identity.JWKS()})
	if err != nil {
		return PrepareGCPConnectionResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, err)
	}
	token := c.TemplateToken
	if token == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		token = base64.RawURLEncoding.EncodeToString(b)
	}
	out := PrepareGCPConnectionResult{ProjectID: c.AccountID, ProjectNumber: c.GCPProjectNumber,
		ServiceAccount: gcpconnect.ServiceAccountEmail(c.AccountID, c.ClusterName), Provider: gcpconnect.ProviderName(c.GCPProjectNumber, in.OrgID)}
	fields := map[string]any{"template": []byte(script), "template_token": token, "gcp_pool_provider": out.Provider,
		"gcp_service_account": out.ServiceAccount}
	if p.ScriptBaseURL != "" {
		fields["setup_url"] = strings.TrimSuffix(p.ScriptBaseURL, "/") + "/" + token
	}
	err = a.Store.UpdateCloudConnection(ctx, in.OrgID, in.ConnectionID, fields)
	if err != nil {
		return PrepareGCPConnectionResult{}, err
	}
	return out, nil
}

// VerifyGCPFederationInput names what a connection waits for.
type VerifyGCPFederationInput struct {
	OrgID          string
	ProjectNumber  string
	ServiceAccount string
}

// VerifyGCPFederationResult says whether the exchange went through; Reason says why
// not.
type VerifyGCPFederationResult struct {
	Ready  bool
	Reason string
}

// VerifyGCPFederation does once what temporary credentials do (gcpconnect.Exchange,
// the shortest lifetime) and throws the token away. Federation not there yet is
// Ready false with the reason, for the workflow's backoff; a provider refusing the
// organization is a non-retryable GCPAttributeCondition error; anything else
// (network, 5xx, throttling) is retried.
func (a *CloudAccounts) VerifyGCPFederation(ctx context.Context, in VerifyGCPFederationInput) (VerifyGCPFederationResult, error) {
	p, err := a.gcpPlatform()
	if err != nil {
		return VerifyGCPFederationResult{}, err
	}
	_, err = gcpconnect.Exchange(ctx, p.Endpoints, p.Identity, in.OrgID, in.ProjectNumber, in.ServiceAccount, gcpconnect.MinDuration)
	switch {
	case err == nil:
		return VerifyGCPFederationResult{Ready: true}, nil
	case errors.Is(err, gcpconnect.ErrNotReady):
		return VerifyGCPFederationResult{Reason: err.Error()}, nil
	case errors.Is(err, gcpconnect.ErrCondition):
		return VerifyGCPFederationResult{}, temporal.NewNonRetryableApplicationError(err.Error()+
			": run the setup script unchanged (its provider trusts the platform for your organization only)", ErrTypeGCPCondition, err)
	}
	return VerifyGCPFederationResult{}, err
}

// IssueGCPCredentialsInput asks for a temporary access token of orgID's connected
// project, sealed to RecipientKey (as IssueAWSCredentialsInput).
type IssueGCPCredentialsInput struct {
	OrgID        string
	ConnectionID string
	Duration     time.Duration
	// RecipientKey is an X25519 public key of the API's, made for this one request.
	RecipientKey []byte
}

// IssueGCPCredentialsResult carries the token sealed (OpenGCPToken opens it).
type IssueGCPCredentialsResult struct {
	Sealed         []byte
	ExpireTime     time.Time
	ServiceAccount string
	ProjectID      string
}

// GCPTokenHPKEInfo is the HPKE info string GCP tokens are sealed under.
const GCPTokenHPKEInfo = "astroplane gcp temporary credentials v1" //nolint:gosec // a label of the encryption, not a credential

// IssueGCPCredentials exchanges the platform's token for the connection's service
// account's access token for in.Duration and returns it sealed to in.RecipientKey.
func (a *CloudAccounts) IssueGCPCredentials(ctx context.Context, in IssueGCPCredentialsInput) (IssueGCPCredentialsResult, error) {
	p, err := a.gcpPlatform()
	if err != nil {
		return IssueGCPCredentialsResult{}, err
	}
	c, err := a.Store.GetCloudConnection(ctx, in.OrgID, in.ConnectionID)
	if err == nil && (c.Status != store.ConnectionConnected || c.Provider != "gcp") {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return IssueGCPCredentialsResult{}, temporal.NewNonRetryableApplicationError("no connected GCP project "+in.ConnectionID, ErrTypeNotConnected, err)
	}
	if err != nil {
		return IssueGCPCredentialsResult{}, err
	}
	pub, err := ecdh.X25519().NewPublicKey(in.RecipientKey)
	if err != nil {
		return IssueGCPCredentialsResult{}, temporal.NewNonRetryableApplicationError("recipient key: "+err.Error(), ErrTypeInvalidInput, err)
	}
	tok, err := gcpconnect.Exchange(ctx, p.Endpoints, p.Identity, in.OrgID, c.GCPProjectNumber, c.GCPServiceAccount, in.Duration)
	if errors.Is(err, gcpconnect.ErrNotReady) || errors.Is(err, gcpconnect.ErrCondition) {
		return IssueGCPCredentialsResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotConnected, err)
	}
	if err != nil {
		return IssueGCPCredentialsResult{}, err
	}
	sealed, err := SealGCPToken(pub, tok)
	if err != nil {
		return IssueGCPCredentialsResult{}, err
	}
	return IssueGCPCredentialsResult{Sealed: sealed, ExpireTime: tok.ExpireTime, ServiceAccount: c.GCPServiceAccount, ProjectID: c.AccountID}, nil
}

// SealGCPToken seals tok (as JSON) to the recipient's X25519 key with HPKE (DHKEM
// X25519, HKDF-SHA256, AES-256-GCM).
func SealGCPToken(recipient *ecdh.PublicKey, tok gcpconnect.Token) ([]byte, error) {
	pk, err := hpke.NewDHKEMPublicKey(recipient)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(tok) //nolint:gosec // marshaled to be sealed at once: the plaintext never leaves this function
	if err != nil {
		return nil, err
	}
	return hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(GCPTokenHPKEInfo), raw)
}

// OpenGCPToken opens what SealGCPToken sealed to priv's public key.
func OpenGCPToken(priv *ecdh.PrivateKey, sealed []byte) (gcpconnect.Token, error) {
	var tok gcpconnect.Token
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return tok, err
	}
	raw, err := hpke.Open(k, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(GCPTokenHPKEInfo), sealed)
	if err != nil {
		return tok, fmt.Errorf("open gcp token: %w", err)
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		return gcpconnect.Token{}, fmt.Errorf("open gcp token: %w", err)
	}
	return tok, nil
}
