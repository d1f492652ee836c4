package workflows_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

var op = workflows.Operation{OrgID: "org-1", ClusterID: "cl-1", OperationID: "acme.prod.deploy.1"}

var spec = activities.ClusterSpec{
	Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-east-1", KubernetesVersion: "1.31",
	NodeGroups: []activities.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3, MachineTypes: []string{"t3.medium"}}},
}

// fakeCloud mocks every cluster activity, recording the calls in order. Each provider
// step can be told to fail or to take a while (so a cancel lands in it).
type fakeCloud struct {
	mu       sync.Mutex
	calls    []string
	topics   []string
	decision []activities.DecisionInput
	finished []activities.FinishOperationInput
	failAt   string           // activity that fails (non-retryable)
	slowAt   string           // activity that takes an hour of (skipped) time
	slow     time.Duration    // how long slowAt takes
	failUndo map[string]error // activities that always fail with the given error
	settings []activities.ClusterSettingsInput
	// lateEndpoint: the control plane has no endpoint when created (as real EKS);
	// the kubeconfig step finds this one.
	lateEndpoint string
}

func (f *fakeCloud) record(name string) error {
	f.mu.Lock()
	f.calls = append(f.calls, name)
	f.mu.Unlock()
	if name == f.failAt {
		return temporal.NewNonRetryableApplicationError("boom at "+name, activities.ErrTypeInjected, nil)
	}
	return f.failUndo[name]
}

