package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// TestSchemaAndCrossFieldFaultsInOneAnswer: a body the schema refuses still gets the
// rules beyond the schema (region of the provider, account format, node-group sizes),
// all in one 400, as the README promises; a known machine type is not refused along
// the way.
func TestSchemaAndCrossFieldFaultsInOneAnswer(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name   string
		body   func() any
		want   []string
		absent []string
	}{
		{"manifest", func() any {
			m := eksManifest("prod")
			s := m["spec"].(map[string]any)
			s["colour"] = "blue"         // schema: unknown field
			s["region"] = "mars-north-1" // rule: not a region of aws
			ng := s["clusterSpec"].(map[string]any)["dataPlane"].(map[string]any)["nodeGroups"].([]any)[0].(map[string]any)
			ng["instanceType"] = "reserved" // schema: enum
			return m
		}, []string{"spec.colour", "spec.clusterSpec.dataPlane.nodeGroups.0.instanceType", "spec.region"}, nil},
		{"sizes and machine types", func() any {
			m := eksManifest("prod")
			s := m["spec"].(map[string]any)
			s["colour"] = "blue" // schema: unknown field
			ng := s["clusterSpec"].(map[string]any)["dataPlane"].(map[string]any)["nodeGroups"].([]any)[0].(map[string]any)
			ng["minNode"], ng["maxNode"] = 5, 2 // rule: minNode ≤ maxNode
			return m
		}, []string{"spec.colour", "spec.clusterSpec.dataPlane.nodeGroups.0.minNode"},
			[]string{"spec.clusterSpec.dataPlane.nodeGroups.0.machineTypes", "spec.clusterSpec.dataPlane.nodeGroups.0.machineTypes.0", "spec.region"}},
		{"legacy flat", func() any {
			s := eksManifest("prod")["spec"].(map[string]any)
			s["colour"] = "blue"
			s["region"] = "mars-north-1"
			return s
		}, []string{"colour", "region"}, nil},
		{"a wrongly typed field is reported once, by the schema", func() any {
			m := eksManifest("prod")
			s := m["spec"].(map[string]any)
			s["region"] = 42
			s["provider"] = "gcp" // rule: eks does not run on gcp
			return m
		}, []string{"spec.region", "spec.provisioner.type"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.do(http.MethodPost, dryRunDeploy, e.key, tc.body())
			if a.Status != http.StatusBadRequest {
				t.Fatalf("status %d %s", a.Status, a.Body)
			}
			env := a.Error(t)
			for _, f := range tc.want {
				if _, ok := env.Details[f]; !ok {
					t.Errorf("details lack %q: %s", f, a.Body)
				}
			}
			for _, f := range tc.absent {
				if v, ok := env.Details[f]; ok {
					t.Errorf("details name %q (%v): %s", f, v, a.Body)
				}
			}
			if tc.name == "a wrongly typed field is reported once, by the schema" {
				if msg, _ := env.Details["spec.region"].(string); strings.Contains(msg, "required") {
					t.Errorf("spec.region reported as missing rather than mistyped: %q", msg)
				}
			}
		})
	}
}

// TestUpdateSchemaAndRuleFaultsInOneAnswer: an update body with a schema fault still
// gets the update's rules (provider-specific settings on the wrong provider).
func TestUpdateSchemaAndRuleFaultsInOneAnswer(t *testing.T) {
	e := newEnv(t, nil)
	seedReadyCluster(t, e, "prod", nil)
	a := e.do(http.MethodPut, "/api/v1/clusters/prod", e.key, map[string]any{
		"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate",
		"spec": map[string]any{"colour": "blue", "gke": map[string]any{"releaseChannel": "RAPID"}},
	})
	if a.Status != http.StatusBadRequest {
		t.Fatalf("status %d %s", a.Status, a.Body)
	}
	env := a.Error(t)
	for _, f := range []string{"spec.colour", "spec.gke"} {
		if _, ok := env.Details[f]; !ok {
			t.Errorf("details lack %q: %s", f, a.Body)
		}
	}
}

