package azure

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/astropulse/astroplane/cloud"
)

// Error codes of Azure Resource Manager and AKS that classify sorts.
var (
	notFoundCodes = []string{"ResourceNotFound", "NotFound", "ResourceGroupNotFound", "ParentResourceNotFound"}
	quotaCodes    = []string{"QuotaExceeded", "InsufficientSubnetSize", "InsufficientVCPUQuota", "ErrCode_InsufficientVCPUQuota",
		"SubnetIsFull", "PublicIPCountLimitReached", "OverconstrainedAllocationRequest", "ZonalAllocationFailed", "AllocationFailed"}
	permissionCodes = []string{"AuthorizationFailed", "LinkedAuthorizationFailed", "InvalidAuthenticationToken",
		"InvalidAuthenticationTokenTenant", "AuthenticationFailed", "RequestDisallowedByPolicy"}
	failedCodes = []string{"ResourceDeploymentFailure", "DeploymentFailed"}
)

// apiError is Azure's answer in short: its code, HTTP status and message (the SDK's
// own text also dumps the request). It unwraps to the SDK's *azcore.ResponseError.
type apiError struct {
	Code    string
	Status  int
	Message string
	err     *azcore.ResponseError
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("Azure %s (HTTP %d)", e.Code, e.Status)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.err }

// classify turns an SDK error into cloud's typed errors; what says what was being
// done. Context errors are returned as they are; an error that is not Azure's answer
// (a network failure) is transient.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var typed *cloud.Error
	if errors.As(err, &typed) {
		return err
	}
	var auth *azidentity.AuthenticationFailedError
	if errors.As(err, &auth) && (auth.RawResponse == nil || auth.RawResponse.StatusCode < 500 && auth.RawResponse.StatusCode != http.StatusTooManyRequests) {
		status := 0
		if auth.RawResponse != nil {
			status = auth.RawResponse.StatusCode
		}
		// Its text holds Microsoft Entra's answer (never the secret); the message says
		// what to do.
		return &cloud.Error{Kind: cloud.ErrInvalid, Msg: what, Code: "AuthenticationFailed", Err: fmt.Errorf(
			"sign-in refused by Microsoft Entra ID (HTTP %d): check the tenant ID, client ID and secret, or connect the account again: %w", status, err)}
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		if what == "" {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	ae := &apiError{Code: re.ErrorCode, Status: re.StatusCode, err: re}
	if code, msg := body(re); msg != "" || code != "" {
		ae.Message = msg
		if ae.Code == "" {
			ae.Code = code
		}
	}
	text := strings.ToLower(ae.Message)
	var kind error
	hint := ""
	switch {
	case re.StatusCode == http.StatusNotFound || in(ae.Code, notFoundCodes):
		kind = cloud.ErrNotFound
	case re.StatusCode == http.StatusTooManyRequests || in(ae.Code, []string{"TooManyRequests", "SubscriptionRequestsThrottled"}):
		return &cloud.Error{Kind: cloud.ErrThrottled, Msg: what, RetryAfter: retryAfter(re.RawResponse), Code: ae.Code, Err: ae}
	case in(ae.Code, quotaCodes) || (ae.Code == "OperationNotAllowed" || ae.Code == "BadRequest") && strings.Contains(text, "quota"):
		kind = cloud.ErrQuotaExceeded
		hint = "; ask for more quota in this subscription and region (Azure portal, Quotas) or use fewer or smaller nodes"
		if ae.Code == "InsufficientSubnetSize" || ae.Code == "SubnetIsFull" {
			hint = "; the subnet has too few free addresses for these nodes: use fewer nodes or a larger subnet"
		}
	case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized || in(ae.Code, permissionCodes):
		kind = cloud.ErrInvalid
		hint = "; the identity the platform uses for this subscription lacks a permission: grant it the Contributor role " +
			"(or Azure Kubernetes Service Contributor) on the resource group, e.g. by running the connect setup script again"
	case re.StatusCode == http.StatusPreconditionFailed || re.StatusCode == http.StatusConflict && strings.Contains(strings.ToLower(ae.Code), "alreadyexists"):
		kind = cloud.ErrAlreadyExists
	case in(ae.Code, failedCodes) || re.StatusCode < 400:
		// A long-running operation that ended Failed: its status monitor answered 200
		// with the failure.
		kind = cloud.ErrFailed
	case re.StatusCode == http.StatusBadRequest || in(ae.Code, []string{"InvalidParameter", "BadRequest", "PropertyChangeNotAllowed"}):
		// (409 OperationNotAllowed is another operation in progress on the resource:
		// transient, like every other 409 but "already exists".)
		kind = cloud.ErrInvalid
	default:
		if what == "" {
			return ae
		}
		return fmt.Errorf("%s: %w", what, ae)
	}
	ae.Message += hint
	return &cloud.Error{Kind: kind, Msg: what, Code: ae.Code, Err: ae}
}

// body reads Azure's error body: {"error": {"code", "message"}} (or the inner object
// alone).
func body(re *azcore.ResponseError) (code, message string) {
	if re.RawResponse == nil {
		return "", ""
	}
	raw, err := runtime.Payload(re.RawResponse)
	if err != nil || len(raw) == 0 {
		return "", ""
	}
	type inner struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	var b struct {
		Error *inner `json:"error"`
		inner
	}
	if json.Unmarshal(raw, &b) != nil {
		return "", ""
	}
	if b.Error != nil {
		return b.Error.Code, b.Error.Message
	}
	return b.Code, b.Message
}

// retryAfter is how long a throttled answer asks to wait: Retry-After (seconds or an
// HTTP date) or the milliseconds of retry-after-ms / x-ms-retry-after-ms.
func retryAfter(resp *http.Response) time.Duration {
	if resp == nil {
		return 0
	}
	for _, h := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if ms, err := strconv.Atoi(resp.Header.Get(h)); err == nil && ms > 0 {
			return time.Duration(ms) * time.Millisecond
		}
	}
	v := resp.Header.Get("Retry-After")
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

func in(code string, codes []string) bool {
	for _, c := range codes {
		if strings.EqualFold(code, c) {
			return true
		}
	}
	return false
}
