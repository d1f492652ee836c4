package server_test

import (
	"context"
	"errors"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/cloud/sim/simnode"
	"github.com/astropulse/astroplane/internal/apikey"
	"github.com/astropulse/astroplane/internal/argosim"
	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/clusters"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// kubeCloud is the simulated cloud whose clusters' kubeconfig is the test's real
// kube-apiserver's.
type kubeCloud struct {
	cloud.Provider
	kubeconfig string
}

func (p kubeCloud) Kubeconfig(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) (string, error) {
	if _, err := p.Provider.Kubeconfig(ctx, c, ref); err != nil {
		return "", err
	}
	return p.kubeconfig, nil
}

// Events and logs of an application through the API, end to end: a cluster
// deployed on the simulated cloud whose Kubernetes API is a real kube-apiserver
// (the worker and the API each get its kubeconfig through the provider, the API's
// through the IssueKubeconfig workflow), Argo CD's real Application CRD with the
// test reconciler in Argo CD's place, and the application's pods on a simulated
// node whose kubelet serves their logs to the apiserver's real pods/log path.
func TestApplicationEventsAndLogsThroughTheAPI(t *testing.T) {
	kube := testkube.Start(t)
	cfg := kube.RESTConfig()
	testargocd.InstallApplicationCRD(t, cfg)
	typed := kubernetes.NewForConfigOrDie(cfg)
	ctx := t.Context()
	_, err := typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{})
	must(t, err)
	testargocd.StartReconciler(t, cfg, "argocd")
	logs := &simnode.MemoryLogs{}
	node, err := simnode.Start(ctx, cfg, "node-1", logs, simnode.CA{Cert: kube.KubeletCACert, Key: kube.KubeletCAKey})
	must(t, err)
	t.Cleanup(func() { _ = node.Close() })
	workloads, err := argosim.NewWorkloads(cfg, node)
	must(t, err)
	wctx, wcancel := context.WithCancel(context.Background())
	wdone := make(chan struct{})
	go func() { defer close(wdone); workloads.Run(wctx, 50*time.Millisecond, nil) }()
	t.Cleanup(func() { wcancel(); <-wdone })

	dev := testtemporal.Start(t)
	tc := dev.Client()
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	e := newEnvWith(t, tc, server.Options{Box: box, Streams: clusters.StreamLimits{PerKey: 4}})
	clusterActs := &activities.Cluster{Store: e.store, Box: box, PollInterval: 20 * time.Millisecond,
		Clouds: cloud.RegistryOf(kubeCloud{Provider: sim.New(0), kubeconfig: string(kube.Kubeconfig())})}
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{Cluster: clusterActs, Notifier: &activities.Notifier{Store: e.store},
		Apps: &activities.Apps{Store: e.store, ChartRepoURL: "https://astro.example.com/api/v1/charts", Poll: 50 * time.Millisecond,
			Clusters: &activities.KubeClients{Cluster: clusterActs}}})
	must(t, w.Start())
	t.Cleanup(sync.OnceFunc(w.Stop))

	if a := e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("prod")); a.Status != http.StatusAccepted {
		t.Fatalf("cluster: %d %s", a.Status, a.Body)
	}
	e.waitStatus(t, "prod", "READY")
	if a := e.do(http.MethodPost, "/api/v1/app-profiles", e.key, map[string]any{"profileName": "profile3", "clusterName": "prod"}); a.Status != http.StatusCreated {
		t.Fatalf("profile: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/applications", e.key, map[string]any{"name": "hello-world", "profileName": "profile3",
		"source": map[string]any{"type": "image", "image": map[string]any{"repository": "astropulse/latency", "tag": "v1.0.0"}}}); a.Status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", a.Status, a.Body)
	}
	waitFor(t, 30*time.Second, func() (string, bool) {
		a := e.do(http.MethodGet, "/api/v1/applications/hello-world", e.key, nil)
		return string(a.Body), a.Status == http.StatusOK && e.data(a)["status"] == "DEPLOYED"
	})
	pod := waitFor(t, 10*time.Second, func() (corev1.Pod, bool) {
		l, err := typed.CoreV1().Pods("hello-world").List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) == 0 {
			return corev1.Pod{}, false
		}
		return l.Items[0], true
	})
	container := simnode.Container{Namespace: "hello-world", Pod: pod.Name, Name: pod.Spec.Containers[0].Name}
	logs.Write(container, "listening on :8080", "GET / 200")

	srv := httptest.NewServer(e.srv)
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/applications/hello-world/"
	sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
	defer scancel()

	// Events: Argo CD's about the Application (the reconciler's OperationCompleted…),
	// then live: a resync's operation and a Kubernetes event of the namespace.
	events := dialStream(t, sctx, base+"events/stream?k8s=true", e.key)
	readEvent := func(conn *websocket.Conn, want func(api.ApplicationEventFrame) bool) api.ApplicationEventFrame {
		t.Helper()
		for {
			var f api.ApplicationEventFrame
			if err := wsjson.Read(sctx, conn, &f); err != nil {
				t.Fatalf("events stream: %v", err)
			}
			if want(f) {
				return f
			}
		}
	}
	f := readEvent(events, func(f api.ApplicationEventFrame) bool { return f.Reason != nil && *f.Reason == "OperationCompleted" })
	if f.Source != api.Pulse || f.InvolvedObject == nil || *f.InvolvedObject.Kind != "Application" || *f.InvolvedObject.Name != "hello-world" {
		t.Fatalf("Argo CD's event: %+v", f)
	}
	waitFor(t, 10*time.Second, func() (string, bool) {
		a := e.do(http.MethodPost, "/api/v1/applications/hello-world/resync", e.key, map[string]any{"force": true})
		return string(a.Body), a.Status == http.StatusAccepted
	})
	f = readEvent(events, func(f api.ApplicationEventFrame) bool { return f.Type == "SyncSucceeded" })
	if f.Source != api.Pulse || f.Message == "" {
		t.Fatalf("the resync's operation: %+v", f)
	}
	now := metav1.Now()
	_, err = typed.CoreV1().Events("hello-world").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "pull."},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, Namespace: "hello-world"},
		Reason:         "Pulled", Message: "Successfully pulled image astropulse/latency:v1.0.0", Type: corev1.EventTypeNormal,
		FirstTimestamp: now, LastTimestamp: now, Count: 1, Source: corev1.EventSource{Component: "kubelet"}}, metav1.CreateOptions{})
	must(t, err)
	f = readEvent(events, func(f api.ApplicationEventFrame) bool {
		return f.Source == api.Kubernetes && f.Reason != nil && *f.Reason == "Pulled"
	})
	if f.Type != "Normal" || *f.InvolvedObject.Kind != "Pod" || *f.InvolvedObject.Name != pod.Name || !strings.Contains(f.Message, "pulled image") {
		t.Fatalf("the namespace's event: %+v", f)
	}
	// Without k8s=true the namespace's events are not sent: the first frame after
	// the recent Argo CD events is a new one of Argo CD's, not the pull.
	argoOnly := dialStream(t, sctx, base+"events/stream", e.key)
	_, err = typed.CoreV1().Events("argocd").Create(ctx, &corev1.Event{ObjectMeta: metav1.ObjectMeta{GenerateName: "hello-world."},
		InvolvedObject: corev1.ObjectReference{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Name: "hello-world", Namespace: "argocd"},
		Reason:         "ResourceUpdated", Message: "marker", Type: corev1.EventTypeNormal, FirstTimestamp: now, LastTimestamp: metav1.Now(), Count: 1},
		metav1.CreateOptions{})
	must(t, err)
	readEvent(argoOnly, func(f api.ApplicationEventFrame) bool {
		if f.Source == api.Kubernetes {
			t.Fatalf("a Kubernetes event without k8s=true: %+v", f)
		}
		return f.Message == "marker"
	})
	argoOnly.CloseNow()

	// Logs through pods/log: the tail, then lines as they are written.
	readLog := func(conn *websocket.Conn) api.ApplicationLogFrame {
		t.Helper()
		var f api.ApplicationLogFrame
		if err := wsjson.Read(sctx, conn, &f); err != nil {
			t.Fatalf("logs stream: %v", err)
		}
		return f
	}
	follow := dialStream(t, sctx, base+"logs/stream?tail=1", e.key)
	if l := readLog(follow); l.Line != "GET / 200" || l.Pod != pod.Name || l.Container != container.Name || l.Timestamp == nil || time.Since(*l.Timestamp) > time.Minute {
		t.Fatalf("the tail: %+v", l)
	}
	logs.Write(container, "GET /healthz 200")
	if l := readLog(follow); l.Line != "GET /healthz 200" {
		t.Fatalf("a followed line: %+v", l)
	}
	// Without follow: every line, then a normal close.
	all := dialStream(t, sctx, base+"logs/stream?follow=false&container="+container.Name, e.key)
	for _, want := range []string{"listening on :8080", "GET / 200", "GET /healthz 200"} {
		if l := readLog(all); l.Line != want {
			t.Fatalf("line %+v, want %q", l, want)
		}
	}
	var l api.ApplicationLogFrame
	if err := wsjson.Read(sctx, all, &l); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("the end of a log without follow: %v %+v", err, l)
	}
	// The previous instance's log, after a restart.
	logs.Restart(container)
	prev := dialStream(t, sctx, base+"logs/stream?previous=true&pod="+pod.Name, e.key)
	if l := readLog(prev); l.Line != "listening on :8080" {
		t.Fatalf("the previous instance's first line: %+v", l)
	}
	prev.CloseNow()
	logs.Write(container, "started again")

	// Bad requests answer before the upgrade, with the field at fault; another
	// organization's application is not found; plain HTTP is 426.
	dialFail := func(path, key string) (int, string) {
		t.Helper()
		conn, resp, err := websocket.Dial(sctx, base+path, &websocket.DialOptions{HTTPHeader: http.Header{httpx.HeaderAPIKey: {key}}})
		if err == nil {
			conn.CloseNow()
			t.Fatalf("%s: upgraded", path)
		}
		if resp == nil {
			t.Fatalf("%s: %v", path, err)
		}
		return resp.StatusCode, resp.Status
	}
	if code, _ := dialFail("logs/stream?pod=nope", e.key); code != http.StatusNotFound {
		t.Errorf("a pod that is not there: %d", code)
	}
	if code, _ := dialFail("logs/stream?container=nope", e.key); code != http.StatusNotFound {
		t.Errorf("a container that is not there: %d", code)
	}
	if a := e.do(http.MethodGet, "/api/v1/applications/hello-world/logs/stream?container=Bad_Name", e.key, nil); a.Status != http.StatusBadRequest || a.Error(t).Details["container"] == nil {
		t.Errorf("a container name that is no name: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/applications/hello-world/events/stream", e.key, nil); a.Status != http.StatusUpgradeRequired {
		t.Errorf("events over plain HTTP: %d %s", a.Status, a.Body)
	}
	_, _, otherKey := e.newOrg("other", store.RoleAdmin)
	for _, path := range []string{"events/stream", "logs/stream"} {
		if code, _ := dialFail(path, otherKey); code != http.StatusNotFound {
			t.Errorf("%s of another organization's application: %d", path, code)
		}
	}

	// A viewer may watch.
	viewer := store.User{ID: store.NewID(), Email: "viewer@example.com"}
	must(t, e.store.CreateUser(ctx, &viewer))
	must(t, e.store.AddMember(ctx, e.orgID, viewer.ID, store.RoleViewer))
	viewerKey := e.newKey(e.orgID, viewer.ID, func(*store.APIKey) {})
	if l := readLog(dialStream(t, sctx, base+"logs/stream?follow=false", viewerKey)); l.Line != "started again" {
		t.Fatalf("a viewer's log: %+v", l)
	}

	// Caps count every application stream of a key (4 here; events and follow are
	// open): a fifth is 429, and closing one makes room.
	third := dialStream(t, sctx, base+"status/stream", e.key)
	fourth := dialStream(t, sctx, base+"events/stream", e.key)
	if code, _ := dialFail("logs/stream", e.key); code != http.StatusTooManyRequests {
		t.Errorf("a fifth stream of the key: %d", code)
	}
	fourth.CloseNow()
	third.CloseNow()
	waitFor(t, 5*time.Second, func() (string, bool) {
		conn, resp, err := websocket.Dial(sctx, base+"logs/stream?follow=false", &websocket.DialOptions{HTTPHeader: http.Header{httpx.HeaderAPIKey: {e.key}}})
		if err != nil {
			if resp != nil {
				return resp.Status, false
			}
			return err.Error(), false
		}
		conn.CloseNow()
		return "", true
	})

	// A revoked key's streams close (1008).
	revocable := e.newKey(e.orgID, e.userID, func(*store.APIKey) {})
	conns := []*websocket.Conn{dialStream(t, sctx, base+"events/stream?k8s=true", revocable), dialStream(t, sctx, base+"logs/stream", revocable)}
	k, err := e.store.GetAPIKeyByHash(ctx, apikey.Hash(revocable))
	must(t, err)
	must(t, e.store.RevokeAPIKey(ctx, e.orgID, k.ID, "test", time.Now()))
	for i, conn := range conns {
		for {
			_, _, err := conn.Read(sctx)
			if err == nil {
				continue
			}
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation {
				t.Fatalf("stream %d after its key was revoked: %v", i, err)
			}
			break
		}
	}
	follow.CloseNow()

	// Deleting the application ends its events stream normally, after Argo CD's
	// last events.
	if a := e.do(http.MethodDelete, "/api/v1/applications/hello-world", e.key, nil); a.Status != http.StatusAccepted {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	sawDeleted := false
	for {
		var f api.ApplicationEventFrame
		err := wsjson.Read(sctx, events, &f)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Fatalf("the events stream of a deleted application ended with %v", err)
			}
			break
		}
		sawDeleted = sawDeleted || f.Type == "Deleted"
	}
	if !sawDeleted {
		t.Errorf("no Deleted event before the stream closed")
	}
}
