// Package notifications serves the reference's Notifications group: the channels and
// topics, the organization's integrations (email, Slack; secrets sealed) and
// subscriptions, and unsubscribing through a signed link or by an admin.
package notifications

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// Server answers the notification operations.
type Server struct {
	store    *store.Store
	box      *secrets.Box
	guard    notify.Guard
	signer   *approval.Signer
	smtpHost string
	audit    httpx.Audit
}

// Deps are what the notification handlers use.
type Deps struct {
	Store *store.Store
	// Box seals integrations' secrets; without it integrations answer 501.
	Box *secrets.Box
	// Guard vets webhook URLs against server-side request forgery.
	Guard notify.Guard
	// Signer verifies unsubscribe links; without it they answer 501.
	Signer *approval.Signer
	// SMTPHost is the server-wide mail relay; empty: an email integration must bring its own.
	SMTPHost string
	Audit    httpx.Audit
}

// NewServer returns the notification handlers using d.
func NewServer(d Deps) *Server {
	return &Server{store: d.Store, box: d.Box, guard: d.Guard, signer: d.Signer, smtpHost: d.SMTPHost, audit: d.Audit}
}

// ListNotificationChannels lists the channels notifications can go out on.
func (s *Server) ListNotificationChannels(c echo.Context) error {
	return httpx.OK(c, []api.NotificationChannel{
		{Channel: api.Email, DisplayName: ptr("Email"), Description: ptr("Email over SMTP to the integration's recipients (approval links go to the approvers).")},
		{Channel: api.Slack, DisplayName: ptr("Slack"), Description: ptr("A Slack incoming webhook; messages use Block Kit with buttons.")},
	}, "channels")
}

// ListNotificationTopics lists the topics one can subscribe to.
func (s *Server) ListNotificationTopics(c echo.Context) error {
	out := make([]api.NotificationTopic, 0, len(activities.Topics))
	for _, t := range activities.Topics {
		category, _, _ := strings.Cut(t.Name, ".")
		out = append(out, api.NotificationTopic{Topic: t.Name, Description: ptr(t.Description), Category: ptr(category)})
	}
	return httpx.OK(c, out, "topics")
}

// HeaderOrganizationID names the organization a notification call acts on.
const HeaderOrganizationID = "X-Astro-Organization-ID"

// notificationOrg is the organization a notification call acts on: the key's, which
// X-Astro-Organization-ID must name by its ID (as GET /api/v1/orgs answers it) or its
// name. Any other value is a 403 saying which organization the key belongs to: a key
// acts for its own organization only.
func notificationOrg(c echo.Context, orgHeader string) (httpx.Principal, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return httpx.Principal{}, err
	}
	if orgHeader == p.OrgID || orgHeader == p.OrgName {
		return p, nil
	}
	e := httpx.Forbidden(fmt.Sprintf("this API key belongs to organization %q (ID %s), but %s asks for %q; send %s: %s (or its name)",
		p.OrgName, p.OrgID, HeaderOrganizationID, orgHeader, HeaderOrganizationID, p.OrgID))
	e.Details = map[string]any{
		"header." + HeaderOrganizationID: fmt.Sprintf("%q is not this key's organization", orgHeader),
		"keyOrganization":                p.OrgName,
		"keyOrganizationId":              p.OrgID,
	}
	return httpx.Principal{}, e
}

func (s *Server) needBox() error {
	if s.box == nil {
		return httpx.NotImplemented("notification integrations (no encryption key configured)")
	}
	return nil
}

// ListNotificationIntegrations lists the organization's integrations, secrets masked.
func (s *Server) ListNotificationIntegrations(c echo.Context, params api.ListNotificationIntegrationsParams) error {
	p, err := notificationOrg(c, params.XAstroOrganizationID)
	if err != nil {
		return err
	}
	if err := s.needBox(); err != nil {
		return err
	}
	list, err := s.store.ListIntegrations(c.Request().Context(), p.OrgID)
	if err != nil {
		return err
	}
	out := make([]api.NotificationIntegration, 0, len(list))
	for _, in := range list {
		v, err := s.integrationView(in)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	return httpx.OK(c, out, "integrations")
}

// GetNotificationIntegration returns one integration, secrets masked.
func (s *Server) GetNotificationIntegration(c echo.Context, channel api.NotificationChannelType, params api.GetNotificationIntegrationParams) error {
	p, err := notificationOrg(c, params.XAstroOrganizationID)
	if err != nil {
		return err
	}
	if err := s.needBox(); err != nil {
		return err
	}
	in, err := s.store.GetIntegration(c.Request().Context(), p.OrgID, string(channel))
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound(fmt.Sprintf("%s integration", channel))
	}
	if err != nil {
		return err
	}
	v, err := s.integrationView(in)
	if err != nil {
		return err
	}
	return httpx.OK(c, v, "integration")
}

