package testargocd_test

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
)

// The installed CRD is Argo CD's real schema: a valid Application is stored, and one
// that breaks the schema (destination of the wrong type) is refused by the server.
// The reconciler syncs an automated Application's manifests into its namespace,
// reports Synced/Healthy, leaves a manual one OutOfSync until a sync operation, and
// on delete removes what it applied and then the finalizer.
func TestInstallApplicationCRD(t *testing.T) {
	kube := testkube.Start(t)
	testargocd.InstallApplicationCRD(t, kube.RESTConfig())
	client, err := dynamic.NewForConfig(kube.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	apps := client.Resource(testargocd.ApplicationsGVR).Namespace("default")
	ok := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": "ok"},
		"spec": map[string]any{"project": "default",
			"source":      map[string]any{"repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "1.0.0"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "web"}},
	}}
	if _, err := apps.Create(context.Background(), ok, metav1.CreateOptions{}); err != nil {
		t.Fatalf("valid Application: %v", err)
	}
	bad := ok.DeepCopy()
	bad.SetName("bad")
	bad.Object["spec"].(map[string]any)["destination"] = "not-an-object"
	if _, err := apps.Create(context.Background(), bad, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Fatalf("an Application against the schema: %v, want Invalid", err)
	}

	ctx := context.Background()
	argo := client.Resource(testargocd.ApplicationsGVR).Namespace("argocd")
	if _, err := client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx,
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "argocd"}}},
		metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r := testargocd.StartReconciler(t, kube.RESTConfig(), "argocd")
	cm := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "cfg"}, "data": map[string]any{"a": "b"}}
	app := func(name string, automated bool) *unstructured.Unstructured {
		policy := map[string]any{"syncOptions": []any{"CreateNamespace=true"}}
		if automated {
			policy["automated"] = map[string]any{"prune": true}
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
			"metadata": map[string]any{"name": name, "finalizers": []any{"resources-finalizer.argocd.argoproj.io"}},
			"spec": map[string]any{"project": "default", "syncPolicy": policy,
				"source":      map[string]any{"repoURL": "https://astro.example.com/charts", "chart": "astro-manifests", "targetRevision": "1.0.0", "helm": map[string]any{"valuesObject": map[string]any{"manifests": []any{cm}}}},
				"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": name}},
		}}
	}
	status := func(name string) (string, string) {
		u, err := argo.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "gone", err.Error()
		}
		s, _, _ := unstructured.NestedString(u.Object, "status", "sync", "status")
		h, _, _ := unstructured.NestedString(u.Object, "status", "health", "status")
		return s, h
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	configMaps := func(ns string) dynamic.ResourceInterface {
		return client.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(ns)
	}
	for _, a := range []*unstructured.Unstructured{app("auto", true), app("manual", false)} {
		if _, err := argo.Create(ctx, a, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor("auto Synced/Healthy", func() bool { s, h := status("auto"); return s == "Synced" && h == "Healthy" })
	if _, err := configMaps("auto").Get(ctx, "cfg", metav1.GetOptions{}); err != nil {
		t.Fatalf("the synced ConfigMap: %v", err)
	}
	waitFor("manual OutOfSync", func() bool { s, h := status("manual"); return s == "OutOfSync" && h == "Missing" })
	if _, err := configMaps("manual").Get(ctx, "cfg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a manual application was synced unasked: %v", err)
	}
	// A sync operation on the manual one: synced, its outcome reported (in the
	// shape the real schema requires), the operation cleared.
	u, err := argo.Get(ctx, "manual", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u.Object["operation"] = map[string]any{"sync": map[string]any{"prune": true}}
	if _, err := argo.Update(ctx, u, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("manual Synced by its operation", func() bool {
		u, err := argo.Get(ctx, "manual", metav1.GetOptions{})
		phase, _, _ := unstructured.NestedString(u.Object, "status", "operationState", "phase")
		return err == nil && phase == "Succeeded" && u.Object["operation"] == nil
	})
	if _, err := configMaps("manual").Get(ctx, "cfg", metav1.GetOptions{}); err != nil {
		t.Fatalf("the ConfigMap of the synced manual application: %v", err)
	}
	r.SetHealth("auto", "Degraded")
	waitFor("auto Degraded", func() bool { _, h := status("auto"); return h == "Degraded" })

	if err := argo.Delete(ctx, "auto", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("auto gone", func() bool { s, _ := status("auto"); return s == "gone" })
	if _, err := configMaps("auto").Get(ctx, "cfg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the cascade left the ConfigMap: %v", err)
	}
}
