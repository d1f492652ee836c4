package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

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

// requestID gives every request a trace ID: the caller's X-Request-ID when it is a
// sane token, a new random one otherwise. It is echoed in X-Request-ID, in every
// envelope, and in every log line of the request.
func requestID() echo.MiddlewareFunc {
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

// accessLog logs one line per request with its trace ID; never headers or bodies,
// which carry keys and secrets.
func accessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // writes the answer now, so the status below is the real one
			}
			status := c.Response().Status
			level := slog.LevelInfo
			if status >= 500 && status != http.StatusNotImplemented {
				level = slog.LevelError
			}
			attrs := []any{"method", c.Request().Method, "route", c.Path(), "status", status,
				"elapsed", time.Since(start).Round(time.Microsecond), "traceID", TraceID(c)}
			if p, ok := principalOf(c); ok {
				attrs = append(attrs, "orgID", p.OrgID)
			}
			log.Log(c.Request().Context(), level, "request", attrs...)
			return nil
		}
	}
}

// recoverPanics turns a handler panic into a 500 with the trace ID, logging the stack.
func recoverPanics(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler { //nolint:errorlint // a recovered value, matched exactly as net/http matches it
						panic(r)
					}
					log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(r), "traceID", TraceID(c), "stack", string(debug.Stack()))
					err = fmt.Errorf("panic: %v", r)
				}
			}()
			return next(c)
		}
	}
}

// limitBody refuses bodies larger than limit bytes with 413, whether announced by
// Content-Length or discovered while reading.
func limitBody(limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.ContentLength > limit {
				return newError(http.StatusRequestEntityTooLarge, CodePayloadTooLarge,
					fmt.Sprintf("request body larger than %d bytes", limit))
			}
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
			return next(c)
		}
	}
}
