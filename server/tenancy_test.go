package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/astropulse/astroplane/store"
)

// TestOperationListsStayInTheirOrganization: two organizations on one Temporal server,
// each with a cluster named prod (and one with a second cluster): the operation list
// and the cluster history of each show only its own operations, and another's
// operation or cluster is a 404.
func TestOperationListsStayInTheirOrganization(t *testing.T) {
	e := liveEnv(t, 0)
	globexID, _, globexKey := e.newOrg("globex", store.RoleAdmin)
	type org struct {
		name, id, key string
		ops           map[string]bool
	}
	acme := &org{"acme", e.orgID, e.key, map[string]bool{}}
	globex := &org{"globex", globexID, globexKey, map[string]bool{}}
	deployAs := func(o *org, name string) string {
		a := e.do(http.MethodPost, "/api/v1/clusters", o.key, eksManifest(name))
		if a.Status != http.StatusAccepted {
			t.Fatalf("%s deploys %s: %d %s", o.name, name, a.Status, a.Body)
		}
		id := e.data(a)["operationId"].(string)
		o.ops[id] = true
		return id
	}
	acmeProd := deployAs(acme, "prod")
	deployAs(globex, "prod")
	deployAs(globex, "solo")
	clusterOf := func(o *org, name string) map[string]any {
		return waitFor(t, 30*time.Second, func() (map[string]any, bool) {
			a := e.do(http.MethodGet, "/api/v1/clusters/"+name, o.key, nil)
			if a.Status != http.StatusOK {
				return nil, false
			}
			c := e.data(a)
			return c, c["status"] == "READY"
		})
	}
	acmeCluster := clusterOf(acme, "prod")
	clusterOf(globex, "prod")
	clusterOf(globex, "solo")

	// Visibility is eventually consistent: wait until Temporal lists all three
	// deploys as finished, so a list that leaves one out has filtered it.
	waitFor(t, 20*time.Second, func() (int, bool) {
		resp, err := e.tc.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: "WorkflowType = 'DeployCluster' AND ExecutionStatus = 'Completed'"})
		must(t, err)
		return len(resp.Executions), len(resp.Executions) == 3
	})

	for _, o := range []*org{acme, globex} {
		for _, q := range []string{"", "?operationType=deploy", "?status=SUCCEEDED", "?limit=1"} {
			a := e.do(http.MethodGet, "/api/v1/cluster-progress"+q, o.key, nil)
			if a.Status != http.StatusOK {
				t.Fatalf("%s lists operations%s: %d %s", o.name, q, a.Status, a.Body)
			}
			items := e.data(a)["items"].([]any)
			for _, it := range items {
				id := it.(map[string]any)["operationId"].(string)
				if !o.ops[id] {
					t.Fatalf("%s's operation list%s shows %s, not one of its own %v", o.name, q, id, o.ops)
				}
			}
			if want := len(o.ops); q == "?limit=1" && len(items) != 1 || q != "?limit=1" && len(items) != want {
				t.Fatalf("%s's operation list%s: %d items, want its own %d: %s", o.name, q, len(items), want, a.Body)
			}
		}
		h := e.data(e.do(http.MethodGet, "/api/v1/clusters/prod/history", o.key, nil))
		ops := h["operations"].([]any)
		if len(ops) != 1 || !o.ops[ops[0].(map[string]any)["operationId"].(string)] {
			t.Fatalf("%s's history of prod: %v", o.name, ops)
		}
		if id := ops[0].(map[string]any)["operationId"].(string); !strings.HasPrefix(id, o.name+".prod.") {
			t.Fatalf("%s's history of prod shows %s", o.name, id)
		}
	}

	// Another organization's cluster or operation does not exist for globex.
	acmeID := acmeCluster["id"].(string)
	for _, path := range []string{
		"/api/v1/clusters/" + acmeID + "/history",
		"/api/v1/clusters/" + acmeID + "/progress",
		"/api/v1/clusters/prod/progress?operationId=" + acmeProd,
	} {
		if a := e.do(http.MethodGet, path, globex.key, nil); a.Status != http.StatusNotFound {
			t.Fatalf("globex reads %s: %d %s", path, a.Status, a.Body)
		}
	}
}
