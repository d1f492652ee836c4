package server

import (
	"github.com/astropulse/astroplane/server/httpx"

	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"
)

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
				"elapsed", time.Since(start).Round(time.Microsecond), "traceID", httpx.TraceID(c)}
			if p, ok := httpx.PrincipalOf(c); ok {
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
					log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(r), "traceID", httpx.TraceID(c), "stack", string(debug.Stack()))
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
				return httpx.NewError(http.StatusRequestEntityTooLarge, httpx.CodePayloadTooLarge,
					fmt.Sprintf("request body larger than %d bytes", limit))
			}
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
			return next(c)
		}
	}
}
