// Package telemetry wires the processes' metrics and traces: a Prometheus registry
// served on its own listener (ASTRO_METRICS_ADDR), the Temporal SDK's metrics through
// its OpenTelemetry metrics handler into that registry, and OpenTelemetry traces
// exported over OTLP/HTTP when the standard OTEL_EXPORTER_OTLP_* variables name an
// endpoint (no-op otherwise), with the Temporal SDK's tracing interceptor so a
// workflow's spans are children of the request that started it.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.temporal.io/sdk/client"
	temporalotel "go.temporal.io/sdk/contrib/opentelemetry"
	"go.temporal.io/sdk/interceptor"
)

// NewRegistry returns a Prometheus registry with the Go runtime's and the process's
// collectors: what a process serves on its metrics listener.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg's metrics in the Prometheus exposition format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// ServeMetrics serves reg on addr at /metrics until ctx ends, in the background. It
// returns once the listener is bound (an address in use is an error now, not later).
func ServeMetrics(ctx context.Context, addr string, reg *prometheus.Registry, log *slog.Logger) (net.Addr, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ASTRO_METRICS_ADDR: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return ln.Addr(), nil
}

// TemporalMetrics returns the Temporal SDK's metrics handler (its OpenTelemetry
// one) reporting into reg: temporal_request_*, temporal_workflow_*,
// temporal_activity_* and the workers' poller and slot figures.
func TemporalMetrics(reg prometheus.Registerer) (client.MetricsHandler, error) {
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, fmt.Errorf("temporal metrics: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	return temporalotel.NewMetricsHandler(temporalotel.MetricsHandlerOptions{
		Meter:                mp.Meter("temporal-sdk-go"),
		UseMonotonicCounters: true,
		OnError:              func(error) {}, // a metric that cannot be recorded never stops a workflow
	}), nil
}

// TemporalTracing returns the Temporal SDK's OpenTelemetry tracing interceptor on
// tp: set on a client, StartWorkflow spans are children of the caller's span and the
// workflow's and activities' spans (on a worker made from such a client) children of
// StartWorkflow's, across processes, through the workflow's headers.
func TemporalTracing(tp trace.TracerProvider) (interceptor.Interceptor, error) {
	return temporalotel.NewTracingInterceptor(temporalotel.TracerOptions{
		Tracer:            tp.Tracer("temporal-sdk-go"),
		TextMapPropagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	})
}

// TracingEnabled reports whether the environment names an OTLP endpoint for traces
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT) and does not
// turn the SDK off (OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none).
func TracingEnabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(getenv("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != ""
}

// Tracing sets up the process's tracer provider: OTLP over HTTP, configured by the
// standard OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout, TLS) and
// OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, when TracingEnabled; a no-op provider
// otherwise. It becomes the global provider, with W3C trace context and baggage as
// the propagator (an incoming traceparent header continues the caller's trace).
// shutdown flushes the spans still buffered.
func Tracing(ctx context.Context, service string) (tp trace.TracerProvider, shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !TracingEnabled(os.Getenv) {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("OTEL_EXPORTER_OTLP_*: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", service)))
	if err != nil {
		return nil, nil, err
	}
	// The environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) wins over the default name.
	if envRes, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, envRes); err == nil {
			res = merged
		}
	}
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(provider)
	return provider, provider.Shutdown, nil
}

// Process is one process's telemetry, as Start sets it up.
type Process struct {
	// Registry is what the metrics listener serves; register the process's own metrics on it.
	Registry *prometheus.Registry
	// TracerProvider is the process's (a no-op one without an OTLP endpoint).
	TracerProvider trace.TracerProvider
	// Temporal adds the SDK's metrics handler and tracing interceptor to a client's
	// options (config.Temporal.Dial's extra); a worker made from that client traces too.
	Temporal func(*client.Options)
	// Shutdown flushes buffered spans.
	Shutdown func(context.Context) error
}

// Start sets up a process's telemetry: tracing (see Tracing) under the name
// service, the Temporal SDK's metrics and tracing for its client, and, when
// metricsAddr is set, the metrics listener on it until ctx ends.
func Start(ctx context.Context, service, metricsAddr string, log *slog.Logger) (*Process, error) {
	tp, shutdown, err := Tracing(ctx, service)
	if err != nil {
		return nil, err
	}
	reg := NewRegistry()
	handler, err := TemporalMetrics(reg)
	if err != nil {
		return nil, err
	}
	tracing, err := TemporalTracing(tp)
	if err != nil {
		return nil, err
	}
	if TracingEnabled(os.Getenv) {
		log.Info("exporting traces over OTLP/HTTP", "service", service)
	}
	if metricsAddr != "" {
		addr, err := ServeMetrics(ctx, metricsAddr, reg, log)
		if err != nil {
			_ = shutdown(ctx)
			return nil, err
		}
		log.Info("metrics listening", "addr", addr.String(), "path", "/metrics")
	}
	return &Process{
		Registry: reg, TracerProvider: tp, Shutdown: shutdown,
		Temporal: func(o *client.Options) {
			o.Interceptors = append(o.Interceptors, tracing)
			o.MetricsHandler = handler
		},
	}, nil
}
