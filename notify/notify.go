// Package notify delivers notifications by email (SMTP) and to Slack incoming
// webhooks, and guards outbound webhook destinations against server-side
// request forgery.
//
// The package knows nothing about workflows or the store: callers build a
// Message, load the channel's configuration and secrets themselves, and call
// SendEmail or SendSlack. Errors that retrying cannot fix (5xx SMTP replies,
// 4xx webhook answers other than 429, invalid configuration) wrap
// ErrPermanent; every other error is transient.
package notify

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrPermanent is wrapped by errors that retrying will not fix: the remote
// side rejected the message or credentials (SMTP 5xx, HTTP 4xx other than
// 429), or the configuration or message is invalid. Test with errors.Is.
var ErrPermanent = errors.New("permanent notification failure")

// Link styles understood by the renderers.
const (
	// StylePrimary renders a link as the main call to action.
	StylePrimary = "primary"
	// StyleDanger renders a link as a destructive action.
	StyleDanger = "danger"
)

// Link is a call-to-action rendered as a button.
type Link struct {
	// Label is the button text, e.g. "Approve".
	Label string
	// URL is an absolute http or https URL.
	URL string
	// Style is StylePrimary, StyleDanger or empty for a neutral button.
	Style string
	// ActionID and Value make the link an interactive Slack button instead of a
	// URL button: a click makes Slack post ActionID and Value to the Slack app's
	// interactivity Request URL, signed with the app's signing secret. URL is then
	// empty, and email leaves the link out. Value is at most SlackValueMax bytes.
	ActionID string
	Value    string
}

// SlackValueMax is the longest value Block Kit lets a button carry.
const SlackValueMax = 2000

// Action IDs of the interactive Approve and Reject buttons of an approval message:
// the receiver of Slack's interactivity requests acts on these alone.
const (
	SlackActionApprove = "astro_approve"
	SlackActionReject  = "astro_reject"
)

// Message is a channel-neutral notification.
type Message struct {
	// Subject is the email subject and the Slack header.
	Subject string
	// Text is the plain-text body. Slack renders it as mrkdwn after escaping
	// &, < and >, so it cannot inject Slack links or mentions.
	Text string
	// HTML is the trusted HTML body of the email. When empty, the email's HTML
	// part is derived from Text. It is not used for Slack.
	HTML string
	// Links are rendered as buttons after the body.
	Links []Link
}

// permanentError marks err as permanent without changing its message.
type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }

// permanent wraps err so that errors.Is(err, ErrPermanent) holds.
func permanent(err error) error {
	if err == nil || errors.Is(err, ErrPermanent) {
		return err
	}
	return &permanentError{err: err}
}

// permanentf formats an error that wraps ErrPermanent.
func permanentf(format string, args ...any) error {
	return permanent(fmt.Errorf(format, args...))
}

// validate checks the parts of m every channel relies on.
func (m Message) validate() error {
	if strings.TrimSpace(m.Subject) == "" && strings.TrimSpace(m.Text) == "" {
		return permanentf("message has neither subject nor text")
	}
	for i, l := range m.Links {
		if strings.TrimSpace(l.Label) == "" {
			return permanentf("link %d: empty label", i)
		}
		if l.Value != "" || l.ActionID != "" {
			switch {
			case l.URL != "":
				return permanentf("link %q: a url or an action, not both", l.Label)
			case l.Value == "" || l.ActionID == "":
				return permanentf("link %q: an action needs both an action id and a value", l.Label)
			case len(l.Value) > SlackValueMax:
				return permanentf("link %q: value of %d bytes exceeds %d", l.Label, len(l.Value), SlackValueMax)
			case len(l.ActionID) > slackActionIDMax:
				return permanentf("link %q: action id of %d bytes exceeds %d", l.Label, len(l.ActionID), slackActionIDMax)
			}
		} else if u, err := url.Parse(l.URL); err != nil {
			return permanentf("link %q: invalid url", l.Label)
		} else if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return permanentf("link %q: url must be absolute http or https", l.Label)
		}
		switch l.Style {
		case "", StylePrimary, StyleDanger:
		default:
			return permanentf("link %q: unknown style %q", l.Label, l.Style)
		}
	}
	return nil
}
