package server_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/azureconnect"
	"github.com/astropulse/astroplane/azureconnect/entrafake"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/azure"
	"github.com/astropulse/astroplane/credsource"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

const (
	azTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	azSub    = "11111111-2222-3333-4444-555555555555"
)

func (e *env) azureConnection(t *testing.T, key, id string, want ...string) map[string]any {
	t.Helper()
	return waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		a := e.do(http.MethodGet, "/api/v1/cloud/azure/connections/"+id, key, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("status of %s: %d %s", id, a.Status, a.Body)
		}
		d := e.data(a)
		for _, w := range want {
			if d["status"] == w {
				return d, true
			}
		}
		return d, false
	})
}

// runAzureScript does what the customer does with the status's setup script: fetches
// it at its URL (no key: the URL is the proof), runs it (the az commands applied to
// the fake identity platform) and lets its last command report the identity to the
// API. It returns the script.
func runAzureScript(t *testing.T, e *env, fake *entrafake.Server, d map[string]any) string {
	t.Helper()
	az := d["azure"].(map[string]any)
	su, err := url.Parse(az["setupScriptUrl"].(string))
	must(t, err)
	fetched := e.do(http.MethodGet, su.Path, "", nil)
	if fetched.Status != http.StatusOK || string(fetched.Body) != az["setupScript"] || !strings.HasPrefix(fetched.Header.Get("Content-Type"), "text/x-shellscript") {
		t.Fatalf("script at %s: %d %s", su, fetched.Status, fetched.Body)
	}
	rep, err := fake.RunScript(azTenant, string(fetched.Body))
	if err != nil {
		t.Fatalf("the setup script: %v", err)
	}
	ru, err := url.Parse(rep.URL)
	must(t, err)
	if a := e.do(http.MethodPost, ru.Path, "", rep.Body); a.Status != http.StatusOK {
		t.Fatalf("report %s: %d %s", ru.Path, a.Status, a.Body)
	}
	return string(fetched.Body)
}

