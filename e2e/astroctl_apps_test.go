package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/cloud/sim/simnode"
	"github.com/astropulse/astroplane/internal/argosim"
	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
)

// TestAstroctlApplicationsAgainstTheRealStack follows the users' guide for
// applications with the astroctl binary: the api and worker binaries on a Temporal
// dev server, the simulated clusters' Kubernetes API a real kube-apiserver (the
// worker's ASTRO_SIM_KUBECONFIG) with Argo CD's Application CRD, the test reconciler
// in Argo CD's place and a simulated node whose kubelet serves the pods' logs. Apply
// the cluster, the profile3 and hello-world examples in one directory, read the app's
// status, events and logs as JSON, delete it.
func TestAstroctlApplicationsAgainstTheRealStack(t *testing.T) {
	kube := testkube.Start(t)
	cfg := kube.RESTConfig()
	testargocd.InstallApplicationCRD(t, cfg)
	typed := kubernetes.NewForConfigOrDie(cfg)
	ctx := t.Context()
	if _, err := typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testargocd.StartReconciler(t, cfg, "argocd")
	logs := &simnode.MemoryLogs{}
	node, err := simnode.Start(ctx, cfg, "node-1", logs, simnode.CA{Cert: kube.KubeletCACert, Key: kube.KubeletCAKey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Close() })
	workloads, err := argosim.NewWorkloads(cfg, node)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(context.Background())
	wdone := make(chan struct{})
	go func() { defer close(wdone); workloads.Run(wctx, 50*time.Millisecond, nil) }()
	t.Cleanup(func() { wcancel(); <-wdone })
	kubeconfig := writeFile(t, filepath.Join(t.TempDir(), "kubeconfig"), string(kube.Kubeconfig()))

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s := startStack(t, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), "ASTRO_SIM_STEP_DELAY=20ms",
		"ASTRO_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key), "ASTRO_SIM_KUBECONFIG="+kubeconfig)
	c := &cli{t: t, bin: buildAstroctl(t, s.Bin), dir: t.TempDir(),
		env: append(os.Environ(), "ASTROCTL_CONFIG="+filepath.Join(t.TempDir(), "config.yaml"), "ASTROCTL_API_KEY=", "NO_COLOR=1")}
	c.ok("auth", "login", "--api-key", s.Key, "--server", s.URL())

	// One directory: the cluster, the profile and the app, applied in that order and
	// each waited for.
	dir := t.TempDir()
	for _, f := range []string{"apps_hello-world_demo.yaml", "app-profiles_profile3.yaml", "aws_eks_byoa.yaml"} {
		writeFile(t, filepath.Join(dir, f), mustRead(t, examples+f))
	}
	r := c.ok("apply", "-f", dir, "--set", "YOUR_CLUSTER_NAME=prod", "--set", "YOUR_REGION=us-east-1",
		"--set", "YOUR_AWS_ACCOUNT_ID=123456789012", "--set", "YOUR_PROFILE_NAME=profile3")
	i, j, k := strings.Index(r.stdout, "cluster/prod: deploy SUCCEEDED"), strings.Index(r.stdout, "profile/profile3: created"), strings.Index(r.stdout, "app/hello-world: DEPLOYED")
	if i < 0 || j < i || k < j {
		t.Fatalf("apply -f DIR:\n%s\n%s", r.stdout, r.stderr)
	}
	// Applied again (as CI does): the cluster and profile are unchanged, the app redeployed.
	r2 := c.run("", "apply", "-f", dir, "--set", "YOUR_CLUSTER_NAME=prod", "--set", "YOUR_REGION=us-east-1",
		"--set", "YOUR_AWS_ACCOUNT_ID=123456789012", "--set", "YOUR_PROFILE_NAME=profile3")
	if r2.code != 0 || !strings.Contains(r2.stdout, "cluster/prod: unchanged") || !strings.Contains(r2.stdout, "profile/profile3: unchanged") ||
		!strings.Contains(r2.stdout, "app/hello-world: DEPLOYED") || strings.Contains(r2.stderr, "warning") {
		t.Fatalf("re-apply: exit %d\n%s\n%s", r2.code, r2.stdout, r2.stderr)
	}
	// A profile that differs is refused, naming the field, not silently kept.
	other := writeFile(t, filepath.Join(t.TempDir(), "p.yaml"), "apiVersion: platform.astropulse.io/v1\nkind: ApplicationProfile\nspec:\n  profileName: profile3\n  clusterName: prod\n  cloudProvider: {provider: gcp, region: us-central1}\n")
	c.expect(1, `spec.cloudProvider is null, the manifest says {"provider":"gcp","region":"us-central1"}`, "app", "profile", "apply", "-f", other)
	var app map[string]any
	if err := json.Unmarshal([]byte(c.ok("app", "status", "hello-world", "-o", "json").stdout), &app); err != nil || app["status"] != "DEPLOYED" || app["clusterName"] != "prod" {
		t.Fatalf("app status: %v %v", app, err)
	}

	// Logs: what the pod's container wrote, as JSON lines.
	var pod corev1.Pod
	for deadline := time.Now().Add(20 * time.Second); ; {
		l, err := typed.CoreV1().Pods("hello-world").List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) > 0 && l.Items[0].Status.Phase == corev1.PodRunning {
			pod = l.Items[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running pod of hello-world: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	logs.Write(simnode.Container{Namespace: "hello-world", Pod: pod.Name, Name: pod.Spec.Containers[0].Name}, "listening on :8080", "GET / 200")
	r = c.ok("app", "logs", "hello-world", "-o", "json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var first map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || first["line"] != "listening on :8080" || first["pod"] != pod.Name {
		t.Fatalf("app logs -o json:\n%s\n%s", r.stdout, r.stderr)
	}
	// Events: Argo CD's about the deploy, with -k the Kubernetes ones too, as JSON lines.
	r = c.ok("app", "events", "hello-world", "-k", "-o", "json")
	if !strings.Contains(r.stdout, `"source":"pulse"`) || !strings.Contains(r.stdout, `"source":"kubernetes"`) {
		t.Fatalf("app events -k -o json:\n%s\n%s", r.stdout, r.stderr)
	}

	c.ok("app", "delete", "hello-world")
}
