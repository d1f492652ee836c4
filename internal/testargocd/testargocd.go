// Package testargocd installs Argo CD's real Application CustomResourceDefinition
// into a test's Kubernetes API server (internal/testkube). The definition is not
// copied into this repository: it is read from the argo-cd module's own manifests in
// the Go module cache, downloaded there with `go mod download` (the module's zip
// only, no dependency graph) when it is missing. The project never imports Argo CD
// (see ../shared/deps.md): Applications are written as unstructured objects.
package testargocd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/astropulse/astroplane/internal/testreq"
)

// Module and Version are the argo-cd module whose CRDs tests install: the release
// the platform targets.
const (
	Module  = "github.com/argoproj/argo-cd/v2"
	Version = "v2.14.21"
)

// ApplicationCRDPath is the Application CRD's path inside the module.
const ApplicationCRDPath = "manifests/crds/application-crd.yaml"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ApplicationsGVR is the resource Argo CD Applications are served as.
var ApplicationsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// ApplicationCRD returns the Application CRD's YAML from the module cache, downloading
// the module first when it is not there. Without it (no module proxy, no go tool)
// the test fails through testreq.Missing.
func ApplicationCRD(t testing.TB) []byte {
	t.Helper()
	dir, err := moduleDir()
	if err != nil {
		testreq.Missing(t, fmt.Sprintf("Argo CD's CRDs (%s@%s): %v", Module, Version, err),
			fmt.Sprintf("run `go mod download %s@%s` with a module proxy reachable", Module, Version))
	}
	raw, err := os.ReadFile(filepath.Join(dir, ApplicationCRDPath))
	if err != nil {
		testreq.Missing(t, fmt.Sprintf("Argo CD's Application CRD: %v", err),
			fmt.Sprintf("run `go mod download %s@%s` with a module proxy reachable", Module, Version))
	}
	return raw
}

// moduleDir is the module's directory in the module cache: where `go env GOMODCACHE`
// says it is, else what `go mod download -json` answers (downloading it).
func moduleDir() (string, error) {
	if out, err := exec.Command("go", "env", "GOMODCACHE").Output(); err == nil {
		dir := filepath.Join(strings.TrimSpace(string(out)), Module+"@"+Version)
		if _, err := os.Stat(filepath.Join(dir, ApplicationCRDPath)); err == nil {
			return dir, nil
		}
	}
	// Run outside any module, so the project's go.mod is neither read nor changed.
	cmd := exec.Command("go", "mod", "download", "-json", Module+"@"+Version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", errors.New(info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if info.Dir == "" {
		return "", errors.New("go mod download named no directory")
	}
	return info.Dir, nil
}

// InstallApplicationCRD installs the Application CRD into the API server cfg reaches
// and returns once Applications can be created (the CRD is Established and served).
func InstallApplicationCRD(t testing.TB, cfg *rest.Config) {
	t.Helper()
	var crd unstructured.Unstructured
	if err := yaml.Unmarshal(ApplicationCRD(t), &crd.Object); err != nil {
		t.Fatalf("parse the Application CRD: %v", err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.Resource(crdGVR).Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("install the Application CRD: %v", err)
	}
	// A new CRD takes a moment before its resource is served: wait until a list of
	// Applications answers.
	for {
		_, err := client.Resource(ApplicationsGVR).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the Application CRD is not served: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
