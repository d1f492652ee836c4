package workflows_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

var gated = workflows.DeployClusterInput{Op: op, Spec: spec, Approval: &workflows.ApprovalGate{ExpiresIn: 72 * time.Hour, ApproverRoles: []string{"admin"}}}

// decide sends the decide Update after delay and reports whether it was accepted.
func decide(env *testsuite.TestWorkflowEnvironment, delay time.Duration, action string, accepted *error) {
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateDecide, "", &testsuite.TestUpdateCallback{
			OnReject:   func(err error) { *accepted = err },
			OnAccept:   func() { *accepted = nil },
			OnComplete: func(any, error) {},
		}, workflows.Decision{Action: action, DecidedBy: "admin@example.com"})
	}, delay)
}

func TestApprovedDeployContinues(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	var waiting workflows.Progress
	env.RegisterDelayedCallback(func() { waiting = queryProgress(t, env) }, time.Hour)
	first, second := errors.New("not sent"), errors.New("not sent")
	decide(env, 2*time.Hour, workflows.ActionApprove, &first)
	decide(env, 3*time.Hour, workflows.ActionReject, &second) // too late: already decided
	env.ExecuteWorkflow(workflows.DeployCluster, gated)

	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if waiting.Status != workflows.StatusWaitingForApproval || waiting.Approval == nil ||
		!slices.Equal(waiting.Approval.RequestedFrom, []string{"admin@example.com"}) || waiting.Approval.ExpiresAt.IsZero() {
		t.Fatalf("progress while waiting: %+v", waiting)
	}
	if first != nil {
		t.Fatalf("approve was refused: %v", first)
	}
	if second == nil {
		t.Fatal("a second decision was accepted")
	}
	// Nothing touched the cloud before the approval.
	if i, j := slices.Index(f.calls, "RecordApprovalDecision"), slices.Index(f.calls, "CreateNetwork"); i < 0 || j < i {
		t.Fatalf("calls %v: the network was created before the approval", f.calls)
	}
	if d := f.decision[0]; d.Status != store.ApprovalApproved || d.DecidedBy != "admin@example.com" {
		t.Fatalf("decision %+v", d)
	}
	if !slices.Contains(f.topics, activities.TopicClusterApprovalRequest) || !slices.Contains(f.topics, activities.TopicClusterApprovalDecision) ||
		!slices.Contains(f.topics, activities.TopicClusterDeployed) {
		t.Fatalf("topics %v", f.topics)
	}
}

func TestRejectedOrExpiredDeployChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name          string
		reject        bool
		errType       string
		opStatus      string
		clusterStatus string
	}{
		{"rejected", true, workflows.ErrTypeRejected, store.OperationRejected, store.ClusterRejected},
		{"expired", false, workflows.ErrTypeExpired, store.OperationExpired, store.ClusterExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCloud{}
			env := newEnv(f)
			var accepted error
			if tc.reject {
				decide(env, time.Hour, workflows.ActionReject, &accepted)
			}
			env.ExecuteWorkflow(workflows.DeployCluster, gated)

			var appErr *temporal.ApplicationError
			if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != tc.errType {
				t.Fatalf("workflow error %v, want %s", err, tc.errType)
			}
			for _, c := range f.calls {
				if c != "RequestApproval" && c != "SendApprovalLinks" && c != "RecordApprovalDecision" && c != "FinishOperation" {
					t.Fatalf("cloud or cluster call %q after a %s request (calls %v)", c, tc.name, f.calls)
				}
			}
			fin := f.lastFinish(t)
			if fin.OperationStatus != tc.opStatus || fin.ClusterStatus != tc.clusterStatus {
				t.Fatalf("outcome %+v", fin)
			}
			if p := queryProgress(t, env); p.Status != map[bool]string{true: workflows.StatusRejected, false: workflows.StatusExpired}[tc.reject] {
				t.Fatalf("progress %+v", p)
			}
			if !slices.Contains(f.topics, activities.TopicClusterFailed) {
				t.Fatalf("topics %v", f.topics)
			}
		})
	}
}

func TestCancelWhileWaitingForApproval(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	env.RegisterDelayedCallback(env.CancelWorkflow, time.Hour)
	env.ExecuteWorkflow(workflows.DeployCluster, gated)
	if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("workflow error %v, want cancelled", err)
	}
	if slices.Contains(f.calls, "CreateNetwork") {
		t.Fatalf("calls %v", f.calls)
	}
	if fin := f.lastFinish(t); fin.OperationStatus != store.OperationCancelled {
		t.Fatalf("outcome %+v", fin)
	}
}

func TestDecisionValidator(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	var bad error
	env.RegisterDelayedCallback(func() {
		env.UpdateWorkflow(workflows.UpdateDecide, "", &testsuite.TestUpdateCallback{
			OnReject: func(err error) { bad = err }, OnAccept: func() {}, OnComplete: func(any, error) {},
		}, workflows.Decision{Action: "MAYBE"})
	}, time.Hour)
	decide(env, 2*time.Hour, workflows.ActionApprove, new(error))
	env.ExecuteWorkflow(workflows.DeployCluster, gated)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if bad == nil {
		t.Fatal("an unknown action was accepted")
	}
}

func TestDeleteNotApprovedKeepsTheCluster(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	in := deleteInput
	in.PriorStatus = store.ClusterReady
	in.Approval = &workflows.ApprovalGate{ExpiresIn: time.Hour, ApproverRoles: []string{"admin"}}
	env.ExecuteWorkflow(workflows.DeleteCluster, in)
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("delete ran without approval")
	}
	if slices.Contains(f.calls, "DeleteControlPlane") {
		t.Fatalf("calls %v", f.calls)
	}
	if fin := f.lastFinish(t); fin.ClusterStatus != store.ClusterReady || fin.OperationStatus != store.OperationExpired {
		t.Fatalf("outcome %+v", fin)
	}
}
