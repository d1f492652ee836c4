package activities_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/store"
)

// recorder is a provider that records node-group creates and reports scripted states.
type recorder struct {
	*sim.Provider
	mu      sync.Mutex
	created []string
	states  []string
}

func (r *recorder) CreateNodeGroup(_ context.Context, _ activities.Call, _ activities.ClusterRef, ng activities.NodeGroupSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created = append(r.created, ng.Name)
	return nil
}

func (r *recorder) ControlPlaneStatus(context.Context, activities.Call, activities.ClusterRef) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.states[0]
	if len(r.states) > 1 {
		r.states = r.states[1:]
	}
	return s, nil
}

// registryOf serves p for every (provider, provisioner) pair.
func registryOf(p cloud.Provider) *cloud.Registry {
	r := cloud.NewRegistry(nil)
	for _, k := range cloud.Keys() {
		r.Register(k, func(context.Context, *cloud.Session) (cloud.Provider, error) { return p, nil })
	}
	return r
}

func newActivities(t *testing.T, p activities.Provider) (*activities.Cluster, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return &activities.Cluster{Store: st, Clouds: registryOf(p), PollInterval: time.Millisecond}, st
}

func TestCreateNodeGroupsResumesAfterHeartbeat(t *testing.T) {
	r := &recorder{Provider: sim.New(0)}
	a, _ := newActivities(t, r)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	env.SetHeartbeatDetails(1) // a previous attempt created the first group
	in := activities.NodeGroupsInput{Spec: activities.ClusterSpec{Provider: "aws"},
		NodeGroups: []activities.NodeGroupSpec{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	if _, err := env.ExecuteActivity(a.CreateNodeGroups, in); err != nil {
		t.Fatal(err)
	}
	if len(r.created) != 2 || r.created[0] != "b" || r.created[1] != "c" {
		t.Fatalf("created %v, want [b c]", r.created)
	}
}

func TestWaitControlPlaneActive(t *testing.T) {
	for _, tc := range []struct {
		states []string
		failed bool
	}{
		{[]string{activities.StateCreating, activities.StateCreating, activities.StateActive}, false},
		{[]string{activities.StateCreating, activities.StateFailed}, true},
	} {
		a, _ := newActivities(t, &recorder{Provider: sim.New(0), states: tc.states})
		var s testsuite.WorkflowTestSuite
		env := s.NewTestActivityEnvironment()
		env.RegisterActivity(a)
		_, err := env.ExecuteActivity(a.WaitControlPlaneActive, activities.ControlPlaneInput{Spec: activities.ClusterSpec{Provider: "aws"}})
		var appErr *temporal.ApplicationError
		if tc.failed != (err != nil) || (tc.failed && (!errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeClusterFailed)) {
			t.Fatalf("states %v: %v", tc.states, err)
		}
	}
}

func TestUnknownProviderAndMissingClusterAreNonRetryable(t *testing.T) {
	a, _ := newActivities(t, sim.New(0))
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.CreateNetwork, activities.NetworkInput{Spec: activities.ClusterSpec{Provider: "ibm"}})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeInvalidInput {
		t.Fatalf("unknown provider: %v", err)
	}
	_, err = env.ExecuteActivity(a.BeginOperation, activities.BeginOperationInput{OrgID: "o", ClusterID: "missing", ClusterStatus: store.ClusterProvisioning})
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeNotFound {
		t.Fatalf("missing cluster: %v", err)
	}
}

func TestFinishOperationRecordsOnceWithAudit(t *testing.T) {
	a, st := newActivities(t, sim.New(0))
	var finished []string // what the worker's astro_operations_finished_total counts
	a.Finished = func(opType, status string) { finished = append(finished, opType+" "+status) }
	ctx := context.Background()
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	cl := &store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterPending}
	op := &store.Operation{ID: "acme.prod.deploy.1", Type: "deploy", Status: store.OperationRunning, WorkflowID: "acme.prod.deploy.1"}
	if err := st.CreateClusterWithOperation(ctx, cl, op); err != nil {
		t.Fatal(err)
	}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	ready := activities.FinishOperationInput{OrgID: org.ID, ClusterID: cl.ID, OperationID: op.ID,
		OperationStatus: store.OperationSucceeded, ClusterStatus: store.ClusterReady, Message: "ready",
		Ref: &activities.ClusterRef{ExternalID: "cp-1", Endpoint: "https://prod"}, Spec: &activities.ClusterSpec{KubernetesVersion: "1.31"}}
	if _, err := env.ExecuteActivity(a.FinishOperation, ready); err != nil {
		t.Fatal(err)
	}
	late := ready
	late.OperationStatus, late.ClusterStatus, late.Ref = store.OperationFailed, store.ClusterFailed, nil
	if _, err := env.ExecuteActivity(a.FinishOperation, late); err != nil {
		t.Fatal(err)
	}
	if len(finished) != 1 || finished[0] != "deploy succeeded" {
		t.Fatalf("Finished told %q, want once: deploy succeeded", finished)
	}
	got, _ := st.GetCluster(ctx, org.ID, cl.ID)
	if got.Status != store.ClusterReady || got.Endpoint != "https://prod" || got.ExternalID != "cp-1" || got.KubernetesVersion != "1.31" {
		t.Fatalf("cluster %+v", got)
	}
	events, total, _ := st.ListAudit(ctx, org.ID, store.AuditFilter{EventType: "CLUSTER"}, store.Page{})
	if total != 1 || events[0].ResourceID != op.ID || events[0].Outcome != store.OutcomeSuccess {
		t.Fatalf("audit %+v", events)
	}
}
