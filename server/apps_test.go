package server_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"go.temporal.io/sdk/worker"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// The flow through the API, on a real Temporal dev server and worker and a
// real kube-apiserver with Argo CD's real Application CRD (the test reconciler in
// Argo CD's place): apply profile3, dry-run and deploy hello-world and a Helm app
// until DEPLOYED (Synced/Healthy), refuse immutable changes and the delete of the
// profile in use, read the spec as sent, delete with cascade.
func TestApplicationsThroughTheAPI(t *testing.T) {
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

	dev := testtemporal.Start(t)
	tc := dev.Client()
	e := newEnv(t, tc)
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster: &activities.Cluster{Store: e.store},
		Apps: &activities.Apps{Store: e.store, ChartRepoURL: "https://astro.example.com/api/v1/charts", Poll: 50 * time.Millisecond,
			Clusters: activities.ClusterClientsFunc(func(context.Context, string, string) (dynamic.Interface, error) { return dyn, nil })},
	})
	must(t, w.Start())
	stop := sync.OnceFunc(w.Stop)
	t.Cleanup(stop)

	prod := store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-west-2", Status: store.ClusterReady}
	must(t, e.store.CreateClusterWithOperation(ctx, &prod, &store.Operation{ID: "prod.deploy", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: "prod.deploy"}))
	if a := e.do(http.MethodPost, "/api/v1/app-profiles", e.key, map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "ApplicationProfile",
		"spec": map[string]any{"profileName": "profile3", "clusterName": "prod"}}); a.Status != http.StatusCreated {
		t.Fatalf("profile3: %d %s", a.Status, a.Body)
	}
	hello := map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "Application", "spec": map[string]any{
		"name": "hello-world", "profileName": "profile3",
		"source":         map[string]any{"type": "image", "image": map[string]any{"registry": "docker.io", "repository": "astropulse/latency", "tag": "v1.0.0"}},
		"externalAccess": map[string]any{"hostname": "hello.example.com"},
	}}

	// Dry runs: the validation and the cluster the profile selects; nothing recorded.
	a := e.do(http.MethodPost, "/api/v1/applications?dryRun=true", e.key, hello)
	if d := e.data(a); a.Status != http.StatusOK || d["valid"] != true || d["clusterName"] != "prod" || d["namespace"] != "hello-world" {
		t.Fatalf("dry run: %d %s", a.Status, a.Body)
	}
	bad := map[string]any{"name": "bad", "profileName": "nope", "source": map[string]any{"type": "yaml", "image": map[string]any{"repository": "x"}}}
	a = e.do(http.MethodPost, "/api/v1/applications?dryRun=true", e.key, bad)
	errs, _ := e.data(a)["errors"].(map[string]any)
	if a.Status != http.StatusOK || e.data(a)["valid"] != false || errs["source.yaml"] == nil || errs["source.image"] == nil || errs["profileName"] == nil {
		t.Fatalf("dry run of a bad spec: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/applications", e.key, bad); a.Status != http.StatusBadRequest || a.Error(t).Details["source.yaml"] == nil {
		t.Fatalf("bad spec: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/applications", e.key, nil); len(listData(t, a)) != 0 {
		t.Fatalf("a dry run recorded: %s", a.Body)
	}

	waitApp := func(name string, status string) map[string]any {
		t.Helper()
		return waitFor(t, 30*time.Second, func() (map[string]any, bool) {
			a := e.do(http.MethodGet, "/api/v1/applications/"+name, e.key, nil)
			if a.Status != http.StatusOK {
				return map[string]any{"answer": string(a.Body)}, false
			}
			d := e.data(a)
			return d, d["status"] == status
		})
	}
	a = e.do(http.MethodPost, "/api/v1/applications", e.key, hello)
	if a.Status != http.StatusAccepted || e.data(a)["clusterName"] != "prod" {
		t.Fatalf("deploy: %d %s", a.Status, a.Body)
	}
	d := waitApp("hello-world", "DEPLOYED")
	if d["syncStatus"] != "Synced" || d["health"] != "Healthy" || d["clusterName"] != "prod" || d["url"] != "https://hello.example.com" {
		t.Fatalf("hello-world: %v", d)
	}
	recordHistory(t, e.tc, e.data(a)["operationId"].(string), "app-deploy-hello-world")
	u, err := dyn.Resource(argocd.GVR).Namespace("argocd").Get(ctx, "hello-world", metav1.GetOptions{})
	must(t, err)
	if ns, _, _ := unstructured.NestedString(u.Object, "spec", "destination", "namespace"); ns != "hello-world" {
		t.Fatalf("the Application's destination: %v", u.Object["spec"])
	}
	if _, err := typed.AppsV1().Deployments("hello-world").Get(ctx, "hello-world", metav1.GetOptions{}); err != nil {
		t.Fatalf("the Deployment: %v", err)
	}

	// A Helm source, flat spec.
	a = e.do(http.MethodPost, "/api/v1/applications", e.key, map[string]any{"name": "podinfo", "profileName": "profile3",
		"source": map[string]any{"type": "helm", "helm": map[string]any{"repo": map[string]any{"repoURL": "https://stefanprodan.github.io/podinfo",
			"chartName": "podinfo", "chartVersion": "6.7.1"}, "values": map[string]any{"type": "object", "object": map[string]any{"replicaCount": 2}}}},
		"externalAccess": map[string]any{"type": "None"}})
	if a.Status != http.StatusAccepted {
		t.Fatalf("helm deploy: %d %s", a.Status, a.Body)
	}
	waitApp("podinfo", "DEPLOYED")

	// One operation per application: a deploy while one runs is 409 and changes
	// nothing of the application's spec.
	recon.SetHealth("slow", "Progressing")
	slow := func(tag string) map[string]any {
		return map[string]any{"name": "slow", "profileName": "profile3",
			"source": map[string]any{"type": "image", "image": map[string]any{"repository": "astropulse/latency", "tag": tag}}}
	}
	if a := e.do(http.MethodPost, "/api/v1/applications", e.key, slow("v1")); a.Status != http.StatusAccepted {
		t.Fatalf("slow: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/applications", e.key, slow("v2")); a.Status != http.StatusConflict {
		t.Fatalf("a second deploy while one runs: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/applications/slow/spec", e.key, nil)
	if img := e.data(a)["spec"].(map[string]any)["source"].(map[string]any)["image"].(map[string]any); img["tag"] != "v1" {
		t.Fatalf("the refused deploy changed the spec: %s", a.Body)
	}
	// The status stream: the current status first, then each change, as recorded.
	srv := httptest.NewServer(e.srv)
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/applications/"
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	stream := dialStream(t, sctx, wsURL+"slow/status/stream", e.key)
	var fr api.ApplicationStatusFrame
	must(t, wsjson.Read(sctx, stream, &fr))
	if fr.Type != "status" || fr.Status == nil || *fr.Status != "DEPLOYING" {
		t.Fatalf("first frame %+v", fr)
	}
	recon.SetHealth("slow", "")
	for fr.Status == nil || *fr.Status != "DEPLOYED" {
		must(t, wsjson.Read(sctx, stream, &fr))
	}
	if fr.SyncStatus == nil || *fr.SyncStatus != "Synced" || fr.Health == nil || *fr.Health != "Healthy" {
		t.Fatalf("deployed frame %+v", fr)
	}
	stream.CloseNow()
	if a := e.do(http.MethodGet, "/api/v1/applications/slow/status/stream", e.key, nil); a.Status != http.StatusUpgradeRequired {
		t.Fatalf("the stream over plain HTTP: %d %s", a.Status, a.Body)
	}
	helloStream := dialStream(t, sctx, wsURL+"hello-world/status/stream", e.key)
	must(t, wsjson.Read(sctx, helloStream, &fr))

	// Manual sync: written, not synced, until a resync (forced here).
	a = e.do(http.MethodPost, "/api/v1/applications", e.key, map[string]any{"name": "manual", "profileName": "profile3", "syncType": "manual",
		"source": map[string]any{"type": "yaml", "yaml": map[string]any{"manifests": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n"}}})
	if a.Status != http.StatusAccepted {
		t.Fatalf("manual deploy: %d %s", a.Status, a.Body)
	}
	if d := waitApp("manual", "DEPLOYED"); d["syncStatus"] == "Synced" {
		t.Fatalf("a manual application synced unasked: %v", d)
	}
	if _, err := typed.CoreV1().ConfigMaps("manual").Get(ctx, "cfg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the manual application's ConfigMap before a resync: %v", err)
	}
	// The deploy records DEPLOYED as its last step and ends a moment later: until
	// then another operation is 409.
	resync := waitFor(t, 10*time.Second, func() (answer, bool) {
		a := e.do(http.MethodPost, "/api/v1/applications/manual/resync", e.key, map[string]any{"force": true})
		return a, a.Status == http.StatusAccepted
	})
	waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		d := e.data(e.do(http.MethodGet, "/api/v1/applications/manual", e.key, nil))
		return d, d["status"] == "DEPLOYED" && d["syncStatus"] == "Synced" && d["health"] == "Healthy"
	})
	recordHistory(t, e.tc, e.data(resync)["operationId"].(string), "app-resync-manual")
	if _, err := typed.CoreV1().ConfigMaps("manual").Get(ctx, "cfg", metav1.GetOptions{}); err != nil {
		t.Fatalf("the manual application's ConfigMap after the resync: %v", err)
	}

	// Immutable fields; the profile in use.
	other := e.do(http.MethodPost, "/api/v1/app-profiles", e.key, map[string]any{"profileName": "other", "clusterName": "prod"})
	if other.Status != http.StatusCreated {
		t.Fatalf("other: %d %s", other.Status, other.Body)
	}
	changed := map[string]any{"name": "hello-world", "profileName": "other", "source": map[string]any{"type": "helm",
		"helm": map[string]any{"repo": map[string]any{"repoURL": "https://x.example.com", "chartName": "x"}}}}
	a = e.do(http.MethodPost, "/api/v1/applications", e.key, changed)
	if a.Status != http.StatusUnprocessableEntity || a.Error(t).Details["profileName"] == nil || a.Error(t).Details["source.type"] == nil {
		t.Fatalf("immutable change: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodDelete, "/api/v1/app-profiles/profile3", e.key, nil); a.Status != http.StatusConflict {
		t.Fatalf("delete of a profile in use: %d %s", a.Status, a.Body)
	}

	// The spec as sent, the list.
	a = e.do(http.MethodGet, "/api/v1/applications/hello-world/spec", e.key, nil)
	if spec, _ := e.data(a)["spec"].(map[string]any); a.Status != http.StatusOK || spec["profileName"] != "profile3" || e.data(a)["kind"] != "Application" {
		t.Fatalf("spec: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/applications", e.key, nil); len(listData(t, a)) != 4 {
		t.Fatalf("list: %s", a.Body)
	}

	// Delete: the Application and what it deployed go, then the record.
	del := e.do(http.MethodDelete, "/api/v1/applications/hello-world", e.key, nil)
	if del.Status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", del.Status, del.Body) // its deploy ended long ago
	}
	waitFor(t, 30*time.Second, func() (int, bool) {
		a := e.do(http.MethodGet, "/api/v1/applications/hello-world", e.key, nil)
		return a.Status, a.Status == http.StatusNotFound
	})
	recordHistory(t, e.tc, e.data(del)["operationId"].(string), "app-delete-hello-world")
	if _, err := dyn.Resource(argocd.GVR).Namespace("argocd").Get(ctx, "hello-world", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the Application after delete: %v", err)
	}
	// Its status stream said DELETED last and closed normally. DELETING is not
	// required: it lasts as long as the cascade, which can be shorter than the
	// stream's 500 ms read of the store (a flake seen once in three runs).
	var seen []string
	for {
		if err := wsjson.Read(sctx, helloStream, &fr); err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("the stream of a deleted application ended with %v", err)
			}
			break
		}
		seen = append(seen, string(*fr.Status))
	}
	if len(seen) < 1 || seen[len(seen)-1] != "DELETED" {
		t.Fatalf("status frames of the delete: %v", seen)
	}
	if _, err := typed.AppsV1().Deployments("hello-world").Get(ctx, "hello-world", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the Deployment after delete: %v", err)
	}
}

// The platform's Helm repository is served without credentials: its index (the
// archive's URL relative to it), the archive, and 404 for any other file.
func TestChartRepository(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(http.MethodGet, "/api/v1/charts/index.yaml", "", nil)
	if a.Status != http.StatusOK || !strings.Contains(string(a.Body), "- "+argocd.ChartArchiveName()) {
		t.Fatalf("index: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/charts/"+argocd.ChartArchiveName(), "", nil)
	if a.Status != http.StatusOK || !bytes.Equal(a.Body, argocd.ChartArchive()) {
		t.Fatalf("archive: %d (%d bytes)", a.Status, len(a.Body))
	}
	if a := e.do(http.MethodGet, "/api/v1/charts/other-1.0.0.tgz", "", nil); a.Status != http.StatusNotFound {
		t.Fatalf("another file: %d", a.Status)
	}
}
