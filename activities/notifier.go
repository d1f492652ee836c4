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
// Slack webhook URL and SMTP password in clear once opened.
type IntegrationConfig struct {
	Recipients   []string      `json:"recipients,omitempty"`
	SlackChannel string        `json:"slackChannel,omitempty"`
	WebhookURL   string        `json:"webhookUrl,omitempty"`
	SMTP         *SMTPSettings `json:"smtp,omitempty"`
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
				return notify.SendEmail(ctx, n.smtpFor(cfg), []string{m.Email}, approvalMessage(subject, in, link))
			})
		}
	}
	if cfg, ok := integrations[ChannelSlack]; ok && cfg.WebhookURL != "" {
		deliver("slack", func() error {
			link, err := n.approvalLink(in, "slack:"+in.OrgID)
			if err != nil {
				return err
			}
			return notify.SendSlack(ctx, n.HTTP, cfg.WebhookURL, approvalMessage(subject, in, link))
		})
	}
	return deliveryError(failures)
}

func (n *Notifier) approvalLink(in ApprovalInput, approver string) (string, error) {
	if n.Signer == nil {
		return "", temporal.NewNonRetryableApplicationError("no ASTRO_APPROVAL_SIGNING_KEY on this worker", ErrTypeInvalidInput, nil)
	}
	token, err := n.Signer.Sign(approval.Claims{
		OrgID: in.OrgID, ClusterName: in.ClusterName, ClusterID: in.ClusterID, OperationID: in.OperationID,
		Approver: approver, Purpose: approval.PurposeApproval, ExpiresAt: in.ExpiresAt,
	})
	if err != nil {
		return "", temporal.NewNonRetryableApplicationError("sign approval link", ErrTypeInvalidInput, err)
	}
	q := url.Values{"clusterName": {in.ClusterName}, "orgId": {in.OrgID}, "token": {token}}
	return strings.TrimRight(n.PublicURL, "/") + "/api/v1/cluster-approvals?" + q.Encode(), nil
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
			if len(cfg.Recipients) == 0 {
				continue
			}
			msg := notify.Message{Subject: in.Subject, Text: in.Text}
			if link, lerr := n.unsubscribeLink(in.OrgID, in.Topic, channel); lerr == nil {
				msg.Text += "\n\nUnsubscribe from " + in.Topic + " emails: " + link + "\n"
			}
			err = notify.SendEmail(ctx, n.smtpFor(cfg), cfg.Recipients, msg)
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

func (n *Notifier) unsubscribeLink(orgID, topic, channel string) (string, error) {
	if n.Signer == nil {
		return "", errors.New("no signing key")
	}
	token, err := n.Signer.Sign(approval.Claims{OrgID: orgID, Purpose: approval.PurposeUnsubscribe, Topic: topic, Channel: channel,
		ExpiresAt: time.Now().Add(90 * 24 * time.Hour)})
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
