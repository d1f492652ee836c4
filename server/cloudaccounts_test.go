package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/credsource"
	"github.com/astropulse/astroplane/internal/testmoto"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// motoAccount is moto's default account: the "customer's" stacks go there.
const motoAccount = "123456789012"

func motoAWS(t *testing.T, endpoint, key, secret, token string) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(key, secret, token)),
		config.WithRetryMaxAttempts(1))
	must(t, err)
	cfg.BaseEndpoint = aws.String(endpoint)
	return cfg
}

// createStackFromLink does what the customer does with the setup link: opens it,
// fetches the template at its templateURL (from the API, unauthenticated) and creates
// the stack with the link's parameters, in moto.
func createStackFromLink(t *testing.T, e *env, cfg aws.Config, link string) {
	t.Helper()
	_, frag, _ := strings.Cut(link, "#/stacks/quickcreate?")
	q, err := url.ParseQuery(frag)
	must(t, err)
	tu, err := url.Parse(q.Get("templateURL"))
	must(t, err)
	a := e.do(http.MethodGet, tu.Path, "", nil)
	if a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte("AWS::IAM::Role")) {
		t.Fatalf("template: %d %s", a.Status, a.Body)
	}
	in := &cloudformation.CreateStackInput{StackName: aws.String(q.Get("stackName")), TemplateBody: aws.String(string(a.Body)),
		Capabilities: []cftypes.Capability{cftypes.CapabilityCapabilityNamedIam}}
	for k, v := range q {
		if name, ok := strings.CutPrefix(k, "param_"); ok {
			in.Parameters = append(in.Parameters, cftypes.Parameter{ParameterKey: aws.String(name), ParameterValue: aws.String(v[0])})
		}
	}
	cf := cloudformation.NewFromConfig(cfg)
	_, err = cf.CreateStack(t.Context(), in)
	must(t, err)
	waitFor(t, 20*time.Second, func() (string, bool) {
		out, err := cf.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: in.StackName})
		must(t, err)
		st := out.Stacks[0].StackStatus
		if strings.Contains(string(st), "FAILED") || strings.Contains(string(st), "ROLLBACK") {
			t.Fatalf("stack: %s %s", st, aws.ToString(out.Stacks[0].StackStatusReason))
		}
		return string(st), st == cftypes.StackStatusCreateComplete
	})
}

