// Package testflow runs cluster operations through the real workflows and
// activities — a Temporal dev server, a worker of every workflow and a SQLite
// store — against the clouds a test gives: the harness of the cloud providers'
// workflow tests (cloud/aws, cloud/gcp, cloud/azure).
package testflow

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// OrgName is the name of the organization every operation of a Stack belongs to.
const OrgName = "acme"

// Stack is a dev server, a store with one organization and a worker whose
// providers come from the test's registry.
type Stack struct {
	T      testing.TB
	Client client.Client
	Store  *store.Store
	OrgID  string
}

// Start starts a Stack for t; everything stops when t ends.
func Start(t testing.TB, clouds *cloud.Registry) *Stack {
	t.Helper()
	srv := testtemporal.Start(t)
	st, err := store.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := &store.Organization{ID: store.NewID(), Name: OrgName}
	if err := st.CreateOrganization(t.Context(), org); err != nil {
		t.Fatal(err)
	}
	w := worker.New(srv.Client(), workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster:  &activities.Cluster{Store: st, Clouds: clouds, PollInterval: 10 * time.Millisecond},
		Notifier: &activities.Notifier{Store: st},
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &Stack{T: t, Client: srv.Client(), Store: st, OrgID: org.ID}
}

// Run records an operation of opType on the cluster (creating the cluster for a
// deploy), runs the workflow named wf with in (and the operation) to its end, within
// a minute, and returns the operation's ID and the workflow's error.
func (s *Stack) Run(c store.Cluster, opType, wf string, in any) (string, error) {
	s.T.Helper()
	ctx := s.T.Context()
	opID := workflows.OperationID(OrgName, c.Name, opType, store.NewID()[:8])
	op := &store.Operation{ID: opID, OrgID: s.OrgID, ClusterID: c.ID, ClusterName: c.Name, Type: opType, Status: store.OperationRunning, WorkflowID: opID}
	var err error
	if opType == workflows.OpDeploy {
		err = s.Store.CreateClusterWithOperation(ctx, &c, op)
	} else {
		err = s.Store.StartOperation(ctx, op)
	}
	if err != nil {
		s.T.Fatal(err)
	}
	input := map[string]any{}
	raw, _ := json.Marshal(in)
	_ = json.Unmarshal(raw, &input)
	input["Op"] = workflows.Operation{OrgID: s.OrgID, ClusterID: c.ID, OperationID: opID}
	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: opID, TaskQueue: workflows.TaskQueue}, wf, input)
	if err != nil {
		s.T.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return opID, run.Get(ctx, nil)
}

// Cluster returns the store's record of cluster id.
func (s *Stack) Cluster(id string) store.Cluster {
	s.T.Helper()
	c, err := s.Store.GetCluster(s.T.Context(), s.OrgID, id)
	if err != nil {
		s.T.Fatal(err)
	}
	return c
}

// NoSecrets fails when the history of any of ops holds any of secrets, or when an
// operation has no history (a scan of nothing proves nothing).
func (s *Stack) NoSecrets(ops []string, secrets ...string) {
	s.T.Helper()
	for _, id := range ops {
		it := s.Client.GetWorkflowHistory(s.T.Context(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		events := 0
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				s.T.Fatal(err)
			}
			events++
			raw, _ := json.Marshal(ev)
			for _, secret := range secrets {
				if secret != "" && strings.Contains(string(raw), secret) {
					s.T.Fatalf("history of %s holds a secret in event %d (%s)", id, ev.EventId, ev.EventType)
				}
			}
		}
		if events == 0 {
			s.T.Fatalf("no history for %s", id)
		}
	}
}
