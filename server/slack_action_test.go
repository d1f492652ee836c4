package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// slackSecret is the test Slack app's signing secret; it must never come back.
const slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// slackClick is a click on an approval message's button as Slack posts it: the
// block_actions payload form-encoded, signed with secret at ts, from addr.
type slackClick struct {
	user, actionID, value string
	secret                string
	ts                    time.Time
	addr                  string
}

func (e *env) postSlack(t *testing.T, k slackClick) answer {
	t.Helper()
	payload, err := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": k.user, "username": "someone"}, "team": map[string]any{"id": "T0TEAM"},
		"actions":      []any{map[string]any{"type": "button", "action_id": k.actionID, "value": k.value, "block_id": "b1"}},
		"response_url": "https://hooks.slack.com/actions/T0TEAM/1/xyz",
	})
	must(t, err)
	body := []byte("payload=" + url.QueryEscape(string(payload)))
	ts := strconv.FormatInt(k.ts.Unix(), 10)
	return e.postSlackRaw(t, body, k.addr, "Content-Type", "application/x-www-form-urlencoded",
		"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", notify.SignSlackRequest(k.secret, ts, body))
}

// postSlackRaw sends body to the Slack actions route from addr (the audit of refused
// unauthenticated requests keeps one event per address and reason's target, so
// distinct refusals come from distinct addresses), checking the answer against
// openapi.yaml.
func (e *env) postSlackRaw(t *testing.T, body []byte, addr string, headers ...string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/notifications/slack/actions", strings.NewReader(string(body)))
	if addr != "" {
		req.RemoteAddr = addr + ":40000"
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	a := answer{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	checkAnswer(t, req, a)
	return a
}

// slackText is the sentence of a 200 answer to Slack (in data and text alike).
func slackText(t *testing.T, a answer) string {
	t.Helper()
	var got struct {
		Data         string `json:"data"`
		Text         string `json:"text"`
		ResponseType string `json:"response_type"`
	}
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &got) != nil || got.Text == "" || got.Text != got.Data || got.ResponseType != "ephemeral" {
		t.Fatalf("answer to Slack: %d %s", a.Status, a.Body)
	}
	return got.Text
}

// slackButtons returns the interactive buttons' values by action_id, and the URL
// buttons' URLs by label, of the first Slack payload about cluster.
func slackButtons(raw, cluster string) (values, urls map[string]string) {
	var msg struct {
		Blocks []struct {
			Type     string `json:"type"`
			Elements []struct {
				ActionID string `json:"action_id"`
				Value    string `json:"value"`
				URL      string `json:"url"`
				Text     struct {
					Text string `json:"text"`
				} `json:"text"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if json.Unmarshal([]byte(raw), &msg) != nil || !strings.Contains(raw, cluster) {
		return nil, nil
	}
	values, urls = map[string]string{}, map[string]string{}
	for _, b := range msg.Blocks {
		for _, el := range b.Elements {
			if el.Value != "" {
				values[el.ActionID] = el.Value
			}
			if el.URL != "" {
				urls[el.Text.Text] = el.URL
			}
		}
	}
	return values, urls
}

// TestSlackDecision: with the Slack app's signing secret and a user mapping stored,
// an approval message carries interactive Approve and Reject buttons (and a link to
// the page); a click is believed only when Slack's signature verifies with the
// organization's secret, and decides only as a mapped member who may approve. Each
// refusal is audited; a signed click of a mapped approver approves the gated deploy
// on a real Temporal dev server; the secret never comes back from the API, nor shows
// in logs, audit events, Slack messages or the workflow's history.
func TestSlackDecision(t *testing.T) {
	s := startApprovalStack(t)
	ctx := t.Context()
	orgHeader := []string{"X-Astro-Organization-ID", s.orgID}
	addMember := func(email, role string) string {
		u := store.User{ID: store.NewID(), Email: email}
		must(t, s.store.CreateUser(ctx, &u))
		must(t, s.store.AddMember(ctx, s.orgID, u.ID, role))
		return u.ID
	}
	approverID := addMember("approver@acme.test", store.RoleAdmin)
	addMember("viewer@acme.test", store.RoleViewer)

	// The mapping must name members; the secret is never echoed.
	a := s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key, map[string]any{"channel": "slack", "config": map[string]any{
		"webhookUrl": s.hooks.srv.URL + "/services/T000/B000/secretpart", "signingSecret": slackSecret,
		"slackUsers": map[string]any{"U0APPROVER": "approver@acme.test", "notanid": "viewer@acme.test", "U0STRANGER": "nobody@acme.test"}}}, orgHeader...)
	if a.Status != http.StatusBadRequest || a.Error(t).Details["config.slackUsers.notanid"] == nil || a.Error(t).Details["config.slackUsers.U0STRANGER"] == nil {
		t.Fatalf("a mapping of a bad ID and a non-member: %d %s", a.Status, a.Body)
	}
	users := map[string]any{"U0APPROVER": "approver@acme.test", "U0VIEWER": "viewer@acme.test", "U0REQUESTER": "acme-admin@example.com"}
	a = s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key, map[string]any{"channel": "slack", "config": map[string]any{
		"webhookUrl": s.hooks.srv.URL + "/services/T000/B000/secretpart", "signingSecret": slackSecret, "slackUsers": users}}, orgHeader...)
	cfg, _ := s.data(a)["config"].(map[string]any)
	if a.Status != http.StatusOK || cfg["signingSecretConfigured"] != true || len(cfg["slackUsers"].(map[string]any)) != 3 {
		t.Fatalf("slack integration: %d %s", a.Status, a.Body)
	}
	// Left out, the stored secret is kept.
	a = s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key, map[string]any{"channel": "slack", "config": map[string]any{
		"webhookUrl": s.hooks.srv.URL + "/services/T000/B000/secretpart", "slackUsers": users}}, orgHeader...)
	if cfg, _ := s.data(a)["config"].(map[string]any); a.Status != http.StatusOK || cfg["signingSecretConfigured"] != true {
		t.Fatalf("slack integration without the secret again: %d %s", a.Status, a.Body)
	}
	if a := s.do(http.MethodPut, "/api/v1/approval-policy", s.key, map[string]any{"operations": []any{"deploy"}, "expiresIn": "1h"}); a.Status != http.StatusOK {
		t.Fatalf("policy: %d %s", a.Status, a.Body)
	}

	opID := deploy(t, s.env, eksManifest("slacked")) // asked for by acme-admin@example.com
	var values, urls map[string]string
	waitFor(t, 20*time.Second, func() (map[string]string, bool) {
		for _, raw := range s.hooks.all() {
			if values, urls = slackButtons(raw, "slacked"); len(values) > 0 {
				return values, true
			}
		}
		return nil, false
	})
	token := values[notify.SlackActionApprove]
	if token == "" || values[notify.SlackActionReject] != token || !strings.Contains(urls["View approval page"], "clusterName=slacked") {
		t.Fatalf("approval message buttons: values %v, urls %v", values, urls)
	}
	click := func(user, addr string) slackClick {
		return slackClick{user: user, actionID: notify.SlackActionApprove, value: token, secret: slackSecret, ts: time.Now(), addr: addr}
	}
	stillWaiting := func(after string) {
		t.Helper()
		if p := s.progress(t, "slacked", opID); p["status"] != workflows.StatusWaitingForApproval {
			t.Fatalf("after %s the operation is %v, want still waiting", after, p["status"])
		}
	}

	// Forged: signed with another secret, or a captured request replayed after 5
	// minutes. 401, audited; nothing decided.
	forged := click("U0APPROVER", "198.51.100.1")
	forged.secret = "another-apps-signing-secret"
	if a := s.postSlack(t, forged); a.Status != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %s", a.Status, a.Body)
	}
	stale := click("U0APPROVER", "198.51.100.2")
	stale.ts = time.Now().Add(-6 * time.Minute)
	if a := s.postSlack(t, stale); a.Status != http.StatusUnauthorized || !strings.Contains(a.Error(t).Error, "5 minutes") {
		t.Fatalf("stale timestamp: %d %s", a.Status, a.Body)
	}
	if n, m := refusedTokens(t, s.store, s.orgID, "signature does not match"), refusedTokens(t, s.store, s.orgID, "more than 5 minutes"); n != 1 || m != 1 {
		t.Fatalf("forged requests audited %d and %d times, want 1 each", n, m)
	}
	// Not form-encoded, or unsigned: refused by the contract.
	if a := s.postSlackRaw(t, []byte(`{"payload":"{}"}`), "", "Content-Type", "application/json",
		"X-Slack-Request-Timestamp", "1", "X-Slack-Signature", "v0=00"); a.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("JSON body: %d %s", a.Status, a.Body)
	}
	if a := s.postSlackRaw(t, []byte("payload=%7B%7D"), "", "Content-Type", "application/x-www-form-urlencoded"); a.Status != http.StatusBadRequest {
		t.Fatalf("no signature headers: %d %s", a.Status, a.Body)
	}
	stillWaiting("forged requests")

	// Genuine clicks by users who may not decide: 200 with the reason, audited.
	for _, tc := range []struct{ user, want, audit string }{
		{"U0NOBODY", "not mapped", "Slack user not mapped"},
		{"U0VIEWER", "role", "approver lacks an approver role"},
		{"U0REQUESTER", "another approver", "requester cannot approve"},
	} {
		if got := slackText(t, s.postSlack(t, click(tc.user, ""))); !strings.Contains(got, tc.want) {
			t.Fatalf("click of %s: %q, want %q", tc.user, got, tc.want)
		}
		if n := refusedTokens(t, s.store, s.orgID, tc.audit); n != 1 {
			t.Fatalf("click of %s audited %d times", tc.user, n)
		}
	}
	stillWaiting("refused clicks")

	// The approver's click approves; the deploy runs to the end.
	approve := click("U0APPROVER", "")
	if got := slackText(t, s.postSlack(t, approve)); !strings.Contains(got, "Approved by approver@acme.test") {
		t.Fatalf("approver's click: %q", got)
	}
	if c := s.waitStatus(t, "slacked", "READY", "FAILED"); c["status"] != "READY" {
		t.Fatalf("after the Slack approval: %v", c)
	}
	req, err := s.store.GetApprovalRequest(ctx, s.orgID, opID)
	must(t, err)
	if req.Status != store.ApprovalApproved || req.DecidedBy != "approver@acme.test" {
		t.Fatalf("approval request: %+v (approver %s)", req, approverID)
	}

	// The same signed click again, or Reject with the same token: already decided.
	for _, k := range []slackClick{approve, {user: "U0APPROVER", actionID: notify.SlackActionReject, value: token, secret: slackSecret, ts: time.Now()}} {
		if got := slackText(t, s.postSlack(t, k)); !strings.Contains(got, "already") {
			t.Fatalf("replayed token: %q", got)
		}
	}
	if n := refusedTokens(t, s.store, s.orgID, "already used"); n != 2 {
		t.Fatalf("replays audited %d times, want 2", n)
	}

	// The secret never comes back.
	for _, path := range []string{"/api/v1/notifications/integrations", "/api/v1/notifications/integrations/slack"} {
		if a := s.do(http.MethodGet, path, s.key, nil, orgHeader...); a.Status != http.StatusOK || strings.Contains(string(a.Body), slackSecret) {
			t.Fatalf("GET %s: %d %s", path, a.Status, a.Body)
		}
	}
	events, _, err := s.store.ListAudit(ctx, s.orgID, store.AuditFilter{}, store.Page{Size: 500})
	must(t, err)
	for _, ev := range events {
		if strings.Contains(string(ev.Details), slackSecret) || strings.Contains(ev.ResourceID, slackSecret) {
			t.Fatalf("audit event holds the secret: %+v", ev)
		}
	}
	if strings.Contains(s.logs.String(), slackSecret) {
		t.Fatal("the server's log holds the signing secret")
	}
	for _, p := range s.hooks.all() {
		if strings.Contains(p, slackSecret) {
			t.Fatalf("a Slack message holds the signing secret: %s", p)
		}
	}
	iter := s.tc.GetWorkflowHistory(ctx, opID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		must(t, err)
		if raw, _ := json.Marshal(ev); strings.Contains(string(raw), slackSecret) {
			t.Fatalf("the workflow's history holds the signing secret: %s", raw)
		}
	}
}
