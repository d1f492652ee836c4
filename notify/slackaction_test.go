package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestSlackInteractiveButtons: a link with an action ID and a value becomes an
// interactive button (action_id and value, no url) beside URL buttons, whose derived
// action IDs never collide with it; email leaves it out.
func TestSlackInteractiveButtons(t *testing.T) {
	m := Message{Subject: "Approval needed", Text: "A deploy waits.", Links: []Link{
		{Label: "Approve", ActionID: SlackActionApprove, Value: "v1.tok.sig", Style: StylePrimary},
		{Label: "Reject", ActionID: SlackActionReject, Value: "v1.tok.sig", Style: StyleDanger},
		{Label: "View approval page", URL: "https://astro.example/api/v1/cluster-approvals?token=x"},
	}}
	if err := m.validate(); err != nil {
		t.Fatal(err)
	}
	var buttons []map[string]any
	for _, b := range SlackPayload(m)["blocks"].([]any) {
		if b := b.(map[string]any); b["type"] == "actions" {
			for _, e := range b["elements"].([]any) {
				buttons = append(buttons, e.(map[string]any))
			}
		}
	}
	if len(buttons) != 3 {
		t.Fatalf("buttons: %v", buttons)
	}
	for i, want := range []string{SlackActionApprove, SlackActionReject} {
		b := buttons[i]
		if b["action_id"] != want || b["value"] != "v1.tok.sig" || b["url"] != nil {
			t.Fatalf("button %d: %v", i, b)
		}
	}
	if b := buttons[2]; b["url"] != m.Links[2].URL || b["value"] != nil || b["action_id"] != "view_approval_page" {
		t.Fatalf("URL button: %v", b)
	}
	if text := renderText(m); strings.Contains(text, "Approve") || !strings.Contains(text, "View approval page: https://") {
		t.Fatalf("email text: %q", text)
	}
	if html, err := renderHTML(m); err != nil || strings.Contains(html, ">Approve<") {
		t.Fatalf("email html (%v): %s", err, html)
	}
}

func TestSlackInteractiveButtonsInvalid(t *testing.T) {
	for name, l := range map[string]Link{
		"url and value":  {Label: "x", URL: "https://a.example/", ActionID: "a", Value: "v"},
		"value alone":    {Label: "x", Value: "v"},
		"action alone":   {Label: "x", ActionID: "a"},
		"value too long": {Label: "x", ActionID: "a", Value: strings.Repeat("v", SlackValueMax+1)},
	} {
		t.Run(name, func(t *testing.T) {
			err := SendSlack(context.Background(), &http.Client{}, "https://hooks.example/x", Message{Text: "x", Links: []Link{l}})
			if !errors.Is(err, ErrPermanent) {
				t.Fatalf("SendSlack error = %v, want ErrPermanent", err)
			}
		})
	}
}
