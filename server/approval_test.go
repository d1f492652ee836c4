package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testreq"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// mailSink is a local SMTP server that keeps what arrives.
type mailSink struct {
	mu   sync.Mutex
	msgs []string
	addr string
}

type sinkSession struct{ s *mailSink }

func (s *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return sinkSession{s}, nil }
func (sinkSession) Mail(string, *smtp.MailOptions) error        { return nil }
func (sinkSession) Rcpt(string, *smtp.RcptOptions) error        { return nil }
func (sinkSession) Reset()                                      {}
func (sinkSession) Logout() error                               { return nil }
func (ss sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, string(raw))
	ss.s.mu.Unlock()
	return err
}

func (s *mailSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

func startMailSink(t *testing.T) *mailSink {
	t.Helper()
	sink := &mailSink{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(sink)
	srv.Domain = "sink.test"
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	sink.addr = ln.Addr().String()
	return sink
}

// hookSink is a local Slack incoming-webhook endpoint that keeps the payloads.
type hookSink struct {
	mu       sync.Mutex
	payloads []string
	refused  int
	down     int // answer 503 to this many requests first, as a Slack outage would
	srv      *httptest.Server
}

func startHookSink(t *testing.T) *hookSink {
	h := &hookSink{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.refused < h.down {
			h.refused++
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		h.payloads = append(h.payloads, string(raw))
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookSink) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.payloads...)
}

// approvalStack is a live env whose worker sends approval links through a local SMTP
// sink and a local Slack webhook sink, and whose API is served over HTTP (the links
// point at it) for a browser to open.
type approvalStack struct {
	*env
	mail  *mailSink
	hooks *hookSink
	http  *httptest.Server
}

func startApprovalStack(t *testing.T) *approvalStack {
	t.Helper()
	dev := testtemporal.Start(t)
	tc := dev.Client()
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	signer, err := approval.NewSigner([]byte("signing-key-signing-key-signing-key!"))
	must(t, err)
	guard, err := notify.ParseAllowList("127.0.0.0/8")
	must(t, err)
	// The worker below relays email through the SMTP sink on loopback: the server has a relay.
	e := newEnvWith(t, tc, server.Options{Box: box, Signer: signer, Guard: guard, ServerSMTPHost: "127.0.0.1"})
	st := &approvalStack{env: e, mail: startMailSink(t), hooks: startHookSink(t)}
	st.http = httptest.NewServer(e.srv)
	t.Cleanup(st.http.Close)

	host, port, _ := net.SplitHostPort(st.mail.addr)
	portN, err := strconv.Atoi(port)
	must(t, err)
	cloud := sim.New(0)
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster: &activities.Cluster{Store: e.store, Clouds: sim.Registry(cloud), PollInterval: 10 * time.Millisecond},
		Notifier: &activities.Notifier{Store: e.store, Box: box, Signer: signer, PublicURL: st.http.URL, HTTP: guard.HTTPClient(10 * time.Second),
			SMTP: notify.SMTPConfig{Host: host, Port: portN, From: "astro@test", StartTLS: "none", Timeout: 10 * time.Second}},
	})
	must(t, w.Start())
	t.Cleanup(w.Stop)
	return st
}

var linkRE = regexp.MustCompile(`https?://127\.0\.0\.1:\d+/api/v1/cluster-approvals\?[^\s"<>\\]+`)

