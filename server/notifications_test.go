package server_test

import (
	"errors"
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
	// An organization's mail relay passes the same guard at configure time, resolved
	// (through the tests' resolver, testHosts): a relay in the server's own network,
	// by address or by a name pointing there (any of its addresses), a name that
	// does not resolve, and a port that is not a mail port are refused, naming the
	// field; a public relay on a mail port is accepted.
	relay := func(host string, port int) answer {
		return put(map[string]any{"channel": "email", "config": map[string]any{"recipients": []any{"ops@example.com"},
			"smtp": map[string]any{"host": host, "port": port, "username": "u", "password": "smtp-password-123"}}})
	}
	for _, r := range []struct {
		host string
		port int
		why  string
	}{
		{"127.0.0.1", 587, "loopback"}, {"10.0.0.25", 25, "private"}, {"169.254.169.254", 465, "link-local"},
		{"relay.lo.example", 587, "loopback"}, {"mail.corp.example", 587, "private"}, {"mixed.example", 587, "private"},
		{"nowhere.example", 587, "does not resolve"}, {"smtp.example.com", 22, "not a mail port"},
	} {
		a := relay(r.host, r.port)
		if a.Status != http.StatusBadRequest {
			t.Fatalf("relay %s:%d: %d %s", r.host, r.port, a.Status, a.Body)
		}
		if msg, _ := a.Error(t).Details["config.smtp.host"].(string); !strings.Contains(msg, r.why) {
			t.Fatalf("relay %s:%d: config.smtp.host %q, want it to say %q", r.host, r.port, msg, r.why)
		}
	}
	if _, err := e.store.GetIntegration(t.Context(), e.orgID, "email"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused relay was stored: %v", err)
	}
	a = relay("smtp.example.com", 587)
	if a.Status != http.StatusOK || strings.Contains(string(a.Body), "smtp-password-123") {
		t.Fatalf("email integration: %d %s", a.Status, a.Body)
	}
	if a := relay("93.184.216.34", 2525); a.Status != http.StatusOK {
		t.Fatalf("public relay by address: %d %s", a.Status, a.Body)
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

	// An unsubscribe link, built as the notifier builds it (activities.Notifier's
	// unsubscribeLink: the recipient's address, trimmed and lower-cased, in the signed
	// claim r): its GET shows a button naming the recipient and changes nothing; its
	// POST opts that one recipient out of that topic on that channel, and nothing
	// else (the organization's subscription keeps both channels, other recipients
	// still receive); an altered token is refused.
	signer, _ := approval.NewSigner([]byte("signing-key-signing-key-signing-key!"))
	linkFor := func(recipient string) string {
		token, err := signer.Sign(approval.Claims{OrgID: e.orgID, Purpose: approval.PurposeUnsubscribe, Topic: "cluster.failed",
			Channel: "email", Recipient: recipient, ExpiresAt: time.Now().Add(time.Hour)})
		must(t, err)
		return "/api/v1/notifications/unsubscribe?" + url.Values{"token": {token}}.Encode()
	}
	optedOut := func() []string {
		t.Helper()
		out, err := e.store.OptedOut(t.Context(), e.orgID, "email", "cluster.failed")
		must(t, err)
		return out
	}
	link := linkFor(strings.ToLower(strings.TrimSpace("Ops@Example.com ")))
	if a := e.do(http.MethodGet, link, "", nil); a.Status != http.StatusOK || !strings.Contains(string(a.Body), `id="unsubscribe"`) ||
		!strings.Contains(string(a.Body), `<strong id="recipient">ops@example.com</strong>`) {
		t.Fatalf("unsubscribe page: %d %s", a.Status, a.Body)
	}
	if got := optedOut(); len(got) != 0 {
		t.Fatalf("a GET of the link opted out %v", got)
	}
	if a := e.do(http.MethodPost, "/api/v1/notifications/unsubscribe?token=v1.bogus.sig", "", nil); a.Status != http.StatusBadRequest {
		t.Fatalf("bogus token: %d %s", a.Status, a.Body)
	}
	// A link from before per-recipient unsubscribe names no recipient: it used to
	// stop the channel for everyone, and is refused (page and POST), saying why;
	// nothing changes, and the refusal is audited.
	old := linkFor("")
	if a := e.do(http.MethodGet, old, "", nil); a.Status != http.StatusBadRequest || !strings.Contains(string(a.Body), "names no recipient") ||
		strings.Contains(string(a.Body), `id="unsubscribe"`) {
		t.Fatalf("page of a link without a recipient: %d %s", a.Status, a.Body)
	}
	a := e.do(http.MethodPost, old, "", nil)
	if a.Status != http.StatusBadRequest {
		t.Fatalf("link without a recipient: %d %s", a.Status, a.Body)
	}
	if env := a.Error(t); !strings.Contains(env.Error, "names no recipient") || !strings.Contains(env.Error, "predates per-recipient unsubscribe") ||
		env.Details["query.token"] == nil {
		t.Fatalf("refusal of a link without a recipient does not say why: %s", a.Body)
	}
	if got := optedOut(); len(got) != 0 {
		t.Fatalf("a link without a recipient opted out %v", got)
	}
	if n := refusedTokens(t, e.store, e.orgID, "names no recipient"); n == 0 {
		t.Fatal("the refused link without a recipient was not audited")
	}

	a = e.do(http.MethodPost, link, "", nil)
	if a.Status != http.StatusOK || !strings.Contains(string(a.Body), "ops@example.com unsubscribed from cluster.failed (email)") {
		t.Fatalf("unsubscribe: %d %s", a.Status, a.Body)
	}
	if got := optedOut(); len(got) != 1 || got[0] != "ops@example.com" {
		t.Fatalf("opted out after ops@example.com's link: %v, want only ops@example.com", got)
	}
	for _, other := range []struct{ channel, topic string }{{"slack", "cluster.failed"}, {"email", "cluster.deployed"}} {
		if got, err := e.store.OptedOut(t.Context(), e.orgID, other.channel, other.topic); err != nil || len(got) != 0 {
			t.Fatalf("opted out of %s on %s: %v (%v)", other.topic, other.channel, got, err)
		}
	}
	a = e.do(http.MethodGet, "/api/v1/notifications/subscriptions/cluster.failed", e.key, nil, org...)
	sub := e.data(a)
	if chs := sub["channels"].([]any); len(chs) != 2 || chs[0] != "email" || chs[1] != "slack" || sub["enabled"] != true {
		t.Fatalf("one recipient's link changed the organization's subscription: %v", sub)
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
