package cloudaccounts

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/gcpconnect"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// gcpConnectRequest is GcpCloudAccountRequest with duration in either form.
type gcpConnectRequest struct {
	ClusterName         string          `json:"clusterName"`
	Duration            json.RawMessage `json:"duration"`
	ForceUpdate         bool            `json:"forceUpdate"`
	Level               string          `json:"level"`
	TargetProjectID     string          `json:"targetProjectId"`
	TargetProjectNumber string          `json:"targetProjectNumber"`
	TargetRegion        string          `json:"targetRegion"`
}

// gcpCredentialsRequest is GcpCredentialRequest with duration in either form.
type gcpCredentialsRequest struct {
	ClusterName     string          `json:"clusterName"`
	Duration        json.RawMessage `json:"duration"`
	TargetProjectID string          `json:"targetProjectId"`
	TargetRegion    string          `json:"targetRegion"`
}

// ParseGCPDuration reads a GCP token's lifetime in either form clients send:
// absent, the default hour; outside 5m … 1h (generateAccessToken's bounds without
// an organization policy extending them), an error naming the bounds.
func ParseGCPDuration(raw json.RawMessage) (time.Duration, error) {
	d, given, err := httpx.ParseJSONDuration(raw)
	if err != nil {
		return 0, err
	}
	if !given {
		return gcpconnect.DefaultDuration, nil
	}
	if d < gcpconnect.MinDuration || d > gcpconnect.MaxDuration {
		return 0, fmt.Errorf("%s is outside 5m to 1h (what generateAccessToken allows without an organization policy extending it)", d)
	}
	return d, nil
}

// ConnectGcpProject records a GCP connection and starts its workflow: 202 with the
// operation ID to poll, whose status carries the setup script. A cluster with a
// running connection is 409; one already connected too, unless forceUpdate.
func (s *Server) ConnectGcpProject(c echo.Context, _ api.ConnectGcpProjectParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in gcpConnectRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	faults := map[string]any{}
	if _, err := ParseGCPDuration(in.Duration); err != nil {
		faults["duration"] = err.Error()
	}
	if in.Level == "" {
		in.Level = gcpconnect.LevelManage
	}
	if _, err := gcpconnect.Roles(in.Level); err != nil {
		faults["level"] = err.Error()
	}
	if in.TargetProjectNumber == "" {
		faults["targetProjectNumber"] = "required: gcloud projects describe PROJECT_ID --format='value(projectNumber)'"
	} else if err := gcpconnect.CheckProjectNumber(in.TargetProjectNumber); err != nil {
		faults["targetProjectNumber"] = err.Error()
	}
	if in.TargetProjectID != "" {
		if err := gcpconnect.CheckProjectID(in.TargetProjectID); err != nil {
			faults["targetProjectId"] = err.Error()
		}
	}
	if len(faults) > 0 {
		return httpx.ValidationFailed(faults)
	}
	ctx := c.Request().Context()
	project, region := in.TargetProjectID, in.TargetRegion
	if cl, err := s.d.Store.GetCluster(ctx, p.OrgID, in.ClusterName); err == nil && cl.Provider == "gcp" {
		project = cmp(project, cl.AccountID)
		region = cmp(region, cl.Region)
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if project == "" {
		return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
			Message: fmt.Sprintf("the GCP project to connect is unknown: no GCP cluster %q names one; give targetProjectId", in.ClusterName),
			Details: map[string]any{"targetProjectId": "required when the cluster does not name its GCP project"}}
	}
	if err := gcpconnect.CheckProjectID(project); err != nil {
		return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
			Message: fmt.Sprintf("cluster %q names a GCP project that is not a project ID: give targetProjectId", in.ClusterName),
			Details: map[string]any{"targetProjectId": err.Error()}}
	}
	if s.d.Temporal == nil {
		return httpx.ErrNoTemporal
	}
	prior, err := s.d.Store.LatestCloudConnection(ctx, p.OrgID, "gcp", in.ClusterName)
	if err == nil {
		prior = s.reconcile(ctx, prior)
	}
	switch {
	case err == nil && prior.EndedAt == nil:
		return httpx.Conflict(fmt.Sprintf("connection %s of cluster %q is still running", prior.ID, in.ClusterName),
			map[string]any{"operationId": prior.ID})
	case err == nil && prior.Status == store.ConnectionConnected && !in.ForceUpdate:
		return httpx.Conflict(fmt.Sprintf("cluster %q is already connected to GCP project %s (connection %s); send forceUpdate to connect again",
			in.ClusterName, prior.AccountID, prior.ID), map[string]any{"operationId": prior.ID, "forceUpdate": "false"})
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return err
	case err == nil:
		region = cmp(region, prior.Region) // forceUpdate keeps what the request leaves out
	}
	org := p.OrgName
	if org == "" {
		org = p.OrgID
	}
	conn := store.CloudConnection{ID: workflows.OperationID(org, in.ClusterName, workflows.OpConnectGCP, randomSuffix()),
		OrgID: p.OrgID, Provider: "gcp", ClusterName: in.ClusterName, Level: in.Level, Status: store.ConnectionPending,
		Message: "starting", AccountID: project, GCPProjectNumber: in.TargetProjectNumber, Region: region, CreatedBy: p.UserID}
	if err := s.d.Store.CreateCloudConnection(ctx, &conn); errors.Is(err, store.ErrConflict) {
		return httpx.Conflict(fmt.Sprintf("a connection of cluster %q is already running", in.ClusterName), nil)
	} else if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err = s.d.Temporal.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
		ID: conn.ID, TaskQueue: s.d.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.AttrOrgID.ValueSet(p.OrgID), workflows.AttrClusterName.ValueSet(in.ClusterName),
			workflows.AttrOperationType.ValueSet(workflows.OpConnectGCP), workflows.AttrProvider.ValueSet("gcp")),
		StaticSummary:            fmt.Sprintf("connect GCP project %s for cluster %s", project, in.ClusterName),
		WorkflowExecutionTimeout: cmpDuration(s.d.ConnectTimeout, workflows.DefaultConnectTimeout) + 15*time.Minute,
	}, workflows.ConnectGCPProject, workflows.ConnectGCPProjectInput{OrgID: p.OrgID, ConnectionID: conn.ID,
		Timeout: s.d.ConnectTimeout, Poll: s.d.ConnectPoll})
	if err != nil {
		now := time.Now().UTC()
		_ = s.d.Store.UpdateCloudConnection(sctx, p.OrgID, conn.ID, map[string]any{"status": store.ConnectionFailed,
			"message": "the connection workflow could not be started", "ended_at": now})
		return fmt.Errorf("start connection workflow: %w", err)
	}
	ev := httpx.NewAuditEvent(c, p, "CLOUD_ACCOUNT", "CONNECT", conn.ID, store.OutcomeSuccess)
	ev.Details = httpx.MustJSON(map[string]any{"provider": "gcp", "clusterName": in.ClusterName, "projectId": project,
		"projectNumber": in.TargetProjectNumber, "level": in.Level, "region": region, "forceUpdate": in.ForceUpdate})
	s.d.Audit.RecordEvent(c, ev)
	return httpx.Accepted(c, map[string]any{"operationId": conn.ID, "status": store.ConnectionPending, "provider": "gcp",
		"clusterName": in.ClusterName}, fmt.Sprintf("connecting GCP project %s: poll GET /api/v1/cloud/gcp/connections/%s for the setup script", project, conn.ID))
}

