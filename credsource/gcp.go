package credsource

import (
	"context"
	"errors"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/gcp"
	"github.com/astropulse/astroplane/gcpconnect"
	"github.com/astropulse/astroplane/store"
)

// gcpPlatform is the platform's GCP identity, which dynamic credentials of connected
// GCP projects are exchanged with.
type gcpPlatform struct {
	id *gcpconnect.Identity
	ep gcpconnect.Endpoints
}

// WithGCP gives s the platform's GCP identity and Google's endpoints (empty: Google's
// own), for dynamic credentials of connected GCP projects; it returns s. Without it
// they fail saying so.
func (s *Source) WithGCP(id *gcpconnect.Identity, ep gcpconnect.Endpoints) *Source {
	if id != nil {
		s.gcp = &gcpPlatform{id: id, ep: ep}
	}
	return s
}

// dynamicGCP is a connected project's service account's access token (the exchange
// of gcpconnect.Exchange, for s.Duration, at most an hour), under cloud/gcp's keys.
func (s *Source) dynamicGCP(ctx context.Context, account cloud.AccountRef) (cloud.Credentials, error) {
	if s.gcp == nil {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "this worker has no platform GCP identity to impersonate connected service accounts with")
	}
	conn, err := s.store.ConnectedAccount(ctx, account.OrgID, "gcp", account.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrNotFound, "GCP project %s is not connected to organization %s: connect it first", account.AccountID, account.OrgID)
	}
	if err != nil {
		return cloud.Credentials{}, err
	}
	tok, err := gcpconnect.Exchange(ctx, s.gcp.ep, s.gcp.id, account.OrgID, conn.GCPProjectNumber, conn.GCPServiceAccount, s.Duration)
	if errors.Is(err, gcpconnect.ErrNotReady) || errors.Is(err, gcpconnect.ErrCondition) {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "%v: the connection of project %s needs renewing (forceUpdate)", err, account.AccountID)
	}
	if err != nil {
		return cloud.Credentials{}, err
	}
	return cloud.Credentials{Values: map[string]string{gcp.AccessTokenKey: tok.AccessToken, gcp.ProjectKey: conn.AccountID},
		Expires: tok.ExpireTime}, nil
}
