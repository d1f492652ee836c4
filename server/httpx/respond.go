// Package httpx is the HTTP plumbing every resource group of the API shares: the
// success envelope, APIError and the one error handler, the request's trace ID and
// principal, binding of a body already checked against openapi.yaml, and audit
// records of requests. It knows no resource group.
package httpx

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// Envelope is the body of every successful JSON answer.
type Envelope struct {
	Data    any    `json:"data"`
	ID      string `json:"id"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// OK answers 200 with data in the envelope.
func OK(c echo.Context, data any, message string) error {
	return c.JSON(http.StatusOK, Envelope{Data: data, ID: TraceID(c), Message: message, Status: "success"})
}

// Accepted answers 202: the operation was started and runs on.
func Accepted(c echo.Context, data any, message string) error {
	return c.JSON(http.StatusAccepted, Envelope{Data: data, ID: TraceID(c), Message: message, Status: "accepted"})
}

// Count is n with its noun, singular for one: "1 cluster", "0 clusters".
func Count(n int, singular, plural string) string {
	if n == 1 {
		return "1 " + singular
	}
	return strconv.Itoa(n) + " " + plural
}