func (f *fakeCloud) install(env *testsuite.TestWorkflowEnvironment) {
	a := &activities.Cluster{}
	env.RegisterActivity(a)
	delay := func(name string) time.Duration {
		if name == f.slowAt {
			return f.slow
		}
		return 0
	}
	env.OnActivity(a.BeginOperation, mock.Anything, mock.Anything).After(delay("BeginOperation")).Return(func(context.Context, activities.BeginOperationInput) error {
		return f.record("BeginOperation")
	})
	env.OnActivity(a.CreateNetwork, mock.Anything, mock.Anything).After(delay("CreateNetwork")).Return(func(context.Context, activities.NetworkInput) (activities.NetworkRef, error) {
		return activities.NetworkRef{ID: "net-1"}, f.record("CreateNetwork")
	})
	env.OnActivity(a.DeleteNetwork, mock.Anything, mock.Anything).Return(func(context.Context, activities.NetworkInput) error {
		return f.record("DeleteNetwork")
	})
	env.OnActivity(a.CreateControlPlane, mock.Anything, mock.Anything).After(delay("CreateControlPlane")).Return(func(_ context.Context, in activities.ControlPlaneInput) (activities.ClusterRef, error) {
		if in.Network.ID != "net-1" {
			return activities.ClusterRef{}, errors.New("control plane created without the network")
		}
		if f.lateEndpoint != "" {
			return activities.ClusterRef{Provider: "aws", ExternalID: "cp-1"}, f.record("CreateControlPlane")
		}
		return activities.ClusterRef{Provider: "aws", ExternalID: "cp-1", Endpoint: "https://prod"}, f.record("CreateControlPlane")
	})
	env.OnActivity(a.WaitControlPlaneActive, mock.Anything, mock.Anything).After(delay("WaitControlPlaneActive")).Return(func(context.Context, activities.ControlPlaneInput) error {
		return f.record("WaitControlPlaneActive")
	})
	env.OnActivity(a.DeleteControlPlane, mock.Anything, mock.Anything).Return(func(context.Context, activities.ControlPlaneInput) error {
		return f.record("DeleteControlPlane")
	})
	env.OnActivity(a.CreateNodeGroups, mock.Anything, mock.Anything).After(delay("CreateNodeGroups")).Return(func(context.Context, activities.NodeGroupsInput) error {
		return f.record("CreateNodeGroups")
	})
	env.OnActivity(a.DeleteNodeGroups, mock.Anything, mock.Anything).Return(func(context.Context, activities.NodeGroupsInput) error {
		return f.record("DeleteNodeGroups")
	})
	env.OnActivity(a.InstallAddons, mock.Anything, mock.Anything).After(delay("InstallAddons")).Return(func(context.Context, activities.ControlPlaneInput) error {
		return f.record("InstallAddons")
	})
	env.OnActivity(a.VerifyKubeconfig, mock.Anything, mock.Anything).After(delay("VerifyKubeconfig")).Return(func(context.Context, activities.ControlPlaneInput) (activities.KubeconfigResult, error) {
		if f.lateEndpoint != "" {
			return activities.KubeconfigResult{Endpoint: f.lateEndpoint}, f.record("VerifyKubeconfig")
		}
		return activities.KubeconfigResult{Endpoint: "https://prod"}, f.record("VerifyKubeconfig")
	})
	env.OnActivity(a.UpgradeControlPlane, mock.Anything, mock.Anything).After(delay("UpgradeControlPlane")).Return(func(_ context.Context, in activities.ControlPlaneInput) error {
		return f.record("UpgradeControlPlane " + in.Version)
	})
	env.OnActivity(a.UpdateNodeGroup, mock.Anything, mock.Anything).After(delay("UpdateNodeGroup")).Return(func(_ context.Context, in activities.NodeGroupsInput) error {
		return f.record("UpdateNodeGroup " + in.NodeGroups[0].Name)
	})
	env.OnActivity(a.UpdateTags, mock.Anything, mock.Anything).Return(func(context.Context, activities.NodeGroupsInput) error {
		return f.record("UpdateTags")
	})
	env.OnActivity(a.UpdateClusterSettings, mock.Anything, mock.Anything).After(delay("UpdateClusterSettings")).Return(func(_ context.Context, in activities.ClusterSettingsInput) error {
		f.mu.Lock()
		f.settings = append(f.settings, in)
		f.mu.Unlock()
		return f.record("UpdateClusterSettings")
	})
	n := &activities.Notifier{}
	env.RegisterActivity(n)
	env.RegisterWorkflow(workflows.NotifyTopic)
	env.OnActivity(n.RequestApproval, mock.Anything, mock.Anything).Return(func(context.Context, activities.ApprovalInput) (activities.RequestApprovalResult, error) {
		return activities.RequestApprovalResult{Approvers: []string{"admin@example.com"}}, f.record("RequestApproval")
	})
	env.OnActivity(n.SendApprovalLinks, mock.Anything, mock.Anything).Return(func(context.Context, activities.ApprovalInput) error {
		return f.record("SendApprovalLinks")
	})
	env.OnActivity(n.RecordApprovalDecision, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DecisionInput) error {
		f.mu.Lock()
		f.decision = append(f.decision, in)
		f.mu.Unlock()
		return f.record("RecordApprovalDecision")
	})
	env.OnActivity(n.DeliverTopic, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.TopicInput) error {
		f.mu.Lock()
		f.topics = append(f.topics, in.Topic)
		f.mu.Unlock()
		return nil
	})
	env.OnActivity(a.FinishOperation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishOperationInput) error {
		f.mu.Lock()
		f.finished = append(f.finished, in)
		f.mu.Unlock()
		return f.record("FinishOperation")
	})
}

func (f *fakeCloud) lastFinish(t *testing.T) activities.FinishOperationInput {
	t.Helper()
	if len(f.finished) == 0 {
		t.Fatal("the operation's outcome was never recorded")
	}
	return f.finished[len(f.finished)-1]
}

func newEnv(f *fakeCloud) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	f.install(env)
	return env
}

