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

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/awsconnect"
	"github.com/astropulse/astroplane/store"
)

// Error types of the cloud account activities.
const (
	// ErrTypeTrustPolicy: the role exists but does not require the external ID.
	ErrTypeTrustPolicy = "TrustPolicy"
	// ErrTypeNotConnected: no connected account to act through.
	ErrTypeNotConnected = "NotConnected"
	// ErrTypeNotConfigured: this worker has no platform AWS identity.
	ErrTypeNotConfigured = "NotConfigured"
)

// CloudAccounts holds the dependencies of the cloud account activities: connecting
// AWS accounts (template, verification, records) and issuing temporary credentials.
// Nothing they return to a workflow is a credential in the clear.
type CloudAccounts struct {
	Store *store.Store
	// AWS is the platform's own AWS identity: the principal customers' roles trust,
	// which calls STS. Nil: AWS connections fail with ErrTypeNotConfigured.
	AWS *aws.Config
	// PlatformPrincipal is the ARN customers' roles trust (ASTRO_AWS_PLATFORM_PRINCIPAL),
	// the principal AWS runs as.
	PlatformPrincipal string
	// TemplateBaseURL is where the API serves connection templates: the template's
	// URL is TemplateBaseURL + its token (cmd/worker: ASTRO_PUBLIC_URL +
	// "/api/v1/cloud/aws/templates/"). Used when TemplateBucket is empty.
	TemplateBaseURL string
	// TemplateBucket, when set, is the platform's S3 bucket templates are published
	// to (awsconnect.PublishTemplate), as the CloudFormation console reads a
	// quick-create link's template from Amazon S3 only; TemplateBucketURL is its
	// public base URL (default https://BUCKET.s3.amazonaws.com/).
	TemplateBucket, TemplateBucketURL string
	// GCP is the platform's GCP identity (gcpconnect.go); nil: GCP connections fail
	// with ErrTypeNotConfigured.
	GCP *GCPPlatform
	// Azure is the platform's Azure identity (azureconnect.go); nil: Azure
	// connections fail with ErrTypeNotConfigured.
	Azure *AzurePlatform
}

// ConnectionStep is one step of a connection workflow as its status shows it.
type ConnectionStep struct {
	Name      string     `json:"name"`
	Status    string     `json:"status"` // PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED
	Message   string     `json:"message,omitempty"`
	StartedAt *time.Time `json:"startedAt,omitempty"`
	EndedAt   *time.Time `json:"endedAt,omitempty"`
}

// PrepareAWSConnectionInput names the connection whose template to make.
type PrepareAWSConnectionInput struct {
	OrgID        string
	ConnectionID string
}

// PrepareAWSConnectionResult is what the workflow waits for: the role to assume with
// the organization's external ID (not a secret) in the account.
type PrepareAWSConnectionResult struct {
	AccountID  string
	RoleName   string
	ExternalID string
	SetupURL   string
}

