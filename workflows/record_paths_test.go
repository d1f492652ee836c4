package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/workflows"
)

// scen is how the stub activities of one recorded workflow behave: the activities
// that fail (non-retryable), and the one that holds until the workflow is cancelled.
type scen struct {
	failAt  map[string]bool
	holdAt  string
	started chan struct{}
	once    sync.Once
}

// scens maps a workflow ID to its scen.
var scens sync.Map

// behave is what the stub activity name does for the workflow calling it.
func behave(ctx context.Context, name string) error {
	id := activity.GetInfo(ctx).WorkflowExecution.ID
	v, ok := scens.Load(id)
	if !ok {
		return nil
	}
	s := v.(*scen)
	if s.failAt[name] {
		return temporal.NewNonRetryableApplicationError("boom at "+name, activities.ErrTypeInjected, nil)
	}
	if s.holdAt == name {
		s.once.Do(func() { close(s.started) })
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Second):
				activity.RecordHeartbeat(ctx)
			}
		}
	}
	return nil
}

// registerStubs registers the workflows as the worker does, with stub activities of
// the same names.
func registerStubs(w worker.Worker) {
	workflows.RegisterWorkflows(w)
	plain := func(name string) {
		w.RegisterActivityWithOptions(func(ctx context.Context, in json.RawMessage) error { return behave(ctx, name) }, activity.RegisterOptions{Name: name})
	}
	for _, n := range []string{"BeginOperation", "DeleteNetwork", "WaitControlPlaneActive", "DeleteControlPlane", "UpgradeControlPlane", "InstallAddons",
		"CreateNodeGroups", "DeleteNodeGroups", "UpdateNodeGroup", "UpdateTags", "FinishOperation", "RecordApprovalDecision", "SendApprovalLinks", "DeliverTopic"} {
		plain(n)
	}
	w.RegisterActivityWithOptions(func(ctx context.Context, in json.RawMessage) (activities.NetworkRef, error) {
		return activities.NetworkRef{ID: "net-1"}, behave(ctx, "CreateNetwork")
	}, activity.RegisterOptions{Name: "CreateNetwork"})
	w.RegisterActivityWithOptions(func(ctx context.Context, in json.RawMessage) (activities.ClusterRef, error) {
		return activities.ClusterRef{Provider: "aws", ExternalID: "cp-1", Endpoint: "https://prod"}, behave(ctx, "CreateControlPlane")
	}, activity.RegisterOptions{Name: "CreateControlPlane"})
	w.RegisterActivityWithOptions(func(ctx context.Context, in json.RawMessage) (activities.KubeconfigResult, error) {
		return activities.KubeconfigResult{}, behave(ctx, "VerifyKubeconfig")
	}, activity.RegisterOptions{Name: "VerifyKubeconfig"})
	w.RegisterActivityWithOptions(func(ctx context.Context, in json.RawMessage) (activities.RequestApprovalResult, error) {
		return activities.RequestApprovalResult{Approvers: []string{"a@x"}}, behave(ctx, "RequestApproval")
	}, activity.RegisterOptions{Name: "RequestApproval"})
}

