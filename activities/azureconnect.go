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

	"github.com/astropulse/astroplane/azureconnect"
	"github.com/astropulse/astroplane/store"
)

// ErrTypeAzureRefused is the error type of a connection Azure refuses in a way
// waiting cannot cure (a tenant that does not exist).
const ErrTypeAzureRefused = "AzureRefused"

// AzurePlatform is the platform's Azure identity and where Azure's endpoints are:
// what Azure connections and their temporary credentials need.
type AzurePlatform struct {
	// Identity signs the tokens customers' federated credentials trust.
	Identity *azureconnect.Identity
	// Endpoints of the Microsoft identity platform and Resource Manager (zero:
	// Azure's public cloud).
	Endpoints azureconnect.Endpoints
	// ScriptBaseURL is where the API serves setup scripts: a script's URL is
	// ScriptBaseURL + its token, and the script reports its identity to that URL +
	// "/identity" (cmd/worker: ASTRO_PUBLIC_URL + "/api/v1/cloud/azure/scripts/").
	ScriptBaseURL string
}

func (a *CloudAccounts) azurePlatform() (*AzurePlatform, error) {
	if a.Azure == nil || a.Azure.Identity == nil || a.Azure.ScriptBaseURL == "" {
		return nil, temporal.NewNonRetryableApplicationError(
			"this worker has no platform Azure identity or script URL (ASTRO_AZURE_OIDC_ISSUER, ASTRO_AZURE_OIDC_KEY_FILE, ASTRO_PUBLIC_URL)", ErrTypeNotConfigured, nil)
	}
	return a.Azure, nil
}

// PrepareAzureConnectionInput names the connection whose setup script to make.
type PrepareAzureConnectionInput struct {
	OrgID        string
	ConnectionID string
}

// PrepareAzureConnectionResult is what the workflow verifies. None of it is secret.
type PrepareAzureConnectionResult struct {
	SubscriptionID string
	TenantID       string
	ResourceGroup  string
	IdentityName   string
	Role           string
	Scope          string
	ScriptURL      string
}

// PrepareAzureConnection makes the connection's setup script (azureconnect.Script)
// for its subscription, tenant, scope, cluster and level, and records it with the
// names the workflow verifies. The client ID of the cluster's identity connected
// before in the same subscription and tenant is carried over (forceUpdate verifies
// it at once; the script reports it again when run). Repeated, it records the same
// script under the token it already has.
func (a *CloudAccounts) PrepareAzureConnection(ctx context.Context, in PrepareAzureConnectionInput) (PrepareAzureConnectionResult, error) {
	p, err := a.azurePlatform()
	if err != nil {
		return PrepareAzureConnectionResult{}, err
	}
	c, err := a.Store.GetCloudConnection(ctx, in.OrgID, in.ConnectionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Provider != "azure") {
		return PrepareAzureConnectionResult{}, temporal.NewNonRetryableApplicationError("connection "+in.ConnectionID+" not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return PrepareAzureConnectionResult{}, err
	}
	token := c.TemplateToken
	if token == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		token = base64.RawURLEncoding.EncodeToString(b)
	}
	scriptURL := strings.TrimSuffix(p.ScriptBaseURL, "/") + "/" + token
	script, err := azureconnect.Script(azureconnect.ScriptInput{SubscriptionID: c.AccountID, TenantID: c.AzureTenantID,
		ResourceGroup: c.AzureResourceGroup, Location: c.Region, OrgID: in.OrgID, Cluster: c.ClusterName, Level: c.Level,
		Issuer: p.Identity.Issuer(), ReportURL: scriptURL + "/identity"})
	if err != nil {
		return PrepareAzureConnectionResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, err)
	}
	role, _ := azureconnect.Role(c.Level) // the script checked the level
	fields := map[string]any{"template": []byte(script), "template_token": token, "setup_url": scriptURL,
		"azure_identity_name": azureconnect.IdentityName(c.ClusterName), "azure_role": role}
	if c.AzureClientID == "" {
		prior, err := a.Store.ConnectedAccount(ctx, in.OrgID, "azure", c.AccountID)
		switch {
		case err == nil && prior.ClusterName == c.ClusterName && prior.AzureTenantID == c.AzureTenantID && prior.AzureClientID != "":
			fields["azure_client_id"] = prior.AzureClientID
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return PrepareAzureConnectionResult{}, err
		}
	}
	if err := a.Store.UpdateCloudConnection(ctx, in.OrgID, in.ConnectionID, fields); err != nil {
		return PrepareAzureConnectionResult{}, err
	}
	return PrepareAzureConnectionResult{SubscriptionID: c.AccountID, TenantID: c.AzureTenantID, ResourceGroup: c.AzureResourceGroup,
		IdentityName: azureconnect.IdentityName(c.ClusterName), Role: role,
		Scope: azureconnect.Scope(c.AccountID, c.AzureResourceGroup), ScriptURL: scriptURL}, nil
}

// VerifyAzureIdentityInput names the connection whose identity to verify.
type VerifyAzureIdentityInput struct {
	OrgID        string
	ConnectionID string
}

// VerifyAzureIdentityResult says whether the identity works; Reason says why not.
type VerifyAzureIdentityResult struct {
	Ready    bool
	Reason   string
	ClientID string
}

