package server_test

import (
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
)

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	spec, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(t.Context()); err != nil {
		t.Fatalf("openapi.yaml is not valid OpenAPI: %v", err)
	}
	return spec
}

type specOp struct {
	method, path string
	op           *openapi3.Operation
}

func specOps(spec *openapi3.T) []specOp {
	var ops []specOp
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, specOp{method, path, op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

func TestEveryOperationOfTheContractHasARoute(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, nil)
	routes := map[string]bool{}
	for _, r := range e.srv.Routes() {
		routes[r] = true
	}
	ops := specOps(spec)
	// The reference's 100 operations; later issues add their own on top.
	if len(ops) < 100 {
		t.Fatalf("openapi.yaml has %d operations, want at least the reference's 100", len(ops))
	}
	for _, o := range ops {
		route := o.method + " " + strings.NewReplacer("{", ":", "}", "").Replace(o.path)
		if !routes[route] {
			t.Errorf("%s (%s) has no route", o.op.OperationID, route)
		}
	}
}

func TestEveryOperationHasSummaryTagAndErrorEnvelope(t *testing.T) {
	spec := loadSpec(t)
	groups := map[string]bool{"APIKeys": true, "Application": true, "ApplicationProfile": true, "Audit": true,
		"AvailabilityTiers": true, "Cloud": true, "Clusters": true, "Integrations": true, "Notifications": true,
		"Organizations": true, "Pricing": true, "CloudProvider": true, "UserProfiles": true,
		"Server": true} // Server is ours, not the reference's: the version and how users sign in
	ids := map[string]bool{}
	for _, o := range specOps(spec) {
		id := o.op.OperationID
		if id == "" || ids[id] {
			t.Errorf("%s %s: missing or duplicate operationId %q", o.method, o.path, id)
		}
		ids[id] = true
		if o.op.Summary == "" {
			t.Errorf("%s: no summary", id)
		}
		if len(o.op.Tags) != 1 || !groups[o.op.Tags[0]] {
			t.Errorf("%s: tags %v, want one group of the reference", id, o.op.Tags)
		}
		if !strings.HasPrefix(o.path, "/api/v1/") {
			t.Errorf("%s: path %s is not under /api/v1", id, o.path)
		}
		resp := o.op.Responses.Value("501")
		if resp == nil || resp.Value == nil || resp.Value.Content.Get("application/json") == nil {
			t.Errorf("%s: no 501 answer with the error envelope", id)
		}
	}
}

// TestEveryOperationAnswersWithoutServerError sends each operation a request with a
// valid admin key, required parameters filled and no body: whatever is or isn't built,
// the answer is never a 5xx other than 501 (or 503 for what needs Temporal, which
// this server lacks), and every error answer carries the envelope.
func TestEveryOperationAnswersWithoutServerError(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, nil)
	for _, o := range specOps(spec) {
		if o.path == "/api/v1/clusters" && o.method == http.MethodPost {
			continue // starts a workflow: covered by the integration test
		}
		path, query := o.path, []string{}
		params := append(openapi3.Parameters{}, spec.Paths.Find(o.path).Parameters...)
		params = append(params, o.op.Parameters...)
		for _, p := range params {
			v := sampleValue(p.Value.Schema)
			switch p.Value.In {
			case openapi3.ParameterInPath:
				path = strings.ReplaceAll(path, "{"+p.Value.Name+"}", v)
			case openapi3.ParameterInQuery:
				if p.Value.Required {
					query = append(query, p.Value.Name+"="+v)
				}
			}
		}
		if len(query) > 0 {
			path += "?" + strings.Join(query, "&")
		}
		a := e.do(o.method, path, e.key, nil, "X-Astro-Organization-ID", e.orgID, "X-Validate-API-Key", e.key)
		if a.Status >= 500 && a.Status != http.StatusNotImplemented && a.Status != http.StatusServiceUnavailable {
			t.Errorf("%s %s: %d %s", o.method, path, a.Status, a.Body)
			continue
		}
		if a.Status >= 400 {
			env := a.Error(t)
			if a.Status == http.StatusNotImplemented && env.Code != httpx.CodeNotImplemented {
				t.Errorf("%s: 501 with error_code %q", o.op.OperationID, env.Code)
			}
		}
	}
}

func sampleValue(s *openapi3.SchemaRef) string {
	if s == nil || s.Value == nil {
		return "x"
	}
	if len(s.Value.Enum) > 0 {
		if v, ok := s.Value.Enum[0].(string); ok {
			return v
		}
	}
	switch {
	case s.Value.Type.Is("integer"), s.Value.Type.Is("number"):
		return "1"
	case s.Value.Type.Is("boolean"):
		return "true"
	case s.Value.Format == "uuid":
		return "00000000-0000-4000-8000-000000000000"
	}
	return "sample-name"
}

func TestUnbuiltOperationsAnswer501(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ method, path, key string }{
		{http.MethodGet, "/api/v1/integrations/github/installations", e.key},
	} {
		a := e.do(tc.method, tc.path, tc.key, nil)
		if a.Status != http.StatusNotImplemented {
			t.Errorf("%s %s = %d %s, want 501", tc.method, tc.path, a.Status, a.Body)
			continue
		}
		if env := a.Error(t); env.Code != httpx.CodeNotImplemented {
			t.Errorf("%s %s error_code = %q", tc.method, tc.path, env.Code)
		}
	}
}

// TestContractTracesBackToTheReference checks that each operation of the reference
// (its group and title, copied into testdata) is exactly one operation of
// openapi.yaml with that tag and that summary.
func TestContractTracesBackToTheReference(t *testing.T) {
	raw, err := os.ReadFile("testdata/reference-operations.tsv")
	if err != nil {
		t.Fatal(err)
	}
	byTitle := map[string]string{}
	for _, o := range specOps(loadSpec(t)) {
		byTitle[o.op.Summary] = o.op.Tags[0]
	}
	n := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		group, title, _ := strings.Cut(line, "\t")
		n++
		tag, ok := byTitle[title]
		switch {
		case !ok:
			t.Errorf("reference operation %q (%s) has no operation with that summary", title, group)
		case tag != group:
			t.Errorf("%q is tagged %s, the reference's group is %s", title, tag, group)
		}
	}
	if n != 100 {
		t.Fatalf("testdata lists %d reference operations, want 100", n)
	}
}
