package cloudaccounts

import (
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

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
	return parseDuration(raw, gcpconnect.DefaultDuration, gcpconnect.MinDuration, gcpconnect.MaxDuration,
		"5m to 1h (what generateAccessToken allows without an organization policy extending it)")
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
		return unknownTarget(gcpTarget, "targetProjectId", in.ClusterName)
	}
	if err := gcpconnect.CheckProjectID(project); err != nil {
		return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
			Message: fmt.Sprintf("cluster %q names a GCP project that is not a project ID: give targetProjectId", in.ClusterName),
			Details: map[string]any{"targetProjectId": err.Error()}}
	}
	if s.d.Temporal == nil {
		return httpx.ErrNoTemporal
	}
	prior, found, err := s.priorConnection(ctx, p.OrgID, gcpTarget, in.ClusterName)
	if err != nil {
		return err
	}
	if err := checkPrior(gcpTarget, prior, found, in.ClusterName, in.ForceUpdate); err != nil {
		return err
	}
	if found {
		region = cmp(region, prior.Region) // forceUpdate keeps what the request leaves out
	}
	conn := newConnection(p, gcpTarget, in.ClusterName, in.Level, project, region)
	conn.GCPProjectNumber = in.TargetProjectNumber
	return s.startConnection(c, p, gcpTarget, connectStart{conn: conn, forceUpdate: in.ForceUpdate,
		workflow: workflows.ConnectGCPProject, input: workflows.ConnectGCPProjectInput{OrgID: p.OrgID, ConnectionID: conn.ID,
			Timeout: s.d.ConnectTimeout, Poll: s.d.ConnectPoll},
		audit: map[string]any{"projectId": project, "projectNumber": in.TargetProjectNumber}, setup: "setup script"})
}

// GetGcpConnectionStatus answers a GCP connection's state, steps and setup script.
func (s *Server) GetGcpConnectionStatus(c echo.Context, id string, _ api.GetGcpConnectionStatusParams) error {
	return s.connectionStatus(c, gcpTarget, id, gcpConnectionView)
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
	return s.setupScript(c, gcpTarget, token)
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
	conn, err := s.connectedTo(c.Request().Context(), p.OrgID, gcpTarget, in.ClusterName)
	if err != nil {
		return err
	}
	if in.TargetProjectID != "" && in.TargetProjectID != conn.AccountID {
		return notConnectedTo(gcpTarget, "targetProjectId", in.ClusterName, conn.AccountID, in.TargetProjectID)
	}
	return issueCredentials(s, c, p, gcpTarget, issue{cluster: in.ClusterName, conn: conn, d: d,
		workflow: workflows.IssueGCPCredentials, input: func(recipient []byte) any {
			return workflows.IssueGCPCredentialsInput{OrgID: p.OrgID, ConnectionID: conn.ID, Duration: d, RecipientKey: recipient}
		},
		audit: map[string]any{"projectId": conn.AccountID, "serviceAccountEmail": conn.GCPServiceAccount},
		gone: fmt.Sprintf("the service account %s of cluster %q can no longer be impersonated; connect the project again (forceUpdate)",
			conn.GCPServiceAccount, in.ClusterName)},
		func(key *ecdh.PrivateKey, res activities.IssueGCPCredentialsResult) (map[string]any, time.Time, error) {
			tok, err := activities.OpenGCPToken(key, res.Sealed)
			if err != nil {
				return nil, time.Time{}, err
			}
			return map[string]any{"accessToken": tok.AccessToken, "tokenType": "Bearer", "expireTime": tok.ExpireTime.UTC(),
				"projectId": res.ProjectID, "region": conn.Region, "serviceAccountEmail": res.ServiceAccount}, tok.ExpireTime, nil
		})
}