// PrepareAWSConnection makes the connection's template (with the organization's
// external ID, generated on its first connection and kept) and quick-create link, and
// records them on the connection. Repeated, it records the same template under the
// token it already has.
func (a *CloudAccounts) PrepareAWSConnection(ctx context.Context, in PrepareAWSConnectionInput) (PrepareAWSConnectionResult, error) {
	if a.PlatformPrincipal == "" || (a.TemplateBaseURL == "" && a.TemplateBucket == "") {
		return PrepareAWSConnectionResult{}, temporal.NewNonRetryableApplicationError(
			"this worker has no platform AWS principal or template URL (ASTRO_AWS_PLATFORM_PRINCIPAL, ASTRO_PUBLIC_URL)", ErrTypeNotConfigured, nil)
	}
	c, err := a.Store.GetCloudConnection(ctx, in.OrgID, in.ConnectionID)
	if errors.Is(err, store.ErrNotFound) {
		return PrepareAWSConnectionResult{}, temporal.NewNonRetryableApplicationError("connection "+in.ConnectionID+" not found", ErrTypeNotFound, err)
	}
	if err != nil {
		return PrepareAWSConnectionResult{}, err
	}
	ext, err := a.Store.EnsureExternalID(ctx, in.OrgID, awsconnect.NewExternalID())
	if err != nil {
		return PrepareAWSConnectionResult{}, err
	}
	role := awsconnect.RoleName(c.ClusterName)
	tpl, err := awsconnect.Template(awsconnect.TemplateInput{PlatformPrincipal: a.PlatformPrincipal, ExternalID: ext,
		RoleName: role, Level: c.Level, Cluster: c.ClusterName})
	if err != nil {
		return PrepareAWSConnectionResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, err)
	}
	token := c.TemplateToken
	if token == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		token = base64.RawURLEncoding.EncodeToString(b)
	}
	var createEKSRoles *bool
	if c.Level == awsconnect.LevelManage {
		// The EKS roles are account-wide: a second manage connection in the account
		// must not create them again.
		other, err := a.Store.ConnectedAccount(ctx, in.OrgID, "aws", c.AccountID)
		create := errors.Is(err, store.ErrNotFound) || (err == nil && other.Level != awsconnect.LevelManage)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return PrepareAWSConnectionResult{}, err
		}
		createEKSRoles = &create
	}
	templateURL := strings.TrimSuffix(a.TemplateBaseURL, "/") + "/" + token
	if a.TemplateBucket != "" {
		if a.AWS == nil {
			return PrepareAWSConnectionResult{}, temporal.NewNonRetryableApplicationError("this worker has no platform AWS identity to publish templates with", ErrTypeNotConfigured, nil)
		}
		if templateURL, err = awsconnect.PublishTemplate(ctx, *a.AWS, a.TemplateBucket, a.TemplateBucketURL, token, tpl); err != nil {
			return PrepareAWSConnectionResult{}, err
		}
	}
	link := awsconnect.QuickCreateURL(c.Region, templateURL, awsconnect.StackName(c.ClusterName), ext, createEKSRoles)
	err = a.Store.UpdateCloudConnection(ctx, in.OrgID, in.ConnectionID, map[string]any{
		"template": tpl, "template_token": token, "setup_url": link, "role_name": role,
		"role_arn": awsconnect.RoleARN(c.AccountID, role), "stack_name": awsconnect.StackName(c.ClusterName)})
	if err != nil {
		return PrepareAWSConnectionResult{}, err
	}
	return PrepareAWSConnectionResult{AccountID: c.AccountID, RoleName: role, ExternalID: ext, SetupURL: link}, nil
}

// VerifyAWSRoleInput names the role a connection waits for.
type VerifyAWSRoleInput struct {
	AccountID  string
	RoleName   string
	ExternalID string
}

// VerifyAWSRoleResult says whether the role could be assumed; Reason says why not.
type VerifyAWSRoleResult struct {
	Ready   bool
	Reason  string
	RoleARN string
}

// VerifyAWSRole tries once to assume the role with the external ID and read it (see
// awsconnect.Verify). A role not there yet is Ready false with the reason, for the
// workflow's backoff; a role whose trust policy lacks the external ID is a
// non-retryable TrustPolicy error; anything else (network, throttling) is retried.
func (a *CloudAccounts) VerifyAWSRole(ctx context.Context, in VerifyAWSRoleInput) (VerifyAWSRoleResult, error) {
	if a.AWS == nil {
		return VerifyAWSRoleResult{}, temporal.NewNonRetryableApplicationError("this worker has no platform AWS identity", ErrTypeNotConfigured, nil)
	}
	v, err := awsconnect.Verify(ctx, *a.AWS, in.AccountID, in.RoleName, in.ExternalID)
	switch {
	case err == nil:
		return VerifyAWSRoleResult{Ready: true, RoleARN: v.RoleARN}, nil
	case errors.Is(err, awsconnect.ErrNotReady):
		return VerifyAWSRoleResult{Reason: err.Error()}, nil
	case errors.Is(err, awsconnect.ErrTrustPolicy):
		return VerifyAWSRoleResult{}, temporal.NewNonRetryableApplicationError(err.Error()+
			": create the stack from the setup link unchanged (its trust policy requires your external ID)", ErrTypeTrustPolicy, err)
	}
	return VerifyAWSRoleResult{}, err
}

// RecordConnectionInput is a connection's state as its workflow sees it.
type RecordConnectionInput struct {
	OrgID        string
	ConnectionID string
	Status       string
	Message      string
	Steps        []ConnectionStep
	RoleARN      string     // set once connected
	Deadline     *time.Time // when the wait for the role gives up
	ConnectedAt  *time.Time
	// Ended closes the connection (no longer running: another may start).
	Ended bool
}

// RecordConnection records a connection's status, message and steps.
func (a *CloudAccounts) RecordConnection(ctx context.Context, in RecordConnectionInput) error {
	steps, err := json.Marshal(in.Steps)
	if err != nil {
		return err
	}
	fields := map[string]any{"status": in.Status, "message": truncate(in.Message, 1000), "steps": steps}
	if in.RoleARN != "" {
		fields["role_arn"] = in.RoleARN
	}
	if in.Deadline != nil {
		fields["deadline"] = *in.Deadline
	}
	if in.ConnectedAt != nil {
		fields["connected_at"] = *in.ConnectedAt
	}
	if in.Ended {
		fields["ended_at"] = time.Now().UTC()
	}
	err = a.Store.UpdateCloudConnection(ctx, in.OrgID, in.ConnectionID, fields)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError("connection "+in.ConnectionID+" not found", ErrTypeNotFound, err)
	}
	return err
}

