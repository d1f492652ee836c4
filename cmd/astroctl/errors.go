package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/astropulse/astroplane/cmd/astroctl/internal/manifest"
)

// Exit codes scripts can rely on (listed in `astroctl --help` and docs/cli.md).
const (
	exitOK         = 0   // done: the command, and the operation it waited for, succeeded
	exitFailed     = 1   // failed: the operation FAILED, was CANCELLED, REJECTED or EXPIRED; or any other error
	exitValidation = 2   // invalid input: a manifest or flag refused before sending, or the API's 400/422
	exitAuth       = 3   // not logged in, or the API's 401/403
	exitNotFound   = 4   // the API's 404/410: no such cluster, application, …
	exitRunning    = 5   // stopped waiting (--timeout) while the operation still runs
	exitDetached   = 130 // Ctrl-C while waiting: detached, the operation still runs
)

const exitCodesHelp = `Exit codes:
  0    done (and the operation waited for succeeded)
  1    failed: the operation ended FAILED, CANCELLED, REJECTED or EXPIRED, or another error
  2    invalid input: a manifest or flag refused before sending (the field is named), or
       the API's 400/422 validation answer
  3    not logged in, or the API refused the credentials (401/403)
  4    not found (404/410)
  5    --timeout passed while the operation still runs
  130  Ctrl-C while waiting: detached, the operation carries on`

// codedError carries an exit code.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &codedError{code: code, err: err} }

// silentError has been reported already: the exit code only.
type silentError struct{ code int }

func (e *silentError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func exitCode(err error) int {
	var ce *codedError
	var se *silentError
	var ve *manifest.ValidationError
	var ae *apiError
	switch {
	case errors.As(err, &se):
		return se.code
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &ve):
		return exitValidation
	case errors.As(err, &ae):
		return ae.exitCode()
	case isUsageError(err):
		return exitValidation
	}
	return exitFailed
}

// isUsageError recognises cobra's own flag and argument errors.
func isUsageError(err error) bool {
	msg := err.Error()
	for _, s := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "accepts ", "requires at least", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// apiError is an answer outside 2xx, read from the error envelope.
type apiError struct {
	Status  int            `json:"status"`
	Message string         `json:"error"`
	Code    string         `json:"error_code"`
	Details map[string]any `json:"details"`
	TraceID string         `json:"trace_id"`
}

func newAPIError(status int, body []byte) *apiError {
	e := &apiError{}
	if json.Unmarshal(body, e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
		if e.Message == "" {
			e.Message = http.StatusText(status)
		}
	}
	e.Status = status
	return e
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d", e.Message, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	b.WriteString(")")
	keys := make([]string, 0, len(e.Details))
	for k := range e.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %s: %v", k, e.Details[k])
	}
	if e.TraceID != "" && e.Status >= 500 {
		fmt.Fprintf(&b, "\n  trace ID: %s", e.TraceID)
	}
	return b.String()
}

func (e *apiError) exitCode() int {
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return exitValidation
	case http.StatusUnauthorized, http.StatusForbidden:
		return exitAuth
	case http.StatusNotFound, http.StatusGone:
		return exitNotFound
	}
	return exitFailed
}
