package activities_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/temporal"
	"k8s.io/client-go/dynamic"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// Registered clusters are reached through the agents' way, every other cluster
// through the provider's; a worker with no way to agents refuses registered
// clusters, non-retryably, saying what it lacks.
func TestRoutedClustersByProvisionerType(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	mk := func(name, provisioner string) string {
		cl := &store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: name, Provider: "aws", ProvisionerType: provisioner, Status: store.ClusterReady}
		if err := st.CreateClusterWithOperation(ctx, cl, &store.Operation{ID: name + ".op", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: name + ".op"}); err != nil {
			t.Fatal(err)
		}
		return cl.ID
	}
	byok, eks := mk("byok", "registered"), mk("prod", "eks")
	var went string
	via := func(name string) activities.ClusterClients {
		return activities.ClusterClientsFunc(func(context.Context, string, string) (dynamic.Interface, error) {
			went = name
			return nil, nil
		})
	}
	r := activities.RoutedClusters{Store: st, Registered: via("agent"), Provisioned: via("provider")}
	for id, want := range map[string]string{byok: "agent", eks: "provider", "missing": "provider"} {
		went = ""
		if _, err := r.Dynamic(ctx, org.ID, id); err != nil || went != want {
			t.Errorf("cluster %s went %q (%v), want %q", id, went, err, want)
		}
	}
	r.Registered = nil
	_, err = r.Dynamic(ctx, org.ID, byok)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || app.Type() != activities.ErrTypeInvalidInput {
		t.Fatalf("a registered cluster without a way to agents: %v", err)
	}
}
