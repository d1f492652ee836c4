package testargocd_test

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
)

// The installed CRD is Argo CD's real schema: a valid Application is stored, and one
// that breaks the schema (destination of the wrong type) is refused by the server.
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
}
