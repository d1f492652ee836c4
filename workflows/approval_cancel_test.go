package workflows_test

import (
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// An operation cancelled while it waits for approval records its request CANCELLED
// (so its links say so), for each of the three operations.
func TestCancelWhileWaitingRecordsTheRequestCancelled(t *testing.T) {
	gate := &workflows.ApprovalGate{ExpiresIn: 72 * time.Hour, ApproverRoles: []string{"admin"}}
	upd := updateInput
	upd.Approval = gate
	del := deleteInput
	del.Approval = gate
	for name, run := range map[string]struct {
		wf any
		in any
	}{
		"deploy": {workflows.DeployCluster, gated},
		"update": {workflows.UpdateCluster, upd},
		"delete": {workflows.DeleteCluster, del},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeCloud{}
			env := newEnv(f)
			env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
			env.ExecuteWorkflow(run.wf, run.in)
			if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
				t.Fatalf("workflow error %v, want cancelled", err)
			}
			if len(f.decision) != 1 || f.decision[0].Status != store.ApprovalCancelled || f.decision[0].DecidedBy != "" {
				t.Fatalf("decisions recorded %+v, want one CANCELLED", f.decision)
			}
			if p := queryProgress(t, env); p.Status != workflows.StatusCancelled {
				t.Fatalf("progress %s", p.Status)
			}
			for _, c := range f.calls {
				if c == "CreateNetwork" || c == "UpgradeControlPlane" || c == "DeleteNodeGroups" || c == "BeginOperation" {
					t.Fatalf("calls %v: a cancelled gate went on", f.calls)
				}
			}
		})
	}
}
