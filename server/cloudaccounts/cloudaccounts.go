// Package cloudaccounts answers the Cloud group's AWS and self-hosted vault
// operations: connect an AWS account (a ConnectAWSAccount workflow makes the
// CloudFormation template and waits for the role), its status, the template at its
// unguessable URL, temporary credentials (an IssueAWSCredentials workflow assumes the
// role; the credentials travel sealed to a key made for the one request, so no
// history holds them), and the self-hosted credential vault (sealed at rest with a key
// ID, bound to the organization and record, masked in every answer).
//
// The API calls no cloud: the worker does, with the platform's identity.
package cloudaccounts

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/awsconnect"
	"github.com/astropulse/astroplane/credsource"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// DefaultRegion is where a connection's stack goes when neither the request nor the
// cluster names a region.
const DefaultRegion = "us-east-1"

// Deps are the Cloud group's dependencies.
type Deps struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	// Box seals the vault's credentials; nil: the vault answers 501.
	Box   *secrets.Box
	Audit httpx.Audit
	Log   *slog.Logger
	// ConnectTimeout bounds a connection's wait for the customer's role (default an
	// hour); ConnectPoll is its first wait between attempts (default 10 s).
	ConnectTimeout, ConnectPoll time.Duration
	// CredentialsTimeout bounds the wait for temporary credentials; default 30 s.
	CredentialsTimeout time.Duration
}

// Server answers the Cloud group's AWS and vault operations.
type Server struct {
	d Deps
}

// NewServer returns the Cloud group over d.
func NewServer(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.CredentialsTimeout <= 0 {
		d.CredentialsTimeout = 30 * time.Second
	}
	return &Server{d: d}
}

// connectRequest is AwsCloudAccountRequest with duration in either form.
type connectRequest struct {
	ClusterName          string          `json:"clusterName"`
	DestinationAccountID string          `json:"destinationAccountId"`
	Duration             json.RawMessage `json:"duration"`
	ForceUpdate          bool            `json:"forceUpdate"`
	Level                string          `json:"level"`
	TargetRegion         string          `json:"targetRegion"`
}

// credentialsRequest is AwsCredentialRequest with duration in either form.
type credentialsRequest struct {
	ClusterName          string          `json:"clusterName"`
	DestinationAccountID string          `json:"destinationAccountId"`
	Duration             json.RawMessage `json:"duration"`
	TargetRegion         string          `json:"targetRegion"`
}

// ParseDuration reads a credentials' duration in either form clients send (a
// duration string such as "1h" or "30m", or an integer of nanoseconds): absent, the
// default hour; outside 15m … 12h, an error naming the bounds.
func ParseDuration(raw json.RawMessage) (time.Duration, error) {
	return parseDuration(raw, awsconnect.DefaultDuration, awsconnect.MinDuration, awsconnect.MaxDuration,
		"15m to 12h (900 to 43200 seconds, as STS allows)")
}

