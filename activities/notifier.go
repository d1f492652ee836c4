package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/store"
)

// Channels notifications can go out on.
const (
	ChannelEmail = "email"
	ChannelSlack = "slack"
)

// IntegrationConfig is a channel's configuration as stored, sealed: it holds the
// Slack webhook URL, the Slack signing secret and the SMTP password in clear once
// opened.
type IntegrationConfig struct {
	Recipients   []string `json:"recipients,omitempty"`
	SlackChannel string   `json:"slackChannel,omitempty"`
	WebhookURL   string   `json:"webhookUrl,omitempty"`
	// SigningSecret is the Slack app's signing secret: with it, approval messages
	// carry interactive Approve and Reject buttons whose clicks Slack signs with it.
	SigningSecret string `json:"signingSecret,omitempty"`
	// SlackUsers maps Slack user IDs to members' emails (lower case): who may
	// decide from Slack, as that member.
	SlackUsers map[string]string `json:"slackUsers,omitempty"`
	SMTP       *SMTPSettings     `json:"smtp,omitempty"`
}

// SMTPSettings override the server's SMTP relay for one organization.
type SMTPSettings struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	From     string `json:"from,omitempty"`
	StartTLS string `json:"startTLS,omitempty"`
}

// OpenIntegrationConfig decrypts a stored integration's configuration.
func OpenIntegrationConfig(box *secrets.Box, sealed string) (IntegrationConfig, error) {
	var cfg IntegrationConfig
	raw, err := box.Open(sealed)
	if err != nil {
		return cfg, fmt.Errorf("open integration config: %w", err)
	}
	err = json.Unmarshal(raw, &cfg)
	return cfg, err
}

// SealIntegrationConfig encrypts an integration's configuration for the store.
func SealIntegrationConfig(box *secrets.Box, cfg IntegrationConfig) (string, error) {
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return box.Seal(raw)
}

// Notifier holds the approval and notification activities' dependencies. It is the
// only place approval links are minted, so tokens never pass through workflows.
type Notifier struct {
	Store     *store.Store
	Box       *secrets.Box
	Signer    *approval.Signer
	PublicURL string            // base URL of links, e.g. https://astro.example.com
	SMTP      notify.SMTPConfig // the server's relay, for organizations without their own
	HTTP      *http.Client      // for webhooks; refuses destinations the allow-list does not admit
	// Guard vets the relays organizations bring (their own smtp) at each dial, as
	// HTTP does for webhooks; nil: those relays are refused. The server's relay
	// (SMTP) is the operator's and is dialled directly.
	Guard *notify.Guard
}

// RequestApproval records the approval request, marks the cluster WAITING_FOR_APPROVAL
// and audits it; it returns the approvers' emails.
func (n *Notifier) RequestApproval(ctx context.Context, in ApprovalInput) (RequestApprovalResult, error) {
	approvers, err := n.Store.MembersWithRoles(ctx, in.OrgID, in.ApproverRoles)
	if err != nil {
		return RequestApprovalResult{}, err
	}
	emails := make([]string, 0, len(approvers))
	for _, m := range approvers {
		emails = append(emails, m.Email)
	}
	err = n.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CreateApprovalRequest(ctx, &store.ApprovalRequest{
			ID: in.OperationID, OrgID: in.OrgID, ClusterID: in.ClusterID, ClusterName: in.ClusterName,
			OperationType: in.OperationType, Status: store.ApprovalPending, RequestedBy: in.RequestedBy,
			Approvers: strings.Join(emails, ","), ExpiresAt: in.ExpiresAt,
		}); err != nil {
			return err
		}
		if err := tx.SetClusterStatus(ctx, in.OrgID, in.ClusterID, store.ClusterWaitingForApproval, "waiting for approval"); err != nil {
			return err
		}
		return tx.RecordAudit(ctx, &store.AuditEvent{OrgID: in.OrgID, UserID: in.RequestedBy, EventType: "APPROVAL",
			Action: "REQUEST", ResourceID: in.OperationID, Outcome: store.OutcomeSuccess,
			Details: mustJSON(map[string]string{"approvers": strings.Join(emails, ","), "expiresAt": in.ExpiresAt.UTC().Format(time.RFC3339)})})
	})
	if errors.Is(err, store.ErrNotFound) {
		return RequestApprovalResult{}, temporal.NewNonRetryableApplicationError("cluster not found", ErrTypeNotFound, err)
	}
	return RequestApprovalResult{Approvers: emails}, err
}

