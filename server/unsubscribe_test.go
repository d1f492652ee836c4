package server_test

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

var (
	unsubscribeLinkRE = regexp.MustCompile(`https?://127\.0\.0\.1:\d+/api/v1/notifications/unsubscribe\?token=[^\s"<>\\]+`)
	formActionRE      = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
)

// TestUnsubscribeLinkSentByEmail follows the unsubscribe link of a real email, captured
// from the SMTP sink: its page names the recipient and shows a button, whose POST
// unsubscribes that recipient from that topic only; the organization's subscription
// is untouched, the next event still reaches Slack and the other recipient, and no
// longer the one who unsubscribed.
func TestUnsubscribeLinkSentByEmail(t *testing.T) {
	s := startApprovalStack(t)
	org := []string{"X-Astro-Organization-ID", s.orgID}
	for _, body := range []map[string]any{
		{"channel": "email", "config": map[string]any{"recipients": []any{"ops@example.com", "dev@example.com"}}},
		{"channel": "slack", "config": map[string]any{"webhookUrl": s.hooks.srv.URL + "/services/T000/B000/XXXX"}},
	} {
		if a := s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key, body, org...); a.Status != http.StatusOK {
			t.Fatalf("integration: %d %s", a.Status, a.Body)
		}
	}
	for _, topic := range []string{activities.TopicClusterDeployed, activities.TopicClusterFailed} {
		if a := s.do(http.MethodPut, "/api/v1/notifications/subscriptions", s.key,
			map[string]any{"topic": topic, "channels": []any{"email", "slack"}}, org...); a.Status != http.StatusOK {
			t.Fatalf("subscribe %s: %d %s", topic, a.Status, a.Body)
		}
	}

	deploy(t, s.env, eksManifest("news"))
	mailAbout := func(cluster, to string) []string {
		var out []string
		for _, m := range s.mail.all() {
			if strings.Contains(m, "["+activities.TopicClusterDeployed+"] cluster "+cluster) && strings.Contains(m, to) {
				out = append(out, unfold(m))
			}
		}
		return out
	}
	link := waitFor(t, 30*time.Second, func() (string, bool) {
		for _, m := range mailAbout("news", "ops@example.com") {
			if l := unsubscribeLinkRE.FindString(m); l != "" {
				return l, true
			}
		}
		return "", false
	})

	// GET shows the page and changes nothing.
	page := getOverHTTP(t, link)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `id="unsubscribe"`) || !strings.Contains(string(page.Body), "ops@example.com") ||
		!strings.Contains(string(page.Body), activities.TopicClusterDeployed) {
		t.Fatalf("unsubscribe page: %d %s", page.Status, page.Body)
	}
	subscription := func(topic string) map[string]any {
		t.Helper()
		a := s.do(http.MethodGet, "/api/v1/notifications/subscriptions/"+topic, s.key, nil, org...)
		if a.Status != http.StatusOK {
			t.Fatalf("subscription %s: %d %s", topic, a.Status, a.Body)
		}
		return s.data(a)
	}
	if chs := subscription(activities.TopicClusterDeployed)["channels"].([]any); len(chs) != 2 {
		t.Fatalf("a GET of the link changed the subscription: %v", chs)
	}

	// The page's button POSTs to its form's action.
	m := formActionRE.FindStringSubmatch(string(page.Body))
	if m == nil {
		t.Fatalf("no form on the page: %s", page.Body)
	}
	if a := postOverHTTP(t, s.http.URL+html.UnescapeString(m[1]), ""); a.Status != http.StatusOK {
		t.Fatalf("unsubscribe: %d %s", a.Status, a.Body)
	}
	sub := subscription(activities.TopicClusterDeployed)
	if chs := sub["channels"].([]any); len(chs) != 2 || sub["enabled"] != true {
		t.Fatalf("one recipient's unsubscribe changed the organization's subscription: %v", sub)
	}
	if chs := subscription(activities.TopicClusterFailed)["channels"].([]any); len(chs) != 2 {
		t.Fatalf("another topic changed: %v", chs)
	}
	events, _, err := s.store.ListAudit(t.Context(), s.orgID, store.AuditFilter{Action: "UNSUBSCRIBE"}, store.Page{Size: 10})
	must(t, err)
	if len(events) != 1 || events[0].ResourceID != "subscription:"+activities.TopicClusterDeployed || !strings.Contains(string(events[0].Details), `"email"`) ||
		!strings.Contains(string(events[0].Details), "ops@example.com") {
		t.Fatalf("unsubscribe audit: %+v", events)
	}

	// The next deploy is announced on Slack and not by email: the delivery finished
	// (its workflow closed) without sending one.
	opID := deploy(t, s.env, eksManifest("quiet"))
	waitFor(t, 30*time.Second, func() (int, bool) {
		n := 0
		for _, p := range s.hooks.all() {
			if strings.Contains(p, activities.TopicClusterDeployed) && strings.Contains(p, "quiet") {
				n++
			}
		}
		return n, n == 1
	})
	must(t, s.tc.GetWorkflow(t.Context(), opID+".notify."+activities.TopicClusterDeployed, "").Get(t.Context(), nil))
	if got := mailAbout("quiet", "ops@example.com"); len(got) != 0 {
		t.Fatalf("an email was sent to ops@ after it unsubscribed: %s", got[0])
	}
	if got := mailAbout("quiet", "dev@example.com"); len(got) != 1 {
		t.Fatalf("dev@, still subscribed, got %d emails of the next deploy", len(got))
	}
}
