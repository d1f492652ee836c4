package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"

	"github.com/labstack/echo/v4"
)

const (
	// HeaderRequestID carries the request's trace ID both ways.
	HeaderRequestID = "X-Request-ID"
	traceIDKey      = "astro.traceID"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// TraceID returns the request's trace ID.
func TraceID(c echo.Context) string {
	id, _ := c.Get(traceIDKey).(string)
	return id
}

type ctxKey struct{ name string }

var traceCtxKey = ctxKey{"traceID"}

// TraceIDFromContext returns the trace ID a request's context carries, for logs below
// the HTTP layer.
func TraceIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(traceCtxKey).(string)
	return id
}

// RequestID gives every request a trace ID: the caller's X-Request-ID when it is a
// sane token, a new random one otherwise. It is echoed in X-Request-ID, in every
// envelope, and in every log line of the request.
func RequestID() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(HeaderRequestID)
			if !validRequestID.MatchString(id) {
				b := make([]byte, 8)
				_, _ = rand.Read(b)
				id = "trace-" + hex.EncodeToString(b)
			}
			c.Set(traceIDKey, id)
			c.Response().Header().Set(HeaderRequestID, id)
			c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), traceCtxKey, id)))
			return next(c)
		}
	}
}