// ConfigureNotificationIntegration stores a channel's configuration, replacing the
// previous one. Webhook URLs must pass the SSRF guard; secrets are sealed.
func (s *Server) ConfigureNotificationIntegration(c echo.Context, params api.ConfigureNotificationIntegrationParams) error {
	p, err := notificationOrg(c, params.XAstroOrganizationID)
	if err != nil {
		return err
	}
	if err := s.needBox(); err != nil {
		return err
	}
	var in api.NotificationIntegrationInput
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	if in.Channel == nil {
		return httpx.ValidationFailed(map[string]any{"channel": "required"})
	}
	ctx := c.Request().Context()
	// The request replaces the whole configuration: what it leaves out is not kept.
	// Secrets are never echoed back, so the one thing carried over is the password of
	// the same relay (host, port, username) when the request leaves it out.
	var prev activities.IntegrationConfig
	if row, err := s.store.GetIntegration(ctx, p.OrgID, string(*in.Channel)); err == nil {
		if old, err := activities.OpenIntegrationConfig(s.box, row.SealedConfig); err == nil {
			prev = old
		}
	}
	cfg := activities.IntegrationConfig{}
	details := map[string]any{}
	if ci := in.Config; ci != nil {
		if ci.Recipients != nil {
			for _, r := range *ci.Recipients {
				cfg.Recipients = append(cfg.Recipients, string(r))
			}
		}
		cfg.SlackChannel = deref(ci.SlackChannel)
		if ci.WebhookUrl != nil {
			if err := s.guard.CheckURL(*ci.WebhookUrl); err != nil {
				details["config.webhookUrl"] = err.Error()
			}
			cfg.WebhookURL = *ci.WebhookUrl
		}
		if ci.SigningSecret != nil {
			cfg.SigningSecret = strings.TrimSpace(*ci.SigningSecret)
		} else if *in.Channel == api.Slack {
			cfg.SigningSecret = prev.SigningSecret // left out: the stored one is kept (it is never echoed back)
		}
		if ci.SlackUsers != nil {
			cfg.SlackUsers = map[string]string{}
			for id, email := range *ci.SlackUsers {
				cfg.SlackUsers[id] = strings.TrimSpace(string(email))
			}
			for field, fault := range s.slackUserFaults(c, p.OrgID, cfg.SlackUsers) {
				details[field] = fault
			}
		}
		if sm := ci.Smtp; sm != nil {
			cfg.SMTP = &activities.SMTPSettings{Host: sm.Host, Port: sm.Port, Username: deref(sm.Username), Password: deref(sm.Password), StartTLS: "required"}
			port := sm.Port
			if port == 0 {
				port = notify.DefaultSMTPPort
			}
			// The same guard as webhooks: an organization's relay must not reach the
			// server's own network, nor any port of other hosts. The worker checks
			// again at each dial (DNS can change).
			if err := s.guard.CheckSMTP(sm.Host, port); err != nil {
				details["config.smtp.host"] = err.Error()
			}
			if old := prev.SMTP; sm.Password == nil && old != nil && old.Host == sm.Host && old.Port == sm.Port && old.Username == cfg.SMTP.Username {
				cfg.SMTP.Password = old.Password
			}
			if sm.From != nil {
				cfg.SMTP.From = string(*sm.From)
			}
			if sm.StartTLS != nil {
				cfg.SMTP.StartTLS = string(*sm.StartTLS)
			}
		}
	}
	switch *in.Channel {
	case api.Slack:
		if cfg.WebhookURL == "" {
			details["config.webhookUrl"] = "required for the slack channel"
		}
	case api.Email:
		if ci := in.Config; ci != nil && ci.SigningSecret != nil {
			details["config.signingSecret"] = "only for the slack channel"
		}
		if ci := in.Config; ci != nil && ci.SlackUsers != nil {
			details["config.slackUsers"] = "only for the slack channel"
		}
		if len(cfg.Recipients) == 0 {
			details["config.recipients"] = "at least one recipient is required for the email channel"
		}
		if cfg.SMTP == nil && s.smtpHost == "" {
			details["config.smtp"] = "required: this server has no mail relay of its own (ASTRO_SMTP_HOST is unset), " +
				"so the email integration needs one (host and port, optionally username, password, from, startTLS)"
		}
	}
	if len(details) > 0 {
		return httpx.ValidationFailed(details)
	}
	sealed, err := activities.SealIntegrationConfig(s.box, cfg)
	if err != nil {
		return err
	}
	enabled := in.Enabled == nil || *in.Enabled
	row := store.NotificationIntegration{OrgID: p.OrgID, Channel: string(*in.Channel), Enabled: enabled, SealedConfig: sealed, UpdatedBy: p.UserID}
	if err := s.store.PutIntegration(ctx, &row); err != nil {
		return err
	}
	s.audit.Record(c, p, "NOTIFICATION", "UPDATE", "integration:"+row.Channel, store.OutcomeSuccess)
	row, err = s.store.GetIntegration(ctx, p.OrgID, row.Channel)
	if err != nil {
		return err
	}
	v, err := s.integrationView(row)
	if err != nil {
		return err
	}
	return httpx.OK(c, v, "integration saved")
}

