// Package approvals serves approvals of cluster operations: the organization's
// approval policy (which operations wait for whom, and how long), the approval page
// an approval link opens, and the approve or reject decision it posts, delivered to
// the waiting workflow. Gate gives the clusters group the gate an operation gets.
package approvals

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// Defaults of an approval policy.
const (
	defaultApprovalExpiry = 72 * time.Hour
	minApprovalExpiry     = 5 * time.Minute
	maxApprovalExpiry     = 30 * 24 * time.Hour
)

// Server answers the approval operations.
type Server struct {
	store    *store.Store
	temporal client.Client
	signer   *approval.Signer
	box      *secrets.Box
	audit    httpx.Audit
}

// NewServer returns the approval handlers: policies in st, decisions delivered through
// tc, links verified by signer (without one, links answer 501), the Slack
// integration's signing secret opened with box (without one, decisions from Slack
// answer 501), refusals recorded by audit.
func NewServer(st *store.Store, tc client.Client, signer *approval.Signer, box *secrets.Box, audit httpx.Audit) *Server {
	return &Server{store: st, temporal: tc, signer: signer, box: box, audit: audit}
}

// GetApprovalPolicy returns the organization's approval policy (operations empty
// when it has none).
func (s *Server) GetApprovalPolicy(c echo.Context, _ api.GetApprovalPolicyParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	pol, err := policy(c.Request().Context(), s.store, p.OrgID)
	if err != nil {
		return err
	}
	return httpx.OK(c, policyView(pol), "approval policy")
}

// SetApprovalPolicy replaces the organization's approval policy.
func (s *Server) SetApprovalPolicy(c echo.Context, _ api.SetApprovalPolicyParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	var in api.ApprovalPolicyInput
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	expiry, expiryText := defaultApprovalExpiry, ""
	if in.ExpiresIn != nil {
		d, err := ParseDuration(*in.ExpiresIn)
		switch {
		case err != nil:
			return httpx.ValidationFailed(map[string]any{"expiresIn": err.Error()})
		case d < minApprovalExpiry || d > maxApprovalExpiry:
			return httpx.ValidationFailed(map[string]any{"expiresIn": fmt.Sprintf("%q is out of range: from %s to %s (30d)",
				*in.ExpiresIn, FormatDuration(minApprovalExpiry), FormatDuration(maxApprovalExpiry))})
		}
		expiry, expiryText = d, strings.TrimSpace(*in.ExpiresIn)
	}
	roles := []string{store.RoleAdmin}
	if in.ApproverRoles != nil {
		roles = roles[:0]
		for _, r := range *in.ApproverRoles {
			roles = append(roles, string(r))
		}
	}
	ops := make([]string, 0, len(in.Operations))
	for _, o := range in.Operations {
		ops = append(ops, string(o))
	}
	pol := store.ApprovalPolicy{OrgID: p.OrgID, Operations: strings.Join(ops, ","), ApproverRoles: strings.Join(roles, ","),
		ExpiresIn: expiry, ExpiresText: expiryText, AllowSelfApproval: in.AllowSelfApproval != nil && *in.AllowSelfApproval, UpdatedBy: p.UserID}
	if err := s.store.PutApprovalPolicy(c.Request().Context(), &pol); err != nil {
		return err
	}
	s.audit.Record(c, p, "APPROVAL_POLICY", "UPDATE", p.OrgID, store.OutcomeSuccess)
	return httpx.OK(c, policyView(pol), "approval policy set")
}

// policy is orgID's approval policy, or the default one (nothing waits) when it has none.
func policy(ctx context.Context, st *store.Store, orgID string) (store.ApprovalPolicy, error) {
	pol, err := st.GetApprovalPolicy(ctx, orgID)
	if errors.Is(err, store.ErrNotFound) {
		return store.ApprovalPolicy{OrgID: orgID, ApproverRoles: store.RoleAdmin, ExpiresIn: defaultApprovalExpiry}, nil
	}
	return pol, err
}