// TestAzureConnectionThroughTheAPI: an Azure subscription connected end to end
// through the API, a real Temporal dev server and worker, azidentity's
// ClientAssertionCredential against a wire server of the Microsoft identity platform
// and armresources against the SDK's fake server: the setup script from the status
// run as a customer would (its az commands applied to the fake, its last command
// reporting the identity), the workflow verifying, then CONNECTED; forceUpdate; one
// organization cannot use another's identity (FAILED at the deadline with Entra's
// reason); an unknown tenant fails at once; temporary credentials with Entra's
// bounded lifetime; roles, tenancy and bad input naming the field; no token or
// assertion in any history, the API's log or the store's file.
func TestAzureConnectionThroughTheAPI(t *testing.T) {
	identity, err := azureconnect.EphemeralIdentity("https://astro.example/oidc/azure")
	must(t, err)
	fake := entrafake.New(azTenant)
	t.Cleanup(fake.Close)
	must(t, fake.TrustIssuer(identity.Issuer(), identity.JWKS()))
	fake.AddResourceGroup(azSub, "aks-prod")

	dev := testtemporal.Start(t)
	tc := dev.Client()
	e := newEnvWith(t, tc, server.Options{CloudConnectTimeout: time.Minute, CloudConnectPoll: 100 * time.Millisecond})
	shortSrv, err := server.New(server.Options{Store: e.store, Temporal: tc, TaskQueue: workflows.TaskQueue,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), CloudConnectTimeout: 2 * time.Second, CloudConnectPoll: 100 * time.Millisecond})
	must(t, err)
	short := *e
	short.srv = shortSrv

	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster: &activities.Cluster{Store: e.store}, Notifier: &activities.Notifier{Store: e.store},
		CloudAccounts: &activities.CloudAccounts{Store: e.store, Azure: &activities.AzurePlatform{Identity: identity,
			Endpoints: azureconnect.Endpoints{AuthorityHost: fake.URL, Transport: fake.Client(), DisableInstanceDiscovery: true,
				ARMTransport: fake.ARMTransport(azSub)},
			ScriptBaseURL: "https://astro.example/api/v1/cloud/azure/scripts/"}}})
	must(t, w.Start())
	t.Cleanup(w.Stop)

	otherOrg, _, otherKey := e.newOrg("other", store.RoleAdmin)
	viewerKey := e.newKey(e.orgID, mustViewer(t, e), func(*store.APIKey) {})
	connect := map[string]any{"clusterName": "prod", "subscriptionId": azSub, "tenantId": azTenant, "resourceGroup": "aks-prod",
		"level": "manage", "targetRegion": "westeurope", "duration": "1h"}
	var clientID string

	t.Run("connect", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/v1/cloud/azure/connections", e.key, connect)
		if a.Status != http.StatusAccepted || e.data(a)["provider"] != "azure" {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		d := e.azureConnection(t, e.key, id, "WAITING_FOR_CUSTOMER")
		az := d["azure"].(map[string]any)
		script, _ := az["setupScript"].(string)
		scope := "/subscriptions/" + azSub + "/resourceGroups/aks-prod"
		if az["subscriptionId"] != azSub || az["tenantId"] != azTenant || az["resourceGroup"] != "aks-prod" || az["role"] != "Contributor" ||
			az["scope"] != scope || az["identityName"] != "astroplane-prod" || az["subject"] != "astroplane:org:"+e.orgID ||
			az["issuer"] != identity.Issuer() || !strings.Contains(script, "SUBJECT='astroplane:org:"+e.orgID+"'") ||
			!strings.Contains(script, "az identity federated-credential create") || az["clientId"] != nil {
			t.Fatalf("azure details: %v", az)
		}
		if stepStatus(d, workflows.StepSetupScript) != "SUCCEEDED" || stepStatus(d, workflows.StepWaitForIdentity) != "RUNNING" || d["deadline"] == nil ||
			!strings.Contains(d["message"].(string), "astroplane-prod") {
			t.Fatalf("steps while waiting: %v", d)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/azure/connections", e.key, connect); a.Status != http.StatusConflict {
			t.Fatalf("connect while running: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/azure/scripts/not-a-token", "", nil); a.Status != http.StatusNotFound {
			t.Fatalf("a wrong token: %d %s", a.Status, a.Body)
		}
		runAzureScript(t, e, fake, d)
		d = e.azureConnection(t, e.key, id, "CONNECTED", "FAILED")
		az = d["azure"].(map[string]any)
		clientID, _ = az["clientId"].(string)
		if d["status"] != "CONNECTED" || clientID != fake.Identities()[0].ClientID || stepStatus(d, workflows.StepWaitForIdentity) != "SUCCEEDED" ||
			stepStatus(d, workflows.StepConnectRecord) != "SUCCEEDED" || d["completedAt"] == nil || az["setupScript"] != nil {
			t.Fatalf("connected: %v", d)
		}
		if roles := fake.Roles(); len(roles) != 1 || roles[0].Role != "Contributor" || roles[0].Scope != scope {
			t.Fatalf("role assignments: %v", roles)
		}
		recordHistory(t, e.tc, id, "connect-azure-connected")
		// The script's URL reports nothing once the connection has ended.
		conn, err := e.store.GetCloudConnection(t.Context(), e.orgID, id)
		must(t, err)
		if a := e.do(http.MethodPost, "/api/v1/cloud/azure/scripts/"+conn.TemplateToken+"/identity", "",
			map[string]any{"clientId": "99999999-9999-9999-9999-999999999999"}); a.Status != http.StatusConflict {
			t.Fatalf("report after the end: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/azure/connections", e.key, connect); a.Status != http.StatusConflict {
			t.Fatalf("connect again: %d %s", a.Status, a.Body)
		}
		// forceUpdate re-runs over it: the cluster's identity verifies at once, and the
		// tenant is the connection's when not given again.
		force := map[string]any{"clusterName": "prod", "subscriptionId": azSub, "resourceGroup": "aks-prod", "forceUpdate": true}
		a = e.do(http.MethodPost, "/api/v1/cloud/azure/connections", e.key, force)
		if a.Status != http.StatusAccepted {
			t.Fatalf("forceUpdate: %d %s", a.Status, a.Body)
		}
		if d := e.azureConnection(t, e.key, e.data(a)["operationId"].(string), "CONNECTED", "FAILED"); d["status"] != "CONNECTED" ||
			d["azure"].(map[string]any)["clientId"] != clientID || d["azure"].(map[string]any)["tenantId"] != azTenant || d["azure"].(map[string]any)["region"] != "westeurope" {
			t.Fatalf("forceUpdate: %v", d)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/azure/connections/"+id, otherKey, nil); a.Status != http.StatusNotFound {
			t.Fatalf("other org reads the connection: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/azure/connections/"+id, viewerKey, nil); a.Status != http.StatusForbidden {
			t.Fatalf("viewer reads the connection: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/azure/connections", viewerKey, connect); a.Status != http.StatusForbidden {
			t.Fatalf("viewer connects: %d %s", a.Status, a.Body)
		}
	})

	t.Run("another organization cannot use the identity", func(t *testing.T) {
		// The other organization names the same subscription and reports the first
		// organization's client ID: the identity trusts the first organization's
		// subject only, so the exchange is refused until the deadline.
		a := short.do(http.MethodPost, "/api/v1/cloud/azure/connections", otherKey, connect)
		if a.Status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		e.azureConnection(t, otherKey, id, "WAITING_FOR_CUSTOMER")
		conn, err := e.store.GetCloudConnection(t.Context(), otherOrg, id)
		must(t, err)
		if a := e.do(http.MethodPost, "/api/v1/cloud/azure/scripts/"+conn.TemplateToken+"/identity", "", map[string]any{"clientId": clientID}); a.Status != http.StatusOK {
			t.Fatalf("report: %d %s", a.Status, a.Body)
		}
		d := e.azureConnection(t, otherKey, id, "FAILED", "CONNECTED")
		msg, _ := d["message"].(string)
		if d["status"] != "FAILED" || !strings.Contains(msg, "AADSTS70021") || !strings.Contains(msg, "astroplane:org:"+otherOrg) ||
			!strings.Contains(msg, "within 2s") || stepStatus(d, workflows.StepWaitForIdentity) != "FAILED" {
			t.Fatalf("cross-organization: %v", d)
		}
		recordHistory(t, e.tc, id, "connect-azure-deadline")
		if a := e.do(http.MethodGet, "/api/v1/cloud/azure/credentials?clusterName=prod", otherKey, nil); a.Status != http.StatusNotFound {
			t.Fatalf("credentials of a failed connection: %d %s", a.Status, a.Body)
		}
	})

	t.Run("unknown tenant fails at once", func(t *testing.T) {
		body := map[string]any{"clusterName": "elsewhere", "subscriptionId": azSub, "tenantId": "00000000-0000-0000-0000-000000000001"}
		a := e.do(http.MethodPost, "/api/v1/cloud/azure/connections", e.key, body)
		if a.Status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		d := e.azureConnection(t, e.key, id, "WAITING_FOR_CUSTOMER")
		if !strings.Contains(d["azure"].(map[string]any)["setupScript"].(string), "az group create") || d["azure"].(map[string]any)["scope"] != "/subscriptions/"+azSub {
			t.Fatalf("subscription scope: %v", d)
		}
		conn, err := e.store.GetCloudConnection(t.Context(), e.orgID, id)
		must(t, err)
		if a := e.do(http.MethodPost, "/api/v1/cloud/azure/scripts/"+conn.TemplateToken+"/identity", "", map[string]any{"clientId": clientID}); a.Status != http.StatusOK {
			t.Fatalf("report: %d %s", a.Status, a.Body)
		}
		d = e.azureConnection(t, e.key, id, "FAILED", "CONNECTED")
		if msg, _ := d["message"].(string); d["status"] != "FAILED" || !strings.Contains(msg, "AADSTS90002") || !strings.Contains(msg, "tenant ID") ||
			strings.Contains(msg, "within") {
			t.Fatalf("unknown tenant: %v", d)
		}
	})

	t.Run("an AKS cluster names its subscription, region and resource group", func(t *testing.T) {
		cl := store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: "aks-one", Provider: "azure", ProvisionerType: "aks",
			Region: "northeurope", AccountID: azSub, Status: store.ClusterPending,
			Spec: []byte(`{"provisioner":{"type":"aks","aks":{"subscriptionId":"` + azSub + `","resourceGroup":"aks-prod"}}}`)}
		must(t, e.store.CreateClusterWithOperation(t.Context(), &cl, &store.Operation{ID: "aks-one-deploy", Type: "deploy",
			Status: "RUNNING", WorkflowID: "aks-one-deploy"}))
		a := e.do(http.MethodPost, "/api/v1/cloud/azure/connections", e.key, map[string]any{"clusterName": "aks-one", "tenantId": azTenant, "level": "read"})
		if a.Status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		d := e.azureConnection(t, e.key, id, "WAITING_FOR_CUSTOMER")
		az := d["azure"].(map[string]any)
		if az["subscriptionId"] != azSub || az["resourceGroup"] != "aks-prod" || az["region"] != "northeurope" || az["role"] != "Reader" ||
			az["scope"] != "/subscriptions/"+azSub+"/resourceGroups/aks-prod" {
			t.Fatalf("from the cluster: %v", az)
		}
		must(t, tc.CancelWorkflow(t.Context(), id, ""))
		if d := e.azureConnection(t, e.key, id, "CANCELLED"); stepStatus(d, workflows.StepWaitForIdentity) != "CANCELLED" {
			t.Fatalf("cancelled: %v", d)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			body  map[string]any
			field string
			code  int
		}{
			{map[string]any{"clusterName": "x", "subscriptionId": "not-a-guid", "tenantId": azTenant}, "subscriptionId", http.StatusBadRequest},
			{map[string]any{"clusterName": "x", "subscriptionId": azSub, "tenantId": "contoso.onmicrosoft.com"}, "tenantId", http.StatusBadRequest},
			{map[string]any{"clusterName": "x", "subscriptionId": azSub, "tenantId": azTenant, "level": "owner"}, "level", http.StatusBadRequest},
			{map[string]any{"clusterName": "x", "subscriptionId": azSub, "tenantId": azTenant, "resourceGroup": "ends."}, "resourceGroup", http.StatusBadRequest},
			{map[string]any{"clusterName": "x", "subscriptionId": azSub, "tenantId": azTenant, "targetRegion": "West Europe"}, "targetRegion", http.StatusBadRequest},
			{map[string]any{"clusterName": "x", "subscriptionId": azSub, "tenantId": azTenant, "duration": "1x"}, "duration", http.StatusBadRequest},
			{map[string]any{"clusterName": "x", "subscriptionId": azSub, "tenantId": azTenant, "duration": int64(48 * time.Hour)}, "duration", http.StatusBadRequest},
			{map[string]any{"clusterName": "x", "subscriptionId": azSub}, "tenantId", http.StatusBadRequest},
			{map[string]any{"clusterName": "x", "tenantId": azTenant}, "subscriptionId", http.StatusUnprocessableEntity},
		} {
			a := e.do(http.MethodPost, "/api/v1/cloud/azure/connections", e.key, tc.body)
			if env := a.Error(t); a.Status != tc.code || env.Details[tc.field] == nil {
				t.Errorf("%v: %d %s, want %d naming %s", tc.body, a.Status, a.Body, tc.code, tc.field)
			}
		}
		conn, err := e.store.LatestCloudConnection(t.Context(), e.orgID, "azure", "prod")
		must(t, err)
		if a := e.do(http.MethodPost, "/api/v1/cloud/azure/scripts/"+conn.TemplateToken+"/identity", "", map[string]any{"clientId": "nope"}); a.Status != http.StatusBadRequest ||
			a.Error(t).Details["clientId"] == nil {
			t.Errorf("bad client ID: %d %s", a.Status, a.Body)
		}
		for q, field := range map[string]string{"duration=5m": "duration", "duration=13h": "duration", "subscriptionId=nope": "subscriptionId"} {
			a := e.do(http.MethodGet, "/api/v1/cloud/azure/credentials?clusterName=prod&"+q, e.key, nil)
			if env := a.Error(t); a.Status != http.StatusBadRequest || env.Details[field] == nil {
				t.Errorf("credentials %s: %d %s, want 400 naming %s", q, a.Status, a.Body, field)
			}
		}
		a := e.do(http.MethodGet, "/api/v1/cloud/azure/credentials?clusterName=prod&subscriptionId=99999999-9999-9999-9999-999999999999", e.key, nil)
		if env := a.Error(t); a.Status != http.StatusUnprocessableEntity || env.Details["subscriptionId"] == nil {
			t.Errorf("another subscription: %d %s", a.Status, a.Body)
		}
	})

	var leaks []string
	t.Run("temporary credentials", func(t *testing.T) {
		a := e.do(http.MethodGet, "/api/v1/cloud/azure/credentials?clusterName=prod&duration=30m", e.key, nil)
		if a.Status != http.StatusOK || a.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("credentials: %d %s", a.Status, a.Body)
		}
		c := e.data(a)
		tok, _ := c["accessToken"].(string)
		leaks = append(leaks, tok)
		issued := fake.Issued()
		if tok == "" || tok != issued[len(issued)-1] || c["region"] != "westeurope" || c["clientId"] != clientID || c["tenantId"] != azTenant || c["subscriptionId"] != azSub ||
			c["resourceGroup"] != "aks-prod" || c["tokenType"] != "Bearer" {
			t.Fatalf("credentials: %v", c)
		}
		exp, err := time.Parse(time.RFC3339, c["expiresOn"].(string))
		must(t, err)
		if d := time.Until(exp); d < 55*time.Minute || d > 61*time.Minute {
			t.Errorf("expires in %s, want Entra's hour", d)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/azure/credentials?clusterName=prod", viewerKey, nil); a.Status != http.StatusForbidden {
			t.Fatalf("viewer: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/azure/credentials?clusterName=prod", otherKey, nil); a.Status != http.StatusNotFound {
			t.Fatalf("other org: %d %s", a.Status, a.Body)
		}
	})

	t.Run("worker credential source", func(t *testing.T) {
		ep := azureconnect.Endpoints{AuthorityHost: fake.URL, Transport: fake.Client(), DisableInstanceDiscovery: true}
		src := credsource.New(e.store, nil, nil).WithAzure(identity, ep)
		c, err := src.Credentials(t.Context(), cloud.AccountRef{OrgID: e.orgID, Provider: "azure", AccountID: azSub, CredentialsType: "dynamic"})
		must(t, err)
		tok := c.Values[azure.CredAccessToken]
		leaks = append(leaks, tok)
		issued := fake.Issued()
		if tok == "" || tok != issued[len(issued)-1] || c.Values[azure.CredTenantID] != azTenant || time.Until(c.Expires) > 61*time.Minute {
			t.Fatalf("worker's Azure credentials: tenant %q, until %v, issued by the fake: %v", c.Values[azure.CredTenantID], c.Expires, tok == issued[len(issued)-1])
		}
		if _, err := src.Credentials(t.Context(), cloud.AccountRef{OrgID: otherOrg, Provider: "azure", AccountID: azSub, CredentialsType: "dynamic"}); !errors.Is(err, cloud.ErrNotFound) {
			t.Fatalf("another organization's credentials of the subscription: %v, want not found", err)
		}
		if _, err := credsource.New(e.store, nil, nil).Credentials(t.Context(), cloud.AccountRef{OrgID: e.orgID, Provider: "azure", AccountID: azSub, CredentialsType: "dynamic"}); !errors.Is(err, cloud.ErrInvalid) {
			t.Fatalf("credentials without the platform's identity: %v, want invalid", err)
		}
	})

	t.Run("no token or assertion in histories, logs or the store", func(t *testing.T) {
		leaks = append(leaks, fake.Issued()...)
		for _, r := range fake.Requests() {
			leaks = append(leaks, r.Get("client_assertion"))
		}
		for _, l := range leaks {
			if len(l) < 20 {
				t.Fatalf("a secret seen is too short to scan for: %q", l)
			}
		}
		resp, err := tc.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{PageSize: 100})
		must(t, err)
		n := 0
		for _, x := range resp.Executions {
			scanHistory(t, e, x.Execution.WorkflowId, leaks...)
			n++
		}
		if n < 5 {
			t.Fatalf("%d histories scanned, want the 4 connections and the credentials", n)
		}
		logs := e.logs.String()
		for _, l := range leaks {
			if strings.Contains(logs, l) {
				t.Fatal("a secret in the API's log")
			}
		}
		for _, f := range []string{e.dbPath, e.dbPath + "-wal"} {
			raw, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			must(t, err)
			for _, l := range leaks {
				if bytes.Contains(raw, []byte(l)) {
					t.Fatalf("a secret in the store's file %s", f)
				}
			}
		}
	})
}