// DeleteNotificationIntegration removes a channel's integration.
func (s *Server) DeleteNotificationIntegration(c echo.Context, channel api.NotificationChannelType, params api.DeleteNotificationIntegrationParams) error {
	p, err := notificationOrg(c, params.XAstroOrganizationID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteIntegration(c.Request().Context(), p.OrgID, string(channel)); errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound(fmt.Sprintf("%s integration", channel))
	} else if err != nil {
		return err
	}
	s.audit.Record(c, p, "NOTIFICATION", "DELETE", "integration:"+string(channel), store.OutcomeSuccess)
	return httpx.OK(c, true, "integration deleted")
}

func (s *Server) integrationView(in store.NotificationIntegration) (api.NotificationIntegration, error) {
	cfg, err := activities.OpenIntegrationConfig(s.box, in.SealedConfig)
	if err != nil {
		return api.NotificationIntegration{}, err
	}
	v := api.NotificationIntegration{Channel: api.NotificationChannelType(in.Channel), Enabled: in.Enabled,
		CreatedAt: &in.CreatedAt, UpdatedAt: &in.UpdatedAt, Config: &api.NotificationIntegrationConfig{}}
	if len(cfg.Recipients) > 0 {
		v.Config.Recipients = &cfg.Recipients
	}
	if cfg.SlackChannel != "" {
		v.Config.SlackChannel = &cfg.SlackChannel
	}
	if cfg.WebhookURL != "" {
		v.Config.WebhookConfigured = ptr(true)
		v.Config.WebhookUrlHint = ptr(maskURL(cfg.WebhookURL))
	}
	if cfg.SigningSecret != "" {
		v.Config.SigningSecretConfigured = ptr(true) // the secret itself is never echoed, not even masked
	}
	if len(cfg.SlackUsers) > 0 {
		v.Config.SlackUsers = &cfg.SlackUsers
	}
	if sm := cfg.SMTP; sm != nil {
		v.Config.SmtpHost, v.Config.SmtpPort = &sm.Host, &sm.Port
		if sm.Username != "" {
			v.Config.SmtpUsername = &sm.Username
		}
		if sm.Password != "" {
			v.Config.SmtpPasswordHint = ptr(secrets.Mask(sm.Password))
		}
	}
	return v, nil
}

// slackUserID is a Slack user ID as Slack's payloads carry it (U… or W…).
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)

// slackUserFaults are the faults of a Slack user mapping: IDs that are not Slack user
// IDs, and emails of no member of orgID (the mapping says who decides from Slack, as
// which member; a typo would only show when someone's click is refused).
func (s *Server) slackUserFaults(c echo.Context, orgID string, users map[string]string) map[string]any {
	faults := map[string]any{}
	for id, email := range users {
		field := "config.slackUsers." + id
		if !slackUserID.MatchString(id) {
			faults[field] = "not a Slack user ID (U… or W…, as the user's profile shows under \"Copy member ID\")"
			continue
		}
		u, err := s.store.GetUserByEmail(c.Request().Context(), email)
		if err == nil {
			_, err = s.store.GetMembership(c.Request().Context(), orgID, u.ID)
		}
		if err != nil {
			faults[field] = fmt.Sprintf("%q is not a member of this organization", email)
		}
	}
	return faults
}

// maskURL keeps a webhook URL's scheme and host and masks its path, which is the
// secret part of a Slack webhook.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return secrets.Mask(raw)
	}
	return u.Scheme + "://" + u.Host + "/" + secrets.Mask(strings.TrimPrefix(u.Path, "/"))
}

var knownTopics = func() []string {
	out := []string{}
	for _, t := range activities.Topics {
		out = append(out, t.Name)
	}
	return out
}()

