package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/server/httpx"
)

const dryRunDeploy = "/api/v1/clusters?dryRun=true"

func TestBadInputGetsA4xxNamingTheField(t *testing.T) {
	e := newEnv(t, nil)
	withSpec := func(edit func(spec map[string]any)) map[string]any {
		m := eksManifest("prod")
		edit(m["spec"].(map[string]any))
		return m
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		header []string
		status int
		code   string
		field  string // a key of details; "" when details may be empty
	}{
		{"malformed JSON", dryRunDeploy, []byte(`{"apiVersion": `), nil, 400, httpx.CodeValidationFailed, "body"},
		{"trailing garbage", dryRunDeploy, []byte(`{} {}`), nil, 400, httpx.CodeValidationFailed, "body"},
		{"not an object", dryRunDeploy, []byte(`[1,2]`), nil, 400, httpx.CodeValidationFailed, "body"},
		{"empty body", dryRunDeploy, []byte(``), nil, 400, httpx.CodeBadRequest, "body"},
		{"wrong type", dryRunDeploy, withSpec(func(s map[string]any) {
			s["clusterSpec"].(map[string]any)["dataPlane"].(map[string]any)["nodeGroups"].([]any)[0].(map[string]any)["minNode"] = "one"
		}), nil, 400, httpx.CodeValidationFailed, "spec.clusterSpec.dataPlane.nodeGroups.0.minNode"},
		{"unknown field", dryRunDeploy, withSpec(func(s map[string]any) { s["regoin"] = "us-east-1" }), nil, 400, httpx.CodeValidationFailed, "spec.regoin"},
		{"bad enum", dryRunDeploy, withSpec(func(s map[string]any) { s["provider"] = "ibm" }), nil, 400, httpx.CodeValidationFailed, "spec.provider"},
		{"missing required", dryRunDeploy, withSpec(func(s map[string]any) { delete(s, "provisioner") }), nil, 400, httpx.CodeValidationFailed, "spec.provisioner"},
		{"placeholder", dryRunDeploy, withSpec(func(s map[string]any) { s["region"] = "<YOUR_REGION>" }), nil, 400, httpx.CodeValidationFailed, "spec.region"},
		{"provisioner on the wrong provider", dryRunDeploy, withSpec(func(s map[string]any) { s["provider"] = "gcp" }), nil, 400, httpx.CodeValidationFailed, "spec.provisioner.type"},
		{"oversized body", dryRunDeploy, []byte(`{"x":"` + strings.Repeat("a", 70<<10) + `"}`), nil, 413, httpx.CodePayloadTooLarge, ""},
		{"wrong content type", dryRunDeploy, []byte(`{}`), []string{"Content-Type", "text/plain"}, 415, httpx.CodeUnsupportedMedia, ""},
		{"bad query parameter", "/api/v1/clusters/prod/history?limit=many", nil, nil, 400, httpx.CodeValidationFailed, "query.limit"},
		{"bad boolean query parameter", "/api/v1/clusters?dryRun=perhaps", eksManifest("prod"), nil, 400, httpx.CodeValidationFailed, "query.dryRun"},
		{"bad path parameter", "/api/v1/orgs/" + strings.Repeat("x", 3000), nil, nil, 404, httpx.CodeNotFound, ""},
		{"unknown route", "/api/v1/nope", nil, nil, 404, httpx.CodeNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := http.MethodPost
			if tc.body == nil {
				method = http.MethodGet
			}
			a := e.do(method, tc.path, e.key, tc.body, tc.header...)
			if a.Status != tc.status {
				t.Fatalf("status %d %s, want %d", a.Status, a.Body, tc.status)
			}
			env := a.Error(t)
			if env.Code != tc.code {
				t.Fatalf("error_code %q, want %q (%s)", env.Code, tc.code, a.Body)
			}
			if _, ok := env.Details[tc.field]; tc.field != "" && !ok {
				t.Fatalf("details %v lack %q", env.Details, tc.field)
			}
		})
	}
}

func TestEveryFieldErrorIsReportedAtOnce(t *testing.T) {
	e := newEnv(t, nil)
	m := eksManifest("Bad_Name")
	spec := m["spec"].(map[string]any)
	spec["provider"] = "ibm"
	spec["colour"] = "blue"
	a := e.do(http.MethodPost, dryRunDeploy, e.key, m)
	env := a.Error(t)
	for _, f := range []string{"spec.clusterName", "spec.provider", "spec.colour"} {
		if _, ok := env.Details[f]; !ok {
			t.Errorf("details %v lack %q", env.Details, f)
		}
	}
}