// TestRecordEveryPath records, under `make record-histories`, a history of every path
// through the three operations' workflows on a dev server, with stub activities told
// where to fail or hold: each step failing, cancels mid-step, approval gates approved,
// rejected, expired, cancelled while waiting and failing to record, the autopilot
// skip, an update step of an unknown kind, a rollback that leaves resources behind.
// The real activities' histories come from the server's integration tests; these add
// the paths the API cannot reach on purpose. Without ASTRO_RECORD_HISTORIES it skips.
func TestRecordEveryPath(t *testing.T) {
	dir := os.Getenv("ASTRO_RECORD_HISTORIES")
	if dir == "" {
		t.Skip("records histories under make record-histories (ASTRO_RECORD_HISTORIES)")
	}
	srv := testtemporal.Start(t)
	c := srv.Client()
	w := worker.New(c, "paths", worker.Options{})
	registerStubs(w)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	spec := activities.ClusterSpec{Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-east-1", KubernetesVersion: "1.31",
		NodeGroups: []activities.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3, MachineTypes: []string{"t3.medium"}}}}
	auto := spec
	auto.NodeGroups = nil
	gate := func(exp time.Duration) *workflows.ApprovalGate {
		return &workflows.ApprovalGate{ExpiresIn: exp, ApproverRoles: []string{"admin"}, RequestedBy: "me"}
	}
	ng := spec.NodeGroups[0]
	ng.MaxNode = 5
	steps := []workflows.UpdateStep{
		{Name: "1-cp", Kind: workflows.KindControlPlaneUpgrade, Version: "1.32"},
		{Name: "2-ng", Kind: workflows.KindNodeGroupUpgrade, NodeGroup: &ng, Batches: 2},
		{Name: "3-scale", Kind: workflows.KindNodeGroupScale, NodeGroup: &ng},
		{Name: "4-create", Kind: workflows.KindNodeGroupCreate, NodeGroup: &activities.NodeGroupSpec{Name: "extra", MinNode: 1, MaxNode: 1}},
		{Name: "5-addons", Kind: workflows.KindAddonsUpgrade, Version: "1.32"},
		{Name: "6-tags", Kind: workflows.KindTagsUpdate, Tags: map[string]string{"a": "b"}},
		{Name: "7-ami", Kind: workflows.KindAmiFamilyUpdate, NodeGroup: &ng},
	}
	unknown := append(append([]workflows.UpdateStep{}, steps[:2]...), workflows.UpdateStep{Name: "3-bad", Kind: "bogus"})
	type run struct {
		name         string
		wf           string
		arg          any
		s            *scen
		cancel       bool
		decide       string
		waitApproval bool
	}
	dep := func(sp activities.ClusterSpec, g *workflows.ApprovalGate) workflows.DeployClusterInput {
		return workflows.DeployClusterInput{Spec: sp, Approval: g}
	}
	upd := func(st []workflows.UpdateStep, g *workflows.ApprovalGate) workflows.UpdateClusterInput {
		return workflows.UpdateClusterInput{Current: spec, Ref: activities.ClusterRef{ExternalID: "cp-1"}, Steps: st, Approval: g}
	}
	del := func(g *workflows.ApprovalGate) workflows.DeleteClusterInput {
		return workflows.DeleteClusterInput{Spec: spec, Ref: activities.ClusterRef{ExternalID: "cp-1"}, Network: activities.NetworkRef{ID: "net-1"}, CreateOperationID: "x.deploy.1", PriorStatus: "READY", Approval: g}
	}
	fail := func(names ...string) *scen {
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return &scen{failAt: m}
	}
	hold := func(n string) *scen { return &scen{holdAt: n, started: make(chan struct{})} }
	runs := []run{
		{name: "deploy-ok", wf: "DeployCluster", arg: dep(spec, nil)},
		{name: "deploy-autopilot", wf: "DeployCluster", arg: dep(auto, nil)},
		{name: "deploy-rollback-leftovers", wf: "DeployCluster", arg: dep(spec, nil), s: fail("InstallAddons", "DeleteNodeGroups", "DeleteNetwork")},
		{name: "deploy-cancel-cp", wf: "DeployCluster", arg: dep(spec, nil), s: hold("CreateControlPlane"), cancel: true},
		{name: "deploy-cancel-ng", wf: "DeployCluster", arg: dep(spec, nil), s: hold("CreateNodeGroups"), cancel: true},
		{name: "deploy-gated-approved", wf: "DeployCluster", arg: dep(spec, gate(time.Hour)), decide: workflows.ActionApprove},
		{name: "deploy-gated-rejected", wf: "DeployCluster", arg: dep(spec, gate(time.Hour)), decide: workflows.ActionReject},
		{name: "deploy-gated-expired", wf: "DeployCluster", arg: dep(spec, gate(3*time.Second))},
		{name: "deploy-gated-cancelled", wf: "DeployCluster", arg: dep(spec, gate(time.Hour)), waitApproval: true, cancel: true},
		{name: "deploy-gated-request-fails", wf: "DeployCluster", arg: dep(spec, gate(time.Hour)), s: fail("RequestApproval")},
		{name: "update-ok", wf: "UpdateCluster", arg: upd(steps, nil)},
		{name: "update-unknown-kind", wf: "UpdateCluster", arg: upd(unknown, nil)},
		{name: "update-fail-begin", wf: "UpdateCluster", arg: upd(steps, nil), s: fail("BeginOperation")},
		{name: "update-cancel-ng", wf: "UpdateCluster", arg: upd(steps, nil), s: hold("UpdateNodeGroup"), cancel: true},
		{name: "update-gated-approved", wf: "UpdateCluster", arg: upd(steps, gate(time.Hour)), decide: workflows.ActionApprove},
		{name: "update-gated-rejected", wf: "UpdateCluster", arg: upd(steps, gate(time.Hour)), decide: workflows.ActionReject},
		{name: "update-gated-cancelled", wf: "UpdateCluster", arg: upd(steps, gate(time.Hour)), waitApproval: true, cancel: true},
		{name: "delete-ok", wf: "DeleteCluster", arg: del(nil)},
		{name: "delete-fail-begin", wf: "DeleteCluster", arg: del(nil), s: fail("BeginOperation")},
		{name: "delete-cancel-cp", wf: "DeleteCluster", arg: del(nil), s: hold("DeleteControlPlane"), cancel: true},
		{name: "delete-gated-expired", wf: "DeleteCluster", arg: del(gate(3 * time.Second))},
		{name: "delete-gated-approved", wf: "DeleteCluster", arg: del(gate(time.Hour)), decide: workflows.ActionApprove},
		{name: "delete-gated-cancelled", wf: "DeleteCluster", arg: del(gate(time.Hour)), waitApproval: true, cancel: true},
	}
	for _, f := range []string{"BeginOperation", "CreateNetwork", "CreateControlPlane", "WaitControlPlaneActive", "CreateNodeGroups", "InstallAddons", "VerifyKubeconfig", "FinishOperation"} {
		runs = append(runs, run{name: "deploy-fail-" + f, wf: "DeployCluster", arg: dep(spec, nil), s: fail(f)})
	}
	for _, f := range []string{"UpgradeControlPlane", "UpdateNodeGroup", "CreateNodeGroups", "InstallAddons", "UpdateTags", "FinishOperation"} {
		runs = append(runs, run{name: "update-fail-" + f, wf: "UpdateCluster", arg: upd(steps, nil), s: fail(f)})
	}
	for _, f := range []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork", "FinishOperation"} {
		runs = append(runs, run{name: "delete-fail-" + f, wf: "DeleteCluster", arg: del(nil), s: fail(f)})
	}
	ctx := t.Context()
	for _, r := range runs {
		id := "paths." + r.name
		op := workflows.Operation{OrgID: "org", ClusterID: "cl", OperationID: id}
		switch a := r.arg.(type) {
		case workflows.DeployClusterInput:
			a.Op = op
			r.arg = a
		case workflows.UpdateClusterInput:
			a.Op = op
			r.arg = a
		case workflows.DeleteClusterInput:
			a.Op = op
			r.arg = a
		}
		if r.s != nil {
			scens.Store(id, r.s)
		}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "paths"}, r.wf, r.arg)
		if err != nil {
			t.Fatal(err)
		}
		if r.decide != "" || r.waitApproval {
			for deadline := time.Now().Add(time.Minute); ; {
				if time.Now().After(deadline) {
					t.Fatalf("%s never waited for approval", id)
				}
				v, err := c.QueryWorkflow(ctx, id, "", workflows.QueryProgress)
				if err == nil {
					var p workflows.Progress
					_ = v.Get(&p)
					if p.Status == workflows.StatusWaitingForApproval {
						break
					}
				}
				time.Sleep(200 * time.Millisecond) // poll until the gate is open
			}
		}
		if r.decide != "" {
			h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: id, UpdateName: workflows.UpdateDecide,
				Args: []any{workflows.Decision{Action: r.decide, DecidedBy: "boss"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
			if err != nil {
				t.Fatal(err)
			}
			_ = h.Get(ctx, nil)
		}
		if r.s != nil && r.s.holdAt != "" {
			<-r.s.started
		}
		if r.cancel {
			if err := c.CancelWorkflow(ctx, id, ""); err != nil {
				t.Fatal(err)
			}
		}
		err = run.Get(ctx, nil)
		t.Logf("%s: %v", r.name, err)
		var events []*historypb.HistoryEvent
		it := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, ev)
		}
		raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&historypb.History{Events: events})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(dir, "paths-"+r.name+".json"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			t.Fatalf("record %s (recorded histories are never overwritten): %v", r.name, err)
		}
		if _, err := f.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
