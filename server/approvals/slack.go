package approvals

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// slackInteraction is what a decision needs of Slack's interaction payload
// (https://docs.slack.dev/reference/interaction-payloads/block_actions-payload).
type slackInteraction struct {
	Type string `json:"type"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Team struct {
		ID string `json:"id"`
	} `json:"team"`
	Actions []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"actions"`
}

// slackActions are the decisions of an approval message's interactive buttons.
var slackActions = map[string]string{notify.SlackActionApprove: workflows.ActionApprove, notify.SlackActionReject: workflows.ActionReject}

// slackAnswer is the 200 answer to Slack: the envelope, with the sentence also where
// Slack looks for a message's text, for the clicking user only.
type slackAnswer struct {
	httpx.Envelope
	Text            string `json:"text"`
	ResponseType    string `json:"response_type"`
	ReplaceOriginal bool   `json:"replace_original"`
}

func answerSlack(c echo.Context, text, message string) error {
	return c.JSON(http.StatusOK, slackAnswer{Envelope: httpx.Envelope{Data: text, ID: httpx.TraceID(c), Message: message, Status: "success"},
		Text: text, ResponseType: "ephemeral"})
}

// ReceiveSlackAction takes a click on an approval message's Approve or Reject button,
// as the organization's Slack app posts it. The button's value is the approval token
// sent to the organization's Slack channel; its claims name the organization, whose
// Slack integration holds the app's signing secret. Nothing is acted on before that
// secret verifies Slack's signature of the request (401, audited, when it does not).
// Then the clicking Slack user must be mapped to a member (the integration's
// slackUsers) who may decide as checkApprover says; the decision is theirs, delivered
// as the approval page delivers it. Refusals that are the user's business (not
// mapped, no approver role, their own operation, expired, decided already) answer 200
// with a sentence Slack shows, and are audited; malformed or forged requests are 4xx.
func (s *Server) ReceiveSlackAction(c echo.Context, params api.ReceiveSlackActionParams) error {
	raw := httpx.Body(c) // the raw body, as Slack signed it (request validation checked its form)
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return httpx.BadRequest("the body is not form-encoded", map[string]any{"body": err.Error()})
	}
	var in slackInteraction
	if err := json.Unmarshal([]byte(form.Get("payload")), &in); err != nil {
		return httpx.BadRequest("payload is not Slack's interaction JSON", map[string]any{"body.payload": "not JSON"})
	}
	if in.Type != "block_actions" || len(in.Actions) != 1 || slackActions[in.Actions[0].ActionID] == "" {
		return httpx.BadRequest("not a click on an approval message's Approve or Reject button",
			map[string]any{"body.payload": "want a block_actions payload with one action, astro_approve or astro_reject"})
	}
	if s.signer == nil {
		return httpx.NotImplemented("decisions from Slack (no approval signing key configured)")
	}
	if s.box == nil {
		return httpx.NotImplemented("decisions from Slack (no encryption key configured)")
	}
	action := slackActions[in.Actions[0].ActionID]
	// The token says which organization's signing secret must have signed the request.
	// Until that is checked, nothing the request says is believed but the token's own
	// claims (signed by this server), and nothing is acted on.
	claims, tokenErr := s.signer.VerifyFor(approval.PurposeApproval, in.Actions[0].Value, time.Now())
	if tokenErr != nil && !errors.Is(tokenErr, approval.ErrExpired) {
		s.audit.RefusedToken(c, "", claims, "Slack action with an invalid approval token")
		return httpx.BadRequest("the button carries no valid approval token", map[string]any{"body.payload": "actions[0].value is not an approval token"})
	}
	if claims.Approver != activities.SlackApprover(claims.OrgID) {
		s.audit.RefusedToken(c, claims.OrgID, claims, "Slack action with a token not sent to the Slack channel")
		return httpx.BadRequest("the button carries an approval token that was not sent to the Slack channel", nil)
	}
	ctx := c.Request().Context()
	cfg, err := s.slackConfig(c, claims.OrgID)
	if err != nil {
		return err
	}
	if cfg.SigningSecret == "" {
		s.audit.RefusedToken(c, claims.OrgID, claims, "Slack action refused: the Slack integration has no signing secret")
		return httpx.NewError(http.StatusUnauthorized, httpx.CodeUnauthorized,
			"this organization's Slack integration has no signing secret, so no request from Slack can be verified")
	}
	if err := notify.VerifySlackSignature(cfg.SigningSecret, params.XSlackSignature, params.XSlackRequestTimestamp, raw, time.Now()); err != nil {
		reason := "Slack request signature does not match"
		if errors.Is(err, notify.ErrSlackSignatureStale) {
			reason = "Slack request timestamp is more than 5 minutes from now (replay?)"
		}
		s.audit.RefusedToken(c, claims.OrgID, claims, "Slack action refused: "+reason)
		return httpx.NewError(http.StatusUnauthorized, httpx.CodeUnauthorized, reason)
	}

	// From here on the request is Slack's, on behalf of in.User.
	refused := func(userID, reason, text string) error {
		s.slackRefused(c, claims, in, userID, reason)
		return answerSlack(c, text, "decision refused")
	}
	if tokenErr != nil { // expired
		return refused("", "approval request expired", "This approval request has expired: nothing was decided.")
	}
	email, mapped := cfg.SlackUsers[in.User.ID]
	if !mapped {
		return refused("", "Slack user not mapped to a member",
			fmt.Sprintf("Your Slack user (%s) is not mapped to a member of this organization, so it cannot decide: "+
				"an admin can add it to the Slack integration's slackUsers.", in.User.ID))
	}
	u, err := s.store.GetUserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return refused("", "Slack user mapped to no existing member",
			fmt.Sprintf("Your Slack user is mapped to %s, who is not a member of this organization: nothing was decided.", email))
	} else if err != nil {
		return err
	}
	req, apiErr := s.pendingRequest(ctx, claims)
	if apiErr != nil {
		if apiErr.Status >= 500 {
			return apiErr
		}
		return refused(u.ID, apiErr.Message, "Nothing was decided: "+apiErr.Message+".")
	}
	approver, apiErr := s.checkApprover(c, claims, req, u.ID, func(reason string) { s.slackRefused(c, claims, in, u.ID, reason) })
	if apiErr != nil {
		if apiErr.Status >= 500 {
			return apiErr
		}
		return answerSlack(c, "Refused for "+email+": "+apiErr.Message+".", "decision refused")
	}
	if err := s.store.UseToken(ctx, claims.OrgID, claims.Nonce, approval.PurposeApproval, time.Now().UTC()); errors.Is(err, store.ErrTokenUsed) {
		return refused(u.ID, "this approval link was already used", "Nothing was decided: this approval was already decided.")
	} else if err != nil {
		return err
	}
	result, err := s.deliver(ctx, claims, action, approver)
	if err != nil {
		var e *httpx.APIError
		if errors.As(err, &e) && e.Status < 500 {
			return answerSlack(c, "Nothing was decided: "+e.Message+".", "decision refused")
		}
		return err
	}
	return answerSlack(c, decidedMessage(result, approver, req.OperationType, claims.ClusterName), result.Status)
}

