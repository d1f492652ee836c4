package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"

	"github.com/astropulse/astroplane/store"
)

// Error codes of the error envelope.
const (
	CodeBadRequest          = "BAD_REQUEST"
	CodeValidationFailed    = "VALIDATION_FAILED"
	CodeUnauthorized        = "UNAUTHORIZED"
	CodeForbidden           = "FORBIDDEN"
	CodePlanRequired        = "PLAN_REQUIRED" // a 403 of the organization's plan, told apart from a role's (FORBIDDEN)
	CodeNotFound            = "NOT_FOUND"
	CodeClusterDeleted      = "CLUSTER_DELETED"
	CodeConflict            = "CONFLICT"
	CodeUnprocessable       = "UNPROCESSABLE_ENTITY"
	CodePayloadTooLarge     = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia    = "UNSUPPORTED_MEDIA_TYPE"
	CodeMethodNotAllowed    = "METHOD_NOT_ALLOWED"
	CodeInternal            = "INTERNAL_ERROR"
	CodeNotImplemented      = "NOT_IMPLEMENTED"
	CodeServiceUnavailable  = "SERVICE_UNAVAILABLE"
	CodeTooManyRequests     = "TOO_MANY_REQUESTS"
	CodeUpgradeRequired     = "UPGRADE_REQUIRED"
	defaultInternalErrorMsg = "internal error; quote the trace_id when reporting it"
)

// APIError is an error with everything the error envelope needs. Handlers return it;
// the HTTP error handler writes it.
type APIError struct {
	Status  int
	Code    string
	Message string
	// Details maps a field path (e.g. "spec.clusterName") or a topic to a message.
	Details map[string]any
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// ErrorEnvelope is the body of every error answer.
type ErrorEnvelope struct {
	Details map[string]any `json:"details"`
	Error   string         `json:"error"`
	Code    string         `json:"error_code"`
	Status  int            `json:"status"`
	TraceID string         `json:"trace_id"`
}

// NewError is an APIError of any status and code.
func NewError(status int, code, msg string) *APIError {
	return &APIError{Status: status, Code: code, Message: msg}
}

// BadRequest is a 400 naming the fields at fault in details.
func BadRequest(msg string, details map[string]any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: msg, Details: details}
}

// ValidationFailed is a 400 listing every invalid field at once.
func ValidationFailed(details map[string]any) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: CodeValidationFailed, Message: "validation failed", Details: details}
}

// Unauthorized is a 401.
func Unauthorized(msg string) *APIError {
	return NewError(http.StatusUnauthorized, CodeUnauthorized, msg)
}

// Forbidden is a 403.
func Forbidden(msg string) *APIError { return NewError(http.StatusForbidden, CodeForbidden, msg) }

// NotFound is a 404 that never says whether the resource exists in another org.
func NotFound(what string) *APIError {
	return NewError(http.StatusNotFound, CodeNotFound, what+" not found")
}

// Conflict is a 409.
func Conflict(msg string, details map[string]any) *APIError {
	return &APIError{Status: http.StatusConflict, Code: CodeConflict, Message: msg, Details: details}
}

// ErrNoTemporal answers operations that need Temporal on a server built without it.
var ErrNoTemporal = &APIError{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable, Message: "Temporal is not configured on this server"}

// NotImplemented is the honest answer of an operation of the contract not built yet.
func NotImplemented(operationID string) *APIError {
	return &APIError{Status: http.StatusNotImplemented, Code: CodeNotImplemented,
		Message: fmt.Sprintf("operation %s is not implemented yet", operationID),
		Details: map[string]any{"operationId": operationID}}
}

// ErrorHandler is the one place errors become HTTP answers.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		apiErr := ToAPIError(err)
		traceID := TraceID(c)
		if apiErr.Status >= 500 && apiErr.Status != http.StatusNotImplemented {
			log.ErrorContext(c.Request().Context(), "request failed", "err", err, "traceID", traceID,
				"method", c.Request().Method, "path", c.Path())
		}
		if apiErr.Details == nil {
			apiErr.Details = map[string]any{}
		}
		body := ErrorEnvelope{Details: apiErr.Details, Error: apiErr.Message, Code: apiErr.Code, Status: apiErr.Status, TraceID: traceID}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(apiErr.Status)
		} else {
			err = c.JSON(apiErr.Status, body)
		}
		if err != nil {
			log.WarnContext(c.Request().Context(), "write error answer", "err", err, "traceID", traceID)
		}
	}
}

// ToAPIError maps any error to the answer it deserves.
func ToAPIError(err error) *APIError {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var httpErr *echo.HTTPError
	if errors.As(err, &httpErr) {
		return fromEchoError(httpErr)
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		return Conflict("another operation is already running", nil)
	case errors.Is(err, store.ErrNotFound):
		return NotFound("resource")
	case errors.Is(err, store.ErrConflict):
		return Conflict("resource already exists", nil)
	case errors.Is(err, context.DeadlineExceeded):
		return NewError(http.StatusServiceUnavailable, CodeServiceUnavailable, "a dependency did not answer in time")
	default:
		return NewError(http.StatusInternalServerError, CodeInternal, defaultInternalErrorMsg)
	}
}

func fromEchoError(e *echo.HTTPError) *APIError {
	msg := http.StatusText(e.Code)
	if m, ok := e.Message.(string); ok && m != "" {
		msg = m
	}
	switch e.Code {
	case http.StatusBadRequest:
		// oapi-codegen's wrappers report bad path, query and header parameters here.
		return BadRequest(msg, parameterDetails(msg))
	case http.StatusNotFound:
		return NewError(e.Code, CodeNotFound, "no such route")
	case http.StatusMethodNotAllowed:
		return NewError(e.Code, CodeMethodNotAllowed, "method not allowed on this route")
	case http.StatusRequestEntityTooLarge:
		return NewError(e.Code, CodePayloadTooLarge, "request body too large")
	case http.StatusUnsupportedMediaType:
		return NewError(e.Code, CodeUnsupportedMedia, msg)
	case http.StatusUnauthorized:
		return Unauthorized(msg)
	case http.StatusForbidden:
		return Forbidden(msg)
	case http.StatusTooManyRequests:
		return NewError(e.Code, CodeTooManyRequests, msg)
	case http.StatusServiceUnavailable:
		return NewError(e.Code, CodeServiceUnavailable, msg)
	}
	if e.Code >= 500 {
		return NewError(http.StatusInternalServerError, CodeInternal, defaultInternalErrorMsg)
	}
	return NewError(e.Code, CodeBadRequest, msg)
}

// parameterDetails names the parameter in oapi-codegen's binding messages
// ("Invalid format for parameter limit: …").
func parameterDetails(msg string) map[string]any {
	for _, marker := range []string{"parameter ", "Parameter "} {
		if _, rest, ok := strings.Cut(msg, marker); ok {
			name, _, _ := strings.Cut(rest, ":")
			name = strings.Fields(name + " ")[0]
			return map[string]any{strings.Trim(name, `"'`): msg}
		}
	}
	return map[string]any{"request": msg}
}
