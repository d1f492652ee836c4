package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
const (
	slackHeaderMax      = 150
	slackSectionMax     = 3000
	slackButtonTextMax  = 75
	slackActionIDMax    = 255
	slackActionsMax     = 25
	slackFallbackMax    = 4000
	slackErrorBodyLimit = 512
)

// SlackPayload renders m as a Slack incoming-webhook payload: a header block
// with the subject, a mrkdwn section with the text, and an actions block with
// one button per link: a URL button, or an interactive one for a link with an
// ActionID and Value (see Link). The top-level "text" is the fallback shown in
// notifications. Text is escaped (&, <, >) so it cannot create Slack links or
// mentions, and every field is truncated to Block Kit's limits.
func SlackPayload(m Message) map[string]any {
	subject := headerText(m.Subject)
	text := strings.TrimSpace(m.Text)

	var blocks []any
	if subject != "" {
		blocks = append(blocks, map[string]any{
			"type": "header",
			"text": map[string]any{"type": "plain_text", "text": truncateRunes(subject, slackHeaderMax), "emoji": true},
		})
	}
	if text != "" {
		blocks = append(blocks, map[string]any{
			"type": "section",
			"text": map[string]any{"type": "mrkdwn", "text": truncateEscaped(escapeMrkdwn(text), slackSectionMax)},
		})
	}
	if len(m.Links) > 0 {
		var buttons []any
		used := map[string]bool{}
		for i, l := range m.Links {
			if i == slackActionsMax {
				break
			}
			b := map[string]any{
				"type": "button",
				"text": map[string]any{"type": "plain_text", "text": truncateRunes(headerText(l.Label), slackButtonTextMax), "emoji": true},
			}
			if l.Value != "" { // interactive: Slack posts action_id and value to the app
				b["action_id"], b["value"] = l.ActionID, l.Value
				used[l.ActionID] = true
			} else {
				b["url"], b["action_id"] = l.URL, actionID(l.Label, i, used)
			}
			if l.Style == StylePrimary || l.Style == StyleDanger {
				b["style"] = l.Style
			}
			buttons = append(buttons, b)
		}
		blocks = append(blocks, map[string]any{"type": "actions", "elements": buttons})
	}

	fallback := subject
	if fallback == "" {
		fallback = text
	}
	payload := map[string]any{"text": truncateEscaped(escapeMrkdwn(fallback), slackFallbackMax)}
	if len(blocks) > 0 {
		payload["blocks"] = blocks
	}
	return payload
}

// SendSlack posts m to a Slack incoming webhook. Pass a client from
// Guard.HTTPClient so the destination is re-checked when dialled; a nil
// client means http.DefaultClient, with no such protection.
//
// Errors never contain webhookURL, whose path is the credential. Answers
// 4xx other than 429, invalid messages and destinations refused by the
// client's Guard (ErrForbiddenDestination) wrap ErrPermanent; 429, 5xx and
// network errors are transient, with any Retry-After value in the message.
func SendSlack(ctx context.Context, client *http.Client, webhookURL string, m Message) error {
	if client == nil {
		client = http.DefaultClient
	}
	if err := m.validate(); err != nil {
		return fmt.Errorf("slack: %w", err)
	}
	u, err := url.Parse(webhookURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return permanentf("slack: webhook url is not an absolute http(s) url")
	}
	host := u.Host

	body, err := json.Marshal(SlackPayload(m))
	if err != nil {
		return permanentf("slack: encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, webhookURL, bytes.NewReader(body))
	if err != nil {
		return permanentf("slack: new request to %s: %w", host, stripURL(err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")

	resp, err := client.Do(req)
	if err != nil {
		err = fmt.Errorf("slack: post to %s: %w", host, stripURL(err))
		if errors.Is(err, ErrForbiddenDestination) {
			// The guard refused the address; retrying will not change that.
			return permanent(err)
		}
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, slackErrorBodyLimit))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("slack: post to %s: %s", host, resp.Status)
	if s := strings.TrimSpace(string(snippet)); s != "" && utf8.ValidString(s) {
		err = fmt.Errorf("%w: %s", err, headerText(s))
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		err = fmt.Errorf("%w (retry after %s)", err, headerText(ra))
	}
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return permanent(err)
	}
	return err
}

// stripURL removes the *url.Error layer, whose message includes the full
// request URL, keeping the operation's cause.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// escapeMrkdwn escapes the three characters Slack's mrkdwn treats as markup
// delimiters for links, mentions and entities.
func escapeMrkdwn(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncateRunes shortens s to at most n characters, ending with "…" when cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// truncateEscaped is truncateRunes for mrkdwn-escaped text: it never cuts
// through an entity such as "&amp;".
func truncateEscaped(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := string([]rune(s)[:n-1])
	if amp := strings.LastIndexByte(cut, '&'); amp >= 0 && !strings.Contains(cut[amp:], ";") {
		cut = cut[:amp]
	}
	return cut + "…"
}

// actionID derives a stable, unique action_id from a button label:
// "Approve deploy" → "approve_deploy". used tracks IDs already taken in the
// message, since Slack requires them to be unique per block.
func actionID(label string, i int, used map[string]bool) string {
	var b strings.Builder
	lastUnderscore := true
	for _, r := range strings.ToLower(label) {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			lastUnderscore = false
		} else if !lastUnderscore {
			b.WriteByte('_')
			lastUnderscore = true
		}
	}
	id := strings.TrimSuffix(b.String(), "_")
	if id == "" {
		id = "link_" + strconv.Itoa(i+1)
	}
	if len(id) > slackActionIDMax-8 {
		id = id[:slackActionIDMax-8]
	}
	base := id
	for n := 2; used[id]; n++ {
		id = base + "_" + strconv.Itoa(n)
	}
	used[id] = true
	return id
}
