// Package argosim plays Argo CD on a Kubernetes API server that has no Argo CD: it
// installs Argo CD's real Application CustomResourceDefinition, and its Reconciler
// does what Argo CD's application controller does with the platform's Applications,
// acting only through the Kubernetes API, so a real Argo CD can take its place
// unchanged. Workloads plays the rest of a cluster for what it applies: Deployments
// become available, with Pods bound to a node. Tests use it through
// internal/testargocd; `make run` runs it in cmd/devkube for the simulated cloud.
//
// The CRD is not copied into this repository: it is read from the argo-cd module's
// own manifests in the Go module cache, downloaded there with `go mod download` (the
// module's zip only, no dependency graph) when it is missing. The project never
// imports Argo CD (see ../shared/deps.md): Applications are unstructured objects.
package argosim

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
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// Module and Version are the argo-cd module whose CRD is installed: the release the
// platform targets.
const (
	Module  = "github.com/argoproj/argo-cd/v2"
	Version = "v2.14.21"
)

// ApplicationCRDPath is the Application CRD's path inside the module.
const ApplicationCRDPath = "manifests/crds/application-crd.yaml"

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// ApplicationsGVR is the resource Argo CD Applications are served as.
var ApplicationsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// ErrNoCRD wraps the reason the Application CRD could not be read (no module proxy,
// no go tool).
var ErrNoCRD = errors.New("argo CD's Application CRD is not available")

// ApplicationCRD returns the Application CRD's YAML from the module cache, downloading
// the module first when it is not there.
func ApplicationCRD(ctx context.Context) ([]byte, error) {
	dir, err := moduleDir(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w (%s@%s: %w); run `go mod download %s@%s` with a module proxy reachable", ErrNoCRD, Module, Version, err, Module, Version)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ApplicationCRDPath)) //nolint:gosec // G304: a fixed path inside the module cache
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCRD, err)
	}
	return raw, nil
}

// moduleDir is the module's directory in the module cache: where `go env GOMODCACHE`
// says it is, else what `go mod download -json` answers (downloading it).
func moduleDir(ctx context.Context) (string, error) {
	if out, err := exec.CommandContext(ctx, "go", "env", "GOMODCACHE").Output(); err == nil {
		dir := filepath.Join(strings.TrimSpace(string(out)), Module+"@"+Version)
		if _, err := os.Stat(filepath.Join(dir, ApplicationCRDPath)); err == nil {
			return dir, nil
		}
	}
	// Run outside any module, so the project's go.mod is neither read nor changed.
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", Module+"@"+Version)
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
// (an installed one is left as it is) and returns once Applications can be created
// (the CRD is Established and served), or after 30 seconds with an error.
func InstallApplicationCRD(ctx context.Context, cfg *rest.Config) error {
	raw, err := ApplicationCRD(ctx)
	if err != nil {
		return err
	}
	var crd unstructured.Unstructured
	if err := yaml.Unmarshal(raw, &crd.Object); err != nil {
		return fmt.Errorf("parse the Application CRD: %w", err)
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := client.Resource(crdGVR).Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("install the Application CRD: %w", err)
	}
	// A new CRD takes a moment before its resource is served: wait until a list of
	// Applications answers.
	for {
		_, err := client.Resource(ApplicationsGVR).Namespace("default").List(ctx, metav1.ListOptions{Limit: 1})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the Application CRD is not served: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
