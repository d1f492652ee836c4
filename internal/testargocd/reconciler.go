package testargocd

import (
	"context"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/astropulse/astroplane/internal/argosim"
)

// Reconciler plays Argo CD's application controller in tests (argosim.Reconciler):
// health is Healthy once the objects are stored, unless SetHealth says otherwise.
type Reconciler = argosim.Reconciler

// StartReconciler runs a Reconciler over the Applications in namespace of the API
// server cfg reaches, until the test ends.
func StartReconciler(t testing.TB, cfg *rest.Config, namespace string) *Reconciler {
	t.Helper()
	r, err := argosim.NewReconciler(cfg, namespace)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, 0, func(err error) { t.Logf("test reconciler: %v", err) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}
