package cloudaccounts

import (
	"crypto/ecdh"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/azureconnect"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// azureConnectRequest is AzureCloudAccountRequest with duration in either form.
type azureConnectRequest struct {
	ClusterName    string          `json:"clusterName"`
	Duration       json.RawMessage `json:"duration"`
	ForceUpdate    bool            `json:"forceUpdate"`
	Level          string          `json:"level"`
	ResourceGroup  string          `json:"resourceGroup"`
	SubscriptionID string          `json:"subscriptionId"`
	TargetRegion   string          `json:"targetRegion"`
	TenantID       string          `json:"tenantId"`
}

// parseAzureDuration reads a duration in either form clients send, between 15m and
// 12h (absent: zero). It cannot set an Azure token's lifetime, which is Entra's.
func parseAzureDuration(raw json.RawMessage) (time.Duration, error) {
	return parseDuration(raw, 0, 15*time.Minute, 12*time.Hour, "15m to 12h")
}

// ConnectAzureSubscription records an Azure connection and starts its workflow
// (ConnectAzureSubscription makes the setup script and waits for the identity): 202
// with the operation ID to poll. The subscription comes from the request or the
// cluster, the tenant from the request or the cluster's last connection to that
// subscription. A cluster with a running connection is 409; one already connected
// too, unless forceUpdate.
func (s *Server) ConnectAzureSubscription(c echo.Context, _ api.ConnectAzureSubscriptionParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in azureConnectRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	faults := map[string]any{}
	if _, err := parseAzureDuration(in.Duration); err != nil {
		faults["duration"] = err.Error()
	}
	if in.Level == "" {
		in.Level = azureconnect.LevelManage
	}
	if _, err := azureconnect.Role(in.Level); err != nil {
		faults["level"] = err.Error()
	}
	for field, v := range map[string]string{"subscriptionId": in.SubscriptionID, "tenantId": in.TenantID} {
		if v != "" {
			if err := azureconnect.CheckGUID(map[string]string{"subscriptionId": "subscription ID", "tenantId": "tenant ID"}[field], v); err != nil {
				faults[field] = err.Error()
			}
		}
	}
	if in.ResourceGroup != "" {
		if err := azureconnect.CheckResourceGroup(in.ResourceGroup); err != nil {
			faults["resourceGroup"] = err.Error()
		}
	}
	if in.TargetRegion != "" {
		if err := azureconnect.CheckRegion(in.TargetRegion); err != nil {
			faults["targetRegion"] = err.Error()
		}
	}
	if len(faults) > 0 {
		return httpx.ValidationFailed(faults)
	}
	ctx := c.Request().Context()
	subscription, region, group := strings.ToLower(in.SubscriptionID), in.TargetRegion, in.ResourceGroup
	if cl, err := s.d.Store.GetCluster(ctx, p.OrgID, in.ClusterName); err == nil && cl.Provider == "azure" {
		// An AKS cluster names its subscription, region and resource group: the
		// connection defaults to them (the resource group: the least privilege).
		subscription = cmp(subscription, strings.ToLower(cl.AccountID))
		region = cmp(region, cl.Region)
		if group == "" && strings.EqualFold(subscription, cl.AccountID) {
			var spec struct {
				Provisioner struct {
					Aks *struct {
						ResourceGroup string `json:"resourceGroup"`
					} `json:"aks"`
				} `json:"provisioner"`
			}
			if json.Unmarshal(cl.Spec, &spec) == nil && spec.Provisioner.Aks != nil {
				group = spec.Provisioner.Aks.ResourceGroup
			}
		}
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if subscription == "" {
		return unknownTarget(azureTarget, "subscriptionId", in.ClusterName)
	}
	prior, found, err := s.priorConnection(ctx, p.OrgID, azureTarget, in.ClusterName)
	if err != nil {
		return err
	}
	tenant := strings.ToLower(in.TenantID)
	if found && prior.AccountID == subscription {
		// Connecting the same subscription again: the tenant and region stay unless given.
		tenant = cmp(tenant, prior.AzureTenantID)
		region = cmp(region, prior.Region)
	}
	if tenant == "" {
		return httpx.ValidationFailed(map[string]any{"tenantId": "required: the Microsoft Entra tenant ID of the subscription (az account show --query tenantId)"})
	}
	if s.d.Temporal == nil {
		return httpx.ErrNoTemporal
	}
	if err := checkPrior(azureTarget, prior, found, in.ClusterName, in.ForceUpdate); err != nil {
		return err
	}
	conn := newConnection(p, azureTarget, in.ClusterName, in.Level, subscription, cmp(region, azureconnect.DefaultLocation))
	conn.AzureTenantID, conn.AzureResourceGroup = tenant, group
	return s.startConnection(c, p, azureTarget, connectStart{conn: conn, forceUpdate: in.ForceUpdate,
		workflow: workflows.ConnectAzureSubscription, input: workflows.ConnectAzureSubscriptionInput{OrgID: p.OrgID, ConnectionID: conn.ID,
			Timeout: s.d.ConnectTimeout, Poll: s.d.ConnectPoll},
		audit: map[string]any{"subscriptionId": subscription, "tenantId": tenant, "resourceGroup": group}, setup: "setup script"})
}

// GetAzureConnectionStatus answers an Azure connection's state, steps and setup
// script.
func (s *Server) GetAzureConnectionStatus(c echo.Context, id string, _ api.GetAzureConnectionStatusParams) error {
	return s.connectionStatus(c, azureTarget, id, azureConnectionView)
}

func azureConnectionView(conn store.CloudConnection) map[string]any {
	out := connectionView(conn)
	delete(out, "aws")
	az := map[string]any{"subscriptionId": conn.AccountID, "tenantId": conn.AzureTenantID, "region": conn.Region,
		"scope": azureconnect.Scope(conn.AccountID, conn.AzureResourceGroup), "subject": azureconnect.Subject(conn.OrgID)}
	for k, v := range map[string]string{"resourceGroup": conn.AzureResourceGroup, "clientId": conn.AzureClientID,
		"identityName": conn.AzureIdentityName, "role": conn.AzureRole, "issuer": scriptVar(conn.Template, "ISSUER")} {
		if v != "" {
			az[k] = v
		}
	}
	if len(conn.Template) > 0 && conn.Status != store.ConnectionConnected {
		// The script (and its URL) matter until the identity works.
		az["setupScript"] = string(conn.Template)
		az["setupScriptUrl"] = conn.SetupURL
	}
	out["azure"] = az
	return out
}

// scriptVar reads NAME='value' from a setup script.
func scriptVar(script []byte, name string) string {
	for _, l := range strings.Split(string(script), "\n") {
		if v, ok := strings.CutPrefix(l, name+"='"); ok {
			return strings.TrimSuffix(v, "'")
		}
	}
	return ""
}

// GetAzureSetupScript serves an Azure connection's setup script to whoever holds its
// unguessable URL (curl … | bash in Azure Cloud Shell). It holds no secret.
func (s *Server) GetAzureSetupScript(c echo.Context, token string) error {
	return s.setupScript(c, azureTarget, token)
}

// azureIdentityReport is AzureIdentityReport.
type azureIdentityReport struct {
	ClientID    string `json:"clientId"`
	PrincipalID string `json:"principalId"`
}

// ReportAzureIdentity records the client ID a setup script reports at its
// unguessable URL, for the connection's workflow to verify. The token is the proof;
// a wrong client ID connects nothing (the token exchange proves the identity trusts
// this organization). A connection that has ended is 409.
func (s *Server) ReportAzureIdentity(c echo.Context, token string) error {
	var in azureIdentityReport
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	faults := map[string]any{}
	if err := azureconnect.CheckGUID("client ID", in.ClientID); err != nil {
		faults["clientId"] = err.Error()
	}
	if in.PrincipalID != "" {
		if err := azureconnect.CheckGUID("principal ID", in.PrincipalID); err != nil {
			faults["principalId"] = err.Error()
		}
	}
	if len(faults) > 0 {
		return httpx.ValidationFailed(faults)
	}
	ctx := c.Request().Context()
	conn, err := s.d.Store.CloudConnectionByTemplateToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) || (err == nil && conn.Provider != "azure") {
		return httpx.NotFound("setup script")
	}
	if err != nil {
		return err
	}
	if conn.EndedAt != nil {
		return httpx.Conflict(fmt.Sprintf("connection %s has ended (%s); connect again for a new setup script", conn.ID, conn.Status), nil)
	}
	clientID := strings.ToLower(in.ClientID)
	if err := s.d.Store.UpdateCloudConnection(ctx, conn.OrgID, conn.ID, map[string]any{"azure_client_id": clientID}); err != nil {
		return err
	}
	s.d.Audit.RecordPublic(c, &store.AuditEvent{OrgID: conn.OrgID, EventType: "CLOUD_ACCOUNT", Action: "REPORT_IDENTITY",
		ResourceID: conn.ID, Outcome: store.OutcomeSuccess, Details: httpx.MustJSON(map[string]any{"provider": "azure",
			"clusterName": conn.ClusterName, "clientId": clientID, "principalId": strings.ToLower(in.PrincipalID)})})
	return httpx.OK(c, map[string]any{"operationId": conn.ID, "clientId": clientID},
		"identity recorded: the connection verifies it now")
}

// GetAzureCredentials answers a temporary access token of Azure Resource Manager as
// the cluster's connected identity: exchanged by the worker with the organization's
// token, handed over sealed to a key made for this request, answered once, never
// stored, audited without the token. Its lifetime is Entra's (about an hour); the
// duration asked (15m … 12h) is checked but cannot lengthen or shorten it.
func (s *Server) GetAzureCredentials(c echo.Context, params api.GetAzureCredentialsParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	faults := map[string]any{}
	d := time.Duration(0)
	if params.Duration != nil {
		if d, err = parseAzureDuration(json.RawMessage(strconv.Quote(*params.Duration))); err != nil {
			faults["duration"] = err.Error()
		}
	}
	if params.SubscriptionId != nil && *params.SubscriptionId != "" {
		if err := azureconnect.CheckGUID("subscription ID", *params.SubscriptionId); err != nil {
			faults["subscriptionId"] = err.Error()
		}
	}
	if len(faults) > 0 {
		return httpx.ValidationFailed(faults)
	}
	conn, err := s.connectedTo(c.Request().Context(), p.OrgID, azureTarget, params.ClusterName)
	if err != nil {
		return err
	}
	if v := params.SubscriptionId; v != nil && *v != "" && !strings.EqualFold(*v, conn.AccountID) {
		return notConnectedTo(azureTarget, "subscriptionId", params.ClusterName, conn.AccountID, *v)
	}
	if v := params.ResourceGroup; v != nil && *v != "" && !strings.EqualFold(*v, conn.AzureResourceGroup) {
		return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
			Message: fmt.Sprintf("cluster %q is connected on %s, not resource group %s", params.ClusterName, azureconnect.Scope(conn.AccountID, conn.AzureResourceGroup), *v),
			Details: map[string]any{"resourceGroup": "not the connected resource group"}}
	}
	return issueCredentials(s, c, p, azureTarget, issue{cluster: params.ClusterName, conn: conn, d: d,
		workflow: workflows.IssueAzureCredentials, input: func(recipient []byte) any {
			return workflows.IssueAzureCredentialsInput{OrgID: p.OrgID, ConnectionID: conn.ID, RecipientKey: recipient}
		},
		audit: map[string]any{"subscriptionId": conn.AccountID, "tenantId": conn.AzureTenantID, "clientId": conn.AzureClientID},
		gone: fmt.Sprintf("the managed identity %s of cluster %q no longer signs in for your organization; connect the subscription again (forceUpdate)",
			conn.AzureIdentityName, params.ClusterName)},
		func(key *ecdh.PrivateKey, res activities.IssueAzureCredentialsResult) (map[string]any, time.Time, error) {
			tok, err := activities.OpenAzureToken(key, res.Sealed)
			if err != nil {
				return nil, time.Time{}, err
			}
			out := map[string]any{"accessToken": tok.AccessToken, "tokenType": "Bearer", "expiresOn": tok.ExpiresOn.UTC(),
				"tenantId": res.TenantID, "clientId": res.ClientID, "subscriptionId": res.SubscriptionID, "region": conn.Region}
			if res.ResourceGroup != "" {
				out["resourceGroup"] = res.ResourceGroup
			}
			return out, tok.ExpiresOn, nil
		})
}