// ListNotificationSubscriptions lists the organization's subscriptions.
func (s *Server) ListNotificationSubscriptions(c echo.Context, params api.ListNotificationSubscriptionsParams) error {
	p, err := notificationOrg(c, params.XAstroOrganizationID)
	if err != nil {
		return err
	}
	subs, err := s.store.ListSubscriptions(c.Request().Context(), p.OrgID)
	if err != nil {
		return err
	}
	out := make([]api.NotificationSubscription, 0, len(subs))
	for _, sub := range subs {
		out = append(out, subscriptionView(sub))
	}
	return httpx.OK(c, out, "subscriptions")
}

// GetNotificationSubscription returns the subscription to one topic.
func (s *Server) GetNotificationSubscription(c echo.Context, topic string, params api.GetNotificationSubscriptionParams) error {
	p, err := notificationOrg(c, params.XAstroOrganizationID)
	if err != nil {
		return err
	}
	sub, err := s.store.GetSubscription(c.Request().Context(), p.OrgID, topic)
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound(fmt.Sprintf("subscription to %q", topic))
	}
	if err != nil {
		return err
	}
	return httpx.OK(c, subscriptionView(sub), "subscription")
}

// PutNotificationSubscription creates or replaces the subscription to a topic.
func (s *Server) PutNotificationSubscription(c echo.Context, params api.PutNotificationSubscriptionParams) error {
	p, err := notificationOrg(c, params.XAstroOrganizationID)
	if err != nil {
		return err
	}
	var in api.NotificationSubscriptionInput
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	if !slices.Contains(knownTopics, in.Topic) {
		return httpx.ValidationFailed(map[string]any{"topic": "unknown topic; see GET /api/v1/notifications/topics"})
	}
	channels := make([]string, 0, len(in.Channels))
	for _, ch := range in.Channels {
		channels = append(channels, string(ch))
	}
	sub := store.NotificationSubscription{OrgID: p.OrgID, Topic: in.Topic, Channels: strings.Join(channels, ","), Enabled: in.Enabled == nil || *in.Enabled}
	if err := s.store.PutSubscription(c.Request().Context(), &sub); err != nil {
		return err
	}
	s.audit.Record(c, p, "NOTIFICATION", "UPDATE", "subscription:"+in.Topic, store.OutcomeSuccess)
	sub, err = s.store.GetSubscription(c.Request().Context(), p.OrgID, in.Topic)
	if err != nil {
		return err
	}
	return httpx.OK(c, subscriptionView(sub), "subscription saved")
}

// DeleteNotificationSubscription removes the subscription to a topic.
func (s *Server) DeleteNotificationSubscription(c echo.Context, topic string, params api.DeleteNotificationSubscriptionParams) error {
	p, err := notificationOrg(c, params.XAstroOrganizationID)
	if err != nil {
		return err
	}
	if err := s.store.DeleteSubscription(c.Request().Context(), p.OrgID, topic); errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound(fmt.Sprintf("subscription to %q", topic))
	} else if err != nil {
		return err
	}
	s.audit.Record(c, p, "NOTIFICATION", "DELETE", "subscription:"+topic, store.OutcomeSuccess)
	return httpx.OK(c, true, "subscription deleted")
}

func subscriptionView(sub store.NotificationSubscription) api.NotificationSubscription {
	v := api.NotificationSubscription{Topic: sub.Topic, Enabled: sub.Enabled, CreatedAt: &sub.CreatedAt, UpdatedAt: &sub.UpdatedAt}
	for _, ch := range splitList(sub.Channels) {
		v.Channels = append(v.Channels, api.NotificationChannelType(ch))
	}
	return v
}