// RecordApprovalDecision records the decision (or the expiry, or the cancel of the
// operation while it waited) and audits it.
func (n *Notifier) RecordApprovalDecision(ctx context.Context, in DecisionInput) error {
	now := time.Now().UTC()
	return n.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.DecideApprovalRequest(ctx, in.OrgID, in.OperationID, in.Status, in.DecidedBy, now); err != nil {
			return err
		}
		action := map[string]string{store.ApprovalApproved: "APPROVE", store.ApprovalRejected: "REJECT", store.ApprovalExpired: "EXPIRE", store.ApprovalCancelled: "CANCEL"}[in.Status]
		return tx.RecordAudit(ctx, &store.AuditEvent{OrgID: in.OrgID, EventType: "APPROVAL", Action: action,
			ResourceID: in.OperationID, Outcome: store.OutcomeSuccess, CreatedAt: now,
			Details: mustJSON(map[string]string{"decidedBy": in.DecidedBy, "status": in.Status})})
	})
}

// SendApprovalLinks mints a signed, single-use link for each approver and sends it by
// email, and one to the organization's Slack channel. A channel that fails is retried
// (the activity's retry policy); channels already served are remembered in the
// heartbeat, so a retry does not send twice.
func (n *Notifier) SendApprovalLinks(ctx context.Context, in ApprovalInput) error {
	done := map[string]bool{}
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &done)
	}
	approvers, err := n.Store.MembersWithRoles(ctx, in.OrgID, in.ApproverRoles)
	if err != nil {
		return err
	}
	integrations, err := n.integrations(ctx, in.OrgID)
	if err != nil {
		return err
	}
	subject := fmt.Sprintf("Approval needed: %s of cluster %s", in.OperationType, in.ClusterName)
	var failures []error
	deliver := func(key string, send func() error) {
		if done[key] {
			return
		}
		if err := send(); err != nil {
			failures = append(failures, fmt.Errorf("%s: %w", key, err))
			return
		}
		done[key] = true
		activity.RecordHeartbeat(ctx, done)
	}
	if cfg, ok := integrations[ChannelEmail]; ok {
		for _, m := range approvers {
			deliver("email:"+m.Email, func() error {
				link, err := n.approvalLink(in, m.ID)
				if err != nil {
					return err
				}
				return n.sendEmail(ctx, cfg, []string{m.Email}, approvalMessage(subject, in, link))
			})
		}
	}
	if cfg, ok := integrations[ChannelSlack]; ok && cfg.WebhookURL != "" {
		deliver("slack", func() error {
			link, token, err := n.approvalLinkToken(in, SlackApprover(in.OrgID))
			if err != nil {
				return err
			}
			msg := approvalMessage(subject, in, link)
			if cfg.SigningSecret != "" && len(token) <= notify.SlackValueMax {
				msg = slackApprovalMessage(subject, in, link, token)
			}
			return notify.SendSlack(ctx, n.HTTP, cfg.WebhookURL, msg)
		})
	}
	return deliveryError(failures)
}

// SlackApprover is the approver an approval token sent to orgID's Slack channel
// names: the channel, never a member. A decision through it is attributed to the
// member the clicking Slack user is mapped to, when the click arrives.
func SlackApprover(orgID string) string { return "slack:" + orgID }

func (n *Notifier) approvalLink(in ApprovalInput, approver string) (string, error) {
	link, _, err := n.approvalLinkToken(in, approver)
	return link, err
}

// approvalLinkToken is the approval link for approver and the signed token it carries.
func (n *Notifier) approvalLinkToken(in ApprovalInput, approver string) (link, token string, err error) {
	if n.Signer == nil {
		return "", "", temporal.NewNonRetryableApplicationError("no ASTRO_APPROVAL_SIGNING_KEY on this worker", ErrTypeInvalidInput, nil)
	}
	token, err = n.Signer.Sign(approval.Claims{
		OrgID: in.OrgID, ClusterName: in.ClusterName, ClusterID: in.ClusterID, OperationID: in.OperationID,
		Approver: approver, Purpose: approval.PurposeApproval, ExpiresAt: in.ExpiresAt,
	})
	if err != nil {
		return "", "", temporal.NewNonRetryableApplicationError("sign approval link", ErrTypeInvalidInput, err)
	}
	q := url.Values{"clusterName": {in.ClusterName}, "orgId": {in.OrgID}, "token": {token}}
	return strings.TrimRight(n.PublicURL, "/") + "/api/v1/cluster-approvals?" + q.Encode(), token, nil
}