func policyView(p store.ApprovalPolicy) api.ApprovalPolicy {
	self := p.AllowSelfApproval
	v := api.ApprovalPolicy{Operations: []api.ApprovalPolicyOperations{}, ApproverRoles: splitList(p.ApproverRoles), ExpiresIn: p.ExpiresText,
		AllowSelfApproval: &self}
	if v.ExpiresIn == "" {
		v.ExpiresIn = FormatDuration(p.ExpiresIn) // the default, or a policy stored before ExpiresText
	}
	for _, o := range splitList(p.Operations) {
		v.Operations = append(v.Operations, api.ApprovalPolicyOperations(o))
	}
	if !p.UpdatedAt.IsZero() {
		v.UpdatedAt = &p.UpdatedAt
	}
	return v
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// Gate is the gate an operation of opType that p asks for gets under p's
// organization's policy in st, or nil when it needs no approval.
func Gate(ctx context.Context, st *store.Store, p httpx.Principal, opType string, summary []activities.Fact) (*workflows.ApprovalGate, error) {
	pol, err := policy(ctx, st, p.OrgID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(splitList(pol.Operations), opType) {
		return nil, nil
	}
	return &workflows.ApprovalGate{ExpiresIn: pol.ExpiresIn, ApproverRoles: splitList(pol.ApproverRoles), RequestedBy: p.UserID, Summary: summary}, nil
}

// approvalAttempt is a checked approval link: its claims and the request it is for.
type approvalAttempt struct {
	claims  approval.Claims
	request store.ApprovalRequest
}

// checkApprovalLink verifies a link's token against its query parameters, that it was
// not used, and that its operation still waits. Every refusal is audited.
func (s *Server) checkApprovalLink(c echo.Context, orgID, clusterName, token string) (approvalAttempt, *httpx.APIError) {
	ctx := c.Request().Context()
	refuse := func(status int, code, reason string, claims approval.Claims) (approvalAttempt, *httpx.APIError) {
		s.audit.RefusedToken(c, orgID, claims, reason)
		return approvalAttempt{}, &httpx.APIError{Status: status, Code: code, Message: reason}
	}
	if s.signer == nil {
		return approvalAttempt{}, httpx.NotImplemented("approval links (no signing key configured)")
	}
	claims, err := s.signer.VerifyFor(approval.PurposeApproval, token, time.Now())
	switch {
	case errors.Is(err, approval.ErrExpired):
		return refuse(http.StatusBadRequest, httpx.CodeBadRequest, "this approval link has expired", claims)
	case errors.Is(err, approval.ErrWrongPurpose):
		return refuse(http.StatusBadRequest, httpx.CodeBadRequest, "this link is not an approval link", claims)
	case err != nil:
		return refuse(http.StatusBadRequest, httpx.CodeBadRequest, "this approval link is not valid (altered or malformed)", approval.Claims{})
	}
	if err := claims.Matches(orgID, clusterName); err != nil {
		return refuse(http.StatusBadRequest, httpx.CodeBadRequest, "this approval link is for another operation", claims)
	}
	req, apiErr := s.pendingRequest(ctx, claims)
	if apiErr != nil {
		if apiErr.Status < 500 {
			s.audit.RefusedToken(c, orgID, claims, apiErr.Message)
		}
		return approvalAttempt{}, apiErr
	}
	return approvalAttempt{claims: claims, request: req}, nil
}

// pendingRequest is the approval request a genuine token is for, when the token is
// unused and the request still waits; otherwise the refusal (not audited here).
func (s *Server) pendingRequest(ctx context.Context, claims approval.Claims) (store.ApprovalRequest, *httpx.APIError) {
	if used, err := s.store.TokenUsed(ctx, claims.Nonce); err != nil {
		return store.ApprovalRequest{}, httpx.ToAPIError(err)
	} else if used {
		return store.ApprovalRequest{}, httpx.Conflict("this approval link was already used", nil)
	}
	req, err := s.store.GetApprovalRequest(ctx, claims.OrgID, claims.OperationID)
	if errors.Is(err, store.ErrNotFound) {
		return store.ApprovalRequest{}, &httpx.APIError{Status: http.StatusNotFound, Code: httpx.CodeNotFound, Message: "no approval was requested for this operation"}
	}
	if err != nil {
		return store.ApprovalRequest{}, httpx.ToAPIError(err)
	}
	if req.Status == store.ApprovalCancelled {
		return store.ApprovalRequest{}, httpx.Conflict("this operation was cancelled while it waited for approval: there is nothing to approve or reject", nil)
	}
	if req.Status != store.ApprovalPending {
		return store.ApprovalRequest{}, httpx.Conflict("this operation was already "+strings.ToLower(req.Status), nil)
	}
	return req, nil
}

// ShowClusterApprovalPage shows what an approval link would approve, with Approve and
// Reject buttons that POST; it never acts itself.
func (s *Server) ShowClusterApprovalPage(c echo.Context, params api.ShowClusterApprovalPageParams) error {
	attempt, apiErr := s.checkApprovalLink(c, params.OrgId, params.ClusterName, params.Token)
	if apiErr != nil {
		if apiErr.Status >= 500 {
			return apiErr
		}
		return renderPage(c, apiErr.Status, approval.Page{ClusterName: params.ClusterName, Error: apiErr.Message})
	}
	r := attempt.request
	page := approval.Page{
		ApproveAction: decisionURL(params.OrgId, params.ClusterName, params.Token, workflows.ActionApprove),
		RejectAction:  decisionURL(params.OrgId, params.ClusterName, params.Token, workflows.ActionReject),
		Token:         params.Token, OrgID: params.OrgId, ClusterName: params.ClusterName,
		OperationID: r.ID, OperationType: r.OperationType, ExpiresAt: r.ExpiresAt,
	}
	if u, err := s.store.GetUser(c.Request().Context(), r.RequestedBy); err == nil {
		page.Summary = append(page.Summary, approval.Fact{Label: "Requested by", Value: u.Email})
	}
	page.Summary = append(page.Summary, approval.Fact{Label: "Requested at", Value: r.CreatedAt.UTC().Format(time.RFC1123)})
	if cl, err := s.store.GetCluster(c.Request().Context(), r.OrgID, r.ClusterID); err == nil {
		page.Summary = append(page.Summary, approval.Fact{Label: "Provider", Value: cl.Provider + " (" + cl.ProvisionerType + ")"},
			approval.Fact{Label: "Region", Value: cl.Region}, approval.Fact{Label: "Kubernetes", Value: cl.KubernetesVersion})
	}
	return renderPage(c, http.StatusOK, page)
}

func decisionURL(orgID, clusterName, token, action string) string {
	q := url.Values{"clusterName": {clusterName}, "orgId": {orgID}, "token": {token}, "action": {action}}
	return "/api/v1/cluster-approvals?" + q.Encode()
}

func renderPage(c echo.Context, status int, p approval.Page) error {
	var buf bytes.Buffer
	if err := approval.RenderPage(&buf, p); err != nil {
		return err
	}
	approval.SetPageHeaders(c.Response().Header())
	return c.HTMLBlob(status, buf.Bytes())
}

// ApproveClusterOperation takes an approve or reject decision from an approval link:
// it checks the token (signed, bound, unexpired, unused), the approver's role, and
// delivers the decision to the waiting workflow as an Update whose validator says at
// once whether it was taken. Browsers get a page, API clients the envelope.
func (s *Server) ApproveClusterOperation(c echo.Context, params api.ApproveClusterOperationParams) error {
	wantsHTML := strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/html")
	fail := func(e *httpx.APIError) error {
		if wantsHTML && e.Status < 500 {
			return renderPage(c, e.Status, approval.Page{ClusterName: params.ClusterName, Error: e.Message})
		}
		return e
	}
	attempt, apiErr := s.checkApprovalLink(c, params.OrgId, params.ClusterName, params.Token)
	if apiErr != nil {
		return fail(apiErr)
	}
	claims, ctx := attempt.claims, c.Request().Context()
	approver, apiErr := s.approver(c, claims, attempt.request)
	if apiErr != nil {
		return fail(apiErr)
	}
	// Single use, atomically: a replay racing this request loses here.
	if err := s.store.UseToken(ctx, claims.OrgID, claims.Nonce, approval.PurposeApproval, time.Now().UTC()); errors.Is(err, store.ErrTokenUsed) {
		s.audit.RefusedToken(c, claims.OrgID, claims, "this approval link was already used")
		return fail(httpx.Conflict("this approval link was already used", nil))
	} else if err != nil {
		return err
	}
	result, err := s.deliver(ctx, claims, string(params.Action), approver)
	if err != nil {
		var e *httpx.APIError
		if errors.As(err, &e) {
			return fail(e)
		}
		return err
	}
	msg := decidedMessage(result, approver, attempt.request.OperationType, claims.ClusterName)
	if wantsHTML {
		return renderPage(c, http.StatusOK, approval.Page{ClusterName: claims.ClusterName, OperationID: claims.OperationID,
			OperationType: attempt.request.OperationType, Done: msg})
	}
	return httpx.OK(c, msg, result.Status)
}

// deliver hands a decision taken by approver to the operation's waiting workflow as
// an Update, and waits for its validator and handler. An operation that ended, or a
// decision the gate refuses, is a 409 *httpx.APIError.
func (s *Server) deliver(ctx context.Context, claims approval.Claims, action, approver string) (workflows.DecisionResult, error) {
	var result workflows.DecisionResult
	if s.temporal == nil {
		return result, httpx.ErrNoTemporal
	}
	handle, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: claims.OperationID, UpdateName: workflows.UpdateDecide, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.Decision{Action: action, DecidedBy: approver}},
	})
	if err == nil {
		err = handle.Get(ctx, &result)
	}
	if err != nil {
		var notFound *serviceerror.NotFound
		var rejected *temporal.ApplicationError
		switch {
		case errors.As(err, &notFound), strings.Contains(err.Error(), "workflow execution already completed"):
			return result, httpx.Conflict("the operation has already ended", nil)
		case errors.As(err, &rejected): // the gate's validator refused the decision
			return result, httpx.Conflict(rejected.Message(), nil)
		}
		return result, fmt.Errorf("deliver decision to %s: %w", claims.OperationID, err)
	}
	return result, nil
}

