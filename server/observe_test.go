package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/telemetry"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
)

// scrape answers what the metrics listener would serve.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestMetricsLabelRoutesByTemplate: the latency histogram is labelled by the route
// Echo matched, never the URL asked for (bounded cardinality), and operations asked
// for are counted by type and outcome.
func TestMetricsLabelRoutesByTemplate(t *testing.T) {
	reg := telemetry.NewRegistry()
	m, err := server.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, nil, server.Options{Metrics: m})
	e.do(http.MethodGet, "/api/v1/clusters", e.key, nil)
	for _, id := range []string{"first-cluster", "second-cluster", "third-cluster"} {
		if a := e.do(http.MethodGet, "/api/v1/clusters/"+id, e.key, nil); a.Status != http.StatusNotFound {
			t.Fatalf("GET %s: %d %s", id, a.Status, a.Body)
		}
	}
	e.do(http.MethodDelete, "/api/v1/clusters/first-cluster", e.key, nil)    // no such cluster: rejected
	e.do(http.MethodGet, "/no/such/route/with-an-id-42", e.key, nil)         // 404 of the router
	e.do(http.MethodPost, "/api/v1/clusters", e.key, eksManifest("metered")) // no Temporal: 5xx
	e.do(http.MethodGet, "/api/v1/clusters", "", nil)                        // 401

	out := scrape(t, telemetry.Handler(reg))
	for _, want := range []string{
		`astro_http_request_duration_seconds_count{code="2xx",method="GET",route="/api/v1/clusters"} 1`,
		`astro_http_request_duration_seconds_count{code="4xx",method="GET",route="/api/v1/clusters"} 1`,
		`astro_http_request_duration_seconds_count{code="4xx",method="GET",route="/api/v1/clusters/:clusterId"} 3`,
		`astro_http_request_duration_seconds_count{code="4xx",method="DELETE",route="/api/v1/clusters/:clusterId"} 1`,
		`astro_http_request_duration_seconds_count{code="4xx",method="GET",route="unmatched"} 1`,
		`astro_http_request_duration_seconds_bucket{code="2xx",method="GET",route="/api/v1/clusters",le="+Inf"} 1`,
		`astro_operations_started_total{outcome="rejected",type="delete"} 1`,
		`astro_operations_started_total{outcome="error",type="deploy"} 1`,
		"go_goroutines ", "process_", // the runtime's and the process's collectors
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, raw := range []string{"first-cluster", "second-cluster", "with-an-id-42", "/no/such"} {
		if strings.Contains(out, raw) {
			t.Errorf("a raw URL part %q is a label value", raw)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

// TestTraceLinksRequestToWorkflow: a deploy through the API on a real dev server is
// one trace: the request's server span, the client's StartWorkflow span under it, and
// on the worker (a client with the same interceptor) the workflow's activities' spans. A caller's traceparent is continued.
func TestTraceLinksRequestToWorkflow(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tracing, err := telemetry.TemporalTracing(tp)
	if err != nil {
		t.Fatal(err)
	}
	dev := testtemporal.Start(t)
	tc, err := client.Dial(client.Options{HostPort: dev.FrontendHostPort(), Namespace: "default", Interceptors: []interceptor.ClientInterceptor{tracing}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	e := newEnvWith(t, tc, server.Options{TracerProvider: tp})
	e.startWorker(tc, sim.Registry(sim.New(0)), worker.Options{})

	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	opID := deploy(t, e, eksManifest("traced"), "traceparent", parent)
	e.waitStatus(t, "traced", "READY")
	e.settledProgress(t, "traced", opID)

	var httpSpan, startSpan sdktrace.ReadOnlySpan
	byTrace := map[string]int{}
	for _, s := range spans.GetSpans().Snapshots() {
		switch {
		case s.Name() == "POST /api/v1/clusters":
			httpSpan = s
		case strings.HasPrefix(s.Name(), "StartWorkflow:"):
			startSpan = s
		}
		byTrace[s.SpanContext().TraceID().String()]++
	}
	if httpSpan == nil || startSpan == nil {
		t.Fatalf("spans %v: want the request's and StartWorkflow's", names(spans.GetSpans()))
	}
	if got := httpSpan.SpanContext().TraceID().String(); got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("the request's span is in trace %s, not the caller's traceparent", got)
	}
	if startSpan.SpanContext().TraceID() != httpSpan.SpanContext().TraceID() || startSpan.Parent().SpanID() != httpSpan.SpanContext().SpanID() {
		t.Errorf("StartWorkflow (trace %s, parent %s) is not a child of the request (trace %s, span %s)",
			startSpan.SpanContext().TraceID(), startSpan.Parent().SpanID(), httpSpan.SpanContext().TraceID(), httpSpan.SpanContext().SpanID())
	}
	// The worker's side: the activities' spans in the same trace (the workflow's own
	// span ends with the workflow, which may be a moment after its progress settled).
	var worker []string
	for _, s := range spans.GetSpans().Snapshots() {
		if s.SpanContext().TraceID() == httpSpan.SpanContext().TraceID() &&
			(strings.HasPrefix(s.Name(), "RunWorkflow:") || strings.HasPrefix(s.Name(), "RunActivity:")) {
			worker = append(worker, s.Name())
		}
	}
	joined := strings.Join(worker, ",")
	if !strings.Contains(joined, "RunActivity:BeginOperation") || !strings.Contains(joined, "RunActivity:FinishOperation") {
		t.Errorf("the worker's spans in the request's trace: %v", worker)
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
