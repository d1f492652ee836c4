// Package testkube gives tests a real Kubernetes API server: etcd and kube-apiserver
// (internal/devkube), built from Go modules into bin/ by `make tools` (see hack/kube),
// started on loopback ports for one test and stopped when it ends.
//
// There is no controller-manager, scheduler or kubelet: objects are stored, validated,
// defaulted and admitted exactly as a cluster would, but nothing reconciles them (no
// pods run, no `default` ServiceAccount appears in a new namespace, a Job never
// finishes). Clients authenticate with a bearer token of a system:masters user;
// RBAC is on, so tokens of other users (Options.Users) are authorized by the roles
// the test binds. Kubelets' serving certificates are verified against
// Cluster.KubeletCACert.
package testkube

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/astropulse/astroplane/internal/devkube"
	"github.com/astropulse/astroplane/internal/testreq"
)

// BinDirEnv names a directory holding etcd and kube-apiserver, instead of bin/ in
// the repository above the working directory.
const BinDirEnv = devkube.BinDirEnv

// Options adjust the API server a test starts.
type Options = devkube.Options

// Cluster is a running etcd and kube-apiserver.
type Cluster = devkube.Cluster

// Start starts etcd and kube-apiserver for the test and stops them when it ends
// (kube-apiserver first). It returns once the server's /readyz answers, in about
// 3–5 seconds. Without the binaries the test fails, or skips under testreq.SkipEnv.
func Start(t testing.TB) *Cluster {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Cluster {
	t.Helper()
	RequireBinaries(t)
	dir, err := os.MkdirTemp("", "astro-kube-")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	c, err := devkube.Start(t.Context(), BinDir(), dir, opts)
	if err != nil {
		t.Fatalf("start kube-apiserver: %v (logs in %s)", err, dir)
	}
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Logf("etcd and kube-apiserver logs kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	t.Logf("etcd and kube-apiserver ready at %s in %s", c.URL, time.Since(began).Round(time.Millisecond))
	return c
}

// RequireBinaries returns the paths of etcd and kube-apiserver; without them the test
// fails, or skips under testreq.SkipEnv.
func RequireBinaries(t testing.TB) (etcd, apiserver string) {
	t.Helper()
	etcd, apiserver, err := devkube.Binaries(BinDir())
	if err != nil {
		testreq.Missing(t, err.Error(),
			fmt.Sprintf("run `make tools` (builds etcd and kube-apiserver into bin/ from hack/kube) or set %s", BinDirEnv))
	}
	return etcd, apiserver
}

// BinDir is where the binaries are looked for: BinDirEnv, or bin/ in the directory
// of the go.mod above the working directory.
func BinDir() string { return devkube.BinDir() }
