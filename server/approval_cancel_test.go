package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// TestApprovalCancelledWhileWaiting: a deploy cancelled while it waits for approval
// ends CANCELLED, its approval request is recorded CANCELLED, and its link then shows
// that it was cancelled instead of offering the buttons (a POST is refused alike).
func TestApprovalCancelledWhileWaiting(t *testing.T) {
	s := startApprovalStack(t)
	orgHeader := []string{"X-Astro-Organization-ID", s.orgID}
	if a := s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key,
		map[string]any{"channel": "email", "config": map[string]any{"recipients": []any{"ops@example.com"}}}, orgHeader...); a.Status != http.StatusOK {
		t.Fatalf("email integration: %d %s", a.Status, a.Body)
	}
	if a := s.do(http.MethodPut, "/api/v1/approval-policy", s.key, map[string]any{"operations": []any{"deploy"}, "expiresIn": "1h"}); a.Status != http.StatusOK {
		t.Fatalf("policy: %d %s", a.Status, a.Body)
	}
	opID := deploy(t, s.env, eksManifest("withdrawn"))
	link := s.approvalLinksByRecipient(t, "withdrawn", "acme-admin@example.com")["acme-admin@example.com"]
	if a := getOverHTTP(t, link); a.Status != http.StatusOK || !strings.Contains(string(a.Body), `id="approve"`) {
		t.Fatalf("approval page while waiting: %d %s", a.Status, a.Body)
	}
	if a := s.do(http.MethodPost, "/api/v1/clusters/withdrawn/cancel", s.key, nil); a.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", a.Status, a.Body)
	}
	waitFor(t, 30*time.Second, func() (any, bool) {
		return nil, s.progress(t, "withdrawn", opID)["status"] == workflows.StatusCancelled
	})
	req := waitFor(t, 30*time.Second, func() (store.ApprovalRequest, bool) {
		r, err := s.store.GetApprovalRequest(t.Context(), s.orgID, opID)
		return r, err == nil && r.Status == store.ApprovalCancelled
	})
	if req.DecidedAt == nil || req.DecidedBy != "" {
		t.Fatalf("request %+v", req)
	}
	a := getOverHTTP(t, link)
	if a.Status != http.StatusConflict || !strings.Contains(string(a.Body), "cancelled while it waited for approval") || strings.Contains(string(a.Body), `id="approve"`) {
		t.Fatalf("approval page after the cancel: %d %s", a.Status, a.Body)
	}
	if a := postOverHTTP(t, link+"&action=APPROVE", ""); a.Status != http.StatusConflict || !strings.Contains(a.Error(t).Error, "cancelled") {
		t.Fatalf("approve after the cancel: %d %s", a.Status, a.Body)
	}
	recordHistory(t, s.tc, opID, "deploy-gated-cancelled")
}
