package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
)

// TestSeparationOfDuties: the member who asked for an operation cannot approve it
// (403, audited) unless the policy allows self-approval; another approver can; a
// link posted in the Slack channel decides nothing without a named approver. With no
// Temporal here, a decision that passes every check stops at 503, where it would be
// delivered.
func TestSeparationOfDuties(t *testing.T) {
	signer, err := approval.NewSigner([]byte("signing-key-signing-key-signing-key!"))
	must(t, err)
	e := newEnvWith(t, nil, server.Options{Signer: signer})
	ctx := context.Background()
	other := store.User{ID: store.NewID(), Email: "other-admin@example.com"}
	must(t, e.store.CreateUser(ctx, &other))
	must(t, e.store.AddMember(ctx, e.orgID, other.ID, store.RoleAdmin))
	otherKey := e.newKey(e.orgID, other.ID, func(*store.APIKey) {})

	n := 0
	request := func() string { // an operation e's admin asked for, waiting
		n++
		id := "acme.prod.deploy." + string(rune('a'+n))
		must(t, e.store.CreateApprovalRequest(ctx, &store.ApprovalRequest{ID: id, OrgID: e.orgID, ClusterID: store.NewID(),
			ClusterName: "prod", OperationType: "deploy", Status: store.ApprovalPending, RequestedBy: e.userID,
			ExpiresAt: time.Now().Add(time.Hour)}))
		return id
	}
	link := func(opID, approver string) string {
		tok, err := signer.Sign(approval.Claims{OrgID: e.orgID, ClusterName: "prod", OperationID: opID, Approver: approver,
			Purpose: approval.PurposeApproval, ExpiresAt: time.Now().Add(time.Hour)})
		must(t, err)
		q := url.Values{"clusterName": {"prod"}, "orgId": {e.orgID}, "token": {tok}, "action": {"APPROVE"}}
		return "/api/v1/cluster-approvals?" + q.Encode()
	}
	setPolicy := func(self bool) {
		a := e.do(http.MethodPut, "/api/v1/approval-policy", e.key, map[string]any{"operations": []any{"deploy"}, "allowSelfApproval": self})
		if a.Status != http.StatusOK || e.data(a)["allowSelfApproval"] != self {
			t.Fatalf("policy: %d %s", a.Status, a.Body)
		}
	}

	setPolicy(false)
	op := request()
	// The requester, by their emailed link or with their key: refused.
	for _, key := range []string{"", e.key} {
		a := e.do(http.MethodPost, link(op, e.userID), key, nil)
		if a.Status != http.StatusForbidden || !strings.Contains(a.Error(t).Error, "another approver") {
			t.Fatalf("self-approval (key %q): %d %s", key, a.Status, a.Body)
		}
	}
	if got := refusedTokens(t, e.store, e.orgID, "requester cannot approve"); got != 2 {
		t.Fatalf("self-approvals audited %d times, want 2", got)
	}
	// The Slack channel's link names no one: refused without a key.
	if a := e.do(http.MethodPost, link(op, "slack:"+e.orgID), "", nil); a.Status != http.StatusForbidden {
		t.Fatalf("slack link without a key: %d %s", a.Status, a.Body)
	}
	// Another admin passes every check (and would be delivered).
	if a := e.do(http.MethodPost, link(op, other.ID), "", nil); a.Status != http.StatusServiceUnavailable {
		t.Fatalf("another approver: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, link(request(), "slack:"+e.orgID), otherKey, nil); a.Status != http.StatusServiceUnavailable {
		t.Fatalf("slack link with another approver's key: %d %s", a.Status, a.Body)
	}

	setPolicy(true)
	if a := e.do(http.MethodPost, link(request(), e.userID), "", nil); a.Status != http.StatusServiceUnavailable {
		t.Fatalf("self-approval allowed by the policy: %d %s", a.Status, a.Body)
	}
}
