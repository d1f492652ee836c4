package activities_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// The application deploy and delete workflows with their real activities, against a
// real kube-apiserver with Argo CD's real Application CRD and the test reconciler in
// Argo CD's place: hello-world (image) on profile3 (explicit cluster) and a Helm
// source deploy to Synced/Healthy and are recorded DEPLOYED; an application that
// stays Degraded and a profile no cluster fits fail at their step, recorded FAILED;
// delete removes the Application with cascade and forgets the application.
func TestApplicationDeployAndDelete(t *testing.T) {
	kube := testkube.Start(t)
	cfg := kube.RESTConfig()
	testargocd.InstallApplicationCRD(t, cfg)
	typed := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	recon := testargocd.StartReconciler(t, cfg, "argocd")

	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	must(t, st.CreateOrganization(ctx, &org))
	state, err := json.Marshal(activities.ClusterSpec{Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-west-2"})
	must(t, err)
	cluster := store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-west-2",
		Status: store.ClusterReady, State: state, ExternalID: "prod-cp", Endpoint: kube.URL}
	must(t, st.CreateClusterWithOperation(ctx, &cluster, &store.Operation{ID: "op-prod", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: "op-prod"}))
	must(t, st.CreateAppProfile(ctx, &store.AppProfile{OrgID: org.ID, Name: "profile3", ClusterName: "prod", AvailabilityTier: "standard",
		Resources: []byte(`{"memory":{"minimum":"64Mi","maximum":"128Mi"}}`)}))
	must(t, st.CreateAppProfile(ctx, &store.AppProfile{OrgID: org.ID, Name: "on-gcp", Provider: "gcp", AvailabilityTier: "basic"}))

	// The cluster is reached the way a worker reaches it: its record, its provider's
	// kubeconfig (here the test API server's), KubeClients' cache.
	prov := &kubeconfigProvider{Provider: sim.New(0), kubeconfig: string(kube.Kubeconfig())}
	clients := &activities.KubeClients{Cluster: &activities.Cluster{Store: st, Clouds: cloud.RegistryOf(prov)}}
	apps := &activities.Apps{Store: st, ChartRepoURL: "https://astro.example.com/api/v1/charts", Poll: 50 * time.Millisecond, Clusters: clients}
	record := func(name, profile string, spec activities.AppSpec) store.Application {
		desired, err := json.Marshal(spec)
		must(t, err)
		a := store.Application{OrgID: org.ID, Name: name, Profile: profile, SourceType: spec.Source.Type, Namespace: spec.Namespace,
			SyncType: "auto", Desired: desired, Status: store.AppPending}
		must(t, st.CreateApplication(ctx, &a))
		return a
	}
	run := func(wf any, in workflows.AppOperationInput, result any) error {
		var s testsuite.WorkflowTestSuite
		env := s.NewTestWorkflowEnvironment()
		env.RegisterWorkflow(wf)
		env.RegisterActivity(apps)
		env.SetTestTimeout(time.Minute)
		env.ExecuteWorkflow(wf, in)
		if !env.IsWorkflowCompleted() {
			t.Fatal("workflow did not complete")
		}
		if err := env.GetWorkflowError(); err != nil {
			return err
		}
		return env.GetWorkflowResult(result)
	}
	argo := dyn.Resource(argocd.GVR).Namespace("argocd")

	hello := record("hello-world", "profile3", activities.AppSpec{Name: "hello-world", Namespace: "hello-world", Host: "hello.example.com",
		Source: argocd.Source{Type: argocd.SourceImage, Image: &argocd.ImageSource{Registry: "docker.io", Repository: "astropulse/latency", Tag: "v1.0.0"}}})
	var res workflows.AppDeployResult
	if err := run(workflows.DeployApplication, workflows.AppOperationInput{OrgID: org.ID, AppID: hello.ID, OperationID: "op-1"}, &res); err != nil {
		t.Fatal(err)
	}
	if res.ClusterID != cluster.ID || res.Sync != "Synced" || res.Health != "Healthy" || !strings.Contains(res.Reason, "names cluster") {
		t.Fatalf("deploy result %+v", res)
	}
	if got, _ := st.GetApplication(ctx, org.ID, hello.ID); got.Status != store.AppDeployed || got.ClusterID != cluster.ID || got.SyncStatus != "Synced" || got.LastOperationID != "op-1" {
		t.Fatalf("recorded %+v", got)
	}
	dep, err := typed.AppsV1().Deployments("hello-world").Get(ctx, "hello-world", metav1.GetOptions{})
	if err != nil || *dep.Spec.Replicas != 2 || dep.Spec.Template.Spec.Containers[0].Resources.Limits.Memory().String() != "128Mi" {
		t.Fatalf("the synced Deployment: %+v %v", dep, err)
	}
	if _, err := typed.PolicyV1().PodDisruptionBudgets("hello-world").Get(ctx, "hello-world", metav1.GetOptions{}); err != nil {
		t.Fatalf("the standard tier's budget: %v", err)
	}
	if _, err := typed.NetworkingV1().Ingresses("hello-world").Get(ctx, "hello-world", metav1.GetOptions{}); err != nil {
		t.Fatalf("the ingress: %v", err)
	}
	if n := prov.calls.Load(); n != 1 {
		t.Fatalf("%d kubeconfigs asked of the provider, want 1 (cached)", n)
	}

	// A Helm source: the Application names the chart, values as given.
	helm := record("podinfo", "profile3", activities.AppSpec{Name: "podinfo", Namespace: "podinfo", Source: argocd.Source{Type: argocd.SourceHelm,
		Helm: &argocd.HelmSource{RepoURL: "https://stefanprodan.github.io/podinfo", Chart: "podinfo", Version: "6.7.1", Values: map[string]any{"replicaCount": 3}}}})
	if err := run(workflows.DeployApplication, workflows.AppOperationInput{OrgID: org.ID, AppID: helm.ID, OperationID: "op-2"}, &res); err != nil {
		t.Fatal(err)
	}
	u, err := argo.Get(ctx, "podinfo", metav1.GetOptions{})
	must(t, err)
	if chart, _, _ := unstructured.NestedString(u.Object, "spec", "source", "chart"); chart != "podinfo" {
		t.Fatalf("helm application %v", u.Object)
	}

	// Never healthy: the wait ends at its bound, the deploy fails there.
	recon.SetHealth("broken", "Degraded")
	broken := record("broken", "profile3", activities.AppSpec{Name: "broken", Namespace: "broken",
		Source: argocd.Source{Type: argocd.SourceYAML, YAML: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n"}})
	err = run(workflows.DeployApplication, workflows.AppOperationInput{OrgID: org.ID, AppID: broken.ID, OperationID: "op-3", Wait: 2 * time.Second}, &res)
	if err == nil {
		t.Fatal("a Degraded application deployed")
	}
	if got, _ := st.GetApplication(ctx, org.ID, broken.ID); got.Status != store.AppFailed || !strings.Contains(got.StatusMessage, workflows.StepWaitHealthy) {
		t.Fatalf("broken recorded %+v", got)
	}
	// No cluster fits the profile: fails at resolve-profile, nothing written.
	lost := record("lost", "on-gcp", activities.AppSpec{Name: "lost", Namespace: "lost",
		Source: argocd.Source{Type: argocd.SourceRepository, Repository: &argocd.RepositorySource{RepoURL: "https://example.com/r.git"}}})
	if err := run(workflows.DeployApplication, workflows.AppOperationInput{OrgID: org.ID, AppID: lost.ID, OperationID: "op-4"}, &res); err == nil {
		t.Fatal("deployed without a cluster")
	}
	if got, _ := st.GetApplication(ctx, org.ID, lost.ID); got.Status != store.AppFailed || !strings.Contains(got.StatusMessage, "no cluster on gcp") {
		t.Fatalf("lost recorded %+v", got)
	}
	if _, err := argo.Get(ctx, "lost", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("an Application was written for lost: %v", err)
	}

	// Delete: the cascade removes the objects, then the Application; the record goes.
	var out string
	if err := run(workflows.DeleteApplication, workflows.AppOperationInput{OrgID: org.ID, AppID: hello.ID, OperationID: "op-5", ClusterID: cluster.ID}, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := argo.Get(ctx, "hello-world", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the Application after delete: %v", err)
	}
	if _, err := typed.AppsV1().Deployments("hello-world").Get(ctx, "hello-world", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the Deployment after delete: %v", err)
	}
	if _, err := st.GetApplication(ctx, org.ID, hello.ID); err == nil {
		t.Fatal("the application is still recorded")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// kubeconfigProvider is the simulated cloud whose clusters' kubeconfig reaches the
// test's API server, counting the kubeconfigs asked.
type kubeconfigProvider struct {
	*sim.Provider
	kubeconfig string
	calls      atomic.Int32
}

func (p *kubeconfigProvider) Kubeconfig(context.Context, cloud.Call, cloud.ClusterRef) (string, error) {
	p.calls.Add(1)
	return p.kubeconfig, nil
}

// KubeClients caches a cluster's config for its TTL, asks again after it or after
// Forget, and refuses a cluster that is not READY.
func TestKubeClientsCache(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	must(t, err)
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	must(t, st.CreateOrganization(ctx, &org))
	state, _ := json.Marshal(activities.ClusterSpec{Name: "prod", Provider: "aws", ProvisionerType: "eks"})
	cl := store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterReady, State: state}
	must(t, st.CreateClusterWithOperation(ctx, &cl, &store.Operation{ID: "op", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: "op"}))
	prov := &kubeconfigProvider{Provider: sim.New(0),
		kubeconfig: "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://prod.example.com\ncontexts:\n- name: c\n  context:\n    cluster: c\ncurrent-context: c\n"}
	now := time.Now()
	k := &activities.KubeClients{Cluster: &activities.Cluster{Store: st, Clouds: cloud.RegistryOf(prov)}, TTL: time.Minute, Now: func() time.Time { return now }}
	for range 3 {
		cfg, err := k.Config(ctx, org.ID, cl.ID)
		if err != nil || cfg.Host != "https://prod.example.com" {
			t.Fatalf("config %+v %v", cfg, err)
		}
	}
	if n := prov.calls.Load(); n != 1 {
		t.Fatalf("%d kubeconfigs within the TTL, want 1", n)
	}
	now = now.Add(2 * time.Minute)
	_, _ = k.Config(ctx, org.ID, cl.ID)
	k.Forget(org.ID, cl.ID)
	_, _ = k.Config(ctx, org.ID, cl.ID)
	if n := prov.calls.Load(); n != 3 {
		t.Fatalf("%d kubeconfigs after expiry and forget, want 3", n)
	}
	must(t, st.SetClusterStatus(ctx, org.ID, cl.ID, store.ClusterDeleting, ""))
	k.Forget(org.ID, cl.ID)
	if _, err := k.Config(ctx, org.ID, cl.ID); err == nil || !strings.Contains(err.Error(), "DELETING") {
		t.Fatalf("a deleting cluster: %v", err)
	}
	if _, err := k.Config(ctx, "other-org", cl.ID); err == nil {
		t.Fatal("another organization's cluster was reached")
	}
}
