package e2e

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/internal/testtemporal"
)

const signingKey = "QMKv6A1qFzBLHrea1-zMedjpHpMdYr9OHBh13XU-vY2hsdAr" // random: weak keys are refused at start

// TestApprovalWaitSurvivesRestarts holds a deploy at its approval gate, then stops the
// API, the worker and the Temporal dev server (state in a file), starts them all again,
// and approves: the deploy carries on to READY. The wait is workflow state on a
// durable timer, not anything a process keeps.
func TestApprovalWaitSurvivesRestarts(t *testing.T) {
	dir := t.TempDir()
	dev := testtemporal.StartFile(t, filepath.Join(dir, "temporal.db"))
	s := newStack(t, dev.Address(), "sqlite://"+filepath.Join(dir, "astro.db"),
		"ASTRO_APPROVAL_SIGNING_KEY="+signingKey, "ASTRO_ENCRYPTION_KEY=kZb7aZJyKwZN/WSzEeQMb56oMhQCtuYqeDctmrDRcnU=")
	procs := s.startAll()

	if status, body := s.call(http.MethodPut, "/api/v1/approval-policy", map[string]any{"operations": []any{"deploy"}, "expiresIn": "2h", "allowSelfApproval": true}); status != http.StatusOK {
		t.Fatalf("policy: %d %v", status, body)
	}
	status, body := s.call(http.MethodPost, "/api/v1/clusters", gkeManifest("patient"))
	if status != http.StatusAccepted {
		t.Fatalf("deploy: %d %v", status, body)
	}
	opID := body["data"].(map[string]any)["operationId"].(string)
	clusterID := body["data"].(map[string]any)["clusterId"].(string)
	s.waitProgress("patient", opID, "WAITING_FOR_APPROVAL")

	// Everything goes down, then comes back.
	for _, p := range procs {
		s.stop(p)
	}
	if err := dev.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.startAll()
	s.waitReady()
	s.waitProgress("patient", opID, "WAITING_FOR_APPROVAL")

	// Approve with a link token the way the emailed link would.
	_, orgs := s.call(http.MethodGet, "/api/v1/orgs", nil)
	orgID := orgs["data"].([]any)[0].(map[string]any)["id"].(string)
	signer, err := approval.NewSigner([]byte(signingKey))
	if err != nil {
		t.Fatal(err)
	}
	token, err := signer.Sign(approval.Claims{OrgID: orgID, ClusterName: "patient", ClusterID: clusterID, OperationID: opID,
		Approver: "api-key", Purpose: approval.PurposeApproval, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"clusterName": {"patient"}, "orgId": {orgID}, "token": {token}, "action": {"APPROVE"}}
	if status, body := s.call(http.MethodPost, "/api/v1/cluster-approvals?"+q.Encode(), nil); status != http.StatusOK {
		t.Fatalf("approve after restarts: %d %v", status, body)
	}
	s.waitProgress("patient", opID, "SUCCEEDED")
}