// IssueAWSCredentialsInput asks for temporary credentials of orgID's connected
// account, sealed to RecipientKey.
type IssueAWSCredentialsInput struct {
	OrgID        string
	ConnectionID string
	Duration     time.Duration
	// RecipientKey is an X25519 public key of the API's, made for this one request:
	// the credentials travel sealed to it (HPKE), so the workflow's history holds
	// only a ciphertext no one can open once the request has ended.
	RecipientKey []byte
}

// IssueAWSCredentialsResult carries the credentials sealed (see SealedCredentials).
type IssueAWSCredentialsResult struct {
	Sealed     []byte
	Expiration time.Time
	RoleARN    string
	AccountID  string
}

// CredentialsHPKEInfo is the HPKE info string credentials are sealed under.
const CredentialsHPKEInfo = "astroplane aws temporary credentials v1" //nolint:gosec // a label of the encryption, not a credential

// IssueAWSCredentials assumes the connection's role with its external ID for
// in.Duration and returns the credentials sealed to in.RecipientKey.
func (a *CloudAccounts) IssueAWSCredentials(ctx context.Context, in IssueAWSCredentialsInput) (IssueAWSCredentialsResult, error) {
	if a.AWS == nil {
		return IssueAWSCredentialsResult{}, temporal.NewNonRetryableApplicationError("this worker has no platform AWS identity", ErrTypeNotConfigured, nil)
	}
	c, err := a.Store.GetCloudConnection(ctx, in.OrgID, in.ConnectionID)
	if err == nil && c.Status != store.ConnectionConnected {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return IssueAWSCredentialsResult{}, temporal.NewNonRetryableApplicationError("no connected AWS account "+in.ConnectionID, ErrTypeNotConnected, err)
	}
	if err != nil {
		return IssueAWSCredentialsResult{}, err
	}
	pub, err := ecdh.X25519().NewPublicKey(in.RecipientKey)
	if err != nil {
		return IssueAWSCredentialsResult{}, temporal.NewNonRetryableApplicationError("recipient key: "+err.Error(), ErrTypeInvalidInput, err)
	}
	ext, err := a.Store.EnsureExternalID(ctx, in.OrgID, awsconnect.NewExternalID())
	if err != nil {
		return IssueAWSCredentialsResult{}, err
	}
	creds, err := awsconnect.AssumeRole(ctx, *a.AWS, c.RoleARN, ext, "astroplane-"+c.ClusterName, in.Duration)
	if errors.Is(err, awsconnect.ErrNotReady) {
		return IssueAWSCredentialsResult{}, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeNotConnected, err)
	}
	if err != nil {
		return IssueAWSCredentialsResult{}, err
	}
	sealed, err := SealCredentials(pub, creds)
	if err != nil {
		return IssueAWSCredentialsResult{}, err
	}
	return IssueAWSCredentialsResult{Sealed: sealed, Expiration: creds.Expiration, RoleARN: c.RoleARN, AccountID: c.AccountID}, nil
}

// SealCredentials seals creds (as JSON) to the recipient's X25519 key with HPKE
// (DHKEM X25519, HKDF-SHA256, AES-256-GCM).
func SealCredentials(recipient *ecdh.PublicKey, creds awsconnect.Credentials) ([]byte, error) {
	pk, err := hpke.NewDHKEMPublicKey(recipient)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(creds) //nolint:gosec // marshaled to be sealed at once: the plaintext never leaves this function
	if err != nil {
		return nil, err
	}
	return hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(CredentialsHPKEInfo), raw)
}

// OpenCredentials opens what SealCredentials sealed to priv's public key.
func OpenCredentials(priv *ecdh.PrivateKey, sealed []byte) (awsconnect.Credentials, error) {
	var creds awsconnect.Credentials
	k, err := hpke.NewDHKEMPrivateKey(priv)
	if err != nil {
		return creds, err
	}
	raw, err := hpke.Open(k, hpke.HKDFSHA256(), hpke.AES256GCM(), []byte(CredentialsHPKEInfo), sealed)
	if err != nil {
		return creds, fmt.Errorf("open credentials: %w", err)
	}
	if err := json.Unmarshal(raw, &creds); err != nil {
		return awsconnect.Credentials{}, fmt.Errorf("open credentials: %w", err)
	}
	return creds, nil
}
