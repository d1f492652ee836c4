package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	cloudpkg "github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/workflows"
)

// leakyEnv is liveEnv on a simulated cloud that cannot remove the network of a
// cluster named leaky…: a deploy's rollback leaves it behind.
func leakyEnv(t *testing.T) *env {
	t.Helper()
	dev := testtemporal.Start(t)
	tc := dev.Client()
	e := newEnv(t, tc)
	e.startWorker(tc, cloudpkg.RegistryOf(leakyCloud{sim.New(0)}), worker.Options{})
	return e
}

type leakyCloud struct{ activities.Provider }

func (l leakyCloud) DeleteNetwork(ctx context.Context, c activities.Call, net activities.NetworkRef) error {
	if c.Step == "rollback-"+workflows.StepNetwork && strings.Contains(c.Token, ".leaky") {
		return temporal.NewNonRetryableApplicationError("network is still in use (simulated)", activities.ErrTypeInjected, nil)
	}
	return l.Provider.DeleteNetwork(ctx, c, net)
}

// TestProgressShowsWhatARollbackLeftBehind: a deploy whose rollback cannot remove its
// network lists it in progress's leftBehind (step, resource, error).
func TestProgressShowsWhatARollbackLeftBehind(t *testing.T) {
	e := leakyEnv(t)
	opID := deploy(t, e, withTags(eksManifest("leaky"), map[string]any{sim.TagHoldStep: workflows.StepNodeGroups}))
	waitFor(t, 20*time.Second, func() (any, bool) {
		p := e.progress(t, "leaky", opID)
		return p["phase"], p["phase"] == workflows.StepNodeGroups
	})
	if a := e.do(http.MethodPost, "/api/v1/clusters/leaky/cancel", e.key, nil); a.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", a.Status, a.Body)
	}
	p := waitFor(t, 20*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, "leaky", opID)
		return p, p["status"] == "CANCELLED"
	})
	left, _ := p["leftBehind"].([]any)
	if len(left) != 1 {
		t.Fatalf("leftBehind %v in %v", p["leftBehind"], p)
	}
	l := left[0].(map[string]any)
	if l["step"] != "rollback-network" || !strings.HasPrefix(l["resource"].(string), "network ") || !strings.Contains(l["error"].(string), "still in use") {
		t.Fatalf("leftBehind entry %v", l)
	}
	recordHistory(t, e.tc, opID, "deploy-cancelled-left-behind")
}