// ConnectAwsAccount records a connection and starts its workflow: 202 with the
// operation ID to poll. A cluster with a running connection is 409; one already
// connected too, unless forceUpdate.
func (s *Server) ConnectAwsAccount(c echo.Context, _ api.ConnectAwsAccountParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in connectRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	if _, err := ParseDuration(in.Duration); err != nil {
		return httpx.ValidationFailed(map[string]any{"duration": err.Error()})
	}
	if in.Level == "" {
		in.Level = awsconnect.LevelManage
	}
	ctx := c.Request().Context()
	account, region := in.DestinationAccountID, in.TargetRegion
	if cl, err := s.d.Store.GetCluster(ctx, p.OrgID, in.ClusterName); err == nil && cl.Provider == "aws" {
		account = cmp(account, cl.AccountID)
		region = cmp(region, cl.Region)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if account == "" {
		return unknownTarget(awsTarget, "destinationAccountId", in.ClusterName)
	}
	region = cmp(region, DefaultRegion)
	if s.d.Temporal == nil {
		return httpx.ErrNoTemporal
	}
	prior, found, err := s.priorConnection(ctx, p.OrgID, awsTarget, in.ClusterName)
	if err != nil {
		return err
	}
	if err := checkPrior(awsTarget, prior, found, in.ClusterName, in.ForceUpdate); err != nil {
		return err
	}
	conn := newConnection(p, awsTarget, in.ClusterName, in.Level, account, region)
	return s.startConnection(c, p, awsTarget, connectStart{conn: conn, forceUpdate: in.ForceUpdate,
		workflow: workflows.ConnectAWSAccount, input: workflows.ConnectAWSAccountInput{OrgID: p.OrgID, ConnectionID: conn.ID,
			Timeout: s.d.ConnectTimeout, Poll: s.d.ConnectPoll},
		audit: map[string]any{"accountId": account}, setup: "setup link"})
}

// GetAwsConnectionStatus answers a connection's state, steps and setup link.
func (s *Server) GetAwsConnectionStatus(c echo.Context, id string, _ api.GetAwsConnectionStatusParams) error {
	return s.connectionStatus(c, awsTarget, id, connectionView)
}

// reconcile closes a connection the store still shows running whose workflow has
// ended without recording it (its worker lost, its execution timed out or was
// terminated): the record then says FAILED or CANCELLED with Temporal's status, and
// the cluster may connect again. A connection whose workflow runs, or whose state
// Temporal cannot tell now, is returned as it is.
func (s *Server) reconcile(ctx context.Context, conn store.CloudConnection) store.CloudConnection {
	if conn.EndedAt != nil || s.d.Temporal == nil {
		return conn
	}
	d, err := s.d.Temporal.DescribeWorkflow(ctx, conn.ID, "")
	var notFound *serviceerror.NotFound
	var st enums.WorkflowExecutionStatus
	switch {
	case errors.As(err, &notFound):
		st = enums.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED
		if time.Since(conn.CreatedAt) < time.Minute {
			return conn // its start may still be under way
		}
	case err != nil:
		return conn
	default:
		st = d.Status
		if st == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
			return conn
		}
	}
	// The workflow may have recorded its end meanwhile: read again before closing.
	if fresh, err := s.d.Store.GetCloudConnection(ctx, conn.OrgID, conn.ID); err != nil || fresh.EndedAt != nil {
		if err == nil {
			return fresh
		}
		return conn
	}
	status, msg := store.ConnectionFailed, "the connection workflow ended without recording its outcome"
	switch st {
	case enums.WORKFLOW_EXECUTION_STATUS_CANCELED:
		status, msg = store.ConnectionCancelled, "the connection was cancelled"
	case enums.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		msg = "the connection workflow timed out"
	case enums.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		msg = "the connection workflow was terminated"
	case enums.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED:
		msg = "the connection workflow never started or is gone"
	}
	now := time.Now().UTC()
	if err := s.d.Store.UpdateCloudConnection(ctx, conn.OrgID, conn.ID, map[string]any{"status": status, "message": msg, "ended_at": now}); err != nil {
		return conn
	}
	conn.Status, conn.Message, conn.EndedAt = status, msg, &now
	return conn
}

func cmpDuration(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

func connectionView(conn store.CloudConnection) map[string]any {
	out := map[string]any{"operationId": conn.ID, "provider": conn.Provider, "clusterName": conn.ClusterName,
		"status": conn.Status, "level": conn.Level, "message": conn.Message, "startedAt": conn.CreatedAt.UTC()}
	if conn.EndedAt != nil {
		out["completedAt"] = conn.EndedAt.UTC()
	}
	if conn.Deadline != nil && conn.EndedAt == nil {
		out["deadline"] = conn.Deadline.UTC()
	}
	steps := []activities.ConnectionStep{}
	if len(conn.Steps) > 0 {
		_ = json.Unmarshal(conn.Steps, &steps)
	}
	out["steps"] = steps
	aws := map[string]any{"accountId": conn.AccountID, "region": conn.Region}
	for k, v := range map[string]string{"roleArn": conn.RoleARN, "roleName": conn.RoleName, "stackName": conn.StackName,
		"stackId": conn.StackID, "setupUrl": conn.SetupURL} {
		if v != "" {
			aws[k] = v
		}
	}
	if conn.SetupURL != "" && conn.Status != store.ConnectionConnected {
		// The template (and its link) matter until the role exists.
		aws["externalId"] = externalIDOf(conn.SetupURL)
	}
	out["aws"] = aws
	return out
}

// externalIDOf reads the external ID from a quick-create link (param_ExternalId).
func externalIDOf(link string) string {
	_, q, ok := strings.Cut(link, "quickcreate?")
	if !ok {
		return ""
	}
	for _, kv := range strings.Split(q, "&") {
		if v, ok := strings.CutPrefix(kv, "param_ExternalId="); ok {
			return v
		}
	}
	return ""
}

// GetAwsConnectionTemplate serves a connection's CloudFormation template to whoever
// holds its unguessable URL (the CloudFormation console fetches it unauthenticated).
func (s *Server) GetAwsConnectionTemplate(c echo.Context, token string) error {
	conn, err := s.d.Store.CloudConnectionByTemplateToken(c.Request().Context(), token)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (len(conn.Template) == 0 || conn.Provider != "aws")) {
		return httpx.NotFound("template")
	}
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, conn.Template)
}