func queryProgress(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.Progress {
	t.Helper()
	v, err := env.QueryWorkflow(workflows.QueryProgress)
	if err != nil {
		t.Fatal(err)
	}
	var p workflows.Progress
	if err := v.Get(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// A control plane created without an endpoint (real EKS has one only once ACTIVE)
// is recorded with the endpoint its kubeconfig names.
func TestDeployRecordsTheEndpointTheKubeconfigFound(t *testing.T) {
	f := &fakeCloud{lateEndpoint: "https://ABCD.gr7.us-east-1.eks.amazonaws.com"}
	env := newEnv(f)
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
	var res workflows.DeployClusterResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if fin := f.lastFinish(t); fin.Ref == nil || fin.Ref.Endpoint != f.lateEndpoint || res.Endpoint != f.lateEndpoint {
		t.Fatalf("recorded %+v, result %+v; want the endpoint %s", fin.Ref, res, f.lateEndpoint)
	}
}

func TestDeployHappyPath(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})

	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []string{"BeginOperation", "CreateNetwork", "CreateControlPlane", "WaitControlPlaneActive",
		"CreateNodeGroups", "InstallAddons", "VerifyKubeconfig", "FinishOperation"}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %v, want %v", f.calls, want)
	}
	fin := f.lastFinish(t)
	if fin.ClusterStatus != store.ClusterReady || fin.OperationStatus != store.OperationSucceeded ||
		fin.Ref == nil || fin.Ref.ExternalID != "cp-1" || fin.Network == nil || fin.Network.ID != "net-1" || fin.Spec == nil {
		t.Fatalf("outcome %+v", fin)
	}
	p := queryProgress(t, env)
	if p.Status != workflows.StatusSucceeded || p.Percent != 100 || len(p.Steps) != len(workflows.DeploySteps) {
		t.Fatalf("progress %+v", p)
	}
	for _, s := range p.Steps {
		if s.Name == workflows.StepApproval {
			if s.Status != workflows.StepSkipped {
				t.Fatalf("approval step without a policy: %+v", s)
			}
			continue
		}
		if s.Status != workflows.StepSucceeded || s.StartedAt == nil || s.EndedAt == nil {
			t.Fatalf("step %+v", s)
		}
	}
	if !slices.Equal(f.topics, []string{activities.TopicClusterDeployed}) {
		t.Fatalf("topics emitted %v", f.topics)
	}
}

func TestDeployWithoutNodeGroupsSkipsThatStep(t *testing.T) {
	f := &fakeCloud{}
	env := newEnv(f)
	autopilot := spec
	autopilot.NodeGroups, autopilot.Autopilot = nil, true
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: autopilot})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(f.calls, "CreateNodeGroups") {
		t.Fatal("node groups created for an autopilot cluster")
	}
	if p := queryProgress(t, env); p.Steps[5].Status != workflows.StepSkipped || p.Percent != 100 {
		t.Fatalf("progress %+v", p)
	}
}

