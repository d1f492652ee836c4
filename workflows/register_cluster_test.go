package workflows_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

func agentStore(ctx context.Context, t *testing.T) (*store.Store, store.Cluster, store.Operation) {
	t.Helper()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	cl := store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "byok", Provider: "registered", ProvisionerType: "registered", Status: "PROVISIONING"}
	op := store.Operation{ID: store.NewID(), Type: "register", Status: "RUNNING", WorkflowID: "wf-" + cl.ID}
	if err := st.CreateClusterWithOperation(ctx, &cl, &op); err != nil {
		t.Fatal(err)
	}
	if err := st.PutClusterAgent(ctx, &store.ClusterAgent{ClusterID: cl.ID, OrgID: org.ID, TokenHash: "h-" + cl.ID,
		TokenExpiresAt: time.Now().Add(time.Hour), Architecture: "amd64"}); err != nil {
		t.Fatal(err)
	}
	return st, cl, op
}

func agentEnv(t *testing.T, st *store.Store) *testsuite.TestWorkflowEnvironment {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.RegisterClusterAgent)
	env.RegisterWorkflow(workflows.UnregisterClusterAgent)
	env.RegisterActivity(&activities.Agents{Store: st, Poll: 20 * time.Millisecond})
	return env
}

// The registration finishes once the agent holds a tunnel, with what it reported
// (a region the request gave wins); without a connection it fails at its deadline.
func TestRegisterClusterAgentWorkflow(t *testing.T) {
	ctx := context.Background()
	t.Run("connected", func(t *testing.T) {
		st, cl, op := agentStore(ctx, t)
		now := time.Now()
		if err := st.AgentConnected(ctx, cl.OrgID, cl.ID, store.AgentReport{Replica: "api-0", Since: now, At: now,
			AgentVersion: "v1.2.3", KubernetesVersion: "v1.34.1", Nodes: 3, Region: "eu-west-1", Healthy: true}); err != nil {
			t.Fatal(err)
		}
		env := agentEnv(t, st)
		env.ExecuteWorkflow(workflows.RegisterClusterAgent, workflows.RegisterClusterAgentInput{
			OrgID: cl.OrgID, ClusterID: cl.ID, OperationID: op.ID, Deadline: time.Minute, Region: "on-prem-1"})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		got, _ := st.GetCluster(ctx, cl.OrgID, cl.ID)
		if got.Status != "READY" || got.Region != "on-prem-1" || got.KubernetesVersion != "v1.34.1" || !strings.Contains(got.StatusMessage, "3 nodes") {
			t.Fatalf("cluster after registration = %+v", got)
		}
		if o, _ := st.GetOperation(ctx, cl.OrgID, op.ID); o.Status != "SUCCEEDED" || o.EndedAt == nil {
			t.Fatalf("operation = %+v", o)
		}
		if a, _ := st.GetClusterAgent(ctx, cl.OrgID, cl.ID); a.RegisteredAt == nil {
			t.Fatal("agent not marked registered")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		st, cl, op := agentStore(ctx, t)
		env := agentEnv(t, st)
		env.ExecuteWorkflow(workflows.RegisterClusterAgent, workflows.RegisterClusterAgentInput{
			OrgID: cl.OrgID, ClusterID: cl.ID, OperationID: op.ID, Deadline: 300 * time.Millisecond})
		if err := env.GetWorkflowError(); err == nil {
			t.Fatal("registration without an agent succeeded")
		}
		got, _ := st.GetCluster(ctx, cl.OrgID, cl.ID)
		o, _ := st.GetOperation(ctx, cl.OrgID, op.ID)
		if got.Status != "FAILED" || o.Status != "FAILED" || !strings.Contains(o.Message, "did not connect") {
			t.Fatalf("after the deadline: cluster %s %q, operation %s %q", got.Status, got.StatusMessage, o.Status, o.Message)
		}
	})
}

// Unregistering with full cleanup removes the agent and retires the cluster; with
// agent-only the cluster stays and its agent is tombstoned (refused).
func TestUnregisterClusterAgentWorkflow(t *testing.T) {
	ctx := context.Background()
	for _, agentOnly := range []bool{false, true} {
		st, cl, op := agentStore(ctx, t)
		if err := st.AgentCertIssued(ctx, cl.OrgID, cl.ID, "s1", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.FinishOperation(ctx, cl.OrgID, op.ID, "SUCCEEDED", "", time.Now()); err != nil {
			t.Fatal(err)
		}
		un := store.Operation{ID: store.NewID(), OrgID: cl.OrgID, ClusterID: cl.ID, ClusterName: cl.Name, Type: "delete", Status: "RUNNING", WorkflowID: "un"}
		if err := st.StartOperation(ctx, &un); err != nil {
			t.Fatal(err)
		}
		env := agentEnv(t, st)
		env.ExecuteWorkflow(workflows.UnregisterClusterAgent, workflows.UnregisterClusterAgentInput{OrgID: cl.OrgID, ClusterID: cl.ID, OperationID: un.ID, AgentOnly: agentOnly})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetCluster(ctx, cl.OrgID, cl.ID)
		if err != nil {
			t.Fatal(err)
		}
		a, aerr := st.GetClusterAgent(ctx, cl.OrgID, cl.ID)
		if agentOnly {
			if got.Status == store.ClusterDeleted || aerr != nil || !a.Tombstoned {
				t.Fatalf("agent-only: cluster %s, agent %+v %v", got.Status, a, aerr)
			}
		} else if got.Status != store.ClusterDeleted || !errors.Is(aerr, store.ErrNotFound) || !strings.Contains(got.StatusMessage, "kubectl delete namespace astro-agent") {
			t.Fatalf("full cleanup: cluster %s %q, agent %v", got.Status, got.StatusMessage, aerr)
		}
		if err := st.AdmitAgent(ctx, cl.OrgID, cl.ID, "s1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("agent still admitted after unregistering (agentOnly=%v): %v", agentOnly, err)
		}
		if o, _ := st.GetOperation(ctx, cl.OrgID, un.ID); o.Status != "SUCCEEDED" {
			t.Fatalf("unregister operation = %+v", o)
		}
	}
}