// slackConfig is orgID's Slack integration, opened; without one (or disabled) the
// request is refused as one no secret of this server can verify.
func (s *Server) slackConfig(c echo.Context, orgID string) (activities.IntegrationConfig, error) {
	row, err := s.store.GetIntegration(c.Request().Context(), orgID, activities.ChannelSlack)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !row.Enabled) {
		return activities.IntegrationConfig{}, nil
	}
	if err != nil {
		return activities.IntegrationConfig{}, err
	}
	return activities.OpenIntegrationConfig(s.box, row.SealedConfig)
}

// slackRefused audits a refused click whose signature Slack's secret verified: an
// authenticated request, so it is recorded in full (not through the flood guard of
// unauthenticated ones), naming the Slack user and, when known, the member.
func (s *Server) slackRefused(c echo.Context, claims approval.Claims, in slackInteraction, userID, reason string) {
	s.audit.RecordEvent(c, &store.AuditEvent{OrgID: claims.OrgID, UserID: userID, EventType: "APPROVAL", Action: "TOKEN_REFUSED",
		ResourceID: claims.OperationID, Outcome: store.OutcomeDenied,
		Details: httpx.MustJSON(map[string]string{"reason": reason, "approver": claims.Approver, "slackUser": in.User.ID,
			"slackTeam": in.Team.ID, "ip": c.RealIP()})})
}
