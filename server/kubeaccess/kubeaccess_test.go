package kubeaccess_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server/kubeaccess"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// tokenCloud is the simulated cloud whose kubeconfigs carry a fresh bearer token
// each time, as real clouds' do; it counts the kubeconfigs it made.
type tokenCloud struct {
	cloud.Provider
	issued *atomic.Int32
}

func (p tokenCloud) Kubeconfig(_ context.Context, _ cloud.Call, ref cloud.ClusterRef) (string, error) {
	n := p.issued.Add(1)
	return "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + ref.Endpoint +
		"\ncontexts:\n- name: astro\n  context:\n    cluster: c\n    user: astro\ncurrent-context: astro\n" +
		"users:\n- name: astro\n  user:\n    token: secret-token-" + string('a'+n) + "\n", nil
}

// The API gets a cluster's config from the worker (the token sealed through the
// store, never in the workflow's history), keeps it until shortly before it
// expires, asks once for concurrent callers, and says why when it cannot.
func TestConfigFromTheWorker(t *testing.T) {
	dev := testtemporal.Start(t)
	tc := dev.Client()
	ctx := t.Context()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	issued := &atomic.Int32{}
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{Cluster: &activities.Cluster{Store: st, Box: box,
		Clouds: cloud.RegistryOf(tokenCloud{Provider: sim.New(0), issued: issued})}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sync.OnceFunc(w.Stop))

	org := store.Organization{ID: store.NewID(), Name: "acme"}
	must(t, st.CreateOrganization(ctx, &org))
	spec, _ := json.Marshal(activities.ClusterSpec{Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-west-2", AccountID: "123456789012", CredentialsType: "dynamic"})
	cluster := func(name, status string) store.Cluster {
		c := store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: name, Provider: "aws", ProvisionerType: "eks", Region: "us-west-2",
			Status: status, ExternalID: "eks-" + name, Endpoint: "https://" + name + ".example.com", State: spec}
		must(t, st.CreateClusterWithOperation(ctx, &c, &store.Operation{ID: name + ".deploy", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: name + ".deploy"}))
		return c
	}
	prod, pending := cluster("prod", store.ClusterReady), cluster("pending", store.ClusterProvisioning)

	now := time.Now()
	f := &kubeaccess.FromWorker{Store: st, Temporal: tc, TaskQueue: workflows.TaskQueue, Box: box, Now: func() time.Time { return now }}
	var wg sync.WaitGroup
	cfgs := make([]string, 3)
	for i := range cfgs {
		wg.Go(func() {
			cfg, err := f.Config(ctx, org.ID, prod.ID)
			if err != nil {
				t.Errorf("config: %v", err)
				return
			}
			cfgs[i] = cfg.Host + " " + cfg.BearerToken
		})
	}
	wg.Wait()
	if cfgs[0] != "https://prod.example.com secret-token-b" || cfgs[1] != cfgs[0] || cfgs[2] != cfgs[0] || issued.Load() != 1 {
		t.Fatalf("configs %q after %d kubeconfigs, want one, shared", cfgs, issued.Load())
	}
	// Cached until Refresh before the credentials expire (15 minutes).
	now = now.Add(11 * time.Minute)
	if cfg, err := f.Config(ctx, org.ID, prod.ID); err != nil || cfg.BearerToken != "secret-token-b" || issued.Load() != 1 {
		t.Fatalf("within the lifetime: %v, %d kubeconfigs", err, issued.Load())
	}
	now = now.Add(2 * time.Minute)
	if cfg, err := f.Config(ctx, org.ID, prod.ID); err != nil || cfg.BearerToken != "secret-token-c" {
		t.Fatalf("near expiry: %v, %d kubeconfigs", err, issued.Load())
	}
	f.Forget(org.ID, prod.ID)
	if cfg, err := f.Config(ctx, org.ID, prod.ID); err != nil || cfg.BearerToken != "secret-token-d" {
		t.Fatalf("after Forget: %v", err)
	}

	// The grants are the API's own (no user's), and the token is in no history.
	g, err := st.LatestKubeconfigGrant(ctx, org.ID, prod.ID, kubeaccess.GrantUser)
	must(t, err)
	h := tc.GetWorkflowHistory(ctx, g.ID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for h.HasNext() {
		ev, err := h.Next()
		must(t, err)
		if b, _ := json.Marshal(ev); strings.Contains(string(b), "secret-token") {
			t.Fatalf("a token in the history of %s: %s", g.ID, b)
		}
	}

	for name, c := range map[string]struct {
		f       *kubeaccess.FromWorker
		cluster string
		want    error
	}{
		"unknown cluster":   {f, store.NewID(), kubeaccess.ErrClusterNotFound},
		"another org's":     {f, prod.ID, kubeaccess.ErrClusterNotFound},
		"not ready":         {f, pending.ID, kubeaccess.ErrNoControlPlane},
		"no encryption key": {&kubeaccess.FromWorker{Store: st, Temporal: tc, TaskQueue: workflows.TaskQueue}, prod.ID, kubeaccess.ErrUnavailable},
	} {
		orgID := org.ID
		if name == "another org's" {
			orgID = store.NewID()
		}
		if _, err := c.f.Config(ctx, orgID, c.cluster); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
