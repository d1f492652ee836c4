package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/astropulse/astroplane/server/httpx"
)

// Metrics are the API's Prometheus metrics. Labels are bounded: a route is the
// template Echo matched (/api/v1/clusters/:clusterId), never the URL asked for.
type Metrics struct {
	// requests: astro_http_request_duration_seconds{route, method, code} (code is the
	// status class: 2xx, 4xx…).
	requests *prometheus.HistogramVec
	// started: astro_operations_started_total{type, outcome}, type deploy, update or
	// delete; outcome started (202), dry_run (200), rejected (4xx) or error (5xx).
	started *prometheus.CounterVec
}

// NewMetrics registers the API's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "astro_http_request_duration_seconds",
			Help:    "Time to answer an API request, by route template, method and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "astro_operations_started_total",
			Help: "Cluster operations asked of the API, by type (deploy, update, delete) and outcome (started, dry_run, rejected, error).",
		}, []string{"type", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.started} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// operationRoutes name the operation type each mutating cluster route starts.
var operationRoutes = map[string]string{
	http.MethodPost + " /api/v1/clusters":              "deploy",
	http.MethodPut + " /api/v1/clusters/:clusterId":    "update",
	http.MethodDelete + " /api/v1/clusters/:clusterId": "delete",
}

// unmatchedRoute is the route label of a request no route matched (404, 405): the
// URL itself would make the label's values unbounded.
const unmatchedRoute = "unmatched"

// routeSet holds the templates of the server's routes, filled once they are all
// registered and only read after.
type routeSet map[string]struct{}

// of is the template of the route c matched, or unmatchedRoute: Echo may leave the
// URL itself as the path of a request it found no route for.
func (rs routeSet) of(c echo.Context) string {
	if _, ok := rs[c.Path()]; ok {
		return c.Path()
	}
	return unmatchedRoute
}

// propagator reads a caller's trace context: W3C traceparent and baggage, the
// propagator internal/telemetry sets globally and the Temporal interceptor uses.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// observe is the outermost middleware: a server span per request (continuing the
// caller's trace when it sends a traceparent header) carried in the request's
// context, so the Temporal client's tracing interceptor makes StartWorkflow its
// child; and the request's duration and, for cluster operations, their outcome in m
// (nil: no metrics).
func observe(m *Metrics, tp trace.TracerProvider, routes routeSet) echo.MiddlewareFunc {
	tracer := tp.Tracer("github.com/astropulse/astroplane/server")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			req := c.Request()
			route := routes.of(c)
			ctx := propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, span := tracer.Start(ctx, req.Method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(attribute.String("http.request.method", req.Method), attribute.String("http.route", route)))
			defer span.End()
			if span.SpanContext().IsValid() { // a no-op tracer and no caller's trace: nothing to carry
				c.SetRequest(req.WithContext(ctx))
			}

			if err := next(c); err != nil {
				c.Error(err) // writes the answer now, so the status below is the real one
			}
			status := c.Response().Status
			span.SetAttributes(attribute.Int("http.response.status_code", status), attribute.String("astro.trace_id", httpx.TraceID(c)))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			if m == nil {
				return nil
			}
			m.requests.WithLabelValues(route, req.Method, strconv.Itoa(status/100)+"xx").Observe(time.Since(start).Seconds())
			if kind, ok := operationRoutes[req.Method+" "+route]; ok {
				m.started.WithLabelValues(kind, startOutcome(status)).Inc()
			}
			return nil
		}
	}
}

// startOutcome is the outcome label of an operation request answered status.
func startOutcome(status int) string {
	switch {
	case status == http.StatusAccepted:
		return "started"
	case status < 300:
		return "dry_run"
	case status < 500:
		return "rejected"
	default:
		return "error"
	}
}
