package cloud

import (
	"errors"
	"fmt"
	"time"
)

// Kinds of provider errors. Providers return an *Error of one of these kinds (made
// with Errorf or Throttled), so callers match with errors.Is; any other error is
// transient and worth retrying.
var (
	// ErrNotFound: the resource does not exist. Deletes never return it.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a resource of that name exists and was not made with this
	// call's token (a create with the same token returns the existing one instead).
	ErrAlreadyExists = errors.New("already exists")
	// ErrQuotaExceeded: the account's quota or a service limit refuses the request.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrThrottled: the cloud asks to slow down; RetryAfter says for how long.
	ErrThrottled = errors.New("throttled")
	// ErrInvalid: the cloud refuses the request as it stands (bad or unsupported
	// value, missing permission); retrying the same call cannot succeed.
	ErrInvalid = errors.New("invalid request")
	// ErrFailed: the operation failed for good in the cloud (a control plane that
	// ended FAILED, a fault injected by the simulated cloud).
	ErrFailed = errors.New("failed")
)

// Error is a typed provider error.
type Error struct {
	// Kind is one of the Err* values above.
	Kind error
	// Msg says what failed, e.g. `create node group "default-pool"`.
	Msg string
	// RetryAfter is how long the cloud asks to wait (ErrThrottled only); zero = unknown.
	RetryAfter time.Duration
	// Code is the cloud's own name of the error (ResourceInUseException,
	// InjectedFailure…), if it has one; activities report it as the failure's type.
	Code string
	// Err is the cloud's own error, if any.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message()
	if e.Kind == nil {
		return msg
	}
	return e.Kind.Error() + ": " + msg
}

// Message is the error's text without its kind.
func (e *Error) Message() string {
	msg := e.Msg
	if e.Err != nil {
		if msg != "" {
			msg += ": "
		}
		msg += e.Err.Error()
	}
	return msg
}

// Is matches e's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cloud's error.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an error of kind whose message is formatted as fmt.Errorf does; a
// %w verb wraps the cloud's error, which errors.Is and errors.As then find.
func Errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// Throttled returns an ErrThrottled error asking to wait retryAfter.
func Throttled(retryAfter time.Duration, msg string, err error) error {
	return &Error{Kind: ErrThrottled, Msg: msg, RetryAfter: retryAfter, Err: err}
}

// RetryAfter is how long a throttled error asks to wait, and whether err is one.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && errors.Is(e.Kind, ErrThrottled) {
		return e.RetryAfter, true
	}
	return 0, false
}

// KindOf returns the kind of a typed error, or nil for an untyped (transient) one.
func KindOf(err error) error {
	for _, k := range []error{ErrNotFound, ErrAlreadyExists, ErrQuotaExceeded, ErrThrottled, ErrInvalid, ErrFailed} {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}