// GetAwsCredentials answers temporary credentials of the cluster's connected account:
// assumed by the worker with the organization's external ID for the duration asked
// (15m … 12h, default 1h), handed over sealed to a key made for this request, answered
// once, never stored, audited without the secret.
func (s *Server) GetAwsCredentials(c echo.Context, _ api.GetAwsCredentialsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in credentialsRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	d, err := ParseDuration(in.Duration)
	if err != nil {
		return httpx.ValidationFailed(map[string]any{"duration": err.Error()})
	}
	conn, err := s.connectedTo(c.Request().Context(), p.OrgID, awsTarget, in.ClusterName)
	if err != nil {
		return err
	}
	if in.DestinationAccountID != "" && in.DestinationAccountID != conn.AccountID {
		return notConnectedTo(awsTarget, "destinationAccountId", in.ClusterName, conn.AccountID, in.DestinationAccountID)
	}
	return issueCredentials(s, c, p, awsTarget, issue{cluster: in.ClusterName, conn: conn, d: d,
		workflow: workflows.IssueAWSCredentials, input: func(recipient []byte) any {
			return workflows.IssueAWSCredentialsInput{OrgID: p.OrgID, ConnectionID: conn.ID, Duration: d, RecipientKey: recipient}
		},
		audit: map[string]any{"accountId": conn.AccountID, "roleArn": conn.RoleARN},
		gone:  fmt.Sprintf("the role %s of cluster %q can no longer be assumed; connect the account again (forceUpdate)", conn.RoleARN, in.ClusterName)},
		func(key *ecdh.PrivateKey, res activities.IssueAWSCredentialsResult) (map[string]any, time.Time, error) {
			creds, err := activities.OpenCredentials(key, res.Sealed)
			if err != nil {
				return nil, time.Time{}, err
			}
			return map[string]any{"accessKeyId": creds.AccessKeyID, "secretAccessKey": creds.SecretAccessKey,
				"sessionToken": creds.SessionToken, "expiration": creds.Expiration.UTC(), "accountId": res.AccountID,
				"region": conn.Region, "roleArn": res.RoleARN}, res.Expiration, nil
		})
}

// vaultRequest is SelfHostedCredentialsRequest.
type vaultRequest struct {
	AccountID   string            `json:"accountId"`
	BucketName  string            `json:"bucketName"`
	ClusterName string            `json:"clusterName"`
	Credentials map[string]string `json:"credentials"`
	ForceUpdate bool              `json:"forceUpdate"`
	Provider    string            `json:"provider"`
	Region      string            `json:"region"`
}

// VaultAD is the additional data a vault record's credentials are sealed with: its
// organization and its ID, so a sealed value copied to another row fails to open.
func VaultAD(orgID, id string) []byte { return credsource.VaultAD(orgID, id) }