// TestUnknownQueryParametersAreRefused: a query parameter the operation does not take
// is a 400 naming it, like an unknown body field, and the known ones still pass.
func TestUnknownQueryParametersAreRefused(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		method, path string
		body         any
		unknown      []string
	}{
		{http.MethodGet, "/api/v1/clusters?lmit=5", nil, []string{"query.lmit"}},
		{http.MethodPost, "/api/v1/clusters?dryrun=true", eksManifest("prod"), []string{"query.dryrun"}},
		{http.MethodGet, "/api/v1/notifications/topics?verbose=1&x=2", nil, []string{"query.verbose", "query.x"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			a := e.do(tc.method, tc.path, e.key, tc.body)
			if a.Status != http.StatusBadRequest {
				t.Fatalf("status %d %s", a.Status, a.Body)
			}
			env := a.Error(t)
			if env.Code != httpx.CodeValidationFailed {
				t.Fatalf("error_code %q", env.Code)
			}
			for _, f := range tc.unknown {
				msg, _ := env.Details[f].(string)
				if !strings.Contains(msg, "unknown") {
					t.Errorf("details[%q] = %q, want it named unknown: %s", f, msg, a.Body)
				}
			}
		})
	}
	// Known parameters pass.
	if a := e.do(http.MethodPost, dryRunDeploy, e.key, eksManifest("prod")); a.Status != http.StatusOK {
		t.Fatalf("dry run with its own parameter: %d %s", a.Status, a.Body)
	}
}

// TestOrganizationHeaderTakesIDOrName: X-Astro-Organization-ID names the key's
// organization by ID or by name; another organization is a 403 saying which
// organization the key belongs to and what was asked.
func TestOrganizationHeaderTakesIDOrName(t *testing.T) {
	e := newEnv(t, nil)
	otherID, _, _ := e.newOrg("globex", store.RoleAdmin)
	for _, org := range []string{e.orgID, "acme"} {
		if a := e.do(http.MethodGet, "/api/v1/notifications/subscriptions", e.key, nil, "X-Astro-Organization-ID", org); a.Status != http.StatusOK {
			t.Fatalf("header %q: %d %s", org, a.Status, a.Body)
		}
	}
	for _, asked := range []string{otherID, "globex", "no-such-org"} {
		a := e.do(http.MethodGet, "/api/v1/notifications/subscriptions", e.key, nil, "X-Astro-Organization-ID", asked)
		if a.Status != http.StatusForbidden {
			t.Fatalf("header %q: %d %s, want 403", asked, a.Status, a.Body)
		}
		env := a.Error(t)
		if !strings.Contains(env.Error, `"acme"`) || !strings.Contains(env.Error, asked) {
			t.Errorf("header %q: message %q does not name the key's organization and what was asked", asked, env.Error)
		}
		if env.Details["keyOrganization"] != "acme" || env.Details["keyOrganizationId"] != e.orgID || env.Details["header.X-Astro-Organization-ID"] == nil {
			t.Errorf("header %q: details %v", asked, env.Details)
		}
	}
}

