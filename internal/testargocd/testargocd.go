// Package testargocd installs Argo CD's real Application CustomResourceDefinition
// into a test's Kubernetes API server (internal/testkube) and runs internal/argosim's
// reconciler in Argo CD's place for the test. The definition is read from the argo-cd
// module's own manifests in the Go module cache (see internal/argosim).
package testargocd

import (
	"errors"
	"fmt"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/astropulse/astroplane/internal/argosim"
	"github.com/astropulse/astroplane/internal/testreq"
)

// Module and Version are the argo-cd module whose CRDs tests install: the release
// the platform targets.
const (
	Module  = argosim.Module
	Version = argosim.Version
)

// ApplicationCRDPath is the Application CRD's path inside the module.
const ApplicationCRDPath = argosim.ApplicationCRDPath

// ApplicationsGVR is the resource Argo CD Applications are served as.
var ApplicationsGVR = argosim.ApplicationsGVR

// ApplicationCRD returns the Application CRD's YAML from the module cache, downloading
// the module first when it is not there. Without it (no module proxy, no go tool)
// the test fails through testreq.Missing.
func ApplicationCRD(t testing.TB) []byte {
	t.Helper()
	raw, err := argosim.ApplicationCRD(t.Context())
	if err != nil {
		testreq.Missing(t, err.Error(), fmt.Sprintf("run `go mod download %s@%s` with a module proxy reachable", Module, Version))
	}
	return raw
}

// InstallApplicationCRD installs the Application CRD into the API server cfg reaches
// and returns once Applications can be created (the CRD is Established and served).
func InstallApplicationCRD(t testing.TB, cfg *rest.Config) {
	t.Helper()
	err := argosim.InstallApplicationCRD(t.Context(), cfg)
	if errors.Is(err, argosim.ErrNoCRD) {
		testreq.Missing(t, err.Error(), fmt.Sprintf("run `go mod download %s@%s` with a module proxy reachable", Module, Version))
	}
	if err != nil {
		t.Fatal(err)
	}
}