var unsubscribePage = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">
<title>Unsubscribe</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto">
{{if .Error}}<p id="error">{{.Error}}</p>{{else if .Done}}<p id="done">{{.Done}}</p>{{else}}
<h1>Unsubscribe from {{.Topic}}</h1>
<p>Stop {{.Channel}} notifications of <strong>{{.Topic}}</strong>{{if .Recipient}} to <strong id="recipient">{{.Recipient}}</strong>{{end}}. Other recipients keep receiving them.</p>
<form method="post" action="{{.Action}}"><button type="submit" id="unsubscribe">Unsubscribe</button></form>{{end}}
</body></html>`))

type unsubscribeView struct{ Topic, Channel, Recipient, Action, Error, Done string }

// ShowUnsubscribePage shows what an unsubscribe link would do, with a button that POSTs.
func (s *Server) ShowUnsubscribePage(c echo.Context, params api.ShowUnsubscribePageParams) error {
	claims, err := s.verifyUnsubscribe(c, params.Token)
	if err != nil && err.Status >= 500 {
		return err
	}
	v := unsubscribeView{Topic: claims.Topic, Channel: claims.Channel, Recipient: claims.Recipient,
		Action: "/api/v1/notifications/unsubscribe?" + url.Values{"token": {params.Token}}.Encode()}
	status := http.StatusOK
	if err != nil {
		v.Error, status = err.Message, err.Status
	}
	var b strings.Builder
	if err := unsubscribePage.Execute(&b, v); err != nil {
		return err
	}
	approval.SetPageHeaders(c.Response().Header())
	return c.HTML(status, b.String())
}

func (s *Server) verifyUnsubscribe(c echo.Context, token string) (approval.Claims, *httpx.APIError) {
	if s.signer == nil {
		return approval.Claims{}, httpx.NotImplemented("unsubscribe links (no signing key configured)")
	}
	claims, err := s.signer.VerifyFor(approval.PurposeUnsubscribe, token, time.Now())
	if err == nil && claims.Recipient == "" {
		// Links from before per-recipient unsubscribe named no recipient and stopped
		// the channel for everyone; they are refused rather than honoured so.
		err = errors.New("this link names no recipient (it predates per-recipient unsubscribe); use the link of a newer email, or ask an admin")
	}
	if err != nil {
		s.audit.RefusedToken(c, claims.OrgID, claims, "unsubscribe token refused: "+err.Error())
		return approval.Claims{}, httpx.BadRequest("this unsubscribe link is not valid: "+err.Error(), map[string]any{"query.token": err.Error()})
	}
	return claims, nil
}

// UnsubscribeNotifications answers a signed link by unsubscribing the one recipient
// it was sent to (see optOut); an admin's call without a link disables one topic on
// one channel (or all its channels) for the whole organization.
func (s *Server) UnsubscribeNotifications(c echo.Context, params api.UnsubscribeNotificationsParams) error {
	if params.Token != nil {
		claims, apiErr := s.verifyUnsubscribe(c, *params.Token)
		if apiErr != nil {
			return apiErr
		}
		return s.optOut(c, claims)
	}
	p, err := notificationOrg(c, deref(params.XAstroOrganizationID))
	if err != nil {
		return err
	}
	var in api.NotificationUnsubscribeRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	orgID, topic, channel := p.OrgID, in.Topic, deref(in.Channel)
	ctx := c.Request().Context()
	sub, err := s.store.GetSubscription(ctx, orgID, topic)
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound(fmt.Sprintf("subscription to %q", topic))
	}
	if err != nil {
		return err
	}
	channels := splitList(sub.Channels)
	if channel == "" {
		sub.Enabled = false
	} else {
		channels = slices.DeleteFunc(channels, func(ch string) bool { return ch == channel })
		sub.Channels = strings.Join(channels, ",")
		sub.Enabled = sub.Enabled && len(channels) > 0
	}
	if err := s.store.PutSubscription(ctx, &sub); err != nil {
		return err
	}
	s.audit.RecordEvent(c, &store.AuditEvent{OrgID: orgID, EventType: "NOTIFICATION", Action: "UNSUBSCRIBE",
		ResourceID: "subscription:" + topic, Outcome: store.OutcomeSuccess,
		Details: httpx.MustJSON(map[string]string{"channel": channel})})
	return httpx.OK(c, true, "unsubscribed")
}

// optOut unsubscribes the recipient a signed link was sent to from its topic on its
// channel; the organization's subscription and its other recipients are untouched.
// Anyone holding the link can do this, so its audit event goes through the flood
// guard.
func (s *Server) optOut(c echo.Context, claims approval.Claims) error {
	recipient := strings.ToLower(strings.TrimSpace(claims.Recipient))
	err := s.store.AddOptOut(c.Request().Context(), &store.NotificationOptOut{OrgID: claims.OrgID, Channel: claims.Channel,
		Topic: claims.Topic, Recipient: recipient})
	if err != nil {
		return err
	}
	s.audit.RecordPublic(c, &store.AuditEvent{OrgID: claims.OrgID, EventType: "NOTIFICATION", Action: "UNSUBSCRIBE",
		ResourceID: "subscription:" + claims.Topic, Outcome: store.OutcomeSuccess,
		Details: httpx.MustJSON(map[string]string{"channel": claims.Channel, "recipient": recipient})})
	return httpx.OK(c, true, recipient+" unsubscribed from "+claims.Topic+" ("+claims.Channel+")")
}

// splitList reads a stored comma-separated list ("" is none).
func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func ptr[T any](v T) *T { return &v }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