func TestDryRunAcceptsBothManifestForms(t *testing.T) {
	e := newEnv(t, nil)
	manifest := eksManifest("prod")
	for name, body := range map[string]any{"manifest": manifest, "legacy flat": manifest["spec"]} {
		a := e.do(http.MethodPost, dryRunDeploy, e.key, body)
		if a.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", name, a.Status, a.Body)
		}
		if a.Envelope(t).Data.(map[string]any)["validationPassed"] != true {
			t.Fatalf("%s: %s", name, a.Body)
		}
	}
	a := e.do(http.MethodGet, "/api/v1/clusters", e.key, nil)
	if len(a.Envelope(t).Data.([]any)) != 0 {
		t.Fatal("a dry run created a cluster")
	}
}

func TestTraceIDIsEchoedAndLogged(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(http.MethodGet, "/api/v1/clusters", e.key, nil, httpx.HeaderRequestID, "req-42")
	if a.Header.Get(httpx.HeaderRequestID) != "req-42" || a.Envelope(t).ID != "req-42" {
		t.Fatalf("caller's request ID not kept: header %q body %s", a.Header.Get(httpx.HeaderRequestID), a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/clusters/nope", e.key, nil, httpx.HeaderRequestID, "bad id with spaces")
	traceID := a.Error(t).TraceID
	if traceID == "bad id with spaces" || !strings.HasPrefix(traceID, "trace-") {
		t.Fatalf("unsafe request ID accepted: %q", traceID)
	}
	var found bool
	for _, line := range bytes.Split([]byte(e.logs.String()), []byte("\n")) {
		var rec map[string]any
		if json.Unmarshal(line, &rec) == nil && rec["traceID"] == traceID && rec["status"] == float64(404) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no log line with traceID %s:\n%s", traceID, e.logs.String())
	}
}

// FuzzDeployBody throws arbitrary bodies at the deploy endpoint (dry run, so no
// workflow starts): the answer is always 200 or a 4xx with the error envelope,
// never a 5xx, never a panic.
func FuzzDeployBody(f *testing.F) {
	valid, _ := json.Marshal(eksManifest("prod"))
	flat, _ := json.Marshal(eksManifest("prod")["spec"])
	for _, seed := range [][]byte{valid, flat, []byte(`{}`), []byte(`null`), []byte(`{"spec":null}`),
		[]byte(`{"spec":{"clusterSpec":{"dataPlane":{"nodeGroups":[{"minNode":1e400}]}}}}`),
		[]byte(`{"apiVersion":"platform.astropulse.io/v1","kind":"K8sCluster","spec":{"provisioner":{"type":"aks","aks":{"subscriptionId":"x"}}}}`),
		[]byte("\xff\xfe"), []byte(`{"a":"\ud800"}`), []byte(`{"spec":{"tags":{"":""}}}`)} {
		f.Add(seed)
	}
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		e := *e
		e.t = t
		done := make(chan answer, 1)
		go func() { done <- e.do(http.MethodPost, dryRunDeploy, e.key, body) }()
		var a answer
		select {
		case a = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("no answer in 10s for body %q", body)
		}
		switch {
		case a.Status == http.StatusOK:
		case a.Status >= 400 && a.Status < 500:
			var env httpx.ErrorEnvelope
			if err := json.Unmarshal(a.Body, &env); err != nil || env.Code == "" || env.Status != a.Status {
				t.Fatalf("4xx without the error envelope: %s", a.Body)
			}
		default:
			t.Fatalf("status %d for body %q: %s", a.Status, body, a.Body)
		}
	})
}

// BenchmarkDryRunDeploy measures a deploy request's way through authentication,
// contract checks, decoding and validation, without the store write or Temporal.
func BenchmarkDryRunDeploy(b *testing.B) {
	e := newEnv(b, nil)
	body, _ := json.Marshal(eksManifest("prod"))
	for b.Loop() {
		if a := e.do(http.MethodPost, dryRunDeploy, e.key, body); a.Status != http.StatusOK {
			b.Fatalf("%d %s", a.Status, a.Body)
		}
	}
}