// decidedMessage says what a delivered decision means: "Approved by ann@example.com.
// The deploy of cluster prod continues."
func decidedMessage(result workflows.DecisionResult, approver, opType, clusterName string) string {
	word := map[string]string{store.ApprovalApproved: "Approved", store.ApprovalRejected: "Rejected"}[result.Status]
	return fmt.Sprintf("%s by %s. The %s of cluster %s %s.", word, approver, opType, clusterName,
		map[string]string{store.ApprovalApproved: "continues", store.ApprovalRejected: "will not run"}[result.Status])
}

// approver is who decides: the API key's user when one is sent, else the user the
// link was sent to. A link posted in the Slack channel names no one, so it decides
// only with an API key (or through the Slack app's signed buttons, ReceiveSlackAction):
// never "anyone in the channel". The user must still hold a role the policy lets
// approve, and, unless the policy allows self-approval, must not be who asked.
func (s *Server) approver(c echo.Context, claims approval.Claims, req store.ApprovalRequest) (string, *httpx.APIError) {
	userID := claims.Approver
	if p, ok := httpx.PrincipalOf(c); ok {
		if p.OrgID != claims.OrgID {
			s.audit.RefusedToken(c, claims.OrgID, claims, "decision through an API key of another organization")
			return "", httpx.Forbidden("this API key belongs to another organization")
		}
		userID = p.UserID
	} else if strings.HasPrefix(claims.Approver, "slack:") {
		s.audit.RefusedToken(c, claims.OrgID, claims, "Slack channel link without an approver")
		return "", httpx.Forbidden("a link from the Slack channel names no approver: decide with the Slack message's buttons " +
			"(as a Slack user mapped to an approver), or send your " + httpx.HeaderAPIKey)
	}
	return s.checkApprover(c, claims, req, userID, func(reason string) { s.audit.RefusedToken(c, claims.OrgID, claims, reason) })
}

// checkApprover is the email of userID when they may decide on req: a member holding
// an approver role of the policy, and not the requester unless the policy allows
// self-approval. Refusals are audited through refused, with their reason.
func (s *Server) checkApprover(c echo.Context, claims approval.Claims, req store.ApprovalRequest, userID string,
	refused func(reason string)) (string, *httpx.APIError) {
	ctx := c.Request().Context()
	pol, err := policy(ctx, s.store, claims.OrgID)
	if err != nil {
		return "", httpx.ToAPIError(err)
	}
	m, err := s.store.GetMembership(ctx, claims.OrgID, userID)
	if err != nil || !slices.Contains(splitList(pol.ApproverRoles), m.Role) {
		refused("approver lacks an approver role")
		return "", httpx.Forbidden("you no longer hold a role that may approve this operation")
	}
	if userID == req.RequestedBy && !pol.AllowSelfApproval {
		refused("requester cannot approve their own operation")
		return "", &httpx.APIError{Status: http.StatusForbidden, Code: httpx.CodeForbidden,
			Message: "you asked for this operation, so another approver must decide it (the approval policy does not allow self-approval)",
			Details: map[string]any{"requestedBy": userID}}
	}
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return "", httpx.ToAPIError(err)
	}
	return u.Email, nil
}
