package argocd_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/apps/tiers"
	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
)

// One kube-apiserver with Argo CD's real Application CRD for the whole package.
func TestApplicationsOnARealAPIServer(t *testing.T) {
	kube := testkube.Start(t)
	cfg := kube.RESTConfig()
	testargocd.InstallApplicationCRD(t, cfg)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	typed := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	for _, ns := range []string{"argocd", "hello"} {
		if _, err := typed.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))
	w := &argocd.Writer{Client: dyn, ChartRepoURL: "https://astro.example.com/api/v1/charts", Poll: 20 * time.Millisecond}
	apps := dyn.Resource(argocd.GVR).Namespace("argocd")
	read := func(t *testing.T, name string) *unstructured.Unstructured {
		t.Helper()
		u, err := apps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	str := func(u *unstructured.Unstructured, fields ...string) string {
		s, _, _ := unstructured.NestedString(u.Object, fields...)
		return s
	}

	t.Run("image", func(t *testing.T) {
		standard, _ := tiers.Get(tiers.Standard)
		objs, err := argocd.RenderImage(argocd.Workload{Name: "hello-world", Namespace: "hello", Tier: standard, Host: "hello.example.com",
			Image:     argocd.ImageSource{Registry: "docker.io", Repository: "astropulse/latency", Tag: "v1.0.0"},
			Resources: argocd.Resources{CPUMin: "100m", MemoryMin: "64Mi", MemoryMax: "128Mi"}})
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, o := range objs {
			kinds = append(kinds, o["kind"].(string))
			// What the platform renders is what a real API server accepts.
			u := &unstructured.Unstructured{Object: o}
			m, err := mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dyn.Resource(m.Resource).Namespace("hello").Create(ctx, u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				t.Fatalf("rendered %s refused: %v", u.GetKind(), err)
			}
		}
		if !slices.Equal(kinds, []string{"Deployment", "Service", "PodDisruptionBudget", "Ingress"}) {
			t.Fatalf("kinds %v", kinds)
		}
		dep := &unstructured.Unstructured{Object: objs[0]}
		replicas, _, _ := unstructured.NestedInt64(dep.Object, "spec", "replicas")
		containers, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
		spreads, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "topologySpreadConstraints")
		if replicas != 2 || len(spreads) != 1 || containers[0].(map[string]any)["image"] != "docker.io/astropulse/latency:v1.0.0" {
			t.Fatalf("deployment %v", dep.Object)
		}

		app := argocd.App{Name: "hello-world", OrgID: "org-1", AppID: "app-1", Namespace: "hello",
			Source: argocd.Source{Type: argocd.SourceImage, Image: &argocd.ImageSource{Repository: "astropulse/latency"}}, Manifests: objs}
		if _, err := w.Apply(ctx, app); err != nil {
			t.Fatal(err)
		}
		u := read(t, "hello-world")
		manifests, _, _ := unstructured.NestedSlice(u.Object, "spec", "source", "helm", "valuesObject", "manifests")
		auto, _, _ := unstructured.NestedMap(u.Object, "spec", "syncPolicy", "automated")
		if str(u, "spec", "source", "chart") != argocd.ManifestsChart || str(u, "spec", "source", "repoURL") != w.ChartRepoURL ||
			str(u, "spec", "destination", "namespace") != "hello" || str(u, "spec", "destination", "server") != argocd.InClusterServer ||
			len(manifests) != 4 || auto["prune"] != true || !slices.Contains(u.GetFinalizers(), argocd.ResourcesFinalizer) ||
			u.GetLabels()[argocd.LabelAppID] != "app-1" {
			t.Fatalf("application %v", u.Object)
		}

		// Update: the spec is replaced, what others set is kept.
		u.SetAnnotations(map[string]string{"team": "web"})
		if err := unstructured.SetNestedField(u.Object, map[string]any{"sync": map[string]any{"status": "Synced"}, "health": map[string]any{"status": "Healthy"}}, "status"); err != nil {
			t.Fatal(err)
		}
		if _, err := apps.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		app.Manifests = objs[:2]
		app.ManualSync = true
		if _, err := w.Apply(ctx, app); err != nil {
			t.Fatal(err)
		}
		u2 := read(t, "hello-world")
		manifests, _, _ = unstructured.NestedSlice(u2.Object, "spec", "source", "helm", "valuesObject", "manifests")
		_, automated, _ := unstructured.NestedMap(u2.Object, "spec", "syncPolicy", "automated")
		if u2.GetUID() != u.GetUID() || len(manifests) != 2 || automated || u2.GetAnnotations()["team"] != "web" {
			t.Fatalf("updated application %v", u2.Object)
		}
		if st, err := w.Get(ctx, "hello-world"); err != nil || st.Sync != argocd.SyncSynced || st.Health != argocd.HealthHealthy {
			t.Fatalf("status %+v %v", st, err)
		}
	})

	t.Run("helm", func(t *testing.T) {
		app := argocd.App{Name: "podinfo", Namespace: "podinfo", Source: argocd.Source{Type: argocd.SourceHelm, Helm: &argocd.HelmSource{
			RepoURL: "https://stefanprodan.github.io/podinfo", Chart: "podinfo", Version: "6.7.1",
			Values: map[string]any{"replicaCount": 2, "ui": map[string]any{"message": "hi"}}}}}
		if _, err := w.Apply(ctx, app); err != nil {
			t.Fatal(err)
		}
		u := read(t, "podinfo")
		count, _, _ := unstructured.NestedInt64(u.Object, "spec", "source", "helm", "valuesObject", "replicaCount")
		if str(u, "spec", "source", "chart") != "podinfo" || str(u, "spec", "source", "targetRevision") != "6.7.1" ||
			str(u, "spec", "source", "helm", "valuesObject", "ui", "message") != "hi" || count != 2 {
			t.Fatalf("helm application %v", u.Object)
		}
	})

	t.Run("repository and yaml", func(t *testing.T) {
		if _, err := w.Apply(ctx, argocd.App{Name: "guestbook", Namespace: "guestbook", Source: argocd.Source{Type: argocd.SourceRepository,
			Repository: &argocd.RepositorySource{RepoURL: "https://github.com/argoproj/argocd-example-apps.git"}}}); err != nil {
			t.Fatal(err)
		}
		u := read(t, "guestbook")
		if str(u, "spec", "source", "targetRevision") != "HEAD" || str(u, "spec", "source", "path") != "." {
			t.Fatalf("repository application %v", u.Object)
		}
		objs, err := argocd.ParseManifests("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: b\n---\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc\nspec:\n  ports: [{port: 80}]\n")
		if err != nil || len(objs) != 2 {
			t.Fatalf("parse: %v %v", objs, err)
		}
		if _, err := w.Apply(ctx, argocd.App{Name: "inline", Namespace: "inline", Source: argocd.Source{Type: argocd.SourceYAML}, Manifests: objs}); err != nil {
			t.Fatal(err)
		}
		if u := read(t, "inline"); str(u, "spec", "source", "chart") != argocd.ManifestsChart {
			t.Fatalf("yaml application %v", u.Object)
		}
		for src, want := range map[string]string{"kind: ConfigMap\nmetadata: {name: x}": "apiVersion", "apiVersion: v1\nkind: ConfigMap": "metadata.name", "": "no manifests", "a: [": "document 1"} {
			if _, err := argocd.ParseManifests(src); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ParseManifests(%q) = %v, want %q", src, err, want)
			}
		}
		if _, err := w.Apply(ctx, argocd.App{Name: "nochart", Namespace: "x", Source: argocd.Source{Type: argocd.SourceImage}}); err == nil {
			t.Fatal("an image source without rendered manifests was written")
		}
	})

	t.Run("resync", func(t *testing.T) {
		if err := w.Resync(ctx, "podinfo", true); err != nil {
			t.Fatal(err)
		}
		u := read(t, "podinfo")
		force, _, _ := unstructured.NestedBool(u.Object, "operation", "sync", "syncStrategy", "apply", "force")
		if u.GetAnnotations()[argocd.RefreshAnnotation] != "hard" || !force {
			t.Fatalf("resync %v", u.Object)
		}
		if err := w.Resync(ctx, "nope", false); !errors.Is(err, argocd.ErrNotFound) {
			t.Fatalf("resync of none: %v", err)
		}
	})

	t.Run("delete waits for the cascade", func(t *testing.T) {
		// Without a controller the finalizer holds the Application: Delete waits.
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		// It ends when its context does: client-go's rate limiter may say so first,
		// in its own words (seen once under load).
		if err := w.Delete(short, "guestbook"); err == nil || !errors.Is(short.Err(), context.DeadlineExceeded) {
			t.Fatalf("delete without a controller: %v", err)
		}
		if st, err := w.Get(ctx, "guestbook"); err != nil || !st.Deleting {
			t.Fatalf("after delete: %+v %v", st, err)
		}
		// Playing Argo CD's controller: once the cascade is done it drops the finalizer.
		go func() {
			u, err := apps.Get(ctx, "podinfo", metav1.GetOptions{})
			for err == nil && u.GetDeletionTimestamp() == nil {
				time.Sleep(20 * time.Millisecond)
				u, err = apps.Get(ctx, "podinfo", metav1.GetOptions{})
			}
			if err == nil {
				u.SetFinalizers(nil)
				_, _ = apps.Update(ctx, u, metav1.UpdateOptions{})
			}
		}()
		if err := w.Delete(ctx, "podinfo"); err != nil {
			t.Fatal(err)
		}
		if _, err := apps.Get(ctx, "podinfo", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("podinfo after delete: %v", err)
		}
		if err := w.Delete(ctx, "podinfo"); err != nil {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := w.Apply(ctx, argocd.App{Name: "guestbook", Namespace: "guestbook", Source: argocd.Source{Type: argocd.SourceRepository,
			Repository: &argocd.RepositorySource{RepoURL: "https://example.com/r.git"}}}); err == nil || !strings.Contains(err.Error(), "being deleted") {
			t.Fatalf("apply over a deleting application: %v", err)
		}
	})
}
