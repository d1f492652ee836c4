package activities_test

import (
	"context"
	"testing"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// An operation cancelled while it waited records its request CANCELLED (nobody
// decided) and audits the cancel; a decision arriving afterwards changes nothing.
func TestRecordApprovalCancelled(t *testing.T) {
	f := newNotifierFixture(t)
	if _, err := f.env().ExecuteActivity(f.n.RequestApproval, f.approvalInput); err != nil {
		t.Fatal(err)
	}
	in := activities.DecisionInput{OrgID: f.orgID, ClusterID: f.clusterID, OperationID: f.approvalInput.OperationID,
		OperationType: "deploy", Status: store.ApprovalCancelled}
	if _, err := f.env().ExecuteActivity(f.n.RecordApprovalDecision, in); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req, err := f.st.GetApprovalRequest(ctx, f.orgID, f.approvalInput.OperationID)
	if err != nil || req.Status != store.ApprovalCancelled || req.DecidedBy != "" || req.DecidedAt == nil {
		t.Fatalf("request %+v %v, want CANCELLED", req, err)
	}
	events, _, err := f.st.ListAudit(ctx, f.orgID, store.AuditFilter{EventType: "APPROVAL", Action: "CANCEL"}, store.Page{})
	if err != nil || len(events) != 1 || events[0].ResourceID != f.approvalInput.OperationID {
		t.Fatalf("audit of the cancel %+v %v", events, err)
	}
	late := in
	late.Status, late.DecidedBy = store.ApprovalApproved, f.editor.Email
	if _, err := f.env().ExecuteActivity(f.n.RecordApprovalDecision, late); err != nil {
		t.Fatal(err)
	}
	if req, _ := f.st.GetApprovalRequest(ctx, f.orgID, f.approvalInput.OperationID); req.Status != store.ApprovalCancelled {
		t.Fatalf("a late decision overwrote the cancel: %s", req.Status)
	}
}
