package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/devkube"
	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testflow"
	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// make run's Kubernetes hosts applications: devkube comes up and writes its
// kubeconfig; a simulated EKS cluster is deployed through the real DeployCluster
// workflow (Temporal dev server); the simulated cloud (KubeconfigFile, as the
// worker's ASTRO_SIM_KUBECONFIG) issues devkube's kubeconfig for it; the real
// DeployApplication workflow with the worker's activities (KubeClients from the
// cluster record) deploys hello-world on profile3 (standard tier, 2 replicas) to
// Synced/Healthy, which takes the stand-in for Argo CD (the Application synced, its
// events) and the workloads (pods Running on the simulated node, the Deployment
// available: without them the wait for Healthy fails), whose logs the simulated
// node serves through the API server's pods/log. Delete removes the
// Application and the pods; stopping devkube removes the kubeconfig and stops the
// server.
func TestDevkubeHostsAnApplication(t *testing.T) {
	testkube.RequireBinaries(t)
	testargocd.ApplicationCRD(t) // the module, or testreq.Missing
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// devkube starts while the Temporal dev server does.
	began := time.Now()
	ready, done := make(chan *devkube.Cluster, 1), make(chan error, 1)
	go func() {
		done <- serve(ctx, options{dir: dir, binDir: testkube.BinDir(), kubeconfig: kubeconfig}, log, func(c *devkube.Cluster) { ready <- c })
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("devkube stopped with %v", err)
			}
		}
	})
	cloudSim := sim.New(0)
	cloudSim.KubeconfigFile = kubeconfig
	clouds := sim.Registry(cloudSim)
	flow := testflow.Start(t, clouds)
	var kube *devkube.Cluster
	select {
	case kube = <-ready:
	case err := <-done:
		stopped = true
		t.Fatalf("devkube: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("devkube not ready in 90 s")
	}
	t.Logf("devkube and the Temporal dev server ready in %s", time.Since(began).Round(time.Millisecond))
	typed := kubernetes.NewForConfigOrDie(kube.RESTConfig())

	// A simulated EKS cluster, deployed through the real workflow on a Temporal dev
	// server by the simulated cloud as the worker runs it under make run.
	st, org := flow.Store, flow.OrgID
	cluster := store.Cluster{ID: store.NewID(), OrgID: org, Name: "demo", Provider: "aws", ProvisionerType: "eks", Region: "us-east-1", Status: store.ClusterPending}
	if _, err := flow.Run(cluster, workflows.OpDeploy, "DeployCluster", workflows.DeployClusterInput{Spec: cloud.ClusterSpec{
		Name: "demo", Provider: "aws", ProvisionerType: "eks", Region: "us-east-1", AccountID: "123456789012", KubernetesVersion: "1.31",
		CredentialsType: "dynamic", Account: cloud.AccountRef{OrgID: org},
		NodeGroups: []cloud.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3, InstanceType: cloud.InstanceOnDemand, MachineTypes: []string{"t3.medium"}}},
	}}); err != nil {
		t.Fatalf("deploy the cluster: %v", err)
	}
	if got := flow.Cluster(cluster.ID); got.Status != store.ClusterReady {
		t.Fatalf("the cluster after deploy: %s %s", got.Status, got.StatusMessage)
	}
	must(t, st.CreateAppProfile(ctx, &store.AppProfile{OrgID: org, Name: "profile3", ClusterName: "demo", AvailabilityTier: "standard"}))
	apps := &activities.Apps{Store: st, ChartRepoURL: "http://localhost:8080/api/v1/charts", Poll: 100 * time.Millisecond,
		Clusters: &activities.KubeClients{Cluster: &activities.Cluster{Store: st, Clouds: clouds}}}
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

	desired, err := json.Marshal(activities.AppSpec{Name: "hello-world", Namespace: "hello-world",
		Source: argocd.Source{Type: argocd.SourceImage, Image: &argocd.ImageSource{Registry: "docker.io", Repository: "astropulse/latency", Tag: "v1.0.0"}}})
	must(t, err)
	hello := store.Application{OrgID: org, Name: "hello-world", Profile: "profile3", SourceType: argocd.SourceImage, Namespace: "hello-world",
		SyncType: "auto", Desired: desired, Status: store.AppPending}
	must(t, st.CreateApplication(ctx, &hello))
	var res workflows.AppDeployResult
	if err := run(workflows.DeployApplication, workflows.AppOperationInput{OrgID: org, AppID: hello.ID, OperationID: "op-1", Wait: 20 * time.Second}, &res); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if res.ClusterID != cluster.ID || res.Sync != "Synced" || res.Health != "Healthy" {
		t.Fatalf("deploy result %+v", res)
	}
	pods, err := typed.CoreV1().Pods("hello-world").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=hello-world"})
	must(t, err)
	if len(pods.Items) != 2 {
		t.Fatalf("%d pods of hello-world, want the standard tier's 2", len(pods.Items))
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != NodeName || p.Status.Phase != corev1.PodRunning || p.Spec.Containers[0].Image != "docker.io/astropulse/latency:v1.0.0" {
			t.Fatalf("pod %s on %q, %s, image %s", p.Name, p.Spec.NodeName, p.Status.Phase, p.Spec.Containers[0].Image)
		}
	}
	// Their logs come from the simulated node through the API server's pods/log.
	raw, err := typed.CoreV1().Pods("hello-world").GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{Container: "hello-world"}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(raw), `msg="starting" container=hello-world`) {
		t.Fatalf("the pod's log: %q, %v", raw, err)
	}
	dep, err := typed.AppsV1().Deployments("hello-world").Get(ctx, "hello-world", metav1.GetOptions{})
	if err != nil || dep.Status.AvailableReplicas != 2 {
		t.Fatalf("the Deployment: %+v %v", dep.Status, err)
	}
	events, err := typed.CoreV1().Events(ArgoNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=hello-world"})
	must(t, err)
	var reasons []string
	for _, e := range events.Items {
		reasons = append(reasons, e.Reason+": "+e.Message)
	}
	if all := strings.Join(reasons, "\n"); !strings.Contains(all, "OperationCompleted") || !strings.Contains(all, "Progressing -> Healthy") {
		t.Fatalf("the Application's events:\n%s", all)
	}

	var out string
	if err := run(workflows.DeleteApplication, workflows.AppOperationInput{OrgID: org, AppID: hello.ID, OperationID: "op-2", ClusterID: cluster.ID}, &out); err != nil {
		t.Fatalf("delete: %v", err)
	}
	waitFor(t, "hello-world's pods to go", func() bool {
		pods, err := typed.CoreV1().Pods("hello-world").List(ctx, metav1.ListOptions{})
		return err == nil && len(pods.Items) == 0
	})

	// Stopped: the kubeconfig goes (the simulated cloud then says devkube is not
	// running), and so does the server.
	cancel()
	stopped = true
	if err := <-done; err != nil {
		t.Fatalf("devkube stopped with %v", err)
	}
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Fatalf("the kubeconfig after stop: %v", err)
	}
	if _, err := typed.CoreV1().Namespaces().Get(context.Background(), "hello-world", metav1.GetOptions{}); err == nil || apierrors.IsNotFound(err) {
		t.Fatalf("the server still answers after stop: %v", err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
