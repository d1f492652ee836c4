package cloudaccounts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// target is a cloud as the connect and credentials operations name it: its provider
// (the record's and the path's), its name in messages, and what a connection binds.
type target struct {
	provider, cloud, thing string
	opConnect              string // the connection workflow's operation type
}

var (
	awsTarget   = target{provider: "aws", cloud: "AWS", thing: "account", opConnect: workflows.OpConnectAWS}
	gcpTarget   = target{provider: "gcp", cloud: "GCP", thing: "project", opConnect: workflows.OpConnectGCP}
	azureTarget = target{provider: "azure", cloud: "Azure", thing: "subscription", opConnect: workflows.OpConnectAzure}
)

// label is what a connection binds, as messages say it: "AWS account".
func (t target) label() string { return t.cloud + " " + t.thing }

// unknownTarget is the 422 of a connect that names no account and whose cluster names
// none either; field is the request's field that would name it.
func unknownTarget(t target, field, cluster string) error {
	return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
		Message: fmt.Sprintf("the %s to connect is unknown: no %s cluster %q names one; give %s", t.label(), t.cloud, cluster, field),
		Details: map[string]any{field: "required when the cluster does not name its " + t.label()}}
}

// priorConnection reads the cluster's latest connection to t (closed first if its
// workflow has ended without recording it); found is false when there is none.
func (s *Server) priorConnection(ctx context.Context, orgID string, t target, cluster string) (prior store.CloudConnection, found bool, err error) {
	prior, err = s.d.Store.LatestCloudConnection(ctx, orgID, t.provider, cluster)
	if errors.Is(err, store.ErrNotFound) {
		return prior, false, nil
	}
	if err != nil {
		return prior, false, err
	}
	return s.reconcile(ctx, prior), true, nil
}

// checkPrior refuses (409) a connect over a running connection, or over a connected
// one unless forceUpdate.
func checkPrior(t target, prior store.CloudConnection, found bool, cluster string, forceUpdate bool) error {
	switch {
	case found && prior.EndedAt == nil:
		return httpx.Conflict(fmt.Sprintf("connection %s of cluster %q is still running", prior.ID, cluster),
			map[string]any{"operationId": prior.ID})
	case found && prior.Status == store.ConnectionConnected && !forceUpdate:
		return httpx.Conflict(fmt.Sprintf("cluster %q is already connected to %s %s (connection %s); send forceUpdate to connect again",
			cluster, t.label(), prior.AccountID, prior.ID), map[string]any{"operationId": prior.ID, "forceUpdate": "false"})
	}
	return nil
}

// orgName is the organization as operation IDs name it.
func orgName(p httpx.Principal) string {
	if p.OrgName == "" {
		return p.OrgID
	}
	return p.OrgName
}

// newConnection is the pending record of a connection to t; the caller adds its
// cloud's own fields.
func newConnection(p httpx.Principal, t target, cluster, level, account, region string) store.CloudConnection {
	return store.CloudConnection{ID: workflows.OperationID(orgName(p), cluster, t.opConnect, randomSuffix()),
		OrgID: p.OrgID, Provider: t.provider, ClusterName: cluster, Level: level, Status: store.ConnectionPending,
		Message: "starting", AccountID: account, Region: region, CreatedBy: p.UserID}
}

// connectStart is what startConnection needs of a cloud.
type connectStart struct {
	conn        store.CloudConnection // newConnection's, with the cloud's own fields
	forceUpdate bool
	workflow    any // the connection workflow and its input
	input       any
	audit       map[string]any // the CONNECT event's details of this cloud
	setup       string         // what the status carries for the customer: "setup link"
}

// startConnection records a connection and starts its workflow (the record fails when
// the workflow cannot start), audits it and answers 202 with the operation ID.
func (s *Server) startConnection(c echo.Context, p httpx.Principal, t target, cs connectStart) error {
	ctx, conn := c.Request().Context(), cs.conn
	if err := s.d.Store.CreateCloudConnection(ctx, &conn); errors.Is(err, store.ErrConflict) {
		return httpx.Conflict(fmt.Sprintf("a connection of cluster %q is already running", conn.ClusterName), nil)
	} else if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := s.d.Temporal.ExecuteWorkflow(sctx, client.StartWorkflowOptions{
		ID: conn.ID, TaskQueue: s.d.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.AttrOrgID.ValueSet(p.OrgID), workflows.AttrClusterName.ValueSet(conn.ClusterName),
			workflows.AttrOperationType.ValueSet(t.opConnect), workflows.AttrProvider.ValueSet(t.provider)),
		StaticSummary: fmt.Sprintf("connect %s %s for cluster %s", t.label(), conn.AccountID, conn.ClusterName),
		// A safety net past the workflow's own deadline: a connection never runs for ever.
		WorkflowExecutionTimeout: cmpDuration(s.d.ConnectTimeout, workflows.DefaultConnectTimeout) + 15*time.Minute,
	}, cs.workflow, cs.input)
	if err != nil {
		now := time.Now().UTC()
		_ = s.d.Store.UpdateCloudConnection(sctx, p.OrgID, conn.ID, map[string]any{"status": store.ConnectionFailed,
			"message": "the connection workflow could not be started", "ended_at": now})
		return fmt.Errorf("start connection workflow: %w", err)
	}
	ev := httpx.NewAuditEvent(c, p, "CLOUD_ACCOUNT", "CONNECT", conn.ID, store.OutcomeSuccess)
	details := map[string]any{"provider": t.provider, "clusterName": conn.ClusterName, "level": conn.Level,
		"region": conn.Region, "forceUpdate": cs.forceUpdate}
	maps.Copy(details, cs.audit)
	ev.Details = httpx.MustJSON(details)
	s.d.Audit.RecordEvent(c, ev)
	return httpx.Accepted(c, map[string]any{"operationId": conn.ID, "status": store.ConnectionPending, "provider": t.provider,
		"clusterName": conn.ClusterName}, fmt.Sprintf("connecting %s %s: poll GET /api/v1/cloud/%s/connections/%s for the %s",
		t.label(), conn.AccountID, t.provider, conn.ID, cs.setup))
}

// connectionStatus answers a connection to t by its ID, closed first if its workflow
// has ended without recording it, as view shows it.
func (s *Server) connectionStatus(c echo.Context, t target, id string, view func(store.CloudConnection) map[string]any) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	conn, err := s.d.Store.GetCloudConnection(c.Request().Context(), p.OrgID, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && conn.Provider != t.provider) {
		return httpx.NotFound(t.cloud + " connection " + id)
	}
	if err != nil {
		return err
	}
	conn = s.reconcile(c.Request().Context(), conn)
	return httpx.OK(c, view(conn), conn.Message)
}

// setupScript serves a connection's setup script to whoever holds its unguessable URL
// (curl … | bash in the cloud's shell). It holds no secret.
func (s *Server) setupScript(c echo.Context, t target, token string) error {
	conn, err := s.d.Store.CloudConnectionByTemplateToken(c.Request().Context(), token)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (conn.Provider != t.provider || len(conn.Template) == 0)) {
		return httpx.NotFound("setup script")
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "text/x-shellscript; charset=utf-8", conn.Template)
}
