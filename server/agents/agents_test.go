package agents_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/server/agents"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/tunnel"
)

const saUser = "system:serviceaccount:" + agents.Namespace + ":astro-agent"

// The install manifest applies to a real API server, and the agent running as its
// ServiceAccount (the token of a user of that name) registers through the store-backed
// Registry, keeps its certificate in the manifest's Secret, and can do through the
// tunnel what the platform needs and no more.
func TestManifestAndStoreRegistry(t *testing.T) {
	kube := testkube.StartWith(t, testkube.Options{Users: []string{saUser}})
	ctx := t.Context()
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "astro.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	cl := store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "byok", Provider: "registered", ProvisionerType: "registered", Status: "PROVISIONING"}
	op := store.Operation{ID: store.NewID(), Type: "register", Status: "RUNNING", WorkflowID: "wf"}
	if err := st.CreateClusterWithOperation(ctx, &cl, &op); err != nil {
		t.Fatal(err)
	}
	token, err := tunnel.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutClusterAgent(ctx, &store.ClusterAgent{ClusterID: cl.ID, OrgID: org.ID, TokenHash: tunnel.HashToken(token),
		TokenExpiresAt: time.Now().Add(time.Hour), Architecture: "arm64"}); err != nil {
		t.Fatal(err)
	}

	ca, err := tunnel.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv := &tunnel.Server{CA: ca, Registry: agents.Registry{Store: st}, Replica: "http://api-0.internal:8080", HealthEvery: time.Second}
	cert, err := ca.ServerCertificate("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = srv.TLSConfig(cert)
	ts.StartTLS()
	t.Cleanup(ts.Close)

	manifest, err := agents.Manifest(agents.ManifestParams{ClusterID: cl.ID, ClusterName: cl.Name, Image: "example.test/astro-agent:v1",
		Architecture: "arm64", Endpoint: ts.URL, CAPEM: ca.PEM(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agents.Manifest(agents.ManifestParams{Architecture: "s390x"}); err == nil {
		t.Fatal("an unknown architecture made a manifest")
	}
	kinds := apply(t, kube.RESTConfig(), manifest)
	for _, want := range []string{"Namespace", "ServiceAccount", "ClusterRole", "Secret", "Deployment"} {
		if kinds[want] == 0 {
			t.Fatalf("manifest has no %s: %v", want, kinds)
		}
	}
	if kinds["Service"] != 0 || strings.Contains(manifest, "containerPort") || strings.Contains(manifest, `"*"`) {
		t.Fatal("the agent's manifest exposes a port or grants a wildcard")
	}
	direct := kubernetes.NewForConfigOrDie(kube.RESTConfig())
	dep, err := direct.AppsV1().Deployments(agents.Namespace).Get(ctx, "astro-agent", metav1.GetOptions{})
	if err != nil || dep.Spec.Template.Spec.NodeSelector["kubernetes.io/arch"] != "arm64" || dep.Spec.Template.Spec.Containers[0].Image != "example.test/astro-agent:v1" {
		t.Fatalf("Deployment as applied: %v", err)
	}

	// The agent, as its ServiceAccount, with the manifest's Secret for its certificate.
	kc := filepath.Join(dir, "sa.kubeconfig")
	if err := os.WriteFile(kc, fmt.Appendf(nil, "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: %s\n    certificate-authority-data: %s\nusers:\n- name: sa\n  user:\n    token: %s\ncontexts:\n- name: k\n  context: {cluster: k, user: sa}\ncurrent-context: k\n",
		kube.URL, base64.StdEncoding.EncodeToString(kube.CAData), kube.Tokens[saUser]), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(agentBinary(t), "-endpoint", ts.URL, "-ca-file", filepath.Join(dir, "ca.pem"), "-token-file", filepath.Join(dir, "token"),
			"-cert-secret", "astro-agent-cert", "-kubeconfig", kc)
		cmd.Env = append(os.Environ(), "POD_NAMESPACE="+agents.Namespace)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("agent log:\n%s", log.String())
			}
		})
		return cmd, &log
	}
	agent, _ := run()
	waitFor(t, "the agent connected, in the store", func() bool {
		a, err := st.GetClusterAgent(ctx, org.ID, cl.ID)
		return err == nil && a.Replica == srv.Replica
	})
	a, _ := st.GetClusterAgent(ctx, org.ID, cl.ID)
	if a.AgentVersion != "v0.0.0-test" || a.KubernetesVersion == "" || a.TokenUsedAt == nil || a.CertSerial == "" || !a.Healthy {
		t.Fatalf("store after connection = %+v", a)
	}
	sec, err := direct.CoreV1().Secrets(agents.Namespace).Get(ctx, "astro-agent-cert", metav1.GetOptions{})
	if err != nil || len(sec.Data["cert.pem"]) == 0 || len(sec.Data["key.pem"]) == 0 {
		t.Fatalf("the agent's certificate is not in its Secret: %v", err)
	}

	cfg, err := srv.RESTConfig(org.ID, cl.ID)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	if _, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("list namespaces as the agent: %v", err)
	}
	if _, err := cs.CoreV1().Secrets("kube-system").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("list kube-system Secrets as the agent: %v, want Forbidden (its RBAC, no more)", err)
	}

	// Restarted, the pod finds its certificate in the Secret (its token is used).
	_ = agent.Process.Kill()
	waitFor(t, "disconnected in the store", func() bool {
		a, _ := st.GetClusterAgent(ctx, org.ID, cl.ID)
		return a.Replica == ""
	})
	run()
	waitFor(t, "reconnected with the kept certificate", func() bool {
		a, _ := st.GetClusterAgent(ctx, org.ID, cl.ID)
		return a.Replica == srv.Replica
	})
	if _, err := (agents.Registry{Store: st}).Redeem(ctx, tunnel.HashToken(token)); !errors.Is(err, tunnel.ErrRefused) {
		t.Fatalf("the used token redeemed again: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// apply creates every object of a multi-document manifest; it returns how many of
// each kind.
func apply(t *testing.T, cfg *rest.Config, manifest string) map[string]int {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(cfg)
	kinds := map[string]int{}
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return kinds
			}
			t.Fatalf("manifest: %v", err)
		}
		if obj.Object == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
		if err != nil {
			t.Fatal(err)
		}
		res := dyn.Resource(gv.WithResource(strings.ToLower(obj.GetKind()) + "s"))
		var ri dynamic.ResourceInterface = res
		if ns := obj.GetNamespace(); ns != "" {
			ri = res.Namespace(ns)
		}
		if _, err := ri.Create(t.Context(), &obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		kinds[obj.GetKind()]++
	}
}

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// agentBinary builds cmd/agent once per test binary (static, as shipped).
func agentBinary(t *testing.T) string {
	t.Helper()
	agentOnce.Do(func() {
		agentBin = filepath.Join(t.TempDir(), "astro-agent") // the one test using it outlives every use
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", agentBin, "../../cmd/agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("go build ./cmd/agent: %w\n%s", err, out)
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentBin
}
