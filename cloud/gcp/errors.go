package gcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	compute "google.golang.org/api/compute/v1"
	container "google.golang.org/api/container/v1"
	"google.golang.org/api/googleapi"

	"github.com/astropulse/astroplane/cloud"
)

// apiError is what Google said, read leniently from both shapes its APIs answer
// with (GKE's status and details, Compute's errors list) and from failed operations.
type apiError struct {
	code       int    // HTTP status (0 for an operation's error)
	status     string // canonical status: NOT_FOUND, RESOURCE_EXHAUSTED…
	reasons    []string
	message    string
	retryAfter time.Duration
	quota      []string // quota metrics or descriptions of QuotaFailure violations
}

// statusNames are the canonical status names by google.rpc.Code number.
var statusNames = map[int64]string{
	1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND", 6: "ALREADY_EXISTS",
	7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 10: "ABORTED", 11: "OUT_OF_RANGE",
	12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE", 15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}

// detail is one google.rpc error detail, the fields read of ErrorInfo, RetryInfo
// and QuotaFailure.
type detail struct {
	Type       string `json:"@type"`
	Reason     string `json:"reason"`
	RetryDelay string `json:"retryDelay"`
	Violations []struct {
		Subject     string `json:"subject"`
		Description string `json:"description"`
		QuotaMetric string `json:"quotaMetric"`
	} `json:"violations"`
	Metadata map[string]string `json:"metadata"`
}

func (a *apiError) addDetail(raw []byte) {
	var d detail
	if json.Unmarshal(raw, &d) != nil {
		return
	}
	switch {
	case strings.HasSuffix(d.Type, "google.rpc.ErrorInfo"):
		a.reasons = append(a.reasons, d.Reason)
		if m := d.Metadata["quota_metric"]; m != "" {
			a.quota = append(a.quota, m)
		}
	case strings.HasSuffix(d.Type, "google.rpc.RetryInfo"):
		if dur, err := time.ParseDuration(d.RetryDelay); err == nil {
			a.retryAfter = dur
		}
	case strings.HasSuffix(d.Type, "google.rpc.QuotaFailure"):
		for _, v := range d.Violations {
			switch {
			case v.QuotaMetric != "":
				a.quota = append(a.quota, v.QuotaMetric)
			case v.Description != "":
				a.quota = append(a.quota, v.Description)
			default:
				a.quota = append(a.quota, v.Subject)
			}
		}
	}
}

// fromHTTP reads a googleapi.Error.
func fromHTTP(e *googleapi.Error) *apiError {
	a := &apiError{code: e.Code, message: e.Message}
	var body struct {
		Error struct {
			Status  string            `json:"status"`
			Details []json.RawMessage `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(e.Body), &body) == nil {
		a.status = body.Error.Status
		for _, d := range body.Error.Details {
			a.addDetail(d)
		}
	}
	for _, it := range e.Errors {
		a.reasons = append(a.reasons, it.Reason)
		if a.message == "" {
			a.message = it.Message
		}
	}
	if a.retryAfter == 0 {
		if s, err := strconv.Atoi(e.Header.Get("Retry-After")); err == nil && s > 0 {
			a.retryAfter = time.Duration(s) * time.Second
		}
	}
	if a.message == "" {
		a.message = http.StatusText(e.Code)
	}
	return a
}

// fromGKEOperation reads a failed GKE operation's error.
func fromGKEOperation(s *container.Status) *apiError {
	a := &apiError{status: statusNames[s.Code], message: s.Message}
	for _, d := range s.Details {
		a.addDetail(d)
	}
	return a
}

// fromComputeOperation reads a failed Compute operation's errors.
func fromComputeOperation(op *compute.Operation) *apiError {
	a := &apiError{} // no HTTP code: a failed operation, not a refused call
	var msgs []string
	for _, e := range op.Error.Errors {
		a.reasons = append(a.reasons, e.Code)
		msgs = append(msgs, e.Message)
	}
	a.message = strings.Join(msgs, "; ")
	switch code := strings.Join(a.reasons, " "); {
	case strings.Contains(code, "QUOTA"):
		a.status = "RESOURCE_EXHAUSTED"
		a.quota = append(a.quota, a.message)
	case strings.Contains(code, "NOT_FOUND"):
		a.status = "NOT_FOUND"
	case strings.Contains(code, "ALREADY_EXISTS"):
		a.status = "ALREADY_EXISTS"
	case strings.Contains(code, "RATE_LIMIT"):
		a.status, a.code = "RESOURCE_EXHAUSTED", http.StatusTooManyRequests
	case strings.Contains(code, "PERMISSION") || strings.Contains(code, "FORBIDDEN"):
		a.status = "PERMISSION_DENIED"
	case strings.Contains(code, "INVALID"):
		a.status = "INVALID_ARGUMENT"
	default:
		a.status = map[int64]string{400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}[op.HttpErrorStatusCode]
	}
	return a
}

func (a *apiError) hasReason(rs ...string) bool {
	for _, r := range a.reasons {
		if slices.ContainsFunc(rs, func(x string) bool { return strings.EqualFold(r, x) }) {
			return true
		}
	}
	return false
}

// is reports whether the error has the status name or the HTTP code.
func (a *apiError) is(status string, code int) bool {
	return a.status == status || (a.status == "" && code != 0 && a.code == code)
}

// googleError is the text of what Google said, wrapping its error.
type googleError struct {
	msg string
	err error
}

func (e *googleError) Error() string { return e.msg }
func (e *googleError) Unwrap() error { return e.err }

// typed turns an error of a Google API call made for what ("create cluster \"x\"")
// into the contract's typed errors. Context errors are returned as they are;
// transport errors and 5xx as they are, wrapped (transient).
func typed(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return classify(what, fromHTTP(gerr), err)
}

// classify types what Google said. A failed operation (no HTTP code) whose failure
// has no retryable status failed for good (ErrFailed); a call's 5xx is transient.
func classify(what string, a *apiError, cause error) error {
	said := a.message
	if a.status != "" {
		said += " (" + a.status + ")"
	} else if a.code != 0 {
		said += fmt.Sprintf(" (HTTP %d)", a.code)
	}
	gerr := &googleError{msg: said, err: cause}
	e := func(kind error, advice string) error {
		msg := what
		if advice != "" {
			msg += ": " + advice
		}
		return &cloud.Error{Kind: kind, Msg: msg, Err: gerr}
	}
	rate := a.hasReason("RATE_LIMIT_EXCEEDED", "rateLimitExceeded", "userRateLimitExceeded", "RESOURCE_EXHAUSTED_RATE")
	quota := a.hasReason("QUOTA_EXCEEDED", "quotaExceeded", "RESOURCE_EXHAUSTED_QUOTA") || len(a.quota) > 0 ||
		(a.is("RESOURCE_EXHAUSTED", 0) || a.code == http.StatusForbidden) && strings.Contains(strings.ToLower(a.message), "quota")
	lower := strings.ToLower(a.message)
	switch {
	case a.code == http.StatusTooManyRequests || rate:
		return cloud.Throttled(a.retryAfter, what+": GCP asks to slow down", gerr)
	case quota:
		metric := ""
		if len(a.quota) > 0 {
			metric = " (" + strings.Join(a.quota, ", ") + ")"
		}
		return e(cloud.ErrQuotaExceeded, "the project's GCP quota is exhausted"+metric+
			"; raise the quota (Google Cloud console, IAM & Admin > Quotas) or ask for fewer or smaller nodes")
	case a.is("RESOURCE_EXHAUSTED", 0):
		return cloud.Throttled(a.retryAfter, what+": GCP asks to slow down", gerr)
	case a.is("NOT_FOUND", http.StatusNotFound):
		return e(cloud.ErrNotFound, "")
	case a.status == "ABORTED":
		return fmt.Errorf("%s: %w", what, gerr) // a concurrent change: retry
	case a.is("ALREADY_EXISTS", http.StatusConflict):
		return e(cloud.ErrAlreadyExists, "")
	case a.is("UNAUTHENTICATED", http.StatusUnauthorized):
		return e(cloud.ErrInvalid, "GCP refused the account's credentials; reconnect the account or renew its credentials")
	case a.is("PERMISSION_DENIED", http.StatusForbidden):
		return e(cloud.ErrInvalid, "permission denied; grant the connected service account the Kubernetes Engine Admin "+
			"(roles/container.admin), Compute Network Admin (roles/compute.networkAdmin) and Service Account User "+
			"(roles/iam.serviceAccountUser) roles on the project, and check that the Kubernetes Engine and Compute APIs are enabled")
	case a.status == "FAILED_PRECONDITION" && (strings.Contains(lower, "incompatible operation") || strings.Contains(lower, "being")),
		a.hasReason("resourceInUseByAnotherResource", "resourceNotReady"), a.status == "UNAVAILABLE", a.status == "DEADLINE_EXCEEDED":
		return fmt.Errorf("%s: %w", what, gerr) // busy or dependent resources still going: retry
	case a.is("INVALID_ARGUMENT", http.StatusBadRequest), a.status == "FAILED_PRECONDITION", a.status == "OUT_OF_RANGE",
		a.status == "UNIMPLEMENTED":
		return e(cloud.ErrInvalid, "GCP refused the request as it stands")
	case a.code == 0:
		return e(cloud.ErrFailed, "the operation failed in GCP")
	}
	return fmt.Errorf("%s: %w", what, gerr)
}