// Each failing step rolls back exactly what was started before it, newest first.
func TestDeployFailureRollsBack(t *testing.T) {
	for _, tc := range []struct {
		failAt   string
		rollback []string
	}{
		{"BeginOperation", nil},
		{"CreateNetwork", []string{"DeleteNetwork"}},
		{"CreateControlPlane", []string{"DeleteControlPlane", "DeleteNetwork"}},
		{"WaitControlPlaneActive", []string{"DeleteControlPlane", "DeleteNetwork"}},
		{"CreateNodeGroups", []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"}},
		{"InstallAddons", []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"}},
		{"VerifyKubeconfig", []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"}},
	} {
		t.Run(tc.failAt, func(t *testing.T) {
			f := &fakeCloud{failAt: tc.failAt}
			env := newEnv(f)
			env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})

			var appErr *temporal.ApplicationError
			if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInjected {
				t.Fatalf("workflow error %v, want the step's failure", err)
			}
			i := slices.Index(f.calls, tc.failAt)
			got := f.calls[i+1 : len(f.calls)-1] // between the failure and the final record
			if !slices.Equal(got, tc.rollback) {
				t.Fatalf("rollback %v, want %v (all calls %v)", got, tc.rollback, f.calls)
			}
			fin := f.lastFinish(t)
			if fin.ClusterStatus != store.ClusterFailed || fin.OperationStatus != store.OperationFailed {
				t.Fatalf("outcome %+v", fin)
			}
			p := queryProgress(t, env)
			if p.Status != workflows.StatusFailed {
				t.Fatalf("progress status %s", p.Status)
			}
			var compensations int
			for _, s := range p.Steps {
				if s.Compensation {
					compensations++
					if s.Status != workflows.StepSucceeded {
						t.Fatalf("compensation step %+v", s)
					}
				}
			}
			if compensations != len(tc.rollback) {
				t.Fatalf("progress shows %d compensation steps, want %d: %+v", compensations, len(tc.rollback), p.Steps)
			}
		})
	}
}

// A cancel during any step stops the deploy, rolls back what was started, and ends
// the workflow CANCELLED.
func TestDeployCancelAtEachStep(t *testing.T) {
	for _, tc := range []struct {
		slowAt   string
		rollback []string
	}{
		{"CreateNetwork", []string{"DeleteNetwork"}},
		{"CreateControlPlane", []string{"DeleteControlPlane", "DeleteNetwork"}},
		{"WaitControlPlaneActive", []string{"DeleteControlPlane", "DeleteNetwork"}},
		{"CreateNodeGroups", []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"}},
		{"InstallAddons", []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"}},
		{"VerifyKubeconfig", []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"}},
	} {
		t.Run(tc.slowAt, func(t *testing.T) {
			f := &fakeCloud{slowAt: tc.slowAt, slow: time.Hour}
			env := newEnv(f)
			env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Minute)
			env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})

			if err := env.GetWorkflowError(); !temporal.IsCanceledError(err) {
				t.Fatalf("workflow error %v, want cancelled", err)
			}
			var undo []string
			for _, c := range f.calls {
				if len(c) > 6 && c[:6] == "Delete" {
					undo = append(undo, c)
				}
			}
			if !slices.Equal(undo, tc.rollback) {
				t.Fatalf("rollback %v, want %v (all calls %v)", undo, tc.rollback, f.calls)
			}
			fin := f.lastFinish(t)
			if fin.ClusterStatus != store.ClusterCancelled || fin.OperationStatus != store.OperationCancelled {
				t.Fatalf("outcome %+v", fin)
			}
			p := queryProgress(t, env)
			if p.Status != workflows.StatusCancelled {
				t.Fatalf("progress %+v", p)
			}
		})
	}
}

// A compensation that fails for good does not stop the rollback: the ones after it
// still run, and the outcome (the recorded message and references, the progress, the
// cluster.failed notification) says what was left behind.
func TestDeployRollbackContinuesPastAFailedCompensation(t *testing.T) {
	gone := func(name string) error {
		return temporal.NewNonRetryableApplicationError("cannot remove at "+name, activities.ErrTypeInjected, nil)
	}
	for _, tc := range []struct {
		name      string
		failAt    string // a failing step, or
		slowAt    string // a step during which the deploy is cancelled
		failUndo  map[string]error
		rollback  []string // every compensation attempted, in order
		left      []string // the rollback steps that left something behind
		inMessage []string
		ref, net  bool // the outcome keeps the control plane's / network's reference
	}{
		{
			name: "control plane stays after a failed step", failAt: "CreateNodeGroups",
			failUndo: map[string]error{"DeleteControlPlane": gone("DeleteControlPlane")},
			rollback: []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"},
			left:     []string{"rollback-control-plane"},
			inMessage: []string{"deploy failed at node-groups: ", "boom at CreateNodeGroups", "rollback incomplete, left behind: control plane cp-1",
				"rollback-control-plane: cannot remove at DeleteControlPlane"},
			ref: true,
		},
		{
			name: "node groups and network stay after a cancel", slowAt: "InstallAddons",
			failUndo: map[string]error{"DeleteNodeGroups": gone("DeleteNodeGroups"), "DeleteNetwork": gone("DeleteNetwork")},
			rollback: []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"},
			left:     []string{"rollback-node-groups", "rollback-network"},
			inMessage: []string{"deploy cancelled", "node groups default-pool of control plane cp-1 (rollback-node-groups:",
				"network net-1 (rollback-network: cannot remove at DeleteNetwork)"},
			ref: true, net: true,
		},
		{
			name: "first compensation keeps failing after its retries", failAt: "VerifyKubeconfig",
			failUndo:  map[string]error{"DeleteNodeGroups": errors.New("provider throttled")},
			rollback:  []string{"DeleteNodeGroups", "DeleteControlPlane", "DeleteNetwork"},
			left:      []string{"rollback-node-groups"},
			inMessage: []string{"left behind: node groups default-pool of control plane cp-1", "provider throttled"},
			ref:       true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeCloud{failAt: tc.failAt, slowAt: tc.slowAt, slow: time.Hour, failUndo: tc.failUndo}
			env := newEnv(f)
			wantStatus, wantCluster := workflows.StatusFailed, store.ClusterFailed
			if tc.slowAt != "" {
				wantStatus, wantCluster = workflows.StatusCancelled, store.ClusterCancelled
				env.RegisterDelayedCallback(env.CancelWorkflow, 30*time.Minute)
			}
			env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
			if env.GetWorkflowError() == nil {
				t.Fatal("the deploy succeeded")
			}

			var undo []string
			for _, c := range f.calls {
				if strings.HasPrefix(c, "Delete") && !slices.Contains(undo, c) {
					undo = append(undo, c)
				}
			}
			if !slices.Equal(undo, tc.rollback) {
				t.Fatalf("compensations %v, want %v (all calls %v)", undo, tc.rollback, f.calls)
			}
			if f.calls[len(f.calls)-1] != "FinishOperation" {
				t.Fatalf("the outcome was not recorded after the rollback: %v", f.calls)
			}

			fin := f.lastFinish(t)
			if fin.ClusterStatus != wantCluster {
				t.Fatalf("cluster status %s, want %s", fin.ClusterStatus, wantCluster)
			}
			for _, want := range tc.inMessage {
				if !strings.Contains(fin.Message, want) {
					t.Errorf("recorded message %q lacks %q", fin.Message, want)
				}
			}
			if got := fin.Ref != nil && fin.Ref.ExternalID == "cp-1"; got != tc.ref {
				t.Errorf("outcome keeps the control plane's reference: %v, want %v (%+v)", got, tc.ref, fin.Ref)
			}
			if got := fin.Network != nil && fin.Network.ID == "net-1"; got != tc.net {
				t.Errorf("outcome keeps the network's reference: %v, want %v (%+v)", got, tc.net, fin.Network)
			}

			p := queryProgress(t, env)
			if p.Status != wantStatus || p.Message != fin.Message {
				t.Errorf("progress %s %q, want %s with the recorded message %q", p.Status, p.Message, wantStatus, fin.Message)
			}
			var left []string
			for _, l := range p.LeftBehind {
				left = append(left, l.Step)
				if l.Resource == "" || l.Error == "" {
					t.Errorf("left behind without resource or cause: %+v", l)
				}
			}
			if !slices.Equal(left, tc.left) {
				t.Errorf("progress leftBehind %v, want %v", left, tc.left)
			}
			for _, s := range p.Steps {
				if !s.Compensation {
					continue
				}
				want := workflows.StepSucceeded
				if slices.Contains(tc.left, s.Name) {
					want = workflows.StepFailed
				}
				if s.Status != want {
					t.Errorf("compensation step %s is %s, want %s", s.Name, s.Status, want)
				}
			}
			if !slices.Contains(f.topics, activities.TopicClusterFailed) {
				t.Errorf("topics emitted %v, want %s", f.topics, activities.TopicClusterFailed)
			}
		})
	}
}

