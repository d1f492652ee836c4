// Package credsource is the worker's cloud.CredentialSource: for a connected account
// (credentials type dynamic) it assumes the account's role with the organization's
// external ID through STS (AWS), or exchanges the platform's token for the connected
// identity's (GCP, Azure); for the vault (vault, static) it opens the sealed
// credentials from the store. Credentials live in the session's memory only.
package credsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/astropulse/astroplane/awsconnect"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/store"
)

// The keys of Session.Credentials.Values for AWS, as package cloud/aws reads them.
const (
	KeyAccessKeyID     = "accessKeyId"
	KeySecretAccessKey = "secretAccessKey"
	KeySessionToken    = "sessionToken"
)

// VaultAD is the additional data a vault record's credentials are sealed with: the
// record's organization and ID, so a sealed value copied to another row (of this or
// another organization) fails to open.
func VaultAD(orgID, recordID string) []byte { return secrets.Bind("astroplane/vault", orgID, recordID) }

// Source loads accounts' credentials. It is safe for concurrent use.
type Source struct {
	store *store.Store
	box   *secrets.Box
	aws   *aws.Config
	gcp   *gcpPlatform   // gcp.go
	azure *azurePlatform // azure.go
	// Duration is how long assumed-role credentials last; default an hour (the
	// registry rebuilds a session 5 minutes before they expire).
	Duration time.Duration
}

var _ cloud.CredentialSource = (*Source)(nil)

// New returns the credential source of a worker: st holds the connections and the
// vault, box opens the vault (nil: vault credentials fail), platform is the platform's
// own AWS identity that assumes connected roles (nil: dynamic AWS credentials fail).
func New(st *store.Store, box *secrets.Box, platform *aws.Config) *Source {
	return &Source{store: st, box: box, aws: platform, Duration: time.Hour}
}

// Credentials loads account's credentials: dynamic ones by assuming the connected
// role, vault and static ones by opening the record account.VaultRef names (its ID,
// or the self-hosted cluster's name), sealing anew with the current key what an
// older key sealed. A missing connection or record is
// cloud.ErrNotFound; a record that does not open (moved, altered, or sealed under a key
// this worker lacks) cloud.ErrInvalid. Errors never hold credential values.
func (s *Source) Credentials(ctx context.Context, account cloud.AccountRef) (cloud.Credentials, error) {
	switch account.CredentialsType {
	case "dynamic", "":
		return s.dynamic(ctx, account)
	case "vault", "static":
		return s.vault(ctx, account)
	}
	return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "credentials type %q is none of dynamic, vault, static", account.CredentialsType)
}

func (s *Source) dynamic(ctx context.Context, account cloud.AccountRef) (cloud.Credentials, error) {
	switch account.Provider {
	case "gcp":
		return s.dynamicGCP(ctx, account)
	case "azure":
		return s.dynamicAzure(ctx, account)
	}
	if account.Provider != "aws" {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "dynamic credentials of %s accounts are not supported yet", account.Provider)
	}
	if s.aws == nil {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "this worker has no platform AWS identity to assume connected roles with")
	}
	conn, err := s.store.ConnectedAccount(ctx, account.OrgID, "aws", account.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrNotFound, "AWS account %s is not connected to organization %s: connect it first", account.AccountID, account.OrgID)
	}
	if err != nil {
		return cloud.Credentials{}, err
	}
	ext, err := s.store.EnsureExternalID(ctx, account.OrgID, awsconnect.NewExternalID())
	if err != nil {
		return cloud.Credentials{}, err
	}
	c, err := awsconnect.AssumeRole(ctx, *s.aws, conn.RoleARN, ext, "astroplane-worker", s.Duration)
	if errors.Is(err, awsconnect.ErrNotReady) {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "%v: the connection of account %s needs renewing (forceUpdate)", err, account.AccountID)
	}
	if err != nil {
		return cloud.Credentials{}, err
	}
	return cloud.Credentials{Values: map[string]string{KeyAccessKeyID: c.AccessKeyID, KeySecretAccessKey: c.SecretAccessKey,
		KeySessionToken: c.SessionToken}, Expires: c.Expiration}, nil
}

func (s *Source) vault(ctx context.Context, account cloud.AccountRef) (cloud.Credentials, error) {
	if s.box == nil {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "this worker has no vault key (ASTRO_ENCRYPTION_KEY)")
	}
	if account.VaultRef == "" {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "%s names no stored credentials (VaultRef)", account)
	}
	rec, err := s.store.GetSelfHostedCredentialByID(ctx, account.OrgID, account.VaultRef)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = s.store.GetSelfHostedCredential(ctx, account.OrgID, account.VaultRef)
	}
	if errors.Is(err, store.ErrNotFound) {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrNotFound, "no credentials %q in the vault of organization %s", account.VaultRef, account.OrgID)
	}
	if err != nil {
		return cloud.Credentials{}, err
	}
	plain, err := s.box.OpenBound(rec.Sealed, VaultAD(rec.OrgID, rec.ID))
	if err != nil {
		return cloud.Credentials{}, cloud.Errorf(cloud.ErrInvalid, "credentials %q of organization %s do not open: %v", account.VaultRef, account.OrgID, err)
	}
	if secrets.SealedKeyID(rec.Sealed) != s.box.KeyID() {
		// Sealed with an older key: seal it anew with the current one (rotation).
		if resealed, err := s.box.SealBound(plain, VaultAD(rec.OrgID, rec.ID)); err == nil {
			_, _ = s.store.ResealSelfHostedCredential(ctx, rec.OrgID, rec.ID, rec.Sealed, resealed, s.box.KeyID())
		}
	}
	values := map[string]string{}
	if err := json.Unmarshal(plain, &values); err != nil {
		return cloud.Credentials{}, fmt.Errorf("credentials %q: not a JSON object", account.VaultRef)
	}
	return cloud.Credentials{Values: values}, nil
}