// GetGcpConnectionStatus answers a GCP connection's state, steps and setup script.
func (s *Server) GetGcpConnectionStatus(c echo.Context, id string, _ api.GetGcpConnectionStatusParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	conn, err := s.d.Store.GetCloudConnection(c.Request().Context(), p.OrgID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && conn.Provider != "gcp") {
		return httpx.NotFound("GCP connection " + id)
	}
	if err != nil {
		return err
	}
	conn = s.reconcile(c.Request().Context(), conn)
	return httpx.OK(c, gcpConnectionView(conn), conn.Message)
}

func gcpConnectionView(conn store.CloudConnection) map[string]any {
	out := connectionView(conn)
	delete(out, "aws")
	gcp := map[string]any{"projectId": conn.AccountID, "projectNumber": conn.GCPProjectNumber}
	if conn.Region != "" {
		gcp["region"] = conn.Region
	}
	if conn.GCPServiceAccount != "" {
		gcp["serviceAccountEmail"] = conn.GCPServiceAccount
	}
	if pool, _, ok := strings.Cut(conn.GCPPoolProvider, "/providers/"); ok {
		gcp["workloadIdentityPool"] = pool
		gcp["workloadIdentityProvider"] = conn.GCPPoolProvider
	}
	if len(conn.Template) > 0 && conn.Status != store.ConnectionConnected {
		// The script matters until the federation works.
		gcp["setupScript"] = string(conn.Template)
		if conn.SetupURL != "" {
			gcp["setupScriptUrl"] = conn.SetupURL
		}
	}
	out["gcp"] = gcp
	return out
}

// GetGcpSetupScript serves a GCP connection's setup script to whoever holds its
// unguessable URL (curl … | bash in Cloud Shell). It holds no secret.
func (s *Server) GetGcpSetupScript(c echo.Context, token string) error {
	conn, err := s.d.Store.CloudConnectionByTemplateToken(c.Request().Context(), token)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (conn.Provider != "gcp" || len(conn.Template) == 0)) {
		return httpx.NotFound("setup script")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/x-shellscript; charset=utf-8", conn.Template)
}