// slackApprovalMessage is the approval message of a Slack channel whose app has a
// signing secret: interactive Approve and Reject buttons carrying the channel's
// token (Slack signs each click; the server decides as the member the clicking
// Slack user is mapped to), and a link to the approval page for viewing.
func slackApprovalMessage(subject string, in ApprovalInput, link, token string) notify.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "A %s of cluster %s waits for approval.\n\n", in.OperationType, in.ClusterName)
	for _, f := range in.Summary {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	fmt.Fprintf(&b, "Operation: %s\nExpires: %s\n\nApprovers mapped to a member with an approver role decide with the buttons below.\n",
		in.OperationID, in.ExpiresAt.UTC().Format(time.RFC1123))
	return notify.Message{Subject: subject, Text: b.String(), Links: []notify.Link{
		{Label: "Approve", ActionID: notify.SlackActionApprove, Value: token, Style: notify.StylePrimary},
		{Label: "Reject", ActionID: notify.SlackActionReject, Value: token, Style: notify.StyleDanger},
		{Label: "View approval page", URL: link},
	}}
}

func approvalMessage(subject string, in ApprovalInput, link string) notify.Message {
	var b strings.Builder
	fmt.Fprintf(&b, "A %s of cluster %s waits for your approval.\n\n", in.OperationType, in.ClusterName)
	for _, f := range in.Summary {
		fmt.Fprintf(&b, "%s: %s\n", f.Label, f.Value)
	}
	fmt.Fprintf(&b, "Operation: %s\nExpires: %s\n\nReview it and approve or reject: %s\n", in.OperationID,
		in.ExpiresAt.UTC().Format(time.RFC1123), link)
	return notify.Message{Subject: subject, Text: b.String(), Links: []notify.Link{
		{Label: "Approve", URL: link, Style: "primary"},
		{Label: "Reject", URL: link, Style: "danger"},
	}}
}

// DeliverTopic sends an event to the channels subscribed to its topic. Email goes to
// the email integration's recipients with a signed one-click unsubscribe link.
func (n *Notifier) DeliverTopic(ctx context.Context, in TopicInput) error {
	sub, err := n.Store.GetSubscription(ctx, in.OrgID, in.Topic)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !sub.Enabled) {
		return nil
	}
	if err != nil {
		return err
	}
	integrations, err := n.integrations(ctx, in.OrgID)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &done)
	}
	var failures []error
	for _, channel := range strings.Split(sub.Channels, ",") {
		cfg, ok := integrations[channel]
		if !ok || done[channel] {
			continue
		}
		var err error
		switch channel {
		case ChannelEmail:
			err = n.deliverEmail(ctx, in, cfg, done)
		case ChannelSlack:
			if cfg.WebhookURL == "" {
				continue
			}
			err = notify.SendSlack(ctx, n.HTTP, cfg.WebhookURL, notify.Message{Subject: in.Subject, Text: in.Text})
		}
		if err != nil {
			failures = append(failures, fmt.Errorf("%s: %w", channel, err))
			continue
		}
		done[channel] = true
		activity.RecordHeartbeat(ctx, done)
	}
	return deliveryError(failures)
}

// deliverEmail sends the event to each recipient of the email integration who has
// not opted out of its topic, one message each with their own unsubscribe link (it
// names them, and unsubscribes them alone). Recipients already served are marked in
// done (heartbeated), so a retry sends only to the others.
func (n *Notifier) deliverEmail(ctx context.Context, in TopicInput, cfg IntegrationConfig, done map[string]bool) error {
	optedOut, err := n.Store.OptedOut(ctx, in.OrgID, ChannelEmail, in.Topic)
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	for _, r := range optedOut {
		skip[r] = true
	}
	var failures []error
	for _, rcpt := range cfg.Recipients {
		key := ChannelEmail + ":" + strings.ToLower(strings.TrimSpace(rcpt))
		if skip[strings.ToLower(strings.TrimSpace(rcpt))] || done[key] {
			continue
		}
		msg := notify.Message{Subject: in.Subject, Text: in.Text}
		if link, lerr := n.unsubscribeLink(in.OrgID, in.Topic, ChannelEmail, rcpt); lerr == nil {
			msg.Text += "\n\nUnsubscribe " + rcpt + " from " + in.Topic + " emails: " + link + "\n"
		}
		if err := n.sendEmail(ctx, cfg, []string{rcpt}, msg); err != nil {
			failures = append(failures, err)
			continue
		}
		done[key] = true
		activity.RecordHeartbeat(ctx, done)
	}
	// A retry can still help the recipients that failed for a passing reason: report
	// those alone, so one bad address does not make the whole delivery permanent.
	var transient []error
	for _, f := range failures {
		if !permanentFailure(f) {
			transient = append(transient, f)
		}
	}
	if len(transient) > 0 {
		return errors.Join(transient...)
	}
	return errors.Join(failures...)
}

