package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket/wsjson"
	"go.temporal.io/sdk/worker"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/agents"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/tunnel"
	"github.com/astropulse/astroplane/workflows"
)

const agentSAUser = "system:serviceaccount:" + agents.Namespace + ":astro-agent"

// Issue 14 through the API, on a real Temporal dev server and worker and a real
// kube-apiserver: bad input and another organization refused; a dry run records
// nothing; registering answers the manifest, which applied to the cluster runs the
// agent (as its ServiceAccount) to CONNECTED and the registration to READY with the
// cluster's version; hello-world deploys onto it through the worker's proxy and the
// tunnel (Argo CD's Application written as the agent's ServiceAccount); kill → DISCONNECTED, restart → CONNECTED; sync auth rotates; the normal
// delete is refused; unregistering removes the agent's namespace and the cluster.
func TestRegisteredClusterThroughTheAPI(t *testing.T) {
	kube := testkube.StartWith(t, testkube.Options{Users: []string{agentSAUser}})
	admin := kube.RESTConfig()
	testargocd.InstallApplicationCRD(t, admin)
	typed := kubernetes.NewForConfigOrDie(admin)
	ctx := context.Background()
	if _, err := typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	testargocd.StartReconciler(t, admin, "argocd")
	agentBin := buildAgent(t)

	dev := testtemporal.Start(t)
	tc := dev.Client()
	ca, err := tunnel.NewCA()
	must(t, err)
	tsrv := &tunnel.Server{CA: ca, Replica: "api-0", HealthEvery: time.Second}
	cert, err := ca.ServerCertificate("127.0.0.1")
	must(t, err)
	endpoint := httptest.NewUnstartedServer(tsrv.Handler())
	endpoint.TLS = tsrv.TLSConfig(cert)
	endpoint.StartTLS()
	t.Cleanup(endpoint.Close)
	key := tunnel.ProxyKey(bytes.Repeat([]byte{7}, 32))
	proxy := httptest.NewServer(tsrv.ProxyHandler(key, "", nil))
	t.Cleanup(proxy.Close)

	e := newEnvWith(t, tc, server.Options{Agents: agents.Deps{Tunnel: tsrv, Endpoint: endpoint.URL, Image: "example.test/astro-agent:v1", TokenTTL: time.Minute}})
	tsrv.Registry = agents.Registry{Store: e.store}
	viaProxy := tunnel.Proxied{Base: proxy.URL, Key: key}
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster: &activities.Cluster{Store: e.store},
		Agents:  &activities.Agents{Store: e.store, Clusters: viaProxy, Poll: 100 * time.Millisecond},
		// As cmd/worker routes them: registered clusters through the API's proxy.
		Apps: &activities.Apps{Store: e.store, ChartRepoURL: "https://astro.example.com/api/v1/charts", Poll: 50 * time.Millisecond,
			Clusters: activities.RoutedClusters{Store: e.store, Registered: viaProxy, Provisioned: activities.ClusterClientsFunc(
				func(context.Context, string, string) (dynamic.Interface, error) {
					return nil, errors.New("the registered cluster was routed to the provider's kubeconfig")
				})}},
	})
	must(t, w.Start())
	t.Cleanup(sync.OnceFunc(w.Stop))

	const base = "/api/v1/clusters/byok/agent"
	// Bad input names the field; another organization sees nothing.
	if a := e.do(http.MethodPost, "/api/v1/clusters/Bad_Name/agent", e.key, map[string]any{}); a.Status != http.StatusBadRequest || a.Error(t).Details["clusterId"] == nil {
		t.Fatalf("bad name: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, base, e.key, map[string]any{"kind": "K8sClusterRegistration", "apiVersion": "platform.astropulse.io/v1",
		"spec": map[string]any{"clusterName": "other"}}); a.Status != http.StatusBadRequest || a.Error(t).Details["spec.clusterName"] == nil {
		t.Fatalf("manifest naming another cluster: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, base, e.key, map[string]any{"architecture": "s390x"}); a.Status != http.StatusBadRequest || !strings.Contains(string(a.Body), "architecture") {
		t.Fatalf("unknown architecture: %d %s", a.Status, a.Body)
	}
	// A dry run answers the manifest and records nothing.
	a := e.do(http.MethodPost, base, e.key, map[string]any{"dryRun": true, "architecture": "arm64"})
	if d := e.dataOf(a); a.Status != http.StatusOK || !strings.Contains(d["agentManifest"].(string), agents.TokenPlaceholder) || !strings.Contains(d["agentManifest"].(string), "kubernetes.io/arch: arm64") {
		t.Fatalf("dry run: %d %s", a.Status, a.Body)
	}
	if _, err := e.store.GetCluster(ctx, e.orgID, "byok"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a dry run recorded a cluster: %v", err)
	}

	a = e.do(http.MethodPost, base, e.key, map[string]any{"kind": "K8sClusterRegistration", "apiVersion": "platform.astropulse.io/v1",
		"spec": map[string]any{"clusterName": "byok"}})
	if a.Status != http.StatusAccepted {
		t.Fatalf("register: %d %s", a.Status, a.Body)
	}
	d := e.dataOf(a)
	manifest, opID := d["agentManifest"].(string), d["operationId"].(string)
	m := regexp.MustCompile(`token: "(astro-reg-[0-9a-f]+)"`).FindStringSubmatch(manifest)
	if m == nil || opID == "" {
		t.Fatalf("register answer: %s", a.Body)
	}
	if a := e.do(http.MethodPost, base, e.key, map[string]any{}); a.Status != http.StatusConflict {
		t.Fatalf("registering the name again: %d %s", a.Status, a.Body)
	}
	status := func(k string) map[string]any {
		t.Helper()
		a := e.do(http.MethodGet, base+"?operationId="+opID, k, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("status: %d %s", a.Status, a.Body)
		}
		return e.dataOf(a)
	}
	if s := status(e.key); s["status"] != "WAITING_FOR_AGENT" || s["registration"].(map[string]any)["operationId"] != opID {
		t.Fatalf("status before the agent: %v", s)
	}
	_, _, otherKey := e.newOrg("globex", store.RoleAdmin)
	if a := e.do(http.MethodGet, base, otherKey, nil); a.Status != http.StatusNotFound {
		t.Fatalf("another organization's status: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodDelete, base, otherKey, nil); a.Status != http.StatusNotFound {
		t.Fatalf("another organization's unregister: %d %s", a.Status, a.Body)
	}
	_, _, viewerKey := e.newOrg("initech", store.RoleViewer)
	if a := e.do(http.MethodPost, "/api/v1/clusters/mine/agent", viewerKey, map[string]any{}); a.Status != http.StatusForbidden {
		t.Fatalf("a viewer registering: %d %s", a.Status, a.Body)
	}

	// Install: apply the manifest, run the agent as its ServiceAccount.
	applyManifest(t, admin, manifest)
	dir := t.TempDir()
	kc := filepath.Join(dir, "sa.kubeconfig")
	must(t, os.WriteFile(kc, fmt.Appendf(nil, "apiVersion: v1\nkind: Config\nclusters:\n- name: k\n  cluster:\n    server: %s\n    certificate-authority-data: %s\nusers:\n- name: sa\n  user:\n    token: %s\ncontexts:\n- name: k\n  context: {cluster: k, user: sa}\ncurrent-context: k\n",
		kube.URL, base64.StdEncoding.EncodeToString(kube.CAData), kube.Tokens[agentSAUser]), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM(), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "token"), []byte(m[1]), 0o600))
	startAgent := func() *exec.Cmd {
		cmd := exec.Command(agentBin, "-endpoint", endpoint.URL, "-ca-file", filepath.Join(dir, "ca.pem"), "-token-file", filepath.Join(dir, "token"),
			"-cert-secret", "astro-agent-cert", "-kubeconfig", kc, "-region", "lab-1")
		cmd.Env = append(os.Environ(), "POD_NAMESPACE="+agents.Namespace)
		var log bytes.Buffer
		cmd.Stdout, cmd.Stderr = &log, &log
		must(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("agent log:\n%s", log.String())
			}
		})
		return cmd
	}
	agent := startAgent()
	s := waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		s := status(e.key)
		reg, _ := s["registration"].(map[string]any)
		return s, s["status"] == "CONNECTED" && reg["status"] == "SUCCEEDED"
	})
	if s["agentVersion"] != "dev" || s["kubernetesVersion"] == nil || s["registeredAt"] == nil {
		t.Fatalf("connected status: %v", s)
	}
	if a := e.do(http.MethodGet, "/api/v1/clusters/byok", e.key, nil); a.Status != http.StatusOK || e.dataOf(a)["status"] != "READY" || e.dataOf(a)["region"] != "lab-1" {
		t.Fatalf("the registered cluster: %d %s", a.Status, a.Body)
	}
	recordHistory(t, e.tc, opID, "agent-register")

	// The worker reaches it through the API's proxy and the tunnel (as the agent's ServiceAccount).
	dyn, err := viaProxy.Dynamic(ctx, e.orgID, s["clusterId"].(string))
	must(t, err)
	if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("namespaces through the proxy: %v", err)
	}

	// hello-world deploys onto it: the worker's Apps activity writes Argo CD's
	// Application through the proxy and the tunnel, as the agent's ServiceAccount.
	if a := e.do(http.MethodPost, "/api/v1/app-profiles", e.key, map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "ApplicationProfile",
		"spec": map[string]any{"profileName": "on-byok", "clusterName": "byok"}}); a.Status != http.StatusCreated {
		t.Fatalf("profile: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/applications", e.key, map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "Application", "spec": map[string]any{
		"name": "hello-world", "profileName": "on-byok",
		"source": map[string]any{"type": "image", "image": map[string]any{"registry": "docker.io", "repository": "astropulse/latency", "tag": "v1.0.0"}},
	}}); a.Status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", a.Status, a.Body)
	}
	waitFor(t, 30*time.Second, func() (string, bool) {
		a := e.do(http.MethodGet, "/api/v1/applications/hello-world", e.key, nil)
		return string(a.Body), a.Status == http.StatusOK && e.dataOf(a)["status"] == "DEPLOYED"
	})
	if _, err := typed.AppsV1().Deployments("hello-world").Get(ctx, "hello-world", metav1.GetOptions{}); err != nil {
		t.Fatalf("hello-world's Deployment: %v", err)
	}
	// Its events stream reads the cluster through the tunnel this API holds (server.New
	// routes registered clusters to it): Argo CD's event about the Application.
	api := httptest.NewServer(e.srv)
	defer api.Close()
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	events := dialStream(t, sctx, "ws"+strings.TrimPrefix(api.URL, "http")+"/api/v1/applications/hello-world/events/stream", e.key)
	for {
		var f map[string]any
		if err := wsjson.Read(sctx, events, &f); err != nil {
			t.Fatalf("events of the registered cluster's application: %v", err)
		}
		if obj, _ := f["involvedObject"].(map[string]any); obj["kind"] == "Application" && obj["name"] == "hello-world" {
			break
		}
	}
	events.CloseNow()

	// Kill → DISCONNECTED; restart → CONNECTED (its certificate kept in its Secret).
	_ = agent.Process.Kill()
	waitFor(t, 15*time.Second, func() (any, bool) { return nil, status(e.key)["status"] == "DISCONNECTED" })
	startAgent()
	waitFor(t, 30*time.Second, func() (any, bool) { return nil, status(e.key)["status"] == "CONNECTED" })

	// Sync auth rotates the certificate; the agent stays connected.
	before, err := e.store.GetClusterAgent(ctx, e.orgID, s["clusterId"].(string))
	must(t, err)
	if a := e.do(http.MethodPost, "/api/v1/clusters/byok/sync-auth", e.key, nil); a.Status != http.StatusOK {
		t.Fatalf("sync auth: %d %s", a.Status, a.Body)
	}
	waitFor(t, 15*time.Second, func() (any, bool) {
		ag, _ := e.store.GetClusterAgent(ctx, e.orgID, s["clusterId"].(string))
		return nil, ag.CertSerial != before.CertSerial && ag.PrevSerial == "" && ag.Replica != ""
	})

	// On a replica without the tunnel, sync auth is relayed through the internal proxy.
	other, err := server.New(server.Options{Store: e.store, Temporal: tc, TaskQueue: workflows.TaskQueue,
		Agents: agents.Deps{Tunnel: &tunnel.Server{CA: ca, Registry: agents.Registry{Store: e.store}, Replica: "api-1"}, Endpoint: endpoint.URL,
			Proxy: &tunnel.Proxied{Base: proxy.URL, Key: key}}})
	must(t, err)
	mid, err := e.store.GetClusterAgent(ctx, e.orgID, s["clusterId"].(string))
	must(t, err)
	req := httptest.NewRequest(http.MethodPost, "/api/v1/clusters/byok/sync-auth", nil)
	req.Header.Set("X-Astro-API-Key", e.key)
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("sync auth on the other replica: %d %s", rec.Code, rec.Body)
	}
	waitFor(t, 15*time.Second, func() (any, bool) {
		ag, _ := e.store.GetClusterAgent(ctx, e.orgID, s["clusterId"].(string))
		return nil, ag.CertSerial != mid.CertSerial && ag.PrevSerial == "" && ag.Replica != ""
	})

	// The normal delete points to unregister.
	if a := e.do(http.MethodDelete, "/api/v1/clusters/byok", e.key, nil); a.Status != http.StatusConflict || !strings.Contains(string(a.Body), "agent") {
		t.Fatalf("normal delete of a registered cluster: %d %s", a.Status, a.Body)
	}

	// A registration still waiting for its agent ends when unregistered with
	// agent-only: the cluster stays as a tombstone, its agent refused.
	if a := e.do(http.MethodPost, "/api/v1/clusters/never/agent", e.key, map[string]any{}); a.Status != http.StatusAccepted {
		t.Fatalf("register never: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodDelete, "/api/v1/clusters/never/agent?agent-only=true", e.key, nil); a.Status != http.StatusOK {
		t.Fatalf("unregister a waiting registration: %d %s", a.Status, a.Body)
	}
	waitFor(t, 15*time.Second, func() (string, bool) {
		a := e.do(http.MethodGet, "/api/v1/clusters/never/agent", e.key, nil)
		return string(a.Body), a.Status == http.StatusOK && e.dataOf(a)["status"] == "TOMBSTONED"
	})
	if a := e.do(http.MethodDelete, "/api/v1/clusters/never/agent?agent-only=true", e.key, nil); a.Status != http.StatusConflict {
		t.Fatalf("tombstoning twice: %d %s", a.Status, a.Body)
	}
	if never, err := e.store.GetCluster(ctx, e.orgID, "never"); err == nil {
		recordHistory(t, e.tc, never.LastOperationID, "agent-unregister-agent-only")
	}

	// Unregister: the agent's namespace goes (through the tunnel), then the cluster.
	if a := e.do(http.MethodDelete, base, e.key, nil); a.Status != http.StatusOK {
		t.Fatalf("unregister: %d %s", a.Status, a.Body)
	}
	byok, err := e.store.GetCluster(ctx, e.orgID, s["clusterId"].(string))
	must(t, err)
	waitFor(t, 30*time.Second, func() (any, bool) {
		_, err := e.store.GetCluster(ctx, e.orgID, "byok")
		return nil, errors.Is(err, store.ErrNotFound)
	})
	recordHistory(t, e.tc, byok.LastOperationID, "agent-unregister")
	ns, err := typed.CoreV1().Namespaces().Get(ctx, agents.Namespace, metav1.GetOptions{})
	if err == nil && ns.DeletionTimestamp == nil {
		t.Fatal("the agent's namespace was not deleted")
	} else if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if _, err := typed.RbacV1().ClusterRoleBindings().Get(ctx, "astro-agent", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the agent's ClusterRoleBinding: %v", err)
	}
}

func applyManifest(t *testing.T, cfg *rest.Config, manifest string) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(cfg)
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("manifest: %v", err)
		}
		if obj.Object == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(obj.GetAPIVersion())
		must(t, err)
		res := dyn.Resource(gv.WithResource(strings.ToLower(obj.GetKind()) + "s"))
		var ri dynamic.ResourceInterface = res
		if ns := obj.GetNamespace(); ns != "" {
			ri = res.Namespace(ns)
		}
		if _, err := ri.Create(t.Context(), &obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// buildAgent builds cmd/agent (static) into a temp directory.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "astro-agent")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/agent")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/agent: %v\n%s", err, out)
	}
	return bin
}
