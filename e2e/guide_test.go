package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/astropulse/astroplane/internal/testreq"
	"github.com/astropulse/astroplane/internal/teststack"
	"github.com/astropulse/astroplane/internal/testtemporal"
)

// TestUsersGuideAgainstMakeRun follows the users' guide (docs/cli.md) end to end with
// the astroctl binary against `make run` itself (its own ports and data folder, the
// simulated cloud at a short step delay, devkube's real kube-apiserver hosting the
// applications): log in with the device flow as the bootstrap admin, approving the
// code on the development issuer's /device page; every example manifest of
// ../shared/examples, filled with --set (the EKS one watched to READY with its
// progress, then updated with the update example; a directory with a cluster, the
// profile and hello-world; a multi-document file; the registration); set-context and
// kubectl; the app's status, events and logs as JSON; broken manifests (exit 2, the
// field named); everything deleted and gone.
func TestUsersGuideAgainstMakeRun(t *testing.T) {
	testtemporal.RequireCLI(t)
	for _, tool := range []string{"curl", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			testreq.Missing(t, tool+" not found", "install "+tool+" (make run needs it)")
		}
	}
	for _, b := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join("..", "bin", b)); err != nil {
			testreq.Missing(t, "bin/"+b+" not found", "make tools (make run's devkube runs it)")
		}
	}
	bin, err := teststack.Build() // the directory astroctl is built in, cleaned by TestMain
	if err != nil {
		t.Fatal(err)
	}
	astroctl := buildAstroctl(t, bin)

	p := ports(t, 5)
	start := time.Now()
	cmd, out := makeRun(t, "TEMPORAL_PORT="+p[0], "TEMPORAL_UI_PORT="+p[1], "ASTRO_HTTP_ADDR=127.0.0.1:"+p[2],
		"DEV_OIDC_PORT="+p[3], "ASTRO_TUNNEL_ADDR=127.0.0.1:"+p[4], "ASTRO_SIM_STEP_DELAY=50ms")
	for deadline := time.Now().Add(5 * time.Minute); !strings.Contains(out.String(), "Ctrl-C stops everything"); {
		if time.Now().After(deadline) || cmd.ProcessState != nil || syscall.Kill(cmd.Process.Pid, 0) != nil {
			t.Fatalf("make run did not come up:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("make run came up in %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("make run said:\n%s", out)
		}
	})
	server := "http://localhost:" + p[2] // as the banner prints it

	home := t.TempDir()
	kube := filepath.Join(home, "kubeconfig")
	c := &cli{t: t, bin: astroctl, dir: home, env: append(os.Environ(), "ASTROCTL_CONFIG="+filepath.Join(home, "astroctl.yaml"),
		"ASTROCTL_API_KEY=", "NO_COLOR=1", "KUBECONFIG="+kube)}

	// Log in: the device flow, the code approved on the issuer's page as "admin" (the
	// bootstrap admin of "default").
	deviceLogin(t, c, server, "dev", "admin")
	var who map[string]any
	if err := json.Unmarshal([]byte(c.ok("whoami", "-o", "json").stdout), &who); err != nil ||
		who["user"] != "admin@localhost" || who["organizationName"] != "default" || who["role"] != "admin" || who["context"] != "dev" {
		t.Fatalf("whoami: %v %v", who, err)
	}

	// The EKS example as users have it: refused before sending, each placeholder named.
	r := c.expect(2, "spec.provisioner.eks.accountId", "clusters", "apply", "-f", examples+"aws_eks_byoa.yaml")
	if !strings.Contains(r.stderr, "spec.region") || !strings.Contains(r.stderr, "<YOUR_REGION>") {
		t.Fatalf("placeholders: %s", r.stderr)
	}
	eks := []string{"--set", "YOUR_CLUSTER_NAME=prod", "--set", "YOUR_REGION=us-east-1", "--set", "YOUR_AWS_ACCOUNT_ID=123456789012"}
	// A manifest the API refuses (the document checks pass): the field named, exit 2.
	broken := writeFile(t, filepath.Join(home, "broken.yaml"), strings.Replace(mustRead(t, examples+"aws_eks_byoa.yaml"), "maxNode: 3", "maxNode: 0", 1))
	c.expect(2, "maxNode", append([]string{"clusters", "apply", "-f", broken}, eks...)...)
	c.expect(4, "", "clusters", "get", "prod") // nothing was made of it

	// Filled: deployed and followed to READY, each step shown.
	r = c.ok(append([]string{"clusters", "apply", "-f", examples + "aws_eks_byoa.yaml"}, eks...)...)
	t.Logf("astroctl clusters apply -f aws_eks_byoa.yaml:\n%s", r.stdout)
	for _, want := range []string{"cluster/prod: deploy started, operation ", "%] deploy RUNNING · validate", "  ✓ validate succeeded",
		"  ✓ control-plane succeeded", "cluster/prod: deploy SUCCEEDED"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("apply showed no %q:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
		}
	}
	if steps := regexp.MustCompile(`(?m)^\[ ?\d+%\] deploy RUNNING`).FindAllString(r.stdout, -1); len(steps) < 3 {
		t.Fatalf("%d progress lines:\n%s", len(steps), r.stdout)
	}
	var cl map[string]any
	if err := json.Unmarshal([]byte(c.ok("clusters", "get", "prod", "-o", "json").stdout), &cl); err != nil || cl["status"] != "READY" || cl["provider"] != "aws" {
		t.Fatalf("clusters get prod -o json: %v %v", cl, err)
	}
	// The update example, as its usage line says (the older CLI's spelling).
	if r := c.ok("infra", "k8s", "update", "prod", "-f", examples+"aws_eks_eks-update.yaml"); !strings.Contains(r.stdout, "cluster/prod: update SUCCEEDED") {
		t.Fatalf("update:\n%s\n%s", r.stdout, r.stderr)
	}

	// set-context: kubectl's configuration has the cluster as its current context.
	if r := c.ok("clusters", "set-context", "prod"); !strings.Contains(r.stdout, `Context "astro-prod" written to `+kube) {
		t.Fatalf("set-context: %s", r.stdout)
	}
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		// kubectl itself, as the guide says to use it: the context is listed and current
		// (`*`), and the simulated cluster (make run's devkube) answers with its node.
		get := exec.Command(kubectl, "config", "get-contexts", "--no-headers")
		get.Env = c.env
		b, err := get.CombinedOutput()
		if err != nil || !regexp.MustCompile(`(?m)^\*\s+astro-prod\s`).Match(b) {
			t.Fatalf("kubectl config get-contexts: %v\n%s", err, b)
		}
		nodes := exec.Command(kubectl, "get", "nodes", "-o", "name")
		nodes.Env = c.env
		if b, err := nodes.CombinedOutput(); err != nil || !strings.Contains(string(b), "node/sim-node-1") {
			t.Fatalf("kubectl get nodes: %v\n%s", err, b)
		}
	} else {
		// No kubectl on this machine: the file read as kubectl reads it (client-go's clientcmd).
		cfg, err := clientcmd.LoadFromFile(kube)
		if err != nil || cfg.CurrentContext != "astro-prod" || cfg.Contexts["astro-prod"] == nil {
			t.Fatalf("kubeconfig after set-context: %v %+v", err, cfg)
		}
	}

	// A directory: a GKE cluster, the profile on it and hello-world, in that order
	// whatever the file names, each waited for.
	dir := t.TempDir()
	for _, f := range []string{"apps_hello-world_demo.yaml", "app-profiles_profile3.yaml", "gcp_gke_cluster.yaml"} {
		writeFile(t, filepath.Join(dir, f), mustRead(t, examples+f))
	}
	gke := []string{"apply", "-f", dir, "--set", "YOUR_CLUSTER_NAME=analytics", "--set", "YOUR_REGION=us-central1",
		"--set", "YOUR_GCP_PROJECT_ID=my-project-123456", "--set", "YOUR_PROFILE_NAME=profile3"}
	r = c.ok(gke...)
	i, j, k := strings.Index(r.stdout, "cluster/analytics: deploy SUCCEEDED"), strings.Index(r.stdout, "profile/profile3: created"), strings.Index(r.stdout, "app/hello-world: DEPLOYED")
	if i < 0 || j < i || k < j {
		t.Fatalf("apply -f DIR:\n%s\n%s", r.stdout, r.stderr)
	}
	// Applied again (as CI does): the cluster and profile are unchanged, the app redeployed.
	r = c.ok(gke...)
	if !strings.Contains(r.stdout, "cluster/analytics: unchanged") || !strings.Contains(r.stdout, "profile/profile3: unchanged") ||
		!strings.Contains(r.stdout, "app/hello-world: DEPLOYED") || strings.Contains(r.stderr, "warning") {
		t.Fatalf("re-apply:\n%s\n%s", r.stdout, r.stderr)
	}
	// A profile that differs is refused, naming the field, not silently kept.
	other := writeFile(t, filepath.Join(home, "p.yaml"), "apiVersion: platform.astropulse.io/v1\nkind: ApplicationProfile\nspec:\n  profileName: profile3\n  clusterName: analytics\n  cloudProvider: {provider: aws, region: us-east-1}\n")
	c.expect(1, `spec.cloudProvider is null, the manifest says {"provider":"aws","region":"us-east-1"}`, "app", "profile", "apply", "-f", other)

	// The app's status, events and logs, as JSON.
	var app map[string]any
	if err := json.Unmarshal([]byte(c.ok("app", "status", "hello-world", "-o", "json").stdout), &app); err != nil ||
		app["status"] != "DEPLOYED" || app["clusterName"] != "analytics" || app["profileName"] != "profile3" {
		t.Fatalf("app status: %v %v", app, err)
	}
	r = c.ok("app", "events", "hello-world", "-k", "-o", "json")
	sources := map[any]int{}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev["message"] == "" || ev["message"] == nil {
			t.Fatalf("app events -o json line %q: %v", line, err)
		}
		sources[ev["source"]]++
	}
	if sources["pulse"] == 0 || sources["kubernetes"] == 0 { // Argo CD's, and with -k the pods'
		t.Fatalf("app events -k -o json: sources %v\n%s\n%s", sources, r.stdout, r.stderr)
	}
	// Logs: devkube's made-up lines of the pod's container, the first its start-up line
	// naming that pod.
	r = c.ok("app", "logs", "hello-world", "-o", "json")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || len(lines) < 2 {
		t.Fatalf("app logs -o json: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	pod, _ := first["pod"].(string)
	if line, _ := first["line"].(string); !strings.HasPrefix(pod, "hello-world-") ||
		!strings.Contains(line, `msg="starting"`) || !strings.Contains(line, "pod=hello-world/"+pod+" ") {
		t.Fatalf("app logs -o json: first line %v\n%s", first, r.stdout)
	}

	// A multi-document file: an AKS cluster and a profile on it, the profile first in
	// the file and applied after the cluster is READY.
	multi := strings.ReplaceAll(mustRead(t, examples+"app-profiles_profile3.yaml"), "profile3", "azure-apps") + "\n---\n" + mustRead(t, examples+"azure_aks_byoa.yaml")
	r = c.ok("apply", "-f", writeFile(t, filepath.Join(home, "azure.yaml"), multi), "--set", "YOUR_CLUSTER_NAME=billing", "--set", "YOUR_REGION=eastus",
		"--set", "YOUR_SUBSCRIPTION_ID=0b1f6471-1bf0-4dda-aec3-cb9272f09590", "--set", "YOUR_RESOURCE_GROUP=rg-billing")
	if i, j := strings.Index(r.stdout, "cluster/billing: deploy SUCCEEDED"), strings.Index(r.stdout, "profile/azure-apps: created"); i < 0 || j < i {
		t.Fatalf("multi-document apply:\n%s\n%s", r.stdout, r.stderr)
	}
	// The registration example: make run has the agents' tunnel, so the agent's install
	// manifest comes out on stdout.
	if r := c.ok("infra", "k8s", "register", "-f", examples+"byok_register.yaml"); !strings.Contains(r.stdout, "kind: Deployment") {
		t.Fatalf("register:\n%s\n%s", r.stdout, r.stderr)
	}
	if r := c.ok("clusters", "get"); !strings.Contains(r.stdout, "my-existing-cluster") || strings.Count(r.stdout, "READY") != 3 {
		t.Fatalf("clusters get:\n%s", r.stdout)
	}

	// Delete everything, and it is gone.
	// `app delete` waits until the application is gone, like clusters delete.
	if r := c.ok("app", "delete", "hello-world", "--timeout", "2m"); !strings.HasPrefix(r.stdout, "app/hello-world: delete requested\n") ||
		!strings.HasSuffix(r.stdout, "app/hello-world: deleted\n") {
		t.Fatalf("app delete:\n%s\n%s", r.stdout, r.stderr)
	}
	c.expect(4, "", "app", "status", "hello-world")
	for _, name := range []string{"profile3", "azure-apps"} {
		c.ok("app", "profile", "delete", name)
		c.expect(4, "", "app", "profile", "get", name)
	}
	c.ok("clusters", "delete-context", "prod")
	if k := mustRead(t, kube); strings.Contains(k, "astro-prod") {
		t.Fatalf("kubeconfig after delete-context:\n%s", k)
	}
	for _, name := range []string{"prod", "analytics", "billing"} {
		if r := c.ok("clusters", "delete", name); !strings.Contains(r.stdout, "cluster/"+name+": delete SUCCEEDED") {
			t.Fatalf("clusters delete %s:\n%s", name, r.stdout)
		}
		c.expect(4, "", "clusters", "get", name)
	}
	// A registered cluster is not deleted but unregistered: delete says so, and
	// unregister waits for the cleanup, after which the cluster is gone.
	c.expect(1, "unregister it", "clusters", "delete", "my-existing-cluster")
	if r := c.ok("clusters", "unregister", "my-existing-cluster"); !strings.Contains(r.stdout, "cluster/my-existing-cluster: unregister started") ||
		!strings.Contains(r.stdout, "SUCCEEDED") {
		t.Fatalf("clusters unregister:\n%s", r.stdout)
	}
	c.expect(4, "", "clusters", "get", "my-existing-cluster")
	if r := c.ok("clusters", "get", "-o", "json"); strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("clusters left:\n%s", r.stdout)
	}
	c.ok("auth", "logout")
	c.expect(3, "auth login", "whoami")
}