// TestApprovalByEmailAndSlack is the whole gate: with a policy, a deploy waits; the
// email and the Slack message both carry a working link; Approve clicked in headless
// Chromium lets the deploy finish; the link then refuses a second use; a rejected
// deploy ends without touching the cloud; altered tokens are refused and audited.
func TestApprovalByEmailAndSlack(t *testing.T) {
	s := startApprovalStack(t)
	s.hooks.down = 2 // Slack is down at first: the link is delayed, not lost
	orgHeader := []string{"X-Astro-Organization-ID", s.orgID}
	if a := s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key,
		map[string]any{"channel": "email", "config": map[string]any{"recipients": []any{"ops@example.com"}}}, orgHeader...); a.Status != http.StatusOK {
		t.Fatalf("email integration: %d %s", a.Status, a.Body)
	}
	a := s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key,
		map[string]any{"channel": "slack", "config": map[string]any{"webhookUrl": s.hooks.srv.URL + "/services/T000/B000/secretpart"}}, orgHeader...)
	if a.Status != http.StatusOK || strings.Contains(string(a.Body), "secretpart") {
		t.Fatalf("slack integration (the webhook must be masked): %d %s", a.Status, a.Body)
	}
	if a := s.do(http.MethodPut, "/api/v1/notifications/subscriptions", s.key,
		map[string]any{"topic": "cluster.deployed", "channels": []any{"email", "slack"}}, orgHeader...); a.Status != http.StatusOK {
		t.Fatalf("subscription: %d %s", a.Status, a.Body)
	}
	if a := s.do(http.MethodPut, "/api/v1/approval-policy", s.key, map[string]any{"operations": []any{"deploy"}, "expiresIn": "1h",
		"allowSelfApproval": true}); a.Status != http.StatusOK { // the admin approves their own deploy
		t.Fatalf("policy: %d %s", a.Status, a.Body)
	}

	opID := deploy(t, s.env, eksManifest("gated"))
	p := waitFor(t, 20*time.Second, func() (map[string]any, bool) {
		p := s.progress(t, "gated", opID)
		return p, p["status"] == "WAITING_FOR_APPROVAL"
	})
	ap := p["approval"].(map[string]any)
	if rf := ap["requestedFrom"].([]any); len(rf) != 1 || rf[0] != "acme-admin@example.com" || ap["expiresAt"] == nil {
		t.Fatalf("approval in progress: %v", ap)
	}
	if c := s.waitStatus(t, "gated", "WAITING_FOR_APPROVAL"); c == nil {
		t.Fatal("cluster not waiting")
	}

	emailLink := waitFor(t, 20*time.Second, func() (string, bool) {
		for _, m := range s.mail.all() {
			if l := linkRE.FindString(unfold(m)); l != "" {
				return l, true
			}
		}
		return "", false
	})
	slackLink := waitFor(t, 20*time.Second, func() (string, bool) {
		for _, raw := range s.hooks.all() {
			if l := buttonURL(raw, "gated"); l != "" {
				return l, true
			}
		}
		return "", false
	})

	s.hooks.mu.Lock()
	refused := s.hooks.refused
	s.hooks.mu.Unlock()
	if refused != 2 {
		t.Fatalf("the Slack outage refused %d deliveries, want 2", refused)
	}

	// A GET never acts: opening the links leaves the deploy waiting.
	for _, l := range []string{emailLink, slackLink} {
		resp, err := http.Get(l)
		must(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="approve"`) || !strings.Contains(string(body), "gated") {
			t.Fatalf("approval page: %d %s", resp.StatusCode, body)
		}
	}
	if p := s.progress(t, "gated", opID); p["status"] != "WAITING_FOR_APPROVAL" {
		t.Fatalf("a GET acted: %v", p)
	}

	// Altered token, or a token presented for another cluster: refused and audited.
	altered := strings.Replace(emailLink, "token=v1.", "token=v1.x", 1)
	if a := s.do(http.MethodPost, strings.TrimPrefix(altered, s.http.URL)+"&action=APPROVE", "", nil); a.Status != http.StatusBadRequest {
		t.Fatalf("altered token: %d %s", a.Status, a.Body)
	}
	other := strings.Replace(emailLink, "clusterName=gated", "clusterName=other", 1)
	if a := s.do(http.MethodPost, strings.TrimPrefix(other, s.http.URL)+"&action=APPROVE", "", nil); a.Status != http.StatusBadRequest {
		t.Fatalf("token for another cluster: %d %s", a.Status, a.Body)
	}

	// Approve in a real browser.
	text := clickInChromium(t, emailLink, "#approve")
	if !strings.Contains(text, "Approved by acme-admin@example.com") {
		t.Fatalf("page after Approve: %q", text)
	}
	if c := s.waitStatus(t, "gated", "READY", "FAILED"); c["status"] != "READY" {
		t.Fatalf("after approval: %v", c)
	}
	recordHistory(t, s.tc, opID, "deploy-gated-approved-by-link")
	// Subscribers of cluster.deployed hear of it by email (with an unsubscribe link)
	// and on Slack.
	waitFor(t, 20*time.Second, func() (int, bool) {
		n := 0
		for _, m := range s.mail.all() {
			if strings.Contains(m, "[cluster.deployed] cluster gated") && strings.Contains(unfold(m), "/api/v1/notifications/unsubscribe?token=") {
				n++
			}
		}
		for _, p := range s.hooks.all() {
			if strings.Contains(p, "cluster.deployed") {
				n++
			}
		}
		return n, n == 2
	})

	// The same link again: refused.
	if a := s.do(http.MethodPost, strings.TrimPrefix(emailLink, s.http.URL)+"&action=APPROVE", "", nil); a.Status != http.StatusConflict {
		t.Fatalf("second use of the link: %d %s", a.Status, a.Body)
	}
	if text := clickInChromium(t, emailLink, ""); !strings.Contains(text, "already used") {
		t.Fatalf("page of a used link: %q", text)
	}
	events, _, err := s.store.ListAudit(t.Context(), s.orgID, store.AuditFilter{EventType: "APPROVAL"}, store.Page{Size: 100})
	must(t, err)
	seen := map[string]int{}
	for _, ev := range events {
		seen[ev.Action]++
	}
	if seen["REQUEST"] != 1 || seen["APPROVE"] != 1 || seen["TOKEN_REFUSED"] < 3 {
		t.Fatalf("audit of approvals: %v", seen)
	}

	// A rejected deploy ends REJECTED and nothing was created.
	opID = deploy(t, s.env, eksManifest("refused"))
	waitFor(t, 20*time.Second, func() (any, bool) { return nil, s.progress(t, "refused", opID)["status"] == "WAITING_FOR_APPROVAL" })
	slackLink = waitFor(t, 20*time.Second, func() (string, bool) {
		for _, raw := range s.hooks.all() {
			if l := buttonURL(raw, "refused"); l != "" {
				return l, true
			}
		}
		return "", false
	})
	a = s.do(http.MethodPost, strings.TrimPrefix(slackLink, s.http.URL)+"&action=REJECT", s.key, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("reject: %d %s", a.Status, a.Body)
	}
	if c := s.waitStatus(t, "refused", "REJECTED", "READY", "FAILED"); c["status"] != "REJECTED" {
		t.Fatalf("after reject: %v", c)
	}
	recordHistory(t, s.tc, opID, "deploy-gated-rejected")
	p = s.progress(t, "refused", opID)
	for _, st := range p["steps"].([]any) {
		step := st.(map[string]any)
		if step["name"] == workflows.StepNetwork && step["status"] == "SUCCEEDED" {
			t.Fatalf("a rejected deploy created a network: %v", p)
		}
	}
}

// clickInChromium opens url in headless Chromium, clicks selector (if any) and returns
// the page's text afterwards.
func clickInChromium(t *testing.T, url, selector string) string {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		testreq.Missing(t, "Chromium not found", "run `make tools` (installs Debian's chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	steps := []chromedp.Action[chromedp.Void]{chromedp.Navigate(url)}
	if selector != "" {
		steps = append(steps, chromedp.WaitVisible(chromedp.CSS(selector)), chromedp.Click(chromedp.CSS(selector)),
			chromedp.WaitVisible(chromedp.CSS(".done, .error")))
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return text
}

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// buttonURL returns the URL of the first button of a Slack Block Kit payload that
// mentions cluster.
func buttonURL(raw, cluster string) string {
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string `json:"type"`
			Elements []struct {
				Type string `json:"type"`
				URL  string `json:"url"`
			} `json:"elements"`
		} `json:"blocks"`
	}
	if json.Unmarshal([]byte(raw), &msg) != nil || !strings.Contains(raw, cluster) {
		return ""
	}
	for _, b := range msg.Blocks {
		for _, el := range b.Elements {
			if b.Type == "actions" && el.Type == "button" && strings.Contains(el.URL, "clusterName="+cluster) {
				return el.URL
			}
		}
	}
	return ""
}

// unfold undoes quoted-printable soft line breaks so links can be found in mail.
func unfold(m string) string {
	m = strings.ReplaceAll(m, "=\r\n", "")
	return strings.ReplaceAll(m, "=3D", "=")
}