func (e *env) connection(t *testing.T, id string, want ...string) map[string]any {
	t.Helper()
	return waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		a := e.do(http.MethodGet, "/api/v1/cloud/aws/connections/"+id, e.key, nil)
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

func stepStatus(d map[string]any, name string) string {
	for _, s := range d["steps"].([]any) {
		if st := s.(map[string]any); st["name"] == name {
			return st["status"].(string)
		}
	}
	return ""
}

// TestAWSConnectionAndVaultThroughTheAPI: an AWS account connected end to end through
// the API, a real Temporal dev server and worker, and moto (the template's stack
// created through CloudFormation as the customer would from the link); a connection
// whose role never appears fails at its deadline with the reason; temporary
// credentials that work; the vault with masking, bound records and tenancy; the
// worker's credential source; and no secret in any history, the API's log or the
// store's file.
func TestAWSConnectionAndVaultThroughTheAPI(t *testing.T) {
	moto := testmoto.Start(t)
	dev := testtemporal.Start(t)
	tc := dev.Client()
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.NewBox(key)
	must(t, err)
	e := newEnvWith(t, tc, server.Options{Box: box, CloudConnectTimeout: time.Minute, CloudConnectPoll: 100 * time.Millisecond})
	// short is the same API with a connection deadline of 2 s.
	shortSrv, err := server.New(server.Options{Store: e.store, Temporal: tc, TaskQueue: workflows.TaskQueue, Box: box,
		Log: slog.New(slog.NewJSONHandler(e.logs, nil)), CloudConnectTimeout: 2 * time.Second, CloudConnectPoll: 100 * time.Millisecond})
	must(t, err)
	short := *e
	short.srv = shortSrv

	platform := motoAWS(t, moto.URL, "AKIAPLATFORMEXAMPLE", "platform-secret-key", "")
	customer := motoAWS(t, moto.URL, "AKIACUSTOMEREXAMPLE", "customer-secret-key", "")
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster:  &activities.Cluster{Store: e.store},
		Notifier: &activities.Notifier{Store: e.store},
		CloudAccounts: &activities.CloudAccounts{Store: e.store, AWS: &platform,
			PlatformPrincipal: "arn:aws:iam::999999999999:root", TemplateBaseURL: "https://astro.example/api/v1/cloud/aws/templates/"}})
	must(t, w.Start())
	t.Cleanup(w.Stop)

	var leaks []string // every secret seen: none may be in a history, a log line or the store's file
	otherOrg, _, otherKey := e.newOrg("other", store.RoleAdmin)
	viewerKey := e.newKey(e.orgID, mustViewer(t, e), func(*store.APIKey) {})

	t.Run("connect", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/v1/cloud/aws/connections", e.key, map[string]any{
			"clusterName": "prod", "destinationAccountId": motoAccount, "level": "manage", "targetRegion": "eu-west-1",
			"duration": 3600000000000})
		if a.Status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		d := e.connection(t, id, "WAITING_FOR_CUSTOMER")
		awsd := d["aws"].(map[string]any)
		link, ext := awsd["setupUrl"].(string), awsd["externalId"].(string)
		if !strings.HasPrefix(link, "https://console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/quickcreate?") ||
			!strings.Contains(link, "param_ExternalId="+ext) || !strings.HasPrefix(ext, "astro-") {
			t.Fatalf("setup link %s, external ID %s", link, ext)
		}
		if stepStatus(d, workflows.StepTemplate) != "SUCCEEDED" || stepStatus(d, workflows.StepWaitForRole) != "RUNNING" || d["deadline"] == nil {
			t.Fatalf("steps while waiting: %v", d)
		}
		// A second connect while the first runs is refused.
		if a := e.do(http.MethodPost, "/api/v1/cloud/aws/connections", e.key, map[string]any{"clusterName": "prod", "destinationAccountId": motoAccount}); a.Status != http.StatusConflict {
			t.Fatalf("connect while running: %d %s", a.Status, a.Body)
		}
		createStackFromLink(t, e, customer, link)
		d = e.connection(t, id, "CONNECTED", "FAILED")
		if d["status"] != "CONNECTED" || d["aws"].(map[string]any)["roleArn"] != "arn:aws:iam::"+motoAccount+":role/AstroPlane-prod" ||
			stepStatus(d, workflows.StepConnectRecord) != "SUCCEEDED" || d["completedAt"] == nil {
			t.Fatalf("connected: %v", d)
		}
		recordHistory(t, e.tc, id, "connect-aws-connected")
		// Connections are not cluster operations: the progress list leaves them out.
		if items := e.data(e.do(http.MethodGet, "/api/v1/cluster-progress", e.key, nil))["items"].([]any); len(items) != 0 {
			t.Errorf("cluster-progress lists %d items, want none (the organization has connections only): %v", len(items), items)
		}
		// Connected: again only with forceUpdate, which re-runs over it.
		if a := e.do(http.MethodPost, "/api/v1/cloud/aws/connections", e.key, map[string]any{"clusterName": "prod", "destinationAccountId": motoAccount}); a.Status != http.StatusConflict {
			t.Fatalf("connect again: %d %s", a.Status, a.Body)
		}
		a = e.do(http.MethodPost, "/api/v1/cloud/aws/connections", e.key, map[string]any{"clusterName": "prod", "destinationAccountId": motoAccount, "forceUpdate": true, "level": "manage"})
		if a.Status != http.StatusAccepted {
			t.Fatalf("forceUpdate: %d %s", a.Status, a.Body)
		}
		id2 := e.data(a)["operationId"].(string)
		if d := e.connection(t, id2, "CONNECTED", "FAILED"); d["status"] != "CONNECTED" || d["aws"].(map[string]any)["externalId"] != nil {
			t.Fatalf("forceUpdate: %v", d)
		} else if ext2 := externalIDOfLink(t, e, id2); ext2 != ext {
			t.Fatalf("external ID changed from %s to %s: it is the organization's, made once", ext, ext2)
		}
		// Another organization sees nothing of it; the Cloud group is for admins (as
		// the reference's AdminAuth says).
		if a := e.do(http.MethodGet, "/api/v1/cloud/aws/connections/"+id, otherKey, nil); a.Status != http.StatusNotFound {
			t.Fatalf("other org reads the connection: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/aws/connections/"+id, viewerKey, nil); a.Status != http.StatusForbidden {
			t.Fatalf("viewer reads the connection: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/aws/connections", viewerKey, map[string]any{"clusterName": "x", "destinationAccountId": motoAccount}); a.Status != http.StatusForbidden {
			t.Fatalf("viewer connects: %d %s", a.Status, a.Body)
		}
	})

	t.Run("role never appears", func(t *testing.T) {
		a := short.do(http.MethodPost, "/api/v1/cloud/aws/connections", e.key, map[string]any{
			"clusterName": "ghost", "destinationAccountId": "210987654321", "level": "read", "duration": "1h"})
		if a.Status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		d := e.connection(t, id, "FAILED", "CONNECTED")
		msg, _ := d["message"].(string)
		if d["status"] != "FAILED" || !strings.Contains(msg, "AstroPlane-ghost") || !strings.Contains(msg, "within 2s") ||
			!strings.Contains(msg, "setup link") || stepStatus(d, workflows.StepWaitForRole) != "FAILED" {
			t.Fatalf("deadline: %v", d)
		}
		recordHistory(t, e.tc, id, "connect-aws-deadline")
		if a := e.do(http.MethodPost, "/api/v1/cloud/aws/credentials", e.key, map[string]any{"clusterName": "ghost"}); a.Status != http.StatusNotFound {
			t.Fatalf("credentials of a failed connection: %d %s", a.Status, a.Body)
		}
	})

	t.Run("workflow ended without recording", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/v1/cloud/aws/connections", e.key, map[string]any{"clusterName": "lost", "destinationAccountId": "210987654321"})
		if a.Status != http.StatusAccepted {
			t.Fatalf("connect: %d %s", a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		e.connection(t, id, "WAITING_FOR_CUSTOMER")
		must(t, tc.TerminateWorkflow(t.Context(), id, "", "operator"))
		if d := e.connection(t, id, "FAILED"); !strings.Contains(d["message"].(string), "terminated") || d["completedAt"] == nil {
			t.Fatalf("terminated: %v", d)
		}
		// The cluster may connect again.
		if a := e.do(http.MethodPost, "/api/v1/cloud/aws/connections", e.key, map[string]any{"clusterName": "lost", "destinationAccountId": "210987654321"}); a.Status != http.StatusAccepted {
			t.Fatalf("connect again: %d %s", a.Status, a.Body)
		} else {
			e.connection(t, e.data(a)["operationId"].(string), "WAITING_FOR_CUSTOMER")
			must(t, tc.CancelWorkflow(t.Context(), e.data(a)["operationId"].(string), ""))
			if d := e.connection(t, e.data(a)["operationId"].(string), "CANCELLED"); stepStatus(d, workflows.StepWaitForRole) != "CANCELLED" {
				t.Fatalf("cancelled: %v", d)
			}
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			body map[string]any
		}{
			{"/api/v1/cloud/aws/credentials", map[string]any{"clusterName": "prod", "duration": "5m"}},
			{"/api/v1/cloud/aws/credentials", map[string]any{"clusterName": "prod", "duration": "13h"}},
			{"/api/v1/cloud/aws/credentials", map[string]any{"clusterName": "prod", "duration": 99}},
			{"/api/v1/cloud/aws/credentials", map[string]any{"clusterName": "prod", "duration": "soon"}},
			{"/api/v1/cloud/aws/connections", map[string]any{"clusterName": "prod", "duration": "1x"}},
			{"/api/v1/cloud/aws/connections", map[string]any{"clusterName": "prod", "duration": int64(48 * time.Hour)}},
		} {
			a := e.do(http.MethodPost, tc.path, e.key, tc.body)
			env := a.Error(t)
			if a.Status != http.StatusBadRequest || env.Details["duration"] == nil {
				t.Errorf("%s %v: %d %s, want 400 naming duration", tc.path, tc.body, a.Status, a.Body)
			}
		}
		a := e.do(http.MethodPost, "/api/v1/cloud/aws/connections", e.key, map[string]any{"clusterName": "nowhere"})
		if env := a.Error(t); a.Status != http.StatusUnprocessableEntity || env.Details["destinationAccountId"] == nil {
			t.Errorf("no account: %d %s", a.Status, a.Body)
		}
	})

	t.Run("temporary credentials", func(t *testing.T) {
		a := e.do(http.MethodPost, "/api/v1/cloud/aws/credentials", e.key, map[string]any{"clusterName": "prod", "duration": "30m"})
		if a.Status != http.StatusOK || a.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("credentials: %d %s", a.Status, a.Body)
		}
		c := e.data(a)
		secret, token := c["secretAccessKey"].(string), c["sessionToken"].(string)
		leaks = append(leaks, secret, token)
		exp, err := time.Parse(time.RFC3339, c["expiration"].(string))
		must(t, err)
		if d := time.Until(exp); d < 25*time.Minute || d > 35*time.Minute {
			t.Errorf("expiration in %s, want 30m", d)
		}
		// They work: STS knows them as the connected role's session.
		as := motoAWS(t, moto.URL, c["accessKeyId"].(string), secret, token)
		id, err := sts.NewFromConfig(as).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		must(t, err)
		if !strings.Contains(aws.ToString(id.Arn), "assumed-role/AstroPlane-prod/") || aws.ToString(id.Account) != motoAccount {
			t.Fatalf("identity %s in %s", aws.ToString(id.Arn), aws.ToString(id.Account))
		}
		// Integer nanoseconds work too; a viewer and another organization get none.
		if a := e.do(http.MethodPost, "/api/v1/cloud/aws/credentials", e.key, map[string]any{"clusterName": "prod", "duration": int64(time.Hour)}); a.Status != http.StatusOK {
			t.Fatalf("nanoseconds: %d %s", a.Status, a.Body)
		} else {
			leaks = append(leaks, e.data(a)["secretAccessKey"].(string))
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/aws/credentials", viewerKey, map[string]any{"clusterName": "prod"}); a.Status != http.StatusForbidden {
			t.Fatalf("viewer: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/aws/credentials", otherKey, map[string]any{"clusterName": "prod"}); a.Status != http.StatusNotFound {
			t.Fatalf("other org: %d %s", a.Status, a.Body)
		}
		events, _, err := e.store.ListAudit(context.Background(), e.orgID, store.AuditFilter{Action: "ISSUE_CREDENTIALS"}, store.Page{Number: 1, Size: 100})
		must(t, err)
		n := 0
		for _, ev := range events {
			if ev.Outcome == store.OutcomeSuccess && bytes.Contains(ev.Details, []byte("AstroPlane-prod")) {
				n++
			}
			for _, l := range leaks {
				if bytes.Contains(ev.Details, []byte(l)) {
					t.Fatal("a secret in an audit event")
				}
			}
		}
		if n != 2 {
			t.Errorf("%d ISSUE_CREDENTIALS audit events, want 2", n)
		}
	})

	t.Run("worker credential source", func(t *testing.T) {
		src := credsource.New(e.store, box, &platform)
		c, err := src.Credentials(t.Context(), cloud.AccountRef{OrgID: e.orgID, Provider: "aws", AccountID: motoAccount, CredentialsType: "dynamic"})
		must(t, err)
		leaks = append(leaks, c.Values[credsource.KeySecretAccessKey], c.Values[credsource.KeySessionToken])
		as := motoAWS(t, moto.URL, c.Values[credsource.KeyAccessKeyID], c.Values[credsource.KeySecretAccessKey], c.Values[credsource.KeySessionToken])
		id, err := sts.NewFromConfig(as).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		must(t, err)
		if !strings.Contains(aws.ToString(id.Arn), "assumed-role/AstroPlane-prod/") || c.Expires.IsZero() {
			t.Fatalf("identity %s, expires %v", aws.ToString(id.Arn), c.Expires)
		}
		_, err = src.Credentials(t.Context(), cloud.AccountRef{OrgID: e.orgID, Provider: "aws", AccountID: "210987654321", CredentialsType: "dynamic"})
		if !errors.Is(err, cloud.ErrNotFound) {
			t.Fatalf("unconnected account: %v", err)
		}
	})

	t.Run("vault", func(t *testing.T) {
		const secret = "vault-secret-abcdefghijkl"
		leaks = append(leaks, secret)
		body := map[string]any{"clusterName": "edge", "provider": "aws", "accountId": motoAccount, "bucketName": "state",
			"region": "us-east-1", "credentials": map[string]string{"accessKeyId": "AKIAVAULTEXAMPLE", "secretAccessKey": secret}}
		a := e.do(http.MethodPost, "/api/v1/cloud/self-hosted/credentials", e.key, body)
		if a.Status != http.StatusCreated || bytes.Contains(a.Body, []byte(secret)) {
			t.Fatalf("store: %d %s", a.Status, a.Body)
		}
		if m := e.data(a)["maskedCredentials"].(map[string]any); m["secretAccessKey"] != "••••ijkl" {
			t.Fatalf("masked: %v", m)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/self-hosted/credentials", e.key, body); a.Status != http.StatusConflict {
			t.Fatalf("store again: %d %s", a.Status, a.Body)
		}
		body["forceUpdate"] = true
		if a := e.do(http.MethodPost, "/api/v1/cloud/self-hosted/credentials", e.key, body); a.Status != http.StatusCreated {
			t.Fatalf("forceUpdate: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/self-hosted/credentials?clusterName=edge", viewerKey, nil); a.Status != http.StatusForbidden {
			t.Fatalf("viewer reads the vault's status: %d %s", a.Status, a.Body)
		}
		a = e.do(http.MethodGet, "/api/v1/cloud/self-hosted/credentials?clusterName=edge", e.key, nil)
		d := e.data(a)
		if a.Status != http.StatusOK || d["stored"] != true || bytes.Contains(a.Body, []byte(secret)) || d["keyId"] != box.KeyID() ||
			len(d["credentialKeys"].([]any)) != 2 {
			t.Fatalf("status: %d %s", a.Status, a.Body)
		}
		// Another organization sees none and deletes none.
		if a := e.do(http.MethodGet, "/api/v1/cloud/self-hosted/credentials?clusterName=edge", otherKey, nil); e.data(a)["stored"] != false {
			t.Fatalf("other org status: %s", a.Body)
		}
		if a := e.do(http.MethodDelete, "/api/v1/cloud/self-hosted/credentials?clusterName=edge", otherKey, nil); a.Status != http.StatusNotFound {
			t.Fatalf("other org delete: %d %s", a.Status, a.Body)
		}
		// The worker opens the record; the same sealed value moved to another row
		// (of this organization or another) does not open.
		src := credsource.New(e.store, box, nil)
		c, err := src.Credentials(t.Context(), cloud.AccountRef{OrgID: e.orgID, Provider: "aws", CredentialsType: "vault", VaultRef: "edge"})
		if err != nil || c.Values["secretAccessKey"] != secret {
			t.Fatalf("vault credentials: %v", err)
		}
		body2 := map[string]any{"clusterName": "edge2", "provider": "aws", "accountId": motoAccount, "bucketName": "state",
			"region": "us-east-1", "credentials": map[string]string{"token": "decoy-value-0123456789"}}
		if a := e.do(http.MethodPost, "/api/v1/cloud/self-hosted/credentials", e.key, body2); a.Status != http.StatusCreated {
			t.Fatalf("store edge2: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodPost, "/api/v1/cloud/self-hosted/credentials", otherKey, body2); a.Status != http.StatusCreated {
			t.Fatalf("store other's edge2: %d %s", a.Status, a.Body)
		}
		rec, err := e.store.GetSelfHostedCredential(t.Context(), e.orgID, "edge")
		must(t, err)
		for _, org := range []string{e.orgID, otherOrg} {
			moved, err := e.store.GetSelfHostedCredential(t.Context(), org, "edge2")
			must(t, err)
			moved.Sealed = rec.Sealed
			must(t, e.store.ReplaceSelfHostedCredential(t.Context(), &moved))
			_, err = src.Credentials(t.Context(), cloud.AccountRef{OrgID: org, Provider: "aws", CredentialsType: "vault", VaultRef: "edge2"})
			if !errors.Is(err, cloud.ErrInvalid) || strings.Contains(err.Error(), secret) {
				t.Fatalf("moved sealed value (org %s) opens or leaks: %v", org, err)
			}
		}
		if a := e.do(http.MethodDelete, "/api/v1/cloud/self-hosted/credentials?clusterName=edge", e.key, nil); a.Status != http.StatusOK || e.data(a)["deleted"] != true {
			t.Fatalf("delete: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodDelete, "/api/v1/cloud/self-hosted/credentials?clusterName=edge", e.key, nil); a.Status != http.StatusNotFound {
			t.Fatalf("delete again: %d %s", a.Status, a.Body)
		}
		if a := e.do(http.MethodGet, "/api/v1/cloud/self-hosted/credentials?clusterName=edge", e.key, nil); e.data(a)["stored"] != false {
			t.Fatalf("status after delete: %s", a.Body)
		}
		a = e.do(http.MethodPost, "/api/v1/cloud/self-hosted/credentials", e.key, map[string]any{"clusterName": "edge3", "provider": "aws",
			"accountId": "1", "bucketName": "b", "region": "r", "credentials": map[string]string{"k": ""}})
		if env := a.Error(t); a.Status != http.StatusBadRequest || env.Details["credentials.k"] == nil {
			t.Fatalf("empty value: %d %s", a.Status, a.Body)
		}
	})

	t.Run("no secret in histories, logs or the store", func(t *testing.T) {
		for _, l := range leaks {
			if len(l) < 8 {
				t.Fatalf("a secret seen is too short to scan for: %q", l)
			}
		}
		ids := map[string]bool{}
		waitFor(t, 10*time.Second, func() (int, bool) {
			resp, err := tc.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{PageSize: 100})
			must(t, err)
			for _, x := range resp.Executions {
				ids[x.Execution.WorkflowId] = true
			}
			return len(ids), len(ids) >= 7 // 5 connections, 2 credentials
		})
		for id := range ids {
			scanHistory(t, e, id, leaks...)
			it := tc.GetWorkflowHistory(t.Context(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				must(t, err)
				if strings.Contains(ev.String(), "platform-secret-key") {
					t.Fatalf("the platform's key in %s", id)
				}
			}
		}
		logs := e.logs.String()
		for _, l := range leaks {
			if strings.Contains(logs, l) {
				t.Fatalf("a secret in the API's log")
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

func externalIDOfLink(t *testing.T, e *env, id string) string {
	t.Helper()
	c, err := e.store.GetCloudConnection(t.Context(), e.orgID, id)
	must(t, err)
	_, frag, _ := strings.Cut(c.SetupURL, "#/stacks/quickcreate?")
	q, err := url.ParseQuery(frag)
	must(t, err)
	return q.Get("param_ExternalId")
}

// mustViewer adds a viewer to e's organization and returns their user ID.
func mustViewer(t *testing.T, e *env) string {
	t.Helper()
	u := store.User{ID: store.NewID(), Email: "viewer-cloud@example.com"}
	must(t, e.store.CreateUser(context.Background(), &u))
	must(t, e.store.AddMember(context.Background(), e.orgID, u.ID, store.RoleViewer))
	return u.ID
}
