package credsource

import (
	"context"
	"errors"
	"time"

	"github.com/astropulse/astroplane/azureconnect"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/azure"
	"github.com/astropulse/astroplane/store"
)

// azurePlatform is the platform's Azure identity, whose federated token connected
// subscriptions' managed identities trust.
type azurePlatform struct {
	id *azureconnect.Identity
	ep azureconnect.Endpoints
}

// WithAzure gives s the platform's Azure identity and the Microsoft identity
// platform's endpoints (zero: Azure's public cloud), for dynamic credentials of
// connected Azure subscriptions; it returns s. Without it they fail saying so.
func (s *Source) WithAzure(id *azureconnect.Identity, ep azureconnect.Endpoints) *Source {
	if id != nil {
		s.azure = &azurePlatform{id: id, ep: ep}
	}
	return s
}

// dynamicAzure is a Resource Manager access token of a connected subscription's
// managed identity (the exchange of azureconnect.Exchange; Entra decides its
// lifetime, about an hour), under cloud/azure's keys.
func (s *Source) dynamicAzure(ctx context.Context, account cloud.AccountRef) (cloud.Credentials, error) {
	if s.azure == nil {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "this worker has no platform Azure identity to act as connected managed identities with")
	}
	conn, err := s.store.ConnectedAccount(ctx, account.OrgID, "azure", account.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrNotFound, "Azure subscription %s is not connected to organization %s: connect it first", account.AccountID, account.OrgID)
	}
	if err != nil {
		return cloud.Credentials{}, err
	}
	tok, err := azureconnect.Exchange(ctx, s.azure.ep, s.azure.id, conn.AzureTenantID, conn.AzureClientID, account.OrgID)
	if errors.Is(err, azureconnect.ErrNotReady) || errors.Is(err, azureconnect.ErrRefused) {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "%v: the connection of subscription %s needs renewing (forceUpdate)", err, account.AccountID)
	}
	if err != nil {
		return cloud.Credentials{}, err
	}
	return cloud.Credentials{Values: map[string]string{azure.CredAccessToken: tok.AccessToken,
		azure.CredExpiresOn: tok.ExpiresOn.Format(time.RFC3339), azure.CredTenantID: conn.AzureTenantID}, Expires: tok.ExpiresOn}, nil
}
