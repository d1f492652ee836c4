package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
)

func keyedEnv(t *testing.T) *env {
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	signer, err := approval.NewSigner([]byte("signing-key-signing-key-signing-key!"))
	must(t, err)
	return newEnvWith(t, nil, server.Options{Box: box, Signer: signer, Guard: notify.Guard{}})
}

func TestNotificationIntegrations(t *testing.T) {
	e := keyedEnv(t)
	org := []string{"X-Astro-Organization-ID", e.orgID}
	put := func(body map[string]any, headers ...string) answer {
		return e.do(http.MethodPut, "/api/v1/notifications/integrations", e.key, body, append(headers, org...)...)
	}

	// Server-side request forgery: loopback, link-local and private destinations
	// are refused (no allow-list in this server), and so is plain http to a public
	// address (IP literals: no test depends on DNS), naming the field.
	for _, u := range []string{"http://127.0.0.1:9/x", "https://169.254.169.254/latest", "https://10.0.0.1/hook", "http://93.184.216.34/x"} {
		a := put(map[string]any{"channel": "slack", "config": map[string]any{"webhookUrl": u}})
		if a.Status != http.StatusBadRequest || a.Error(t).Details["config.webhookUrl"] == nil {
			t.Fatalf("webhook %s: %d %s", u, a.Status, a.Body)
		}
	}
	secret := "https://93.184.216.34/services/T000/B000/XXXXsecretXXXX"
	a := put(map[string]any{"channel": "slack", "config": map[string]any{"webhookUrl": secret, "slackChannel": "#ops"}})
	if a.Status != http.StatusOK || strings.Contains(string(a.Body), "XXXXsecretXXXX") {
		t.Fatalf("slack integration: %d %s", a.Status, a.Body)
	}
	a = put(map[string]any{"channel": "email", "config": map[string]any{"recipients": []any{"ops@example.com"},
		"smtp": map[string]any{"host": "smtp.example.com", "port": 587, "username": "u", "password": "smtp-password-123"}}})
	if a.Status != http.StatusOK || strings.Contains(string(a.Body), "smtp-password-123") {
		t.Fatalf("email integration: %d %s", a.Status, a.Body)
	}
	if a := put(map[string]any{"channel": "email", "config": map[string]any{"recipients": []any{}}}); a.Status != http.StatusBadRequest {
		t.Fatalf("email without recipients: %d %s", a.Status, a.Body)
	}
	list := e.do(http.MethodGet, "/api/v1/notifications/integrations", e.key, nil, org...)
	if list.Status != http.StatusOK || strings.Contains(string(list.Body), "secret") || strings.Contains(string(list.Body), "smtp-password") ||
		!strings.Contains(string(list.Body), `"webhookConfigured":true`) {
		t.Fatalf("list: %d %s", list.Status, list.Body)
	}
	// Stored sealed, not in clear.
	row, err := e.store.GetIntegration(t.Context(), e.orgID, "slack")
	must(t, err)
	if strings.Contains(row.SealedConfig, "XXXXsecretXXXX") {
		t.Fatal("webhook URL stored in clear")
	}
	// Another organization's key with our header is refused (403) and sees nothing.
	_, _, otherKey := e.newOrg("globex", store.RoleAdmin)
	if a := e.do(http.MethodGet, "/api/v1/notifications/integrations/slack", otherKey, nil, org...); a.Status != http.StatusForbidden || strings.Contains(string(a.Body), "#ops") {
		t.Fatalf("another org's key with our org header: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodDelete, "/api/v1/notifications/integrations/slack", e.key, nil, org...); a.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/notifications/integrations/slack", e.key, nil, org...); a.Status != http.StatusNotFound {
		t.Fatalf("after delete: %d %s", a.Status, a.Body)
	}
	// Only admins configure notifications.
	_, _, viewerKey := e.newOrg("viewers", store.RoleViewer)
	if a := e.do(http.MethodGet, "/api/v1/notifications/integrations", viewerKey, nil, org...); a.Status != http.StatusForbidden {
		t.Fatalf("viewer: %d %s", a.Status, a.Body)
	}
}

func TestSubscriptionsAndUnsubscribeLinks(t *testing.T) {
	e := keyedEnv(t)
	org := []string{"X-Astro-Organization-ID", e.orgID}
	if a := e.do(http.MethodPut, "/api/v1/notifications/subscriptions", e.key,
		map[string]any{"topic": "cluster.failed", "channels": []any{"email", "slack"}}, org...); a.Status != http.StatusOK {
		t.Fatalf("subscribe: %d %s", a.Status, a.Body)
	}
	for _, bad := range []map[string]any{
		{"topic": "cluster.failed", "channels": []any{}},
		{"topic": "no.such.topic", "channels": []any{"email"}},
		{"topic": "cluster.failed", "channels": []any{"pigeon"}},
	} {
		if a := e.do(http.MethodPut, "/api/v1/notifications/subscriptions", e.key, bad, org...); a.Status != http.StatusBadRequest {
			t.Fatalf("subscription %v: %d %s", bad, a.Status, a.Body)
		}
	}
	if a := e.do(http.MethodGet, "/api/v1/notifications/topics", "", nil); !strings.Contains(string(a.Body), activities.TopicClusterApprovalRequest) {
		t.Fatalf("topics: %s", a.Body)
	}

	// An unsubscribe link: its GET shows a button and changes nothing; its POST
	// removes that one channel; an altered token is refused.
	signer, _ := approval.NewSigner([]byte("signing-key-signing-key-signing-key!"))
	token, err := signer.Sign(approval.Claims{OrgID: e.orgID, Purpose: approval.PurposeUnsubscribe, Topic: "cluster.failed",
		Channel: "email", ExpiresAt: time.Now().Add(time.Hour)})
	must(t, err)
	q := "?" + url.Values{"token": {token}}.Encode()
	if a := e.do(http.MethodGet, "/api/v1/notifications/unsubscribe"+q, "", nil); a.Status != http.StatusOK || !strings.Contains(string(a.Body), `id="unsubscribe"`) {
		t.Fatalf("unsubscribe page: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/notifications/unsubscribe?token=v1.bogus.sig", "", nil); a.Status != http.StatusBadRequest {
		t.Fatalf("bogus token: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/notifications/unsubscribe"+q, "", nil); a.Status != http.StatusOK {
		t.Fatalf("unsubscribe: %d %s", a.Status, a.Body)
	}
	a := e.do(http.MethodGet, "/api/v1/notifications/subscriptions/cluster.failed", e.key, nil, org...)
	sub := e.data(a)
	if chs := sub["channels"].([]any); len(chs) != 1 || chs[0] != "slack" || sub["enabled"] != true {
		t.Fatalf("after unsubscribing email: %v", sub)
	}
	// An admin unsubscribes the rest with the reference's body.
	if a := e.do(http.MethodPost, "/api/v1/notifications/unsubscribe", e.key, map[string]any{"topic": "cluster.failed"}, org...); a.Status != http.StatusOK {
		t.Fatalf("admin unsubscribe: %d %s", a.Status, a.Body)
	}
	if sub := e.data(e.do(http.MethodGet, "/api/v1/notifications/subscriptions/cluster.failed", e.key, nil, org...)); sub["enabled"] != false {
		t.Fatalf("after unsubscribing all: %v", sub)
	}
	if a := e.do(http.MethodDelete, "/api/v1/notifications/subscriptions/cluster.failed", e.key, nil, org...); a.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/notifications/subscriptions", e.key, nil, org...); len(e.data2(a)) != 0 {
		t.Fatalf("list after delete: %s", a.Body)
	}
	events, _, err := e.store.ListAudit(t.Context(), e.orgID, store.AuditFilter{Action: "UNSUBSCRIBE"}, store.Page{})
	if err != nil || len(events) != 2 {
		t.Fatalf("unsubscribes audited: %d (%v)", len(events), err)
	}
}

func (e *env) data2(a answer) []any {
	e.t.Helper()
	return listData(e.t, a)
}

func TestApprovalPolicy(t *testing.T) {
	e := keyedEnv(t)
	a := e.do(http.MethodGet, "/api/v1/approval-policy", e.key, nil)
	if p := e.data(a); len(p["operations"].([]any)) != 0 || p["expiresIn"] != "72h" {
		t.Fatalf("default policy: %v", p)
	}
	for _, bad := range []map[string]any{{"operations": []any{"launch"}}, {"operations": []any{"deploy"}, "expiresIn": "1m"}, {"operations": []any{"deploy"}, "expiresIn": "soon"}} {
		if a := e.do(http.MethodPut, "/api/v1/approval-policy", e.key, bad); a.Status != http.StatusBadRequest {
			t.Fatalf("policy %v: %d %s", bad, a.Status, a.Body)
		}
	}
	a = e.do(http.MethodPut, "/api/v1/approval-policy", e.key, map[string]any{"operations": []any{"deploy", "delete"}, "expiresIn": "24h", "approverRoles": []any{"admin", "editor"}})
	if p := e.data(a); a.Status != http.StatusOK || len(p["operations"].([]any)) != 2 || p["expiresIn"] != "24h" {
		t.Fatalf("set policy: %d %s", a.Status, a.Body)
	}
	_, _, editorKey := e.newOrg("editors", store.RoleEditor)
	if a := e.do(http.MethodPut, "/api/v1/approval-policy", editorKey, map[string]any{"operations": []any{}}); a.Status != http.StatusForbidden {
		t.Fatalf("editor sets policy: %d %s", a.Status, a.Body)
	}
}
