package azureconnect_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/azureconnect"
	"github.com/astropulse/astroplane/azureconnect/entrafake"
)

const (
	tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	sub    = "11111111-2222-3333-4444-555555555555"
	issuer = "https://astro.example/oidc/azure"
)

func setup(t *testing.T) (*entrafake.Server, azureconnect.Endpoints, *azureconnect.Identity) {
	t.Helper()
	id, err := azureconnect.EphemeralIdentity(issuer)
	require.NoError(t, err)
	fake := entrafake.New(tenant)
	t.Cleanup(fake.Close)
	require.NoError(t, fake.TrustIssuer(id.Issuer(), id.JWKS()))
	fake.AddResourceGroup(sub, "aks-prod")
	e := azureconnect.Endpoints{AuthorityHost: fake.URL, Transport: fake.Client(), DisableInstanceDiscovery: true,
		ARMTransport: fake.ARMTransport(sub)}
	return fake, e, id
}

func script(t *testing.T, id *azureconnect.Identity, org, group, level string) string {
	t.Helper()
	s, err := azureconnect.Script(azureconnect.ScriptInput{SubscriptionID: sub, TenantID: tenant, ResourceGroup: group,
		Location: "westeurope", OrgID: org, Cluster: "prod", Level: level, Issuer: id.Issuer(),
		ReportURL: "https://astro.example/api/v1/cloud/azure/scripts/tok123/identity"})
	require.NoError(t, err)
	return s
}

func clientIDOf(t *testing.T, rep entrafake.Report) string {
	t.Helper()
	var body struct{ ClientID, PrincipalID string }
	require.NoError(t, json.Unmarshal(rep.Body, &body), string(rep.Body))
	require.NotEmpty(t, body.ClientID)
	require.Equal(t, "https://astro.example/api/v1/cloud/azure/scripts/tok123/identity", rep.URL)
	return body.ClientID
}

// TestScriptFederatesOneOrganization: before the script the identity is not there
// (not ready); the script's identity, federated credential and role let the
// organization's token exchange and read the resource group; the documented fields
// are sent; another organization presenting the same client ID is refused (no
// matching federated record); a wrong tenant is refused for good.
func TestScriptFederatesOneOrganization(t *testing.T) {
	fake, e, id := setup(t)
	ctx := t.Context()
	err := azureconnect.Verify(ctx, e, id, tenant, "99999999-9999-9999-9999-999999999999", "org-a", sub, "aks-prod")
	require.ErrorIs(t, err, azureconnect.ErrNotReady)
	require.Contains(t, err.Error(), "AADSTS700016")

	s := script(t, id, "org-a", "aks-prod", azureconnect.LevelManage)
	require.Contains(t, s, "--role \"$ROLE\"")
	require.Contains(t, s, "ROLE='Contributor'")
	require.Contains(t, s, "SCOPE='/subscriptions/"+sub+"/resourceGroups/aks-prod'")
	require.NotContains(t, s, "az group create", "a named resource group is the customer's, not made by the script")
	rep, err := fake.RunScript(tenant, s)
	require.NoError(t, err)
	client := clientIDOf(t, rep)
	idents := fake.Identities()
	require.Len(t, idents, 1)
	require.Equal(t, "astroplane-prod", idents[0].Name)
	require.Equal(t, []entrafake.Federated{{Name: "astroplane", Issuer: issuer, Subject: "astroplane:org:org-a", Audiences: []string{"api://AzureADTokenExchange"}}}, idents[0].Federated)
	require.Equal(t, []entrafake.RoleAssignment{{PrincipalID: idents[0].PrincipalID, Role: "Contributor", Scope: "/subscriptions/" + sub + "/resourceGroups/aks-prod"}}, fake.Roles())

	require.NoError(t, azureconnect.Verify(ctx, e, id, tenant, client, "org-a", sub, "aks-prod"))
	tok, err := azureconnect.Exchange(ctx, e, id, tenant, client, "org-a")
	require.NoError(t, err)
	require.Contains(t, fake.Issued(), tok.AccessToken)
	require.WithinDuration(t, time.Now().Add(time.Hour), tok.ExpiresOn, 2*time.Minute)
	reqs := fake.Requests()
	last := reqs[len(reqs)-1]
	require.Equal(t, "client_credentials", last.Get("grant_type"))
	require.Equal(t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", last.Get("client_assertion_type"))
	require.Equal(t, client, last.Get("client_id"))
	require.Contains(t, strings.Fields(last.Get("scope")), "https://management.azure.com/.default")

	// The subscription as a whole is not the identity's: not ready, with ARM's reason.
	err = azureconnect.Verify(ctx, e, id, tenant, client, "org-a", sub, "")
	require.ErrorIs(t, err, azureconnect.ErrNotReady)
	require.Contains(t, err.Error(), "AuthorizationFailed")

	// Another organization cannot use org-a's identity.
	_, err = azureconnect.Exchange(ctx, e, id, tenant, client, "org-b")
	require.ErrorIs(t, err, azureconnect.ErrNotReady)
	require.Contains(t, err.Error(), "AADSTS70021")
	require.Contains(t, err.Error(), "astroplane:org:org-b")

	// Another platform key (a forged token with the same issuer) is refused.
	other, err := azureconnect.EphemeralIdentity(issuer)
	require.NoError(t, err)
	_, err = azureconnect.Exchange(ctx, e, other, tenant, client, "org-a")
	require.ErrorIs(t, err, azureconnect.ErrNotReady)
	require.Contains(t, err.Error(), "signature")

	// A tenant that does not exist is refused for good.
	_, err = azureconnect.Exchange(ctx, e, id, "00000000-0000-0000-0000-000000000001", client, "org-a")
	require.ErrorIs(t, err, azureconnect.ErrRefused)
	require.Contains(t, err.Error(), "AADSTS90002")
}

// TestSubscriptionScopeRead: without a resource group the script makes the
// identities' group and assigns Reader on the subscription, which Verify reads.
func TestSubscriptionScopeRead(t *testing.T) {
	fake, e, id := setup(t)
	s := script(t, id, "org-a", "", azureconnect.LevelRead)
	require.Contains(t, s, "az group create --name \"$GROUP\"")
	require.Contains(t, s, "GROUP='astroplane-identities'")
	// Without the role assignment the identity exchanges but may not read.
	var noRole []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(l, "az role assignment") {
			noRole = append(noRole, l)
		}
	}
	rep, err := fake.RunScript(tenant, strings.Join(noRole, "\n"))
	require.NoError(t, err)
	client := clientIDOf(t, rep)
	err = azureconnect.Verify(t.Context(), e, id, tenant, client, "org-a", sub, "")
	require.ErrorIs(t, err, azureconnect.ErrNotReady)
	require.Contains(t, err.Error(), "may not read /subscriptions/"+sub)
	_, err = fake.RunScript(tenant, s)
	require.NoError(t, err)
	require.NoError(t, azureconnect.Verify(t.Context(), e, id, tenant, client, "org-a", sub, ""))
	require.Equal(t, "Reader", fake.Roles()[0].Role)
	require.Equal(t, "/subscriptions/"+sub, fake.Roles()[0].Scope)
}

