package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestTracingEnabledFollowsOTELVariables(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want bool
	}{
		{map[string]string{}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "a=b"}, false},
	} {
		if got := TracingEnabled(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: enabled %v, want %v", tc.env, got, tc.want)
		}
	}
}

// The SDK's metrics reach the registry the listener serves, under their temporal_ names.
func TestServeMetricsWithTemporalSDKMetrics(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := Start(ctx, "astro-test", "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	reg := p.Registry
	addr, err := ServeMetrics(ctx, "127.0.0.1:0", reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	h, err := TemporalMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	h.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_request").Inc(2)
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `temporal_request_total{namespace="default"} 2`) ||
		!strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
	if r, err := http.Get("http://" + addr.String() + "/"); err == nil {
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("GET /: %d, want 404: the listener serves /metrics only", r.StatusCode)
		}
	}
	if _, err := ServeMetrics(ctx, addr.String(), reg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "ASTRO_METRICS_ADDR") {
		t.Errorf("an address in use: %v", err)
	}
}
