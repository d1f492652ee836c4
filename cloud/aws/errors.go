package aws

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/astropulse/astroplane/cloud"
)

// DefaultRetryAfter is how long a throttled call waits when AWS's answer does not
// say (no Retry-After header).
const DefaultRetryAfter = 5 * time.Second

// Error codes by what they mean to the workflow. AWS services name the same thing
// differently (EKS ...Exception, EC2 dotted codes), so classify also looks at suffixes.
var (
	notFoundCodes = set("ResourceNotFoundException", "NotFoundException", "NotFound", "NoSuchEntity")
	throttleCodes = set("Throttling", "ThrottlingException", "ThrottledException", "TooManyRequestsException",
		"RequestLimitExceeded", "RequestThrottled", "RequestThrottledException", "SlowDown", "PriorRequestNotComplete",
		"EC2ThrottledException", "BandwidthLimitExceeded")
	quotaCodes = set("ResourceLimitExceededException", "ServiceQuotaExceededException", "ServiceQuotaExceeded",
		"VcpuLimitExceeded", "LimitExceededException", "InsufficientAddressCapacity")
	deniedCodes = set("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
		"AuthFailure", "InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "OptInRequired",
		"NotAuthorizedException")
	invalidCodes = set("InvalidParameterException", "InvalidParameter", "InvalidParameterValue", "InvalidParameterCombination",
		"ValidationException", "ValidationError", "MissingParameter", "UnknownParameter", "InvalidInput",
		"UnsupportedOperation", "Unsupported", "InvalidRequest", "BadRequestException")
	// Failures for good that are nobody's parameter: no capacity where asked.
	failedCodes = set("UnsupportedAvailabilityZoneException", "InsufficientCapacity", "InsufficientInstanceCapacity",
		"InsufficientCidrBlocks", "InsufficientFreeAddressesInSubnet", "InsufficientCapacityException")
)

func set(codes ...string) map[string]bool {
	m := make(map[string]bool, len(codes))
	for _, c := range codes {
		m[c] = true
	}
	return m
}

// classify turns an SDK error of the call what into the contract's typed errors:
//
//   - not found (ResourceNotFoundException, EC2's *.NotFound) → ErrNotFound;
//   - "already exists" (ResourceInUseException saying so, EC2's *.Duplicate,
//     *AlreadyExists) → ErrAlreadyExists; other ResourceInUseExceptions (a cluster
//     with node groups attached, an update in progress) are transient;
//   - throttling (ThrottlingException, TooManyRequestsException,
//     RequestLimitExceeded, HTTP 429) → ErrThrottled after the Retry-After header's
//     delay, else DefaultRetryAfter;
//   - quotas (ResourceLimitExceededException, ServiceQuotaExceeded,
//     VcpuLimitExceeded, any other *LimitExceeded) → ErrQuotaExceeded, saying which
//     quota to raise;
//   - permissions (AccessDenied, UnauthorizedOperation…) → ErrInvalid naming the
//     action the role lacks; bad parameters (InvalidParameter*, ValidationException)
//     → ErrInvalid;
//   - no capacity where asked (UnsupportedAvailabilityZoneException,
//     Insufficient*Capacity) → ErrFailed;
//   - context errors as they are; everything else (5xx, ServerException,
//     DependencyViolation, InvalidRequestException about the cluster's state) is
//     transient, wrapped with what.
//
// Typed errors carry AWS's code as their Code.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	var typed *cloud.Error
	if errors.As(err, &typed) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			if errors.Is(err, context.Canceled) {
				return context.Canceled
			}
			return context.DeadlineExceeded
		}
	}
	action := actionOf(err)
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if status := statusOf(err); status == http.StatusTooManyRequests {
			return cloud.Throttled(retryAfter(err), what+": AWS asks to slow down", err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	code, msg := ae.ErrorCode(), ae.ErrorMessage()
	mk := func(kind error, text string) error {
		return &cloud.Error{Kind: kind, Msg: what + ": " + text, Code: code, Err: err}
	}
	lower := strings.ToLower(msg)
	switch {
	case throttleCodes[code] || statusOf(err) == http.StatusTooManyRequests:
		return &cloud.Error{Kind: cloud.ErrThrottled, Msg: what + ": AWS asks to slow down", RetryAfter: retryAfter(err), Code: code, Err: err}
	case notFoundCodes[code] || strings.HasSuffix(code, ".NotFound") || strings.HasSuffix(code, "NotFoundException"):
		return mk(cloud.ErrNotFound, "not found")
	case code == "ResourceInUseException" && strings.Contains(lower, "already exists"),
		strings.HasSuffix(code, ".Duplicate"), strings.HasSuffix(code, "AlreadyExists"), strings.HasSuffix(code, "AlreadyExistsException"):
		return mk(cloud.ErrAlreadyExists, "already exists")
	case quotaCodes[code] || strings.HasSuffix(code, "LimitExceeded") || strings.HasSuffix(code, "LimitExceededException") ||
		strings.HasSuffix(code, "QuotaExceeded") || strings.HasSuffix(code, "QuotaExceededException"):
		return mk(cloud.ErrQuotaExceeded, fmt.Sprintf("an AWS quota or service limit refuses it (%s: %s); raise the quota in the Service Quotas console of the account (or remove unused resources) and try again", code, msg))
	case deniedCodes[code]:
		need := "the permission"
		if action != "" {
			need = "permission for " + action
		}
		return mk(cloud.ErrInvalid, fmt.Sprintf("access denied (%s): the role Astro Plane uses in the account needs %s; update the connected account's role (re-run the connect template) and try again", code, need))
	case invalidCodes[code] || strings.HasPrefix(code, "InvalidParameter") || strings.HasPrefix(code, "Malformed"):
		return mk(cloud.ErrInvalid, fmt.Sprintf("AWS refuses the request (%s): %s", code, msg))
	case failedCodes[code] || strings.HasPrefix(code, "Insufficient"):
		return mk(cloud.ErrFailed, fmt.Sprintf("AWS cannot do it there (%s): %s", code, msg))
	}
	return fmt.Errorf("%s (transient, %s): %w", what, code, err)
}

// actionOf is the IAM action of a failed SDK call ("eks:CreateCluster"), if known.
func actionOf(err error) string {
	var oe *smithy.OperationError
	if !errors.As(err, &oe) {
		return ""
	}
	svc := strings.ToLower(strings.ReplaceAll(oe.Service(), " ", ""))
	return svc + ":" + oe.Operation()
}

// statusOf is the HTTP status of a failed call's answer; 0 when there was none.
func statusOf(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}

// retryAfter is the delay the answer's Retry-After header asks for (seconds or an
// HTTP date), else DefaultRetryAfter.
func retryAfter(err error) time.Duration {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return DefaultRetryAfter
	}
	h := re.Response.Header.Get("Retry-After")
	if h == "" {
		return DefaultRetryAfter
	}
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d.Round(time.Second)
		}
		return 0
	}
	return DefaultRetryAfter
}

// codeOf is AWS's error code of err; "" when it has none.
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isKind reports whether err is of kind.
func isKind(err, kind error) bool { return errors.Is(err, kind) }
