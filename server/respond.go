package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// Envelope is the body of every successful JSON answer.
type Envelope struct {
	Data    any    `json:"data"`
	ID      string `json:"id"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

// ok answers 200 with data in the envelope.
func ok(c echo.Context, data any, message string) error {
	return c.JSON(http.StatusOK, Envelope{Data: data, ID: TraceID(c), Message: message, Status: "success"})
}

// accepted answers 202: the operation was started and runs on.
func accepted(c echo.Context, data any, message string) error {
	return c.JSON(http.StatusAccepted, Envelope{Data: data, ID: TraceID(c), Message: message, Status: "accepted"})
}