// GetGcpCredentials answers a temporary access token of the cluster's connected
// project's service account: exchanged by the worker with the organization's token
// for the duration asked (5m … 1h, default 1h), handed over sealed to a key made for
// this request, answered once, never stored, audited without the token.
func (s *Server) GetGcpCredentials(c echo.Context, _ api.GetGcpCredentialsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in gcpCredentialsRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	d, err := ParseGCPDuration(in.Duration)
	if err != nil {
		return httpx.ValidationFailed(map[string]any{"duration": err.Error()})
	}
	if in.TargetProjectID != "" {
		if err := gcpconnect.CheckProjectID(in.TargetProjectID); err != nil {
			return httpx.ValidationFailed(map[string]any{"targetProjectId": err.Error()})
		}
	}
	ctx := c.Request().Context()
	conn, err := s.d.Store.LatestCloudConnection(ctx, p.OrgID, "gcp", in.ClusterName, store.ConnectionConnected)
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound(fmt.Sprintf("connected GCP project of cluster %q (connect it: POST /api/v1/cloud/gcp/connections)", in.ClusterName))
	}
	if err != nil {
		return err
	}
	if in.TargetProjectID != "" && in.TargetProjectID != conn.AccountID {
		return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
			Message: fmt.Sprintf("cluster %q is connected to GCP project %s, not %s", in.ClusterName, conn.AccountID, in.TargetProjectID),
			Details: map[string]any{"targetProjectId": "not the connected project"}}
	}
	if s.d.Temporal == nil {
		return httpx.ErrNoTemporal
	}
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	org := p.OrgName
	if org == "" {
		org = p.OrgID
	}
	wctx, cancel := context.WithTimeout(ctx, s.d.CredentialsTimeout)
	defer cancel()
	run, err := s.d.Temporal.ExecuteWorkflow(wctx, client.StartWorkflowOptions{
		ID: workflows.OperationID(org, in.ClusterName, "gcp-credentials", randomSuffix()), TaskQueue: s.d.TaskQueue,
		WorkflowExecutionTimeout: s.d.CredentialsTimeout,
		StaticSummary:            fmt.Sprintf("temporary GCP credentials for cluster %s", in.ClusterName),
	}, workflows.IssueGCPCredentials, workflows.IssueGCPCredentialsInput{OrgID: p.OrgID, ConnectionID: conn.ID,
		Duration: d, RecipientKey: key.PublicKey().Bytes()})
	if err != nil {
		return fmt.Errorf("start credentials workflow: %w", err)
	}
	var res activities.IssueGCPCredentialsResult
	if err := run.Get(wctx, &res); err != nil {
		s.auditGCP(c, p, conn, d, time.Time{}, store.OutcomeFailure)
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrTypeNotConnected {
			return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
				Message: fmt.Sprintf("the service account %s of cluster %q can no longer be impersonated; connect the project again (forceUpdate)",
					conn.GCPServiceAccount, in.ClusterName)}
		}
		s.d.Log.ErrorContext(ctx, "temporary GCP credentials", "err", err, "operationID", run.GetID(), "traceID", httpx.TraceID(c))
		return &httpx.APIError{Status: http.StatusServiceUnavailable, Code: httpx.CodeServiceUnavailable,
			Message: "temporary credentials could not be issued now; retry later"}
	}
	tok, err := activities.OpenGCPToken(key, res.Sealed)
	if err != nil {
		return err
	}
	s.auditGCP(c, p, conn, d, tok.ExpireTime, store.OutcomeSuccess)
	c.Response().Header().Set("Cache-Control", "no-store")
	return httpx.OK(c, map[string]any{"accessToken": tok.AccessToken, "tokenType": "Bearer", "expireTime": tok.ExpireTime.UTC(),
		"projectId": res.ProjectID, "region": conn.Region, "serviceAccountEmail": res.ServiceAccount},
		"temporary credentials: they are not stored and cannot be shown again")
}

// auditGCP records an issue of a GCP token: who, which service account, how long;
// never the token.
func (s *Server) auditGCP(c echo.Context, p httpx.Principal, conn store.CloudConnection, d time.Duration, expires time.Time, outcome string) {
	ev := httpx.NewAuditEvent(c, p, "CLOUD_ACCOUNT", "ISSUE_CREDENTIALS", conn.ID, outcome)
	details := map[string]any{"provider": "gcp", "clusterName": conn.ClusterName, "projectId": conn.AccountID,
		"serviceAccountEmail": conn.GCPServiceAccount, "durationSeconds": int(d / time.Second)}
	if !expires.IsZero() {
		details["expiration"] = expires.UTC()
	}
	ev.Details = httpx.MustJSON(details)
	s.d.Audit.RecordEvent(c, ev)
}