// Workflows that started their rollback before rollback-leftovers keep doing what they
// did: every compensation still runs, the message names the failed step.
func TestDeployRollbackBeforeLeftoversVersion(t *testing.T) {
	f := &fakeCloud{failAt: "CreateNodeGroups", failUndo: map[string]error{
		"DeleteControlPlane": temporal.NewNonRetryableApplicationError("stuck", activities.ErrTypeInjected, nil)}}
	env := newEnv(f)
	env.OnGetVersion("rollback-leftovers", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	// Recorded before rollback-leftovers, so before human-outcome-messages too.
	env.OnGetVersion("human-outcome-messages", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{Op: op, Spec: spec})
	if env.GetWorkflowError() == nil {
		t.Fatal("the deploy succeeded")
	}
	if !slices.Contains(f.calls, "DeleteNetwork") {
		t.Fatalf("rollback stopped at the failed compensation: %v", f.calls)
	}
	fin := f.lastFinish(t)
	if !strings.Contains(fin.Message, "rollback of control-plane failed, resources may remain") || fin.Ref != nil {
		t.Fatalf("outcome %+v", fin)
	}
	if p := queryProgress(t, env); len(p.LeftBehind) != 0 {
		t.Fatalf("progress leftBehind %+v before the version", p.LeftBehind)
	}
}
