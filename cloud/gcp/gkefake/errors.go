package gkefake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is an error the fake answers with, in Google's JSON error shape.
type Error struct {
	// Code is the HTTP status (404, 409, 429…).
	Code int
	// Status is the canonical status name (NOT_FOUND, RESOURCE_EXHAUSTED…).
	Status  string
	Message string
	// Reason is the ErrorInfo reason (RATE_LIMIT_EXCEEDED…); Compute answers it as
	// errors[].reason (quotaExceeded…).
	Reason string
	// RetryAfter, when set, is sent as a RetryInfo detail and a Retry-After header.
	RetryAfter time.Duration
	// QuotaMetric, when set, is sent as a QuotaFailure violation.
	QuotaMetric string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }

// NotFound is a 404 NOT_FOUND.
func NotFound(msg string) *Error {
	return &Error{Code: 404, Status: "NOT_FOUND", Reason: "notFound", Message: msg}
}

// AlreadyExists is a 409 ALREADY_EXISTS.
func AlreadyExists(msg string) *Error {
	return &Error{Code: 409, Status: "ALREADY_EXISTS", Reason: "alreadyExists", Message: msg}
}

// Throttled is a 429 RESOURCE_EXHAUSTED rate limit asking to retry after d.
func Throttled(d time.Duration) *Error {
	return &Error{Code: 429, Status: "RESOURCE_EXHAUSTED", Reason: "RATE_LIMIT_EXCEEDED", RetryAfter: d,
		Message: "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per region' of service 'container.googleapis.com'."}
}

// QuotaExceeded is GKE's refusal for want of regional quota of metric (CPUS,
// IN_USE_ADDRESSES…): 403 with a QuotaFailure, as GKE answers it.
func QuotaExceeded(metric string) *Error {
	return &Error{Code: 403, Status: "RESOURCE_EXHAUSTED", Reason: "QUOTA_EXCEEDED", QuotaMetric: metric,
		Message: fmt.Sprintf("Insufficient regional quota to satisfy request: resource %q: request requires '12.0' and is short '4.0'. project has a quota of '8.0' with '8.0' available.", metric)}
}

// PermissionDenied is a 403 PERMISSION_DENIED.
func PermissionDenied(msg string) *Error {
	return &Error{Code: 403, Status: "PERMISSION_DENIED", Reason: "IAM_PERMISSION_DENIED", Message: msg}
}

// InvalidArgument is a 400 INVALID_ARGUMENT.
func InvalidArgument(msg string) *Error {
	return &Error{Code: 400, Status: "INVALID_ARGUMENT", Reason: "badRequest", Message: msg}
}

// Internal is a 500 INTERNAL (as an operation's error: the operation failed).
func Internal(msg string) *Error { return &Error{Code: 500, Status: "INTERNAL", Message: msg} }

func invalid(format string, args ...any) *Error { return InvalidArgument(fmt.Sprintf(format, args...)) }

func notFound(name string) *Error { return NotFound(fmt.Sprintf("Not found: %s.", name)) }

func precondition(format string, args ...any) *Error {
	return &Error{Code: 400, Status: "FAILED_PRECONDITION", Reason: "failedPrecondition", Message: fmt.Sprintf(format, args...)}
}

// grpcCodes are the google.rpc.Code numbers of the status names.
var grpcCodes = map[string]int64{
	"CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5, "ALREADY_EXISTS": 6,
	"PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11,
	"UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}

// details are the google.rpc error details of e.
func (e *Error) details() []map[string]any {
	var out []map[string]any
	if e.Reason != "" {
		out = append(out, map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": e.Reason, "domain": "container.googleapis.com"})
	}
	if e.RetryAfter > 0 {
		out = append(out, map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo",
			"retryDelay": strconv.FormatFloat(e.RetryAfter.Seconds(), 'f', -1, 64) + "s"})
	}
	if e.QuotaMetric != "" {
		out = append(out, map[string]any{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
			"violations": []map[string]string{{"subject": "project", "description": "quota metric " + e.QuotaMetric}}})
	}
	return out
}

// writeError answers e in GKE's error shape, or Compute's (with its errors list).
func writeError(w http.ResponseWriter, compute bool, e *Error) {
	body := map[string]any{"code": e.Code, "message": e.Message}
	if compute {
		reason := e.Reason
		if reason == "" {
			reason = strings.ToLower(e.Status)
		}
		body["errors"] = []map[string]string{{"domain": "global", "reason": computeReason(reason), "message": e.Message}}
	} else {
		body["status"] = e.Status
		if d := e.details(); len(d) > 0 {
			body["details"] = d
		}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(e.Code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": body})
}

// computeReason is Compute's spelling of a reason (lowerCamel: quotaExceeded).
func computeReason(reason string) string {
	switch reason {
	case "QUOTA_EXCEEDED":
		return "quotaExceeded"
	case "RATE_LIMIT_EXCEEDED":
		return "rateLimitExceeded"
	case "IAM_PERMISSION_DENIED":
		return "forbidden"
	}
	return reason
}

// Fault makes the fake answer calls of a REST method with an error.
type Fault struct {
	// Method is the REST method (clusters.create, nodePools.delete, networks.insert…;
	// see Request.Method).
	Method string
	// Name, when set, limits the fault to resources whose name contains it.
	Name string
	// Err is the error.
	Err *Error
	// Times is how many calls fail; 0 = every call until the fault is removed.
	Times int
	// InOperation accepts the call and fails the operation it starts with Err instead
	// (a failed long-running operation: a created cluster then goes to ERROR; a delete
	// that fails NOT_FOUND leaves the resource gone).
	InOperation bool
}

type fault struct {
	Fault
	used int
}

// Inject makes calls fail as f says, until remove is called (or f.Times calls failed).
func (s *Server) Inject(f Fault) (remove func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ff := &fault{Fault: f}
	s.faults = append(s.faults, ff)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.faults {
			if x == ff {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// fault returns the fault a call of method on name meets, counting it; nil if none.
func (s *Server) fault(method, name string) *fault {
	for _, f := range s.faults {
		if f.Method != method || (f.Name != "" && !strings.Contains(name, f.Name)) || (f.Times > 0 && f.used >= f.Times) {
			continue
		}
		f.used++
		return f
	}
	return nil
}
