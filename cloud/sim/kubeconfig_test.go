package sim_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
)

// Without KubeconfigFile a cluster's kubeconfig names its endpoint; with it, every
// cluster gets the file's kubeconfig, read at each call (a restarted devkube's new
// one is issued), and a missing file is an error naming what should write it.
func TestKubeconfigFromFile(t *testing.T) {
	ctx := context.Background()
	ref := cloud.ClusterRef{Provider: "aws", ExternalID: "prod-cp", Endpoint: "https://prod.sim.example"}
	call := cloud.Call{Token: "t", Step: "kubeconfig"}
	p := sim.New(0)
	kc, err := p.Kubeconfig(ctx, call, ref)
	if err != nil || !strings.Contains(kc, "server: https://prod.sim.example") {
		t.Fatalf("default kubeconfig %q, %v", kc, err)
	}

	path := filepath.Join(t.TempDir(), "kubeconfig")
	p.KubeconfigFile = path
	if _, err := p.Kubeconfig(ctx, call, ref); err == nil || !strings.Contains(err.Error(), "devkube") {
		t.Fatalf("missing file: %v, want an error naming devkube", err)
	}
	for _, content := range []string{"apiVersion: v1\nkind: Config\n# first\n", "apiVersion: v1\nkind: Config\n# second\n"} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, r := range []cloud.ClusterRef{ref, {Provider: "gcp", ExternalID: "other", Endpoint: "https://other.sim.example"}} {
			if kc, err := p.Kubeconfig(ctx, call, r); err != nil || kc != content {
				t.Fatalf("kubeconfig of %s: %q, %v; want the file's %q", r.ExternalID, kc, err, content)
			}
		}
	}
}
