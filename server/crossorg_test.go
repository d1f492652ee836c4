package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/astropulse/astroplane/store"
)

// TestCrossOrganizationMatrix walks every operation whose path takes an ID (of an
// organization, a cluster, a key, an event, a channel, a topic…) with the key of a
// second organization whose user is also an admin of the first, the IDs naming the
// first organization's resources: each answer is 404 (501 for an operation not built
// yet), never the first organization's data. The catalog's IDs (providers, regions,
// tiers) name no organization's resource and are left out.
func TestCrossOrganizationMatrix(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, nil)
	ctx := context.Background()

	// acme's resources, one of each kind a path can name.
	cl := &store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: "secret-prod", Provider: "aws", ProvisionerType: "eks",
		Region: "us-east-1", AccountID: "123456789012", Status: store.ClusterReady}
	must(t, e.store.CreateClusterWithOperation(ctx, cl, &store.Operation{ID: "acme.secret-prod.deploy.1", Type: "deploy",
		Status: store.OperationSucceeded, WorkflowID: "acme.secret-prod.deploy.1"}))
	keyRow := store.APIKey{}
	_ = e.newKey(e.orgID, e.userID, func(k *store.APIKey) { k.Name = "acme-ci"; keyRow = *k })
	ev := store.AuditEvent{OrgID: e.orgID, UserID: e.userID, EventType: "CLUSTER", Action: "CREATE", ResourceID: cl.ID, Outcome: store.OutcomeSuccess}
	must(t, e.store.RecordAudit(ctx, &ev))
	must(t, e.store.PutIntegration(ctx, &store.NotificationIntegration{OrgID: e.orgID, Channel: "email", Enabled: true, SealedConfig: "{}"}))
	must(t, e.store.PutSubscription(ctx, &store.NotificationSubscription{OrgID: e.orgID, Topic: "cluster.deployed", Channels: "email", Enabled: true}))

	// globex's key belongs to a user who is also acme's admin: the key still acts for
	// globex only. globex is on the enterprise plan, so that plan-gated operations
	// (audit) reach the lookup.
	globexID, globexUser, globexKey := e.enterpriseOrg("globex")
	must(t, e.store.AddMember(ctx, e.orgID, globexUser, store.RoleAdmin))

	values := map[string]string{
		"id": e.orgID, "orgId": e.orgID, "clusterId": cl.ID, "keyId": keyRow.ID, "eventId": ev.ID,
		"channel": "email", "topic": "cluster.deployed", "duration": "1h",
	}
	catalog := []string{"/api/v1/providers/", "/api/v1/availability-tiers/"}
	leaks := []string{cl.Name, cl.AccountID, "acme-ci", "acme-admin@example.com", `"data"`}
	n := 0
	for _, o := range specOps(spec) {
		if !strings.Contains(o.path, "{") || strings.HasPrefix(o.path, catalog[0]) || strings.HasPrefix(o.path, catalog[1]) {
			continue
		}
		path := samplePath(spec, o, values)
		var body any
		if rb := o.op.RequestBody; rb != nil && rb.Value.Required {
			body = sampleBody(rb.Value.Content.Get("application/json").Schema, values)
		}
		if o.op.OperationID == "updateCluster" {
			body = map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate",
				"spec": map[string]any{"nodeGroups": []any{map[string]any{"name": "default-pool", "minNode": 2, "maxNode": 5}}}}
		}
		n++
		t.Run(o.op.OperationID, func(t *testing.T) {
			// Streams are asked as WebSockets, so they get past the upgrade check.
			a := e.do(o.method, path, globexKey, body, "X-Astro-Organization-ID", globexID,
				"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			if a.Status == http.StatusNotImplemented {
				return // not built: answers nothing of anyone's
			}
			if a.Status != http.StatusNotFound {
				t.Fatalf("globex %s %s = %d, want 404: %s", o.method, path, a.Status, a.Body)
			}
			a.Error(t)
			for _, leak := range leaks {
				if strings.Contains(string(a.Body), leak) {
					t.Fatalf("globex %s %s leaks %q: %s", o.method, path, leak, a.Body)
				}
			}
		})
	}
	// The same walk by cluster name.
	a := e.do(http.MethodGet, "/api/v1/clusters/secret-prod/spec", globexKey, nil)
	if a.Status != http.StatusNotFound {
		t.Fatalf("globex reads acme's cluster by name: %d %s", a.Status, a.Body)
	}
	if n < 20 {
		t.Fatalf("only %d operations take an ID", n)
	}
	t.Logf("%d operations with an ID walked with another organization's key", n)
}

// sampleBody is a minimal body the schema accepts: its required properties, filled
// from values by name where given, else with samples of their schema.
func sampleBody(ref *openapi3.SchemaRef, values map[string]string) any {
	if ref == nil || ref.Value == nil {
		return map[string]any{}
	}
	s := ref.Value
	if len(s.OneOf) > 0 {
		return sampleBody(s.OneOf[0], values)
	}
	if len(s.AllOf) > 0 {
		out := map[string]any{}
		for _, part := range s.AllOf {
			if m, ok := sampleBody(part, values).(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
		return out
	}
	switch {
	case s.Type.Is("object"):
		out := map[string]any{}
		for _, name := range s.Required {
			if v, ok := values[name]; ok {
				out[name] = v
				continue
			}
			out[name] = sampleBody(s.Properties[name], values)
		}
		return out
	case s.Type.Is("array"):
		n := max(int(s.MinItems), 1)
		out := make([]any, n)
		for i := range out {
			out[i] = sampleBody(s.Items, values)
		}
		return out
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		if len(s.Enum) > 0 {
			return s.Enum[len(s.Enum)-1]
		}
		return 1
	case s.Type.Is("boolean"):
		return true
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Format == "uuid":
		return "00000000-0000-4000-8000-000000000000"
	case s.Format == "email":
		return "someone@example.com"
	case s.Format == "uri":
		return "https://example.com/x"
	}
	return "x"
}