// VerifyAzureIdentity tries once what the connection needs (azureconnect.Verify: the
// token exchange as the identity the setup script reported, then a read of the scope)
// and throws the token away. No identity reported yet, or one not federated or not
// allowed yet, is Ready false with the reason, for the workflow's backoff; a tenant
// that does not exist is a non-retryable AzureRefused error; anything else (network,
// 5xx, throttling) is retried.
func (a *CloudAccounts) VerifyAzureIdentity(ctx context.Context, in VerifyAzureIdentityInput) (VerifyAzureIdentityResult, error) {
	p, err := a.azurePlatform()
	if err != nil {
		return VerifyAzureIdentityResult{}, err
	}
	c, err := a.Store.GetCloudConnection(ctx, in.OrgID, in.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return VerifyAzureIdentityResult{}, temporal.NewNonRetryableApplicationError("connection "+in.ConnectionID+" not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return VerifyAzureIdentityResult{}, err
	}
	if c.AzureClientID == "" {
		return VerifyAzureIdentityResult{Reason: "the setup script has not reported the managed identity yet"}, nil
	}
	err = azureconnect.Verify(ctx, p.Endpoints, p.Identity, c.AzureTenantID, c.AzureClientID, in.OrgID, c.AccountID, c.AzureResourceGroup)
	switch {
	case err == nil:
		return VerifyAzureIdentityResult{Ready: true, ClientID: c.AzureClientID}, nil
	case errors.Is(err, azureconnect.ErrNotReady):
		return VerifyAzureIdentityResult{Reason: err.Error(), ClientID: c.AzureClientID}, nil
	case errors.Is(err, azureconnect.ErrRefused):
		return VerifyAzureIdentityResult{}, temporal.NewNonRetryableApplicationError(err.Error()+
			": check the tenant ID of the subscription (az account show --query tenantId) and connect again", ErrTypeAzureRefused, err)
	}
	return VerifyAzureIdentityResult{}, err
}

// IssueAzureCredentialsInput asks for a temporary access token of orgID's connected
// subscription, sealed to RecipientKey (as IssueAWSCredentialsInput).
type IssueAzureCredentialsInput struct {
	OrgID        string
	ConnectionID string
	// RecipientKey is an X25519 public key of the API's, made for this one request.
	RecipientKey []byte
}

// IssueAzureCredentialsResult carries the token sealed (OpenAzureToken opens it).
type IssueAzureCredentialsResult struct {
	Sealed         []byte
	ExpiresOn      time.Time
	ClientID       string
	TenantID       string
	SubscriptionID string
	ResourceGroup  string
}

// AzureTokenHPKEInfo is the HPKE info string Azure tokens are sealed under.
const AzureTokenHPKEInfo = "astroplane azure temporary credentials v1"

// IssueAzureCredentials exchanges the platform's token for an access token of Azure
// Resource Manager as the connection's identity (its lifetime is Entra's, about an
// hour) and returns it sealed to in.RecipientKey.
func (a *CloudAccounts) IssueAzureCredentials(ctx context.Context, in IssueAzureCredentialsInput) (IssueAzureCredentialsResult, error) {
	p, err := a.azurePlatform()
	if err != nil {
		return IssueAzureCredentialsResult{}, err
	}
	c, err := a.Store.GetCloudConnection(ctx, in.OrgID, in.ConnectionID)
	if err == nil && (c.Status != store.ConnectionConnected || c.Provider != "azure") {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return IssueAzureCredentialsResult{}, temporal.NewNonRetryableApplicationError("no connected Azure subscription "+in.ConnectionID, ErrTypeNotConnected, err)
	}
	if err != nil {
		return IssueAzureCredentialsResult{}, err
	}
	pub, err := ecdh.X25519().NewPublicKey(in.RecipientKey)
	if err != nil {
		return IssueAzureCredentialsResult{}, temporal.NewNonRetryableApplicationError("recipient key: "+err.Error(), ErrTypeInvalidInput, err)
	}
	tok, err := azureconnect.Exchange(ctx, p.Endpoints, p.Identity, c.AzureTenantID, c.AzureClientID, in.OrgID)
	if errors.Is(err, azureconnect.ErrNotReady) || errors.Is(err, azureconnect.ErrRefused) {
		return IssueAzureCredentialsResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotConnected, err)
	}
	if err != nil {
		return IssueAzureCredentialsResult{}, err
	}
	sealed, err := SealAzureToken(pub, tok)
	if err != nil {
		return IssueAzureCredentialsResult{}, err
	}
	return IssueAzureCredentialsResult{Sealed: sealed, ExpiresOn: tok.ExpiresOn, ClientID: c.AzureClientID, TenantID: c.AzureTenantID,
		SubscriptionID: c.AccountID, ResourceGroup: c.AzureResourceGroup}, nil
}

// SealAzureToken seals tok (as JSON) to the recipient's X25519 key with HPKE (DHKEM
// X25519, HKDF-SHA256, AES-256-GCM).
func SealAzureToken(recipient *ecdh.PublicKey, tok azureconnect.Token) ([]byte, error) {
	pk, err := hpke.NewDHKEMPublicKey(recipient)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(tok) //nolint:gosec // marshaled to be sealed at once: the plaintext never leaves this function
	if err != nil {
		return nil, err
	}
	return hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(AzureTokenHPKEInfo), raw)
}

// OpenAzureToken opens what SealAzureToken sealed to priv's public key.
func OpenAzureToken(priv *ecdh.PrivateKey, sealed []byte) (azureconnect.Token, error) {
	var tok azureconnect.Token
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return tok, err
	}
	raw, err := hpke.Open(k, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(AzureTokenHPKEInfo), sealed)
	if err != nil {
		return tok, fmt.Errorf("open azure token: %w", err)
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		return azureconnect.Token{}, fmt.Errorf("open azure token: %w", err)
	}
	return tok, nil
}