func (n *Notifier) unsubscribeLink(orgID, topic, channel, recipient string) (string, error) {
	if n.Signer == nil {
		return "", errors.New("no signing key")
	}
	token, err := n.Signer.Sign(approval.Claims{OrgID: orgID, Purpose: approval.PurposeUnsubscribe, Topic: topic, Channel: channel,
		Recipient: strings.ToLower(strings.TrimSpace(recipient)), ExpiresAt: time.Now().Add(90 * 24 * time.Hour)})
	if err != nil {
		return "", err
	}
	return strings.TrimRight(n.PublicURL, "/") + "/api/v1/notifications/unsubscribe?" + url.Values{"token": {token}}.Encode(), nil
}

// integrations returns the organization's enabled integrations, opened.
func (n *Notifier) integrations(ctx context.Context, orgID string) (map[string]IntegrationConfig, error) {
	out := map[string]IntegrationConfig{}
	if n.Box == nil {
		return out, nil // without the key no integration can be opened, so none is configured here
	}
	list, err := n.Store.ListIntegrations(ctx, orgID)
	if err != nil {
		return nil, err
	}
	for _, in := range list {
		if !in.Enabled {
			continue
		}
		cfg, err := OpenIntegrationConfig(n.Box, in.SealedConfig)
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError("integration "+in.Channel+" cannot be opened with this server's key", ErrTypeInvalidInput, err)
		}
		out[in.Channel] = cfg
	}
	return out, nil
}

// errOrgRelay is what an organization's own relay's failure says beyond the worker's
// log: whether and how a connection failed (refused, timed out, what answered) would
// make the relay setting a port scanner of whatever the worker can reach.
var errOrgRelay = errors.New("the organization's SMTP relay did not take the message (the worker's log has the cause)")

// relayError is a failure of an organization's relay as the rest of the system sees
// it: errOrgRelay, permanent or not as the cause was.
type relayError struct{ permanent bool }

func (e relayError) Error() string { return errOrgRelay.Error() }
func (e relayError) Is(target error) bool {
	return target == errOrgRelay || (e.permanent && target == notify.ErrPermanent)
}

// sendEmail sends m through the integration's relay: the organization's own through
// the guard (no private or loopback address, at dial time too), its failures
// reported without detail; or the server's.
func (n *Notifier) sendEmail(ctx context.Context, cfg IntegrationConfig, to []string, m notify.Message) error {
	smtp := n.smtpFor(cfg)
	if cfg.SMTP == nil || cfg.SMTP.Host == "" {
		return notify.SendEmail(ctx, smtp, to, m)
	}
	guard := n.Guard
	if guard == nil {
		guard = &notify.Guard{} // the default guard: public addresses only
	}
	smtp.Dial = guard.DialContext
	err := notify.SendEmail(ctx, smtp, to, m)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err // cancelled or timed out as a whole: nothing learnt of the relay
	}
	activity.GetLogger(ctx).Warn("organization's SMTP relay failed", "orgRelayError", err.Error())
	return relayError{permanent: errors.Is(err, notify.ErrPermanent) || errors.Is(err, notify.ErrForbiddenDestination)}
}

func (n *Notifier) smtpFor(cfg IntegrationConfig) notify.SMTPConfig {
	s := cfg.SMTP
	if s == nil || s.Host == "" {
		return n.SMTP
	}
	c := notify.SMTPConfig{Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password, From: s.From,
		StartTLS: s.StartTLS, Timeout: n.SMTP.Timeout}
	if c.From == "" {
		c.From = n.SMTP.From
	}
	return c
}

// deliveryError turns failed deliveries into the activity's error: retryable when
// any failure may pass, non-retryable when none can.
func deliveryError(failures []error) error {
	if len(failures) == 0 {
		return nil
	}
	err := errors.Join(failures...)
	if slices.ContainsFunc(failures, func(e error) bool { return !permanentFailure(e) }) {
		return err
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidInput, nil)
}

// permanentFailure reports whether retrying cannot fix a delivery's failure: the
// sender said so (notify.ErrPermanent), or the failure is a non-retryable one of ours
// (no signing key, a link that cannot be signed).
func permanentFailure(err error) bool {
	var app *temporal.ApplicationError
	return errors.Is(err, notify.ErrPermanent) || (errors.As(err, &app) && app.NonRetryable())
}