// TestFaultTagsNameStepsOfTheOperation: a fault tag naming a step the operation does
// not have is a 400 listing the valid ones — deploy steps (and the delete's, since
// the tags stay on the cluster), or the update's planned steps.
func TestFaultTagsNameStepsOfTheOperation(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		tag, step string
		ok        bool
	}{
		{"astro-sim-fail-step", "node-groups", true},
		{"astro-sim-hold-step", "delete-control-plane", true},
		{"astro-sim-flaky-step", "nodegroups", false},
		{"astro-sim-fail-step", "1-control-plane-upgrade-1.32", false},
	} {
		a := e.do(http.MethodPost, dryRunDeploy, e.key, withTags(eksManifest("prod"), map[string]any{tc.tag: tc.step}))
		if tc.ok {
			if a.Status != http.StatusOK {
				t.Errorf("deploy %s=%s: %d %s", tc.tag, tc.step, a.Status, a.Body)
			}
			continue
		}
		if a.Status != http.StatusBadRequest {
			t.Fatalf("deploy %s=%s: %d %s, want 400", tc.tag, tc.step, a.Status, a.Body)
		}
		msg, _ := a.Error(t).Details["spec.tags."+tc.tag].(string)
		for _, want := range []string{tc.step, "network", "control-plane", "wait-active", "node-groups", "addons", "kubeconfig", "delete-network"} {
			if !strings.Contains(msg, want) {
				t.Errorf("deploy %s=%s: message %q lacks %q", tc.tag, tc.step, msg, want)
			}
		}
	}

	seedReadyCluster(t, e, "prod", nil)
	update := func(tags map[string]any) answer {
		return e.do(http.MethodPut, "/api/v1/clusters/prod", e.key, map[string]any{
			"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate",
			"spec": map[string]any{"kubernetesVersion": "1.32", "tags": tags},
		})
	}
	a := update(map[string]any{"astro-sim-fail-step": "node-groups"})
	if a.Status != http.StatusBadRequest {
		t.Fatalf("update naming a deploy step: %d %s, want 400", a.Status, a.Body)
	}
	msg, _ := a.Error(t).Details["spec.tags.astro-sim-fail-step"].(string)
	for _, want := range []string{"node-groups", "1-control-plane-upgrade-1.32", "tags-update"} {
		if !strings.Contains(msg, want) {
			t.Errorf("update: message %q lacks %q", msg, want)
		}
	}
	// A planned step is accepted (the answer is 503 here: no Temporal behind this server).
	if a := update(map[string]any{"astro-sim-fail-step": "1-control-plane-upgrade-1.32"}); a.Status == http.StatusBadRequest {
		t.Fatalf("update naming its own step: %d %s", a.Status, a.Body)
	}
}

// seedReadyCluster records a READY EKS cluster on 1.31 directly in the store.
func seedReadyCluster(t *testing.T, e *env, name string, tags map[string]string) {
	t.Helper()
	cs := activities.ClusterSpec{Name: name, Provider: "aws", ProvisionerType: "eks", Region: "us-east-1", KubernetesVersion: "1.31",
		Tags: tags, NodeGroups: []activities.NodeGroupSpec{{Name: "default-pool", MinNode: 1, MaxNode: 3, MachineTypes: []string{"t3.medium"}, Version: "1.31"}}}
	state, err := json.Marshal(cs)
	must(t, err)
	cl := &store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: name, Provider: "aws", ProvisionerType: "eks", Region: "us-east-1",
		KubernetesVersion: "1.31", Status: store.ClusterReady, State: state}
	op := &store.Operation{ID: "acme." + name + ".deploy.1", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: "acme." + name + ".deploy.1"}
	must(t, e.store.CreateClusterWithOperation(context.Background(), cl, op))
}

// TestUpdateFaultTagActsOnThatUpdate: on a dev server with the simulated cloud, an
// update whose manifest brings astro-sim-fail-step for its own first step fails
// there; the cluster stays READY on its version.
func TestUpdateFaultTagActsOnThatUpdate(t *testing.T) {
	e := liveEnv(t, 0)
	deploy(t, e, eksManifest("faulty"))
	e.waitStatus(t, "faulty", "READY")
	const step = "1-control-plane-upgrade-1.32"
	a := e.do(http.MethodPut, "/api/v1/clusters/faulty", e.key, map[string]any{
		"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate",
		"spec": map[string]any{"kubernetesVersion": "1.32", "tags": map[string]any{sim.TagFailStep: step}},
	})
	if a.Status != http.StatusAccepted {
		t.Fatalf("update: %d %s", a.Status, a.Body)
	}
	opID := opField(t, a, "operationId")
	p := waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		p := e.progress(t, "faulty", opID)
		return p, p["status"] == workflows.StatusFailed || p["status"] == workflows.StatusSucceeded
	})
	if p["status"] != workflows.StatusFailed || p["phase"] != step {
		t.Fatalf("the update's own fault tag did not act on %s: %v", step, p)
	}
	if c := e.waitStatus(t, "faulty", "READY"); c["kubernetesVersion"] != "1.31" {
		t.Fatalf("cluster after the failed update: %v", c)
	}
}