// StoreSelfHostedCredentials seals and stores a self-hosted cluster's credentials:
// 201 with their status (names and masked values only). Credentials already stored
// are 409 unless forceUpdate.
func (s *Server) StoreSelfHostedCredentials(c echo.Context, _ api.StoreSelfHostedCredentialsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	if s.d.Box == nil {
		return httpx.NotImplemented("storeSelfHostedCredentials (no ASTRO_ENCRYPTION_KEY on this server)")
	}
	var in vaultRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	faults := map[string]any{}
	for k, v := range in.Credentials {
		if strings.TrimSpace(k) == "" || strings.Contains(k, ",") {
			faults["credentials"] = "keys must be non-empty names without commas"
		}
		if v == "" {
			faults["credentials."+k] = "must not be empty"
		}
	}
	if len(faults) > 0 {
		return httpx.ValidationFailed(faults)
	}
	ctx := c.Request().Context()
	rec, err := s.d.Store.GetSelfHostedCredential(ctx, p.OrgID, in.ClusterName)
	exists := err == nil
	switch {
	case exists && !in.ForceUpdate:
		return httpx.Conflict(fmt.Sprintf("cluster %q already has credentials in the vault; send forceUpdate to replace them", in.ClusterName),
			map[string]any{"forceUpdate": "false"})
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	}
	if !exists {
		rec = store.SelfHostedCredential{ID: store.NewID(), OrgID: p.OrgID, ClusterName: in.ClusterName}
	}
	plain, err := json.Marshal(in.Credentials)
	if err != nil {
		return err
	}
	sealed, err := s.d.Box.SealBound(plain, VaultAD(p.OrgID, rec.ID))
	if err != nil {
		return err
	}
	rec.Provider, rec.AccountID, rec.BucketName, rec.Region = in.Provider, in.AccountID, in.BucketName, in.Region
	rec.CredentialKeys, rec.Sealed, rec.KeyID, rec.UpdatedBy = strings.Join(keysOf(in.Credentials), ","), sealed, s.d.Box.KeyID(), p.UserID
	if exists {
		err = s.d.Store.ReplaceSelfHostedCredential(ctx, &rec)
	} else {
		err = s.d.Store.CreateSelfHostedCredential(ctx, &rec)
	}
	if errors.Is(err, store.ErrConflict) {
		return httpx.Conflict(fmt.Sprintf("cluster %q got credentials meanwhile; send forceUpdate to replace them", in.ClusterName), nil)
	}
	if err != nil {
		return err
	}
	ev := httpx.NewAuditEvent(c, p, "CLOUD_ACCOUNT", map[bool]string{true: "UPDATE", false: "CREATE"}[exists], "vault/"+in.ClusterName, store.OutcomeSuccess)
	ev.Details = httpx.MustJSON(map[string]any{"clusterName": in.ClusterName, "provider": in.Provider, "accountId": in.AccountID,
		"credentialKeys": keysOf(in.Credentials), "keyId": rec.KeyID})
	s.d.Audit.RecordEvent(c, ev)
	if rec, err = s.d.Store.GetSelfHostedCredential(ctx, p.OrgID, in.ClusterName); err != nil {
		return err
	}
	view := vaultView(rec, true)
	view["maskedCredentials"] = masked(in.Credentials)
	return c.JSON(http.StatusCreated, httpx.Envelope{Data: view, ID: httpx.TraceID(c), Status: "success",
		Message: fmt.Sprintf("credentials of cluster %q stored encrypted; they are never shown again", in.ClusterName)})
}

// DeleteSelfHostedCredentials removes a cluster's credentials from the vault.
func (s *Server) DeleteSelfHostedCredentials(c echo.Context, params api.DeleteSelfHostedCredentialsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	err = s.d.Store.DeleteSelfHostedCredential(c.Request().Context(), p.OrgID, params.ClusterName)
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound(fmt.Sprintf("credentials of cluster %q", params.ClusterName))
	}
	if err != nil {
		return err
	}
	return httpx.OK(c, map[string]any{"clusterName": params.ClusterName, "deleted": true},
		fmt.Sprintf("credentials of cluster %q removed from the vault", params.ClusterName))
}

// GetSelfHostedCredentialStatus answers whether a cluster has credentials in the
// vault, their names and masked values, never the values.
func (s *Server) GetSelfHostedCredentialStatus(c echo.Context, params api.GetSelfHostedCredentialStatusParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	rec, err := s.d.Store.GetSelfHostedCredential(c.Request().Context(), p.OrgID, params.ClusterName)
	if errors.Is(err, store.ErrNotFound) {
		return httpx.OK(c, map[string]any{"clusterName": params.ClusterName, "stored": false},
			fmt.Sprintf("cluster %q has no credentials in the vault", params.ClusterName))
	}
	if err != nil {
		return err
	}
	view := vaultView(rec, true)
	if s.d.Box != nil {
		if plain, err := s.d.Box.OpenBound(rec.Sealed, VaultAD(rec.OrgID, rec.ID)); err == nil {
			var creds map[string]string
			if json.Unmarshal(plain, &creds) == nil {
				view["maskedCredentials"] = masked(creds)
			}
		} else {
			s.d.Log.WarnContext(c.Request().Context(), "vault record does not open", "err", err, "orgID", rec.OrgID, "clusterName", rec.ClusterName)
		}
	}
	return httpx.OK(c, view, fmt.Sprintf("cluster %q has credentials in the vault", params.ClusterName))
}

func vaultView(rec store.SelfHostedCredential, stored bool) map[string]any {
	keys := []string{}
	if rec.CredentialKeys != "" {
		keys = strings.Split(rec.CredentialKeys, ",")
	}
	return map[string]any{"clusterName": rec.ClusterName, "stored": stored, "provider": rec.Provider,
		"accountId": rec.AccountID, "bucketName": rec.BucketName, "region": rec.Region, "credentialKeys": keys,
		"keyId": rec.KeyID, "createdAt": rec.CreatedAt.UTC(), "updatedAt": rec.UpdatedAt.UTC()}
}

func masked(creds map[string]string) map[string]string {
	out := make(map[string]string, len(creds))
	for k, v := range creds {
		out[k] = secrets.Mask(v)
	}
	return out
}

func keysOf(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
