package server_test

import (
	"io"
	"net/http"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// postOverHTTP POSTs to url over the stack's real HTTP server (with key when given)
// and returns the answer checked against the contract.
func postOverHTTP(t *testing.T, url, key string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, nil)
	must(t, err)
	if key != "" {
		req.Header.Set(httpx.HeaderAPIKey, key)
	}
	return roundTrip(t, req)
}

func getOverHTTP(t *testing.T, url string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	must(t, err)
	return roundTrip(t, req)
}

func roundTrip(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	must(t, err)
	a := answer{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	check, err := http.NewRequest(req.Method, req.URL.RequestURI(), nil)
	must(t, err)
	checkAnswer(t, check, a)
	return a
}

// approvalLinksByRecipient waits until approval emails for cluster have reached each
// of emails and returns each one's link.
func (s *approvalStack) approvalLinksByRecipient(t *testing.T, cluster string, emails ...string) map[string]string {
	t.Helper()
	return waitFor(t, 30*time.Second, func() (map[string]string, bool) {
		links := map[string]string{}
		for _, raw := range s.mail.all() {
			msg, err := mail.ReadMessage(strings.NewReader(raw))
			if err != nil || !strings.Contains(msg.Header.Get("Subject"), "cluster "+cluster) {
				continue
			}
			if l := linkRE.FindString(unfold(raw)); l != "" && strings.Contains(l, "clusterName="+cluster) {
				if to, err := mail.ParseAddress(msg.Header.Get("To")); err == nil {
					links[to.Address] = l
				}
			}
		}
		for _, e := range emails {
			if links[e] == "" {
				return links, false
			}
		}
		return links, true
	})
}

// refusedTokens counts the audited refusals of approval tokens in org with reason.
func refusedTokens(t *testing.T, st *store.Store, orgID, reason string) int {
	t.Helper()
	events, _, err := st.ListAudit(t.Context(), orgID, store.AuditFilter{EventType: "APPROVAL", Action: "TOKEN_REFUSED"}, store.Page{Size: 100})
	must(t, err)
	n := 0
	for _, ev := range events {
		if strings.Contains(string(ev.Details), reason) {
			n++
		}
	}
	return n
}

// TestDecisionsCheckTheApproverWhenTaken: a link goes to each approver; a member
// demoted after it was sent, and an API key of another organization (even one held
// by an approver of this one), are refused when they decide, audited, and the
// operation keeps waiting; the same link decides once the role is back.
func TestDecisionsCheckTheApproverWhenTaken(t *testing.T) {
	s := startApprovalStack(t)
	ctx := t.Context()
	orgHeader := []string{"X-Astro-Organization-ID", s.orgID}
	if a := s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key,
		map[string]any{"channel": "email", "config": map[string]any{"recipients": []any{"ops@example.com"}}}, orgHeader...); a.Status != http.StatusOK {
		t.Fatalf("email integration: %d %s", a.Status, a.Body)
	}
	if a := s.do(http.MethodPut, "/api/v1/approval-policy", s.key, map[string]any{
		"operations": []any{"deploy"}, "expiresIn": "1h", "approverRoles": []any{"admin", "editor"}}); a.Status != http.StatusOK {
		t.Fatalf("policy: %d %s", a.Status, a.Body)
	}
	// An editor of acme; and a user who is admin of acme and of globex.
	addUser := func(email string) string {
		u := store.User{ID: store.NewID(), Email: email}
		must(t, s.store.CreateUser(ctx, &u))
		return u.ID
	}
	editor := addUser("editor@acme.test")
	must(t, s.store.AddMember(ctx, s.orgID, editor, store.RoleEditor))
	both := addUser("both@acme.test")
	must(t, s.store.AddMember(ctx, s.orgID, both, store.RoleAdmin))
	globexID, globexAdmin, globexAdminKey := s.newOrg("globex", store.RoleAdmin)
	must(t, s.store.AddMember(ctx, globexID, both, store.RoleAdmin))
	bothGlobexKey := s.newKey(globexID, both, func(*store.APIKey) {})

	opID := deploy(t, s.env, eksManifest("guarded"))
	links := s.approvalLinksByRecipient(t, "guarded", "editor@acme.test", "both@acme.test", "acme-admin@example.com")
	stillWaiting := func(after string) {
		t.Helper()
		if p := s.progress(t, "guarded", opID); p["status"] != workflows.StatusWaitingForApproval {
			t.Fatalf("after %s the operation is %v, want still waiting", after, p["status"])
		}
	}

	// The editor is demoted to viewer after the link was sent.
	must(t, s.store.SetMemberRole(ctx, s.orgID, editor, store.RoleViewer))
	a := postOverHTTP(t, links["editor@acme.test"]+"&action=APPROVE", "")
	if a.Status != http.StatusForbidden || !strings.Contains(a.Error(t).Error, "no longer hold a role") {
		t.Fatalf("decision of a demoted approver: %d %s", a.Status, a.Body)
	}
	if n := refusedTokens(t, s.store, s.orgID, "approver lacks an approver role"); n != 1 {
		t.Fatalf("refusals of the demoted approver audited: %d", n)
	}
	stillWaiting("the demoted approver's decision")

	// An API key of globex: refused, whoever holds it — even a user who approves
	// for acme, deciding through their globex key.
	for who, key := range map[string]string{"globex's admin": globexAdminKey, "acme's admin with a globex key": bothGlobexKey} {
		for _, link := range []string{links["acme-admin@example.com"], links["both@acme.test"]} {
			a := postOverHTTP(t, link+"&action=APPROVE", key)
			if a.Status != http.StatusForbidden {
				t.Fatalf("decision by %s: %d %s", who, a.Status, a.Body)
			}
		}
	}
	// Each of the four (two keys, two links) is its own event, naming who tried.
	const foreignKey = "API key of another organization"
	if n := refusedTokens(t, s.store, s.orgID, foreignKey); n != 4 {
		t.Fatalf("decisions through globex keys audited %d times, want 4 (two keys × two links)", n)
	}
	tried := map[string]int{}
	for _, ev := range s.auditEvents(s.orgID, "TOKEN_REFUSED") {
		if strings.Contains(string(ev.Details), foreignKey) && ev.APIKeyID != "" {
			tried[ev.UserID]++
		}
	}
	if tried[globexAdmin] != 2 || tried[both] != 2 {
		t.Fatalf("refused decisions by user (with their key): %v, want 2 each for %s and %s", tried, globexAdmin, both)
	}
	// The same attempt again (same key, link and address, within the flood guard's
	// window) is refused as before, and is the same event: not recorded twice.
	a = postOverHTTP(t, links["both@acme.test"]+"&action=APPROVE", bothGlobexKey)
	if a.Status != http.StatusForbidden || !strings.Contains(a.Error(t).Error, "another organization") {
		t.Fatalf("decision through another organization's key: %d %s", a.Status, a.Body)
	}
	if n := refusedTokens(t, s.store, s.orgID, foreignKey); n != 4 {
		t.Fatalf("a repeated refused decision audited again: %d events, want 4", n)
	}
	// A link presented under another organization's ID: refused, audited.
	before := refusedTokens(t, s.store, s.orgID, "for another operation")
	foreign := strings.Replace(links["both@acme.test"], "orgId="+s.orgID, "orgId="+globexID, 1)
	if a := postOverHTTP(t, foreign+"&action=APPROVE", ""); a.Status != http.StatusBadRequest {
		t.Fatalf("link under another organization's ID: %d %s", a.Status, a.Body)
	}
	if n := refusedTokens(t, s.store, s.orgID, "for another operation"); n != before+1 {
		t.Fatalf("refusal of the foreign link audited %d times, want %d", n, before+1)
	}
	stillWaiting("decisions from another organization")

	// The refusals used up nothing: with the role back, the editor's link decides.
	must(t, s.store.SetMemberRole(ctx, s.orgID, editor, store.RoleEditor))
	if a := postOverHTTP(t, links["editor@acme.test"]+"&action=APPROVE", ""); a.Status != http.StatusOK || !strings.Contains(string(a.Body), "editor@acme.test") {
		t.Fatalf("decision of the editor restored: %d %s", a.Status, a.Body)
	}
	if c := s.waitStatus(t, "guarded", "READY", "FAILED"); c["status"] != "READY" {
		t.Fatalf("after approval: %v", c)
	}
	recordHistory(t, s.tc, opID, "deploy-gated-approved")
}
