package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
)

// eksTokenCloud is the simulated cloud whose kubeconfigs carry an EKS token: 15
// minutes, said in the file's first line as cloud/aws writes it.
type eksTokenCloud struct{ tokenCloud }

func (p eksTokenCloud) Kubeconfig(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) (string, error) {
	kc, err := p.tokenCloud.Kubeconfig(ctx, c, ref)
	header := "# EKS cluster " + ref.ExternalID + "; the token expires at " + time.Now().Add(15*time.Minute).UTC().Format(time.RFC3339) + "\n"
	return header + kc, err
}

// A kubeconfig grant of two hours on EKS, whose token lasts 15 minutes, says so:
// it expires with the token, and the answer explains why and what to do.
func TestEKSKubeconfigStatesItsRealLifetime(t *testing.T) {
	dev := testtemporal.Start(t)
	tc := dev.Client()
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	e := newEnvWith(t, tc, server.Options{Box: box})
	e.startWorker(tc, cloud.RegistryOf(eksTokenCloud{tokenCloud{Provider: sim.New(0), token: "k8s-aws-v1.dGVzdA"}}), worker.Options{})
	if a := e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("eks")); a.Status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", a.Status, a.Body)
	}
	e.waitStatus(t, "eks", "READY")

	a := e.do(http.MethodPost, "/api/v1/clusters/eks/kubeconfig", e.key,
		map[string]any{"clusterName": "eks", "credentials": map[string]any{"type": "dynamic"}, "duration": "2h"})
	if a.Status != http.StatusOK {
		t.Fatalf("generate: %d %s", a.Status, a.Body)
	}
	items, _ := a.Envelope(t).Data.([]any)
	if len(items) != 1 {
		t.Fatalf("answer: %s", a.Body)
	}
	exp, err := time.Parse(time.RFC3339, items[0].(map[string]any)["expiresAt"].(string))
	must(t, err)
	if d := time.Until(exp); d > 16*time.Minute || d < 13*time.Minute {
		t.Errorf("a 2h grant of a 15-minute token expires in %s", d.Round(time.Second))
	}
	if msg := a.Envelope(t).Message; !strings.Contains(msg, "shorter than the 2h0m0s asked") || !strings.Contains(msg, "EKS tokens") {
		t.Errorf("the answer does not say the token's real lifetime: %q", msg)
	}
}
