package azureconnect

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
)

// ErrNotReady is the customer's part missing or not yet in effect: no identity with a
// federated credential trusting this organization (yet), or a role not yet assigned
// or propagated. A connection waits and tries again.
var ErrNotReady = errors.New("azure identity not ready")

// ErrRefused is a refusal waiting cannot cure (a tenant that does not exist): the
// connection fails with the reason.
var ErrRefused = errors.New("azure refused the connection")

// Endpoints are the Microsoft identity platform and Azure Resource Manager the
// platform talks to; the zero value is Azure's public cloud.
type Endpoints struct {
	// AuthorityHost is the Microsoft identity platform (https only), default
	// https://login.microsoftonline.com/.
	AuthorityHost string
	// ResourceManager is ARM's endpoint and token audience, default
	// https://management.azure.com.
	ResourceManager string
	// Transport carries the identity platform's requests and ARMTransport ARM's
	// (tests: a TLS test server's client, the SDK's fake transports); nil: the SDK's
	// default HTTP client.
	Transport, ARMTransport policy.Transporter
	// DisableInstanceDiscovery skips the identity platform's instance discovery, for
	// a private authority (a sovereign cloud, a test server).
	DisableInstanceDiscovery bool
}

// armAudience is Azure Resource Manager's token audience in the public cloud.
const armAudience = "https://management.azure.com"

func (e Endpoints) cloud() cloud.Configuration {
	c := cloud.Configuration{ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
		Services: maps.Clone(cloud.AzurePublic.Services)}
	if e.AuthorityHost != "" {
		c.ActiveDirectoryAuthorityHost = e.AuthorityHost
	}
	// The ARM client asks for tokens of the audience Exchange asks for.
	c.Services[cloud.ResourceManager] = cloud.ServiceConfiguration{Endpoint: cmp.Or(e.ResourceManager, armAudience), Audience: e.audience()}
	return c
}

// TokenScope is the token scope of Azure Resource Manager in the public cloud.
const TokenScope = armAudience + "/.default"

// audience is Resource Manager's token audience: its endpoint in another cloud (such
// as https://management.usgovcloudapi.net), the public cloud's otherwise.
func (e Endpoints) audience() string {
	return strings.TrimSuffix(cmp.Or(e.ResourceManager, armAudience), "/")
}

// scope is the token scope Exchange and Verify ask for.
func (e Endpoints) scope() string { return e.audience() + "/.default" }

// Token is an access token of Azure Resource Manager and when it expires.
type Token struct {
	AccessToken string    `json:"accessToken"`
	ExpiresOn   time.Time `json:"expiresOn"`
}

// credential is the client assertion credential of clientID in tenant, presenting
// id's token for orgID.
func credential(e Endpoints, id *Identity, tenant, clientID, orgID string) (*azidentity.ClientAssertionCredential, error) {
	if id == nil {
		return nil, errors.New("azure: the platform has no identity")
	}
	if err := CheckGUID("tenant ID", tenant); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if err := CheckGUID("client ID", clientID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotReady, err)
	}
	opts := &azidentity.ClientAssertionCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: e.cloud(), Transport: e.Transport, Retry: policy.RetryOptions{MaxRetries: 1}},
		// The tenant is the customer's; no other is ever asked for.
		DisableInstanceDiscovery: e.DisableInstanceDiscovery,
	}
	return azidentity.NewClientAssertionCredential(tenant, clientID, func(context.Context) (string, error) {
		return id.Assertion(orgID, time.Now())
	}, opts)
}

// Exchange signs the platform's token for orgID and exchanges it at the tenant's
// token endpoint (grant client_credentials with a jwt-bearer client assertion) for an
// access token of Azure Resource Manager as the identity clientID. A federated
// credential or identity that is not there (or trusts another organization) is
// ErrNotReady with Entra's reason; a tenant that does not exist ErrRefused; anything
// else (network, throttling) is returned as it is, to be retried.
func Exchange(ctx context.Context, e Endpoints, id *Identity, tenant, clientID, orgID string) (Token, error) {
	cred, err := credential(e, id, tenant, clientID, orgID)
	if err != nil {
		return Token{}, err
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{e.scope()}})
	if err != nil {
		return Token{}, classifyToken(err)
	}
	return Token{AccessToken: tok.Token, ExpiresOn: tok.ExpiresOn.UTC()}, nil
}

// entraError is the error body of the Microsoft identity platform.
type entraError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Codes       []int  `json:"error_codes"`
}

// Entra's error codes of a tenant that does not exist (or is not a tenant ID).
var tenantCodes = map[int]bool{90002: true, 900023: true}

func classifyToken(err error) error {
	var af *azidentity.AuthenticationFailedError
	if !errors.As(err, &af) || af.RawResponse == nil {
		return err
	}
	status := af.RawResponse.StatusCode
	if status == http.StatusTooManyRequests || status >= 500 {
		return fmt.Errorf("microsoft identity platform answered %d", status)
	}
	body, _ := runtime.Payload(af.RawResponse)
	var ee entraError
	_ = json.Unmarshal(body, &ee)
	desc := firstLine(ee.Description)
	if desc == "" {
		desc = fmt.Sprintf("%d %s", status, ee.Error)
	}
	for _, c := range ee.Codes {
		if tenantCodes[c] {
			return fmt.Errorf("%w: %s", ErrRefused, desc)
		}
	}
	return fmt.Errorf("%w: %s", ErrNotReady, desc)
}

// firstLine is Entra's description without its trace and correlation IDs.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\r\n")
	s, _, _ = strings.Cut(s, "\n")
	s, _, _ = strings.Cut(s, " Trace ID:")
	return strings.TrimSpace(s)
}

// Verify checks the identity end to end: the token exchange, then a read of the
// scope with the token through Azure Resource Manager (the resource group when
// group is set, else the subscription's resource groups). Not found or not allowed
// yet (role assignments take minutes to propagate) is ErrNotReady with the reason.
func Verify(ctx context.Context, e Endpoints, id *Identity, tenant, clientID, orgID, subscription, group string) error {
	cred, err := credential(e, id, tenant, clientID, orgID)
	if err != nil {
		return err
	}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{e.scope()}}); err != nil {
		return classifyToken(err)
	}
	rg, err := armresources.NewResourceGroupsClient(subscription, cred, &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{Cloud: e.cloud(), Transport: e.ARMTransport, Retry: policy.RetryOptions{MaxRetries: 1}}})
	if err != nil {
		return err
	}
	if group != "" {
		_, err = rg.Get(ctx, group, nil)
	} else {
		_, err = rg.NewListPager(&armresources.ResourceGroupsClientListOptions{Top: ptr(int32(1))}).NextPage(ctx)
	}
	return classifyARM(err, Scope(subscription, group))
}

func classifyARM(err error, scope string) error {
	var re *azcore.ResponseError
	var af *azidentity.AuthenticationFailedError
	if errors.As(err, &af) {
		return classifyToken(err)
	}
	if err == nil || !errors.As(err, &re) {
		return err
	}
	switch re.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w: the identity may not read %s yet (%s; a role assignment takes a few minutes to take effect)", ErrNotReady, scope, re.ErrorCode)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %s was not found (%s)", ErrNotReady, scope, re.ErrorCode)
	}
	return fmt.Errorf("azure resource manager: %d %s", re.StatusCode, re.ErrorCode)
}

func ptr[T any](v T) *T { return &v }
