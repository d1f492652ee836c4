package cloudaccounts

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// parseDuration reads a duration in either form clients send (a duration string such
// as "1h" or "30m", or an integer of nanoseconds): absent, def; outside lo … hi, an
// error naming the bounds as the cloud's own words give them.
func parseDuration(raw json.RawMessage, def, lo, hi time.Duration, bounds string) (time.Duration, error) {
	d, given, err := httpx.ParseJSONDuration(raw)
	if err != nil {
		return 0, err
	}
	if !given {
		return def, nil
	}
	if d < lo || d > hi {
		return 0, fmt.Errorf("%s is outside %s", d, bounds)
	}
	return d, nil
}

// connectedTo reads the cluster's connected connection to t: 404 saying how to
// connect when there is none.
func (s *Server) connectedTo(ctx context.Context, orgID string, t target, cluster string) (store.CloudConnection, error) {
	conn, err := s.d.Store.LatestCloudConnection(ctx, orgID, t.provider, cluster, store.ConnectionConnected)
	if errors.Is(err, store.ErrNotFound) {
		return conn, httpx.NotFound(fmt.Sprintf("connected %s of cluster %q (connect it: POST /api/v1/cloud/%s/connections)", t.label(), cluster, t.provider))
	}
	return conn, err
}

// notConnectedTo is the 422 of a credentials request that names another account than
// the connected one (have); field is the request's field that names it.
func notConnectedTo(t target, field, cluster, have, asked string) error {
	return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
		Message: fmt.Sprintf("cluster %q is connected to %s %s, not %s", cluster, t.label(), have, asked),
		Details: map[string]any{field: "not the connected " + t.thing}}
}

// issue is what issueCredentials needs of a cloud.
type issue struct {
	cluster  string                // as the request names it
	conn     store.CloudConnection // the connected connection
	d        time.Duration         // the duration asked; 0: none (not audited)
	workflow any                   // the Issue*Credentials workflow and its input for the recipient key
	input    func(recipientKey []byte) any
	audit    map[string]any // the ISSUE_CREDENTIALS event's details of this cloud
	gone     string         // the 422's message when the connection no longer works
}

// issueCredentials runs the cloud's Issue*Credentials workflow with a key made for this
// request, opens the sealed result with it (open answers the credentials' view and
// expiry), audits the issue with its outcome, never the secret, and answers it once,
// not to be cached.
func issueCredentials[R any](s *Server, c echo.Context, p httpx.Principal, t target, is issue,
	open func(key *ecdh.PrivateKey, res R) (map[string]any, time.Time, error)) error {
	if s.d.Temporal == nil {
		return httpx.ErrNoTemporal
	}
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	ctx, cluster := c.Request().Context(), is.cluster
	wctx, cancel := context.WithTimeout(ctx, s.d.CredentialsTimeout)
	defer cancel()
	run, err := s.d.Temporal.ExecuteWorkflow(wctx, client.StartWorkflowOptions{
		ID: workflows.OperationID(orgName(p), cluster, t.provider+"-credentials", randomSuffix()), TaskQueue: s.d.TaskQueue,
		WorkflowExecutionTimeout: s.d.CredentialsTimeout,
		StaticSummary:            fmt.Sprintf("temporary %s credentials for cluster %s", t.cloud, cluster),
	}, is.workflow, is.input(key.PublicKey().Bytes()))
	if err != nil {
		return fmt.Errorf("start credentials workflow: %w", err)
	}
	var res R
	if err := run.Get(wctx, &res); err != nil {
		s.auditIssue(c, p, t, is, time.Time{}, store.OutcomeFailure)
		var app *temporal.ApplicationError
		if errors.As(err, &app) && app.Type() == activities.ErrTypeNotConnected {
			return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable, Message: is.gone}
		}
		s.d.Log.ErrorContext(ctx, "temporary "+t.cloud+" credentials", "err", err, "operationID", run.GetID(), "traceID", httpx.TraceID(c))
		return &httpx.APIError{Status: http.StatusServiceUnavailable, Code: httpx.CodeServiceUnavailable,
			Message: "temporary credentials could not be issued now; retry later"}
	}
	out, expires, err := open(key, res)
	if err != nil {
		return err
	}
	s.auditIssue(c, p, t, is, expires, store.OutcomeSuccess)
	c.Response().Header().Set("Cache-Control", "no-store")
	return httpx.OK(c, out, "temporary credentials: they are not stored and cannot be shown again")
}

// auditIssue records an issue of credentials: who, which identity, how long; never
// them.
func (s *Server) auditIssue(c echo.Context, p httpx.Principal, t target, is issue, expires time.Time, outcome string) {
	ev := httpx.NewAuditEvent(c, p, "CLOUD_ACCOUNT", "ISSUE_CREDENTIALS", is.conn.ID, outcome)
	details := map[string]any{"provider": t.provider, "clusterName": is.conn.ClusterName}
	maps.Copy(details, is.audit)
	if is.d > 0 {
		details["durationSeconds"] = int(is.d / time.Second)
	}
	if !expires.IsZero() {
		details["expiration"] = expires.UTC()
	}
	ev.Details = httpx.MustJSON(details)
	s.d.Audit.RecordEvent(c, ev)
}
