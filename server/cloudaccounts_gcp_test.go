package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/gcp"
	"github.com/astropulse/astroplane/cloud/gcp/wiffake"
	"github.com/astropulse/astroplane/credsource"
	"github.com/astropulse/astroplane/gcpconnect"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

const (
	gcpProject = "acme-prod-123"
	gcpNumber  = "493817265012"
)

func (e *env) gcpConnection(t *testing.T, id string, want ...string) map[string]any {
	t.Helper()
	return waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		a := e.do(http.MethodGet, "/api/v1/cloud/gcp/connections/"+id, e.key, nil)
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

// TestGCPConnectionThroughTheAPI: a GCP project connected end to end through the API,
// a real Temporal dev server and worker, and a wire server of Google's STS and
// iamcredentials (the real Google clients calling it): the setup script from the
// status run as a customer would (its gcloud commands applied to the wire server),
// the workflow waiting through IAM's propagation, then CONNECTED; forceUpdate; a
// connection whose setup never comes fails at its deadline with the reason, and one
// whose provider refuses the organization fails at once; temporary credentials
// bounded and working; roles, tenancy and bad input; no token in any history, the
// API's log or the store's file.
func TestGCPConnectionThroughTheAPI(t *testing.T) {
	fake := wiffake.New()
	fake.AddProject(gcpProject, gcpNumber)
	fake.Propagation = 1 // the first impersonation after the script is refused, as while IAM propagates
	gsrv := httptest.NewServer(fake)
	t.Cleanup(gsrv.Close)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	identity, err := gcpconnect.IdentityFromSecret("https://astro.example", secret)
	must(t, err)

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
		CloudAccounts: &activities.CloudAccounts{Store: e.store, GCP: &activities.GCPPlatform{Identity: identity,
			Endpoints:     gcpconnect.Endpoints{STS: gsrv.URL + "/", IAMCredentials: gsrv.URL + "/"},
			ScriptBaseURL: "https://astro.example/api/v1/cloud/gcp/scripts/"}}})
	must(t, w.Start())
	t.Cleanup(w.Stop)

	var leaks []string
	_, _, otherKey := e.newOrg("other", store.RoleAdmin)
	viewerKey := e.newKey(e.orgID, mustViewer(t, e), func(*store.APIKey) {})
	sa := gcpconnect.ServiceAccountEmail(gcpProject, "prod")
	connect := map[string]any{"clusterName": "prod", "targetProjectId": gcpProject, "targetProjectNumber": gcpNumber,
		"level": "manage", "targetRegion": "europe-west1", "duration": "1h"}

	t.Run("connect", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/v1/cloud/gcp/connections", e.key, connect)
		if a.Status != http.StatusAccepted || e.data(a)["provider"] != "gcp" {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		d := e.gcpConnection(t, id, "WAITING_FOR_CUSTOMER")
		g := d["gcp"].(map[string]any)
		script, _ := g["setupScript"].(string)
		if g["projectId"] != gcpProject || g["projectNumber"] != gcpNumber || g["serviceAccountEmail"] != sa ||
			g["workloadIdentityPool"] != "projects/"+gcpNumber+"/locations/global/workloadIdentityPools/"+gcpconnect.PoolID ||
			!strings.Contains(script, "assertion.org == '"+e.orgID+"'") || !strings.Contains(script, gcpconnect.Principal(gcpNumber, e.orgID)) {
			t.Fatalf("gcp details: %v", g)
		}
		if stepStatus(d, workflows.StepSetupScript) != "SUCCEEDED" || stepStatus(d, workflows.StepWaitForFederation) != "RUNNING" || d["deadline"] == nil {
			t.Fatalf("steps while waiting: %v", d)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/gcp/connections", e.key, connect); a.Status != http.StatusConflict {
			t.Fatalf("connect while running: %d %s", a.Status, a.Body)
		}
		// The customer fetches the script at its URL (no key: the URL is the proof)
		// and runs it.
		su, err := url.Parse(g["setupScriptUrl"].(string))
		must(t, err)
		fetched := e.do(http.MethodGet, su.Path, "", nil)
		if fetched.Status != http.StatusOK || string(fetched.Body) != script || !strings.HasPrefix(fetched.Header.Get("Content-Type"), "text/x-shellscript") {
			t.Fatalf("script at %s: %d %s", su, fetched.Status, fetched.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/gcp/scripts/not-a-token", "", nil); a.Status != http.StatusNotFound {
			t.Fatalf("a wrong token: %d %s", a.Status, a.Body)
		}
		token := su.Path[strings.LastIndex(su.Path, "/")+1:]
		if a := e.do(http.MethodGet, "/api/v1/cloud/aws/templates/"+token, "", nil); a.Status != http.StatusNotFound {
			t.Fatalf("the GCP script's token at the AWS template URL: %d %s", a.Status, a.Body)
		}
		if err := fake.Run(string(fetched.Body)); err != nil {
			t.Fatalf("the setup script: %v", err)
		}
		d = e.gcpConnection(t, id, "CONNECTED", "FAILED")
		if d["status"] != "CONNECTED" || stepStatus(d, workflows.StepConnectRecord) != "SUCCEEDED" || d["completedAt"] == nil ||
			d["gcp"].(map[string]any)["setupScript"] != nil {
			t.Fatalf("connected: %v", d)
		}
		if n := len(fake.Requests("generateAccessToken")); n < 2 {
			t.Errorf("%d impersonations, want the refused one while IAM propagated and the one that worked", n)
		}
		recordHistory(t, e.tc, id, "connect-gcp-connected")
		if a := e.do(http.MethodPost, "/api/v1/cloud/gcp/connections", e.key, connect); a.Status != http.StatusConflict {
			t.Fatalf("connect again: %d %s", a.Status, a.Body)
		}
		again := map[string]any{"clusterName": "prod", "targetProjectId": gcpProject, "targetProjectNumber": gcpNumber, "forceUpdate": true}
		a = e.do(http.MethodPost, "/api/v1/cloud/gcp/connections", e.key, again)
		if a.Status != http.StatusAccepted {
			t.Fatalf("forceUpdate: %d %s", a.Status, a.Body)
		}
		if d := e.gcpConnection(t, e.data(a)["operationId"].(string), "CONNECTED", "FAILED"); d["status"] != "CONNECTED" {
			t.Fatalf("forceUpdate: %v", d)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/gcp/connections/"+id, otherKey, nil); a.Status != http.StatusNotFound {
			t.Fatalf("other org reads the connection: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/aws/connections/"+id, e.key, nil); a.Status != http.StatusNotFound {
			t.Fatalf("a GCP connection read as AWS: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/gcp/connections/"+id, viewerKey, nil); a.Status != http.StatusForbidden {
			t.Fatalf("viewer reads the connection: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/gcp/connections", viewerKey, connect); a.Status != http.StatusForbidden {
			t.Fatalf("viewer connects: %d %s", a.Status, a.Body)
		}
	})

	t.Run("setup never comes", func(t *testing.T) {
		a := short.do(http.MethodPost, "/api/v1/cloud/gcp/connections", e.key, map[string]any{"clusterName": "ghost",
			"targetProjectId": "ghost-project", "targetProjectNumber": "111111111111", "level": "read"})
		if a.Status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		d := e.gcpConnection(t, id, "FAILED", "CONNECTED")
		msg, _ := d["message"].(string)
		if d["status"] != "FAILED" || !strings.Contains(msg, "within 2s") || !strings.Contains(msg, "setup script") ||
			!strings.Contains(msg, "does not exist") || stepStatus(d, workflows.StepWaitForFederation) != "FAILED" {
			t.Fatalf("deadline: %v", d)
		}
		recordHistory(t, e.tc, id, "connect-gcp-deadline")
		if a := e.do(http.MethodPost, "/api/v1/cloud/gcp/credentials", e.key, map[string]any{"clusterName": "ghost"}); a.Status != http.StatusNotFound {
			t.Fatalf("credentials of a failed connection: %d %s", a.Status, a.Body)
		}
	})

	t.Run("provider refuses the organization", func(t *testing.T) {
		provider := gcpconnect.ProviderName(gcpNumber, e.orgID)
		fake.SetCondition(provider, "assertion.org == 'someone-else'")
		defer fake.SetCondition(provider, "assertion.org == '"+e.orgID+"'")
		a := e.do(http.MethodPost, "/api/v1/cloud/gcp/connections", e.key, map[string]any{"clusterName": "edited",
			"targetProjectId": gcpProject, "targetProjectNumber": gcpNumber})
		if a.Status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		d := e.gcpConnection(t, e.data(a)["operationId"].(string), "FAILED", "CONNECTED")
		if msg, _ := d["message"].(string); d["status"] != "FAILED" || !strings.Contains(msg, "attribute condition") ||
			!strings.Contains(msg, "run the setup script unchanged") {
			t.Fatalf("refused: %v", d)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			path, field string
			body        map[string]any
		}{
			{"/api/v1/cloud/gcp/connections", "targetProjectNumber", map[string]any{"clusterName": "x", "targetProjectId": gcpProject, "targetProjectNumber": "12ab"}},
			{"/api/v1/cloud/gcp/connections", "targetProjectNumber", map[string]any{"clusterName": "x", "targetProjectId": gcpProject, "targetProjectNumber": "0123"}},
			{"/api/v1/cloud/gcp/connections", "targetProjectNumber", map[string]any{"clusterName": "x", "targetProjectId": gcpProject}},
			{"/api/v1/cloud/gcp/connections", "targetProjectId", map[string]any{"clusterName": "x", "targetProjectId": "Bad_Project", "targetProjectNumber": gcpNumber}},
			{"/api/v1/cloud/gcp/connections", "level", map[string]any{"clusterName": "x", "targetProjectId": gcpProject, "targetProjectNumber": gcpNumber, "level": "admin"}},
			{"/api/v1/cloud/gcp/connections", "duration", map[string]any{"clusterName": "x", "targetProjectId": gcpProject, "targetProjectNumber": gcpNumber, "duration": "2h"}},
			{"/api/v1/cloud/gcp/credentials", "duration", map[string]any{"clusterName": "prod", "duration": "2h"}},
			{"/api/v1/cloud/gcp/credentials", "duration", map[string]any{"clusterName": "prod", "duration": "1m"}},
			{"/api/v1/cloud/gcp/credentials", "targetProjectId", map[string]any{"clusterName": "prod", "targetProjectId": "x"}},
		} {
			a := e.do(http.MethodPost, tc.path, e.key, tc.body)
			if env := a.Error(t); a.Status != http.StatusBadRequest || env.Details[tc.field] == nil {
				t.Errorf("%s %v: %d %s, want 400 naming %s", tc.path, tc.body, a.Status, a.Body, tc.field)
			}
		}
		a := e.do(http.MethodPost, "/api/v1/cloud/gcp/connections", e.key, map[string]any{"clusterName": "nowhere", "targetProjectNumber": gcpNumber})
		if env := a.Error(t); a.Status != http.StatusUnprocessableEntity || env.Details["targetProjectId"] == nil {
			t.Errorf("no project: %d %s", a.Status, a.Body)
		}
		a = e.do(http.MethodPost, "/api/v1/cloud/gcp/credentials", e.key, map[string]any{"clusterName": "prod", "targetProjectId": "another-project"})
		if env := a.Error(t); a.Status != http.StatusUnprocessableEntity || env.Details["targetProjectId"] == nil {
			t.Errorf("another project: %d %s", a.Status, a.Body)
		}
	})

	t.Run("temporary credentials", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/v1/cloud/gcp/credentials", e.key, map[string]any{"clusterName": "prod", "duration": "30m"})
		if a.Status != http.StatusOK || a.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("credentials: %d %s", a.Status, a.Body)
		}
		c := e.data(a)
		tok := c["accessToken"].(string)
		leaks = append(leaks, tok)
		exp, err := time.Parse(time.RFC3339, c["expireTime"].(string))
		must(t, err)
		if d := time.Until(exp); d < 25*time.Minute || d > 35*time.Minute || c["serviceAccountEmail"] != sa ||
			c["projectId"] != gcpProject || c["region"] != "europe-west1" {
			t.Errorf("credentials: %v (expire in %s, want 30m)", c, d)
		}
		// It works: Google knows it as the service account's, until then.
		if who, until, ok := fake.AccessTokenInfo(tok); !ok || who != sa || until.Sub(exp).Abs() > time.Second {
			t.Fatalf("token of %q until %v", who, until)
		}
		g := fake.Requests("generateAccessToken")
		if last := g[len(g)-1]; last.Body["lifetime"] != "1800s" || last.Name != sa {
			t.Fatalf("generateAccessToken asked %v for %s", last.Body, last.Name)
		}
		// The default is an hour, and integer nanoseconds work too (the reference's
		// form); a viewer and another organization get none.
		if a := e.do(http.MethodPost, "/api/v1/cloud/gcp/credentials", e.key, map[string]any{"clusterName": "prod"}); a.Status != http.StatusOK {
			t.Fatalf("default duration: %d %s", a.Status, a.Body)
		} else {
			leaks = append(leaks, e.data(a)["accessToken"].(string))
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/gcp/credentials", e.key, map[string]any{"clusterName": "prod", "duration": int64(10 * time.Minute)}); a.Status != http.StatusOK {
			t.Fatalf("nanoseconds: %d %s", a.Status, a.Body)
		} else {
			leaks = append(leaks, e.data(a)["accessToken"].(string))
			g := fake.Requests("generateAccessToken")
			if l := g[len(g)-1].Body["lifetime"]; l != "600s" {
				t.Fatalf("lifetime %v, want 600s", l)
			}
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/gcp/credentials", viewerKey, map[string]any{"clusterName": "prod"}); a.Status != http.StatusForbidden {
			t.Fatalf("viewer: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/gcp/credentials", otherKey, map[string]any{"clusterName": "prod"}); a.Status != http.StatusNotFound {
			t.Fatalf("other org: %d %s", a.Status, a.Body)
		}
		events, _, err := e.store.ListAudit(context.Background(), e.orgID, store.AuditFilter{Action: "ISSUE_CREDENTIALS"}, store.Page{Number: 1, Size: 100})
		must(t, err)
		n := 0
		for _, ev := range events {
			if ev.Outcome == store.OutcomeSuccess && bytes.Contains(ev.Details, []byte(sa)) {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d ISSUE_CREDENTIALS audit events, want 3", n)
		}
	})

	t.Run("worker credential source", func(t *testing.T) {
		src := credsource.New(e.store, nil, nil).WithGCP(identity, gcpconnect.Endpoints{STS: gsrv.URL + "/", IAMCredentials: gsrv.URL + "/"})
		c, err := src.Credentials(t.Context(), cloud.AccountRef{OrgID: e.orgID, Provider: "gcp", AccountID: gcpProject, CredentialsType: "dynamic"})
		must(t, err)
		tok := c.Values[gcp.AccessTokenKey]
		leaks = append(leaks, tok)
		if who, _, ok := fake.AccessTokenInfo(tok); !ok || who != sa || c.Values[gcp.ProjectKey] != gcpProject || time.Until(c.Expires) > time.Hour {
			t.Fatalf("worker's token of %q, %v until %v", who, c.Values[gcp.ProjectKey], c.Expires)
		}
		_, err = src.Credentials(t.Context(), cloud.AccountRef{OrgID: e.orgID, Provider: "gcp", AccountID: "ghost-project", CredentialsType: "dynamic"})
		if !errors.Is(err, cloud.ErrNotFound) {
			t.Fatalf("unconnected project: %v", err)
		}
		_, err = credsource.New(e.store, nil, nil).Credentials(t.Context(), cloud.AccountRef{OrgID: e.orgID, Provider: "gcp", AccountID: gcpProject, CredentialsType: "dynamic"})
		if !errors.Is(err, cloud.ErrInvalid) {
			t.Fatalf("no GCP identity: %v", err)
		}
	})

	t.Run("no token in histories, logs or the store", func(t *testing.T) {
		// The platform's subject tokens and the federated tokens are secrets too.
		for _, r := range fake.Requests("sts.token") {
			leaks = append(leaks, r.Body["subjectToken"].(string))
		}
		for _, r := range fake.Requests("generateAccessToken") {
			leaks = append(leaks, strings.TrimPrefix(r.Auth, "Bearer "))
		}
		ids := map[string]bool{}
		waitFor(t, 10*time.Second, func() (int, bool) {
			resp, err := tc.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{PageSize: 100})
			must(t, err)
			for _, x := range resp.Executions {
				ids[x.Execution.WorkflowId] = true
			}
			return len(ids), len(ids) >= 7 // 4 connections, 3 credentials
		})
		for id := range ids {
			scanHistory(t, e, id, leaks...)
		}
		logs := e.logs.String()
		for _, l := range leaks {
			if len(l) < 16 {
				t.Fatalf("a secret seen is too short to scan for: %q", l)
			}
			if strings.Contains(logs, l) {
				t.Fatal("a secret in the API's log")
			}
		}
		for _, f := range []string{e.dbPath, e.dbPath + "-wal"} {
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, l := range leaks {
				if bytes.Contains(raw, []byte(l)) {
					t.Fatalf("a secret in the store's file %s", f)
				}
			}
		}
	})
}
