package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	astroctlOnce sync.Once
	astroctlBin  string
	astroctlErr  error
)

// buildAstroctl builds cmd/astroctl once for the test binary, next to teststack's
// binaries (removed with them by TestMain's teststack.Clean).
func buildAstroctl(t *testing.T, dir string) string {
	t.Helper()
	astroctlOnce.Do(func() {
		astroctlBin = filepath.Join(dir, "astroctl")
		out, err := exec.Command("go", "build", "-o", astroctlBin, "github.com/astropulse/astroplane/cmd/astroctl").CombinedOutput()
		if err != nil {
			astroctlErr = err
			t.Logf("build astroctl:\n%s", out)
		}
	})
	if astroctlErr != nil {
		t.Fatal(astroctlErr)
	}
	return astroctlBin
}

// cli runs the astroctl binary with its own configuration file.
type cli struct {
	t   *testing.T
	bin string
	env []string
	dir string
}

type result struct {
	stdout, stderr string
	code           int
}

func (c *cli) run(stdin string, args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env, cmd.Dir = c.env, c.dir // files astroctl saves (setup scripts) go to the test's dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("astroctl %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

// ok runs astroctl and fails the test unless it exits 0.
func (c *cli) ok(args ...string) result {
	c.t.Helper()
	r := c.run("", args...)
	if r.code != 0 {
		c.t.Fatalf("astroctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// expect runs astroctl and fails the test unless it exits code with want in stderr.
func (c *cli) expect(code int, want string, args ...string) result {
	c.t.Helper()
	r := c.run("", args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		c.t.Fatalf("astroctl %s: exit %d (want %d), stderr lacks %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, want, r.stdout, r.stderr)
	}
	return r
}

var examples = func() string {
	p, err := filepath.Abs("../cmd/astroctl/testdata/examples")
	if err != nil {
		panic(err)
	}
	return p + "/"
}()

// TestAstroctlAgainstTheRealStack drives the astroctl binary against the api and
// worker binaries on a Temporal dev server, as a user follows the guide: log in with
// an API key, apply the users' example manifests (filled with --set) and watch them
// to READY with progress shown, read and delete; a broken manifest fails with the
// field named and exit 2; a directory and a multi-document file apply in dependency
// order; Ctrl-C detaches, --no-wait and progress --watch (polling) re-attach.
func TestAstroctlAgainstTheRealStack(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s := startStack(t, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), "ASTRO_SIM_STEP_DELAY=100ms",
		"ASTRO_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key)) // kubeconfigs are sealed
	bin := buildAstroctl(t, s.Bin)
	cfgPath := filepath.Join(t.TempDir(), "astroctl", "config.yaml")
	c := &cli{t: t, bin: bin, env: append(os.Environ(), "ASTROCTL_CONFIG="+cfgPath, "ASTROCTL_API_KEY=", "NO_COLOR=1"), dir: t.TempDir()}

	// Not logged in: exit 3 and how to log in.
	c.expect(3, "auth login", "clusters", "get")
	// A wrong key is refused at login, nothing saved.
	c.expect(3, "", "auth", "login", "--api-key", "astro_wrong", "--server", s.URL())
	if _, err := os.Stat(cfgPath); err == nil {
		t.Fatal("a refused login saved a context")
	}
	r := c.ok("auth", "login", "--api-key", s.Key, "--server", s.URL(), "--context", "e2e")
	if !strings.Contains(r.stdout, `context "e2e" is current`) || strings.Contains(r.stdout, s.Key) {
		t.Fatalf("login said: %s", r.stdout)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", fi, err)
	}
	var who map[string]any
	if err := json.Unmarshal([]byte(c.ok("whoami", "-o", "json").stdout), &who); err != nil || who["context"] != "e2e" || who["organization"] == "" || who["valid"] != true {
		t.Fatalf("whoami: %v %v", who, err)
	}
	if r := c.ok("config", "get-contexts"); !strings.Contains(r.stdout, "*") || !strings.Contains(r.stdout, "e2e") || strings.Contains(r.stdout, s.Key) {
		t.Fatalf("get-contexts: %s", r.stdout)
	}
	if r := c.ok("orgs"); !strings.Contains(r.stdout, "default") {
		t.Fatalf("orgs:\n%s", r.stdout)
	}
	// The audit export is an enterprise plan's: the file, or the API's answer why not.
	r = c.run("", "audit", "export", "--format", "csv", "--output-file", "audit.csv")
	if _, err := os.Stat(filepath.Join(c.dir, "audit.csv")); (r.code == 0) != (err == nil) || (r.code != 0 && !strings.Contains(r.stderr, "PLAN_REQUIRED")) {
		t.Fatalf("audit export: exit %d\n%s", r.code, r.stderr)
	}
	if r := c.ok("version", "--server-required"); !strings.Contains(r.stdout, s.URL()) {
		t.Fatalf("version: %s", r.stdout)
	}

	// The example as users have it: refused before sending, each placeholder named.
	r = c.expect(2, "spec.provisioner.eks.accountId", "clusters", "apply", "-f", examples+"aws_eks_byoa.yaml")
	if !strings.Contains(r.stderr, "spec.region") || !strings.Contains(r.stderr, "<YOUR_REGION>") {
		t.Fatalf("placeholders: %s", r.stderr)
	}
	// Filled: deployed and followed to the end with progress.
	fill := []string{"--set", "YOUR_CLUSTER_NAME=prod", "--set", "YOUR_REGION=us-east-1", "--set", "YOUR_AWS_ACCOUNT_ID=123456789012"}
	r = c.ok(append([]string{"clusters", "apply", "-f", examples + "aws_eks_byoa.yaml"}, fill...)...)
	t.Logf("astroctl clusters apply -f aws_eks_byoa.yaml:\n%s", r.stdout)
	if !strings.Contains(r.stdout, "cluster/prod: deploy started") || !strings.Contains(r.stdout, "%] deploy RUNNING") ||
		!strings.Contains(r.stdout, "✓ ") || !strings.Contains(r.stdout, "cluster/prod: deploy SUCCEEDED") {
		t.Fatalf("apply showed:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	// Applying it again: the cluster exists, so it is an update to the manifest.
	if r := c.ok(append([]string{"clusters", "apply", "-f", examples + "aws_eks_byoa.yaml"}, fill...)...); r.stdout != "cluster/prod: unchanged (nothing to change)\n" {
		t.Fatalf("re-apply:\n%s", r.stdout)
	}
	// A change (maxNode 3 → 4) is an update, waited for like the deploy.
	grown := writeFile(t, filepath.Join(t.TempDir(), "grown.yaml"), strings.Replace(mustRead(t, examples+"aws_eks_byoa.yaml"), "maxNode: 3", "maxNode: 4", 1))
	if r := c.ok(append([]string{"clusters", "apply", "-f", grown}, fill...)...); !strings.Contains(r.stdout, "cluster/prod: update started") || !strings.Contains(r.stdout, "cluster/prod: update SUCCEEDED") {
		t.Fatalf("apply of a change:\n%s", r.stdout)
	}
	r = c.ok("clusters", "get")
	if !strings.Contains(r.stdout, "NAME") || !strings.Contains(r.stdout, "prod") || !strings.Contains(r.stdout, "READY") {
		t.Fatalf("clusters get:\n%s", r.stdout)
	}
	var cl map[string]any
	if err := json.Unmarshal([]byte(c.ok("clusters", "get", "prod", "-o", "json").stdout), &cl); err != nil || cl["status"] != "READY" || cl["provider"] != "aws" {
		t.Fatalf("get -o json: %v %v", cl, err)
	}
	if r := c.ok("clusters", "get", "prod", "-o", "yaml"); !strings.Contains(r.stdout, "status: READY") {
		t.Fatalf("get -o yaml:\n%s", r.stdout)
	}
	// set-context writes the cluster's kubeconfig as a context and switches to it;
	// delete-context removes that and keeps what was there.
	kube := filepath.Join(t.TempDir(), "kubeconfig")
	writeFile(t, kube, "apiVersion: v1\nkind: Config\nclusters:\n- name: mine\n  cluster: {server: 'https://mine.example:6443'}\nusers:\n- name: me\n  user: {token: t}\ncontexts:\n- name: mine\n  context: {cluster: mine, user: me}\ncurrent-context: mine\n")
	c.env = append(c.env, "KUBECONFIG="+kube)
	if r := c.ok("clusters", "set-context", "prod"); !strings.Contains(r.stdout, `Context "astro-prod" written to `+kube) {
		t.Fatalf("set-context: %s", r.stdout)
	}
	if k := mustRead(t, kube); !strings.Contains(k, "current-context: astro-prod") || !strings.Contains(k, "name: mine") || !strings.Contains(k, "prod.us-east-1.aws.sim.astro.local") {
		t.Fatalf("kubeconfig after set-context:\n%s", k)
	}
	c.ok("clusters", "delete-context", "prod")
	if k := mustRead(t, kube); strings.Contains(k, "astro-prod") || !strings.Contains(k, "name: mine") || !strings.Contains(k, "token: t") {
		t.Fatalf("kubeconfig after delete-context:\n%s", k)
	}
	c.expect(4, "added no kubeconfig context", "clusters", "delete-context", "prod")
	c.env = c.env[:len(c.env)-1]

	// The older CLI's spelling the examples print works the same.
	if r := c.ok("infra", "k8s", "get", "prod"); !strings.Contains(r.stdout, "READY") {
		t.Fatalf("infra k8s get:\n%s", r.stdout)
	}
	// Registration sends the example; this stack's API has no agent tunnel configured
	// (ASTRO_TUNNEL_*), in which case the API's 503 says so (exit 1).
	r = c.run("", "infra", "k8s", "register", "-f", examples+"byok_register.yaml")
	if !(r.code == 0 && strings.Contains(r.stdout, "apiVersion")) && !(r.code == 1 && strings.Contains(r.stderr, "HTTP 503")) {
		t.Fatalf("register: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	// Shell completion asks the API for the names.
	if r := c.ok("__complete", "clusters", "delete", ""); !strings.Contains(r.stdout, "prod\n") {
		t.Fatalf("completion:\n%s", r.stdout)
	}
	if r := c.ok("clusters", "history", "prod"); !strings.Contains(r.stdout, "deploy") || !strings.Contains(r.stdout, "SUCCEEDED") {
		t.Fatalf("history:\n%s", r.stdout)
	}

	// A manifest the API refuses: the field named, exit 2.
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	raw, _ := os.ReadFile(examples + "aws_eks_byoa.yaml")
	writeFile(t, broken, strings.Replace(string(raw), "maxNode: 3", "maxNode: 0", 1))
	c.expect(2, "maxNode", append([]string{"clusters", "apply", "-f", broken, "--set", "YOUR_CLUSTER_NAME=broken"}, fill[2:]...)...)
	c.expect(2, `unknown kind "Widget"`, "apply", "-f", writeFile(t, filepath.Join(t.TempDir(), "w.yaml"), "apiVersion: platform.astropulse.io/v1\nkind: Widget\nspec: {}\n"))
	c.expect(4, "", "clusters", "get", "nope")

	// A directory: the profile (read first, by name) is created after its cluster.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a-profile.yaml"), strings.ReplaceAll(mustRead(t, examples+"app-profiles_profile3.yaml"), "<YOUR_CLUSTER_NAME>", "analytics"))
	writeFile(t, filepath.Join(dir, "b-cluster.yaml"), mustRead(t, examples+"gcp_gke_cluster.yaml"))
	r = c.ok("apply", "-f", dir, "--set", "YOUR_CLUSTER_NAME=analytics", "--set", "YOUR_REGION=us-central1", "--set", "YOUR_GCP_PROJECT_ID=my-project-123456")
	if i, j := strings.Index(r.stdout, "cluster/analytics: deploy SUCCEEDED"), strings.Index(r.stdout, "profile/profile3: created"); i < 0 || j < i {
		t.Fatalf("directory apply:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if r := c.ok("app", "profile", "get"); !strings.Contains(r.stdout, "profile3") || !strings.Contains(r.stdout, "analytics") {
		t.Fatalf("profile get:\n%s", r.stdout)
	}

	// A multi-document file on standard input, the profile first in it.
	multi := strings.ReplaceAll(mustRead(t, examples+"app-profiles_profile3.yaml"), "profile3", "azure-apps") + "\n---\n" + mustRead(t, examples+"azure_aks_byoa.yaml")
	multi = strings.NewReplacer("<YOUR_CLUSTER_NAME>", "billing", "<YOUR_REGION>", "eastus", "<YOUR_SUBSCRIPTION_ID>", "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "<YOUR_RESOURCE_GROUP>", "rg-billing").Replace(multi)
	r = c.run(multi, "apply", "-f", "-", "--no-wait")
	if r.code != 0 || !strings.Contains(r.stdout, "cluster/billing: deploy started, operation ") {
		t.Fatalf("multi-document apply: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// --no-wait: the profile was sent after the cluster (which the API accepted).
	if i, j := strings.Index(r.stdout, "cluster/billing"), strings.Index(r.stdout, "profile/azure-apps"); j >= 0 && j < i {
		t.Fatalf("order:\n%s", r.stdout)
	}
	op := strings.TrimSpace(strings.SplitN(strings.SplitAfter(r.stdout, "operation ")[1], "\n", 2)[0])
	// Re-attach by polling (as without a WebSocket) to the end.
	c.env = append(c.env, "ASTROCTL_PROGRESS=poll")
	if r := c.ok("clusters", "progress", "billing", "--watch", "--operation", op); !strings.Contains(r.stdout, "deploy SUCCEEDED") || !strings.Contains(r.stderr, "polling") {
		t.Fatalf("progress --watch (poll):\n%s\n%s", r.stdout, r.stderr)
	}
	c.env = c.env[:len(c.env)-1]

	// Ctrl-C while waiting detaches: exit 130, how to re-attach; the delete carries on.
	cmd := exec.Command(bin, "clusters", "delete", "billing")
	cmd.Env = c.env
	out := &syncBuffer{}
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "%] delete") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(errb.String(), "astroctl clusters progress billing --watch") {
		t.Fatalf("Ctrl-C: %v\n%s\n%s", err, out.String(), errb.String())
	}
	_, reattach, _ := strings.Cut(errb.String(), "Re-attach: astroctl ")
	reattach, _, _ = strings.Cut(reattach, "\n")
	if r := c.ok(strings.Fields(reattach)...); !strings.Contains(r.stdout, "delete SUCCEEDED") {
		t.Fatalf("re-attach (%s):\n%s", reattach, r.stdout)
	}

	// Cloud connections: the API takes what the flags send, and the state reads back.
	// This stack's worker has no platform AWS or GCP identity, so a connection may fail
	// at once: --no-wait then says so with exit 1 rather than leave the user waiting.
	for _, args := range [][]string{
		{"aws", "connect", "--account-id", "123456789012", "--cluster-name", "prod", "--region", "us-east-1", "--no-wait"},
		{"gcp", "connect", "--project-id", "my-project-123456", "--project-number", "123456789012", "--cluster-name", "analytics", "--region", "us-central1", "--no-wait"},
	} {
		r := c.run("", append([]string{"cloud"}, args...)...)
		_, after, ok := strings.Cut(r.stdout, "connection for cluster ")
		if failed := strings.Contains(r.stderr, ": FAILED: "); !ok || (r.code == 1) != failed || (r.code != 0 && r.code != 1) {
			t.Fatalf("cloud %v: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
		}
		op := strings.Fields(strings.SplitAfter(after, "operation ")[1])[0]
		var st map[string]any
		if err := json.Unmarshal([]byte(c.ok("cloud", args[0], "status", op, "-o", "json").stdout), &st); err != nil || st["operationId"] != op || st["provider"] != args[0] {
			t.Fatalf("%s status: %v %v", args[0], st, err)
		}
		t.Logf("%s connection under this stack: %v %v", args[0], st["status"], st["message"])
		if st["status"] == "WAITING_FOR_CUSTOMER" && args[0] == "gcp" {
			if script := mustRead(t, filepath.Join(c.dir, "astro-gcp-setup-analytics.sh")); !strings.Contains(script, "gcloud") {
				t.Fatalf("gcp setup script: %.300s", script)
			}
		}
	}

	// API keys: create one, log in with it as a second context, switch back and forth,
	// revoke it: it no longer authenticates (exit 3).
	r = c.ok("apikeys", "create", "--name", "ci", "--duration", "1h")
	ciKey := strings.TrimSpace(r.stdout)
	if !strings.HasPrefix(ciKey, "astro_") || !strings.Contains(r.stderr, "never shown again") {
		t.Fatalf("apikeys create: %q %s", ciKey, r.stderr)
	}
	c.ok("auth", "login", "--api-key", ciKey, "--server", s.URL(), "--context", "ci")
	var ci map[string]any
	if err := json.Unmarshal([]byte(c.ok("whoami", "-o", "json").stdout), &ci); err != nil || ci["context"] != "ci" || ci["keyName"] != "ci" {
		t.Fatalf("whoami as ci: %v %v", ci, err)
	}
	c.ok("config", "use-context", "e2e")
	if r := c.ok("apikeys", "list"); !strings.Contains(r.stdout, ci["keyId"].(string)) || strings.Contains(r.stdout, ciKey) {
		t.Fatalf("apikeys list:\n%s", r.stdout)
	}
	c.ok("apikeys", "revoke", ci["keyId"].(string), "--reason", "test over")
	c.expect(3, "", "clusters", "get", "--context", "ci")
	c.expect(4, `no context "nope"`, "config", "use-context", "nope")

	// Delete waits for the end; the cluster is then gone.
	if r := c.ok("clusters", "delete", "prod"); !strings.Contains(r.stdout, "cluster/prod: delete SUCCEEDED") {
		t.Fatalf("delete:\n%s", r.stdout)
	}
	c.expect(4, "", "clusters", "get", "prod")
}

func writeFile(t *testing.T, path, body string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