func TestChecks(t *testing.T) {
	id, err := azureconnect.EphemeralIdentity(issuer)
	require.NoError(t, err)
	base := azureconnect.ScriptInput{SubscriptionID: sub, TenantID: tenant, OrgID: "o", Cluster: "c", Level: "read",
		Issuer: id.Issuer(), ReportURL: "https://x/r"}
	for name, mod := range map[string]func(*azureconnect.ScriptInput){
		"subscription": func(in *azureconnect.ScriptInput) { in.SubscriptionID = "not-a-guid" },
		"tenant":       func(in *azureconnect.ScriptInput) { in.TenantID = "contoso.onmicrosoft.com" },
		"level":        func(in *azureconnect.ScriptInput) { in.Level = "owner" },
		"group":        func(in *azureconnect.ScriptInput) { in.ResourceGroup = "ends." },
		"location":     func(in *azureconnect.ScriptInput) { in.Location = "West Europe" },
		"quote":        func(in *azureconnect.ScriptInput) { in.Cluster = "a'b" },
	} {
		in := base
		mod(&in)
		_, err := azureconnect.Script(in)
		require.Error(t, err, name)
	}
	_, err = azureconnect.Script(base)
	require.NoError(t, err)
	r, err := azureconnect.Role(azureconnect.LevelManage)
	require.NoError(t, err)
	require.Equal(t, "Contributor", r)
	// Assertions carry the organization's subject, the exchange audience and a short life.
	raw, err := id.Assertion("org-a", time.Now())
	require.NoError(t, err)
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	require.Contains(t, string(id.Discovery()), `"jwks_uri":"https://astro.example/oidc/azure/jwks"`)
	require.True(t, errors.Is(azureconnect.CheckGUID("tenant ID", "x"), nil) == false)
}

// Another cloud's Resource Manager is asked for tokens of its own audience.
func TestResourceManagerAudience(t *testing.T) {
	fake, e, id := setup(t)
	rep, err := fake.RunScript(tenant, script(t, id, "org-a", "aks-prod", azureconnect.LevelRead))
	require.NoError(t, err)
	e.ResourceManager = "https://management.usgovcloudapi.net/"
	_, err = azureconnect.Exchange(t.Context(), e, id, tenant, clientIDOf(t, rep), "org-a")
	require.ErrorContains(t, err, "AADSTS70011", "the fake knows the public cloud's scope only")
	reqs := fake.Requests()
	require.Equal(t, "https://management.usgovcloudapi.net/.default", strings.Fields(reqs[len(reqs)-1].Get("scope"))[0])
}
