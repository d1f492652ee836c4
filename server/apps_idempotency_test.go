package server_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/store"
)

// A deploy repeated with the same Idempotency-Key answers the first request's
// operation instead of starting a second (the first still runs here: no worker
// takes it, so a second start would be 409), also when both arrive at once; the
// same key with another request is 422 naming the header; another key is a new
// request (409 while the first runs). A dry run ignores the key.
func TestApplicationDeployIdempotencyKey(t *testing.T) {
	dev := testtemporal.Start(t)
	e := newEnv(t, dev.Client())
	ctx := context.Background()
	prod := store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-west-2", Status: store.ClusterReady}
	must(t, e.store.CreateClusterWithOperation(ctx, &prod, &store.Operation{ID: "prod.deploy", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: "prod.deploy"}))
	if a := e.do(http.MethodPost, "/api/v1/app-profiles", e.key, map[string]any{"profileName": "p", "clusterName": "prod"}); a.Status != http.StatusCreated {
		t.Fatalf("profile: %d %s", a.Status, a.Body)
	}
	app := func(name, tag string) map[string]any {
		return map[string]any{"name": name, "profileName": "p",
			"source": map[string]any{"type": "image", "image": map[string]any{"repository": "astropulse/latency", "tag": tag}}}
	}
	if a := e.do(http.MethodPost, "/api/v1/applications?dryRun=true", e.key, app("web", "v1"), "Idempotency-Key", "k1"); a.Status != http.StatusOK {
		t.Fatalf("dry run: %d %s", a.Status, a.Body)
	}
	first := e.do(http.MethodPost, "/api/v1/applications", e.key, app("web", "v1"), "Idempotency-Key", "k1")
	if first.Status != http.StatusAccepted {
		t.Fatalf("deploy: %d %s", first.Status, first.Body)
	}
	opID := e.data(first)["operationId"]
	again := e.do(http.MethodPost, "/api/v1/applications", e.key, app("web", "v1"), "Idempotency-Key", "k1")
	if d := e.data(again); again.Status != http.StatusAccepted || d["operationId"] != opID || d["appId"] != e.data(first)["appId"] || d["clusterName"] != "prod" {
		t.Fatalf("repeat: %d %s, want the first's operation %v", again.Status, again.Body, opID)
	}
	if a := e.do(http.MethodPost, "/api/v1/applications", e.key, app("web", "v2"), "Idempotency-Key", "k1"); a.Status != http.StatusUnprocessableEntity || a.Error(t).Details["header.Idempotency-Key"] == nil {
		t.Fatalf("the key with another request: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/applications", e.key, app("web", "v1"), "Idempotency-Key", "k2"); a.Status != http.StatusConflict {
		t.Fatalf("another key while the first runs: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/applications/web/spec", e.key, nil); e.data(a)["spec"].(map[string]any)["source"].(map[string]any)["image"].(map[string]any)["tag"] != "v1" {
		t.Fatalf("a refused request changed the spec: %s", a.Body)
	}

	// Two at once, a new application: one operation, both told it.
	var wg sync.WaitGroup
	answers := make([]answer, 2)
	for i := range answers {
		wg.Go(func() {
			answers[i] = e.do(http.MethodPost, "/api/v1/applications", e.key, app("api", "v1"), "Idempotency-Key", "k3")
		})
	}
	wg.Wait()
	for i, a := range answers {
		if a.Status != http.StatusAccepted || e.data(a)["operationId"] != e.data(answers[0])["operationId"] {
			t.Fatalf("concurrent repeat %d: %d %s", i, a.Status, a.Body)
		}
	}
}
