package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

// slackHook is an httptest stand-in for a Slack incoming webhook.
type slackHook struct {
	mu       sync.Mutex
	bodies   [][]byte
	ctypes   []string
	status   int
	answer   string
	retryAft string
}

func (h *slackHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, body)
	h.ctypes = append(h.ctypes, r.Header.Get("Content-Type"))
	h.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/services/T000/B000/secretToken" {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	if h.retryAft != "" {
		w.Header().Set("Retry-After", h.retryAft)
	}
	status := h.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	answer := h.answer
	if answer == "" {
		answer = "ok"
	}
	_, _ = io.WriteString(w, answer)
}

// requests returns the bodies and content types received so far.
func (h *slackHook) requests() (bodies [][]byte, ctypes []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([][]byte(nil), h.bodies...), append([]string(nil), h.ctypes...)
}

const hookPath = "/services/T000/B000/secretToken"

func TestSendSlackPostsBlocks(t *testing.T) {
	hook := &slackHook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()

	m := approvalMessage()
	if err := SendSlack(context.Background(), srv.Client(), srv.URL+hookPath, m); err != nil {
		t.Fatalf("SendSlack: %v", err)
	}
	bodies, ctypes := hook.requests()
	if len(bodies) != 1 {
		t.Fatalf("webhook got %d requests, want 1", len(bodies))
	}
	if !strings.HasPrefix(ctypes[0], "application/json") {
		t.Errorf("Content-Type = %q", ctypes[0])
	}

	var got struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"text"`
			Elements []struct {
				Type string `json:"type"`
				Text struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"text"`
				URL      string `json:"url"`
				Style    string `json:"style"`
				ActionID string `json:"action_id"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(bodies[0], &got); err != nil {
		t.Fatalf("decode payload: %v\n%s", err, bodies[0])
	}
	if got.Text != m.Subject {
		t.Errorf("fallback text = %q, want %q", got.Text, m.Subject)
	}
	if len(got.Blocks) != 3 {
		t.Fatalf("got %d blocks, want header, section, actions:\n%s", len(got.Blocks), bodies[0])
	}
	header, section, actions := got.Blocks[0], got.Blocks[1], got.Blocks[2]
	if header.Type != "header" || header.Text.Type != "plain_text" || header.Text.Text != m.Subject {
		t.Errorf("header block = %+v", header)
	}
	wantText := "Cluster &lt;prod-eu&gt; &amp; friends wants to upgrade.\n.dot line must survive\n\nSecond paragraph."
	if section.Type != "section" || section.Text.Type != "mrkdwn" || section.Text.Text != wantText {
		t.Errorf("section block = %+v, want mrkdwn %q", section.Text, wantText)
	}
	if actions.Type != "actions" || len(actions.Elements) != 2 {
		t.Fatalf("actions block = %+v", actions)
	}
	wantButtons := []struct{ label, url, style, id string }{
		{"Approve", m.Links[0].URL, "primary", "approve"},
		{"Reject <now>", m.Links[1].URL, "danger", "reject_now"},
	}
	for i, want := range wantButtons {
		b := actions.Elements[i]
		if b.Type != "button" || b.Text.Type != "plain_text" || b.Text.Text != want.label ||
			b.URL != want.url || b.Style != want.style || b.ActionID != want.id {
			t.Errorf("button %d = %+v, want %+v", i, b, want)
		}
	}
}

func TestSendSlackStatus(t *testing.T) {
	tests := []struct {
		name          string
		status        int
		answer        string
		retryAfter    string
		path          string
		wantErr       bool
		wantPermanent bool
		wantInMsg     string
	}{
		{name: "200", status: 200},
		{name: "204", status: 204},
		{name: "400 invalid payload", status: 400, answer: "invalid_payload", wantErr: true, wantPermanent: true, wantInMsg: "invalid_payload"},
		{name: "403", status: 403, answer: "action_prohibited", wantErr: true, wantPermanent: true},
		{name: "404 wrong hook", path: "/services/T000/B000/other", wantErr: true, wantPermanent: true, wantInMsg: "no_service"},
		{name: "410 archived channel", status: 410, answer: "channel_is_archived", wantErr: true, wantPermanent: true},
		{name: "429", status: 429, retryAfter: "30", wantErr: true, wantInMsg: "retry after 30"},
		{name: "500", status: 500, wantErr: true},
		{name: "503", status: 503, answer: "service unavailable\n", retryAfter: "5", wantErr: true, wantInMsg: "retry after 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&slackHook{status: tt.status, answer: tt.answer, retryAft: tt.retryAfter})
			defer srv.Close()
			path := hookPath
			if tt.path != "" {
				path = tt.path
			}
			err := SendSlack(context.Background(), srv.Client(), srv.URL+path, approvalMessage())
			if (err != nil) != tt.wantErr {
				t.Fatalf("SendSlack error = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if got := errors.Is(err, ErrPermanent); got != tt.wantPermanent {
				t.Errorf("errors.Is(%v, ErrPermanent) = %v, want %v", err, got, tt.wantPermanent)
			}
			if !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Errorf("error %q lacks %q", err, tt.wantInMsg)
			}
			if strings.Contains(err.Error(), "secretToken") || strings.Contains(err.Error(), "/services/") {
				t.Errorf("error %q leaks the webhook path", err)
			}
		})
	}
}

func TestSendSlackTransportErrors(t *testing.T) {
	srv := httptest.NewServer(&slackHook{})
	url := srv.URL + hookPath
	srv.Close() // nothing listens any more

	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		ctx  context.Context
		want error
	}{
		{name: "connection refused", ctx: context.Background()},
		{name: "cancelled", ctx: ctx, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SendSlack(tt.ctx, &http.Client{}, url, approvalMessage())
			if err == nil {
				t.Fatal("SendSlack succeeded, want error")
			}
			if errors.Is(err, ErrPermanent) {
				t.Errorf("transport error classified permanent: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error = %v, want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), "secretToken") {
				t.Errorf("error %q leaks the webhook path", err)
			}
		})
	}
}

func TestSendSlackInvalidInput(t *testing.T) {
	tests := []struct {
		name string
		url  string
		m    Message
	}{
		{"relative url", "/services/x", approvalMessage()},
		{"ftp url", "ftp://hooks.example/x", approvalMessage()},
		{"empty message", "https://hooks.example/x", Message{}},
		{"bad link", "https://hooks.example/x", Message{Text: "x", Links: []Link{{Label: "x", URL: "javascript:alert(1)"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SendSlack(context.Background(), &http.Client{}, tt.url, tt.m)
			if !errors.Is(err, ErrPermanent) {
				t.Fatalf("SendSlack error = %v, want ErrPermanent", err)
			}
		})
	}
}

func TestSlackPayload(t *testing.T) {
	blocksOf := func(p map[string]any) []map[string]any {
		bs, _ := p["blocks"].([]any)
		out := make([]map[string]any, len(bs))
		for i, b := range bs {
			out[i] = b.(map[string]any)
		}
		return out
	}
	textOf := func(b map[string]any) string { return b["text"].(map[string]any)["text"].(string) }
	buttonsOf := func(p map[string]any) []map[string]any {
		for _, b := range blocksOf(p) {
			if b["type"] == "actions" {
				var out []map[string]any
				for _, e := range b["elements"].([]any) {
					out = append(out, e.(map[string]any))
				}
				return out
			}
		}
		return nil
	}

	tests := []struct {
		name  string
		m     Message
		check func(t *testing.T, p map[string]any)
	}{
		{
			name: "text only uses text as fallback and has no header",
			m:    Message{Text: "Deploy <!channel> done & dusted"},
			check: func(t *testing.T, p map[string]any) {
				if p["text"] != "Deploy &lt;!channel&gt; done &amp; dusted" {
					t.Errorf("fallback = %q", p["text"])
				}
				bs := blocksOf(p)
				if len(bs) != 1 || bs[0]["type"] != "section" {
					t.Errorf("blocks = %v", bs)
				}
			},
		},
		{
			name: "subject only",
			m:    Message{Subject: "Cluster ready"},
			check: func(t *testing.T, p map[string]any) {
				bs := blocksOf(p)
				if len(bs) != 1 || bs[0]["type"] != "header" || textOf(bs[0]) != "Cluster ready" {
					t.Errorf("blocks = %v", bs)
				}
			},
		},
		{
			name: "long fields are truncated to Block Kit limits",
			m: Message{
				Subject: strings.Repeat("s", 200),
				Text:    strings.Repeat("a&", 2000),
				Links:   []Link{{Label: strings.Repeat("l", 100), URL: "https://a.example"}},
			},
			check: func(t *testing.T, p map[string]any) {
				bs := blocksOf(p)
				if n := utf8.RuneCountInString(textOf(bs[0])); n != 150 {
					t.Errorf("header length = %d", n)
				}
				sec := textOf(bs[1])
				if n := utf8.RuneCountInString(sec); n > 3000 {
					t.Errorf("section length = %d", n)
				}
				if !strings.HasSuffix(sec, "&amp;…") && !strings.HasSuffix(sec, "a…") {
					t.Errorf("section cut through an entity: %q", sec[len(sec)-12:])
				}
				if n := utf8.RuneCountInString(textOf(buttonsOf(p)[0])); n != 75 {
					t.Errorf("button text length = %d", n)
				}
			},
		},
		{
			name: "action ids are unique and derived from labels",
			m: Message{Text: "x", Links: []Link{
				{Label: "Approve", URL: "https://a.example/1"},
				{Label: "approve!", URL: "https://a.example/2"},
				{Label: "Approve deploy → prod", URL: "https://a.example/3"},
				{Label: "✓✓", URL: "https://a.example/4"},
			}},
			check: func(t *testing.T, p map[string]any) {
				want := []string{"approve", "approve_2", "approve_deploy_prod", "link_4"}
				for i, b := range buttonsOf(p) {
					if b["action_id"] != want[i] {
						t.Errorf("button %d action_id = %q, want %q", i, b["action_id"], want[i])
					}
					if _, ok := b["style"]; ok {
						t.Errorf("button %d has a style, want none for an unstyled link", i)
					}
				}
			},
		},
		{
			name: "at most 25 buttons",
			m: func() Message {
				m := Message{Text: "x"}
				for range 30 {
					m.Links = append(m.Links, Link{Label: "Go", URL: "https://a.example"})
				}
				return m
			}(),
			check: func(t *testing.T, p map[string]any) {
				if n := len(buttonsOf(p)); n != 25 {
					t.Errorf("got %d buttons", n)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := SlackPayload(tt.m)
			if _, err := json.Marshal(p); err != nil {
				t.Fatalf("payload does not marshal: %v", err)
			}
			tt.check(t, p)
		})
	}
}
