package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"html"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testUser and testPass are the credentials the test SMTP server accepts.
const (
	testUser = "mailer"
	testPass = "s3cret"
)

// received is one message delivered to the test SMTP server.
type received struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool
	authd bool
}

// smtpBackend is a go-smtp backend that records deliveries. Hooks let cases
// reject recipients or data.
type smtpBackend struct {
	mu       sync.Mutex
	msgs     []received
	rcptErr  error
	dataErr  error
	authSeen bool
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{b: b, conn: c}, nil
}

func (b *smtpBackend) sawAuth() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.authSeen
}

func (b *smtpBackend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type smtpSession struct {
	b     *smtpBackend
	conn  *smtp.Conn
	authd bool
	cur   received
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.b.mu.Lock()
		s.b.authSeen = true
		s.b.mu.Unlock()
		if username != testUser || password != testPass {
			return smtp.ErrAuthFailed
		}
		s.authd = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur = received{from: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rcptErr != nil {
		return s.b.rcptErr
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.dataErr != nil {
		return s.b.dataErr
	}
	s.cur.data = data
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.authd = s.authd
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.cur = received{} }
func (s *smtpSession) Logout() error { return nil }

// serverOpts configures startSMTP.
type serverOpts struct {
	tls               bool // offer STARTTLS with a self-signed certificate
	allowInsecureAuth bool // offer AUTH without TLS
	host              string
}

// startSMTP runs a go-smtp server on a loopback port for the test's lifetime.
func startSMTP(t *testing.T, be *smtpBackend, o serverOpts) (host string, port int) {
	t.Helper()
	host = o.host
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("listen on %s: %v", host, err)
	}
	s := smtp.NewServer(be)
	s.Domain = "mx.test"
	s.AllowInsecureAuth = o.allowInsecureAuth
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	if o.tls {
		s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{selfSignedCert(t)}}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = s.Close()
		<-done
	})
	return host, ln.Addr().(*net.TCPAddr).Port
}

// selfSignedCert returns a certificate for localhost, 127.0.0.1 and ::1.
func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// approvalMessage is a message with awkward content: non-ASCII subject,
// HTML-significant characters, a line starting with a dot, and links whose
// URLs need HTML escaping.
func approvalMessage() Message {
	return Message{
		Subject: "Approval needed: déploiement de prod ✓",
		Text:    "Cluster <prod-eu> & friends wants to upgrade.\n.dot line must survive\n\nSecond paragraph.",
		Links: []Link{
			{Label: "Approve", URL: "https://astro.example/approvals/42?token=a%2Bb&decision=approve", Style: StylePrimary},
			{Label: "Reject <now>", URL: "https://astro.example/approvals/42?token=a%2Bb&decision=reject", Style: StyleDanger},
		},
	}
}

func TestSendEmailDelivers(t *testing.T) {
	be := &smtpBackend{}
	host, port := startSMTP(t, be, serverOpts{tls: true})
	cfg := SMTPConfig{
		Host:               host,
		Port:               port,
		Username:           testUser,
		Password:           testPass,
		From:               "Astro Plane <alerts@astro.example>",
		InsecureSkipVerify: true,
		Timeout:            10 * time.Second,
	}
	m := approvalMessage()
	to := []string{"ops@example.com", "Ada Lovelace <ada@example.org>", "OPS@example.com"}

	if err := SendEmail(context.Background(), cfg, to, m); err != nil {
		t.Fatalf("SendEmail: %v", err)
	}

	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if !got.tls || !got.authd {
		t.Fatalf("delivery tls=%v authenticated=%v, want both", got.tls, got.authd)
	}
	if got.from != "alerts@astro.example" {
		t.Errorf("MAIL FROM = %q", got.from)
	}
	if want := []string{"ops@example.com", "ada@example.org"}; strings.Join(got.rcpts, ",") != strings.Join(want, ",") {
		t.Errorf("RCPT TO = %q, want %q (duplicates removed)", got.rcpts, want)
	}
	if i := bytes.Index(bytes.ReplaceAll(got.data, []byte("\r\n"), nil), []byte("\n")); i >= 0 {
		t.Errorf("message has a bare LF at byte %d", i)
	}

	msg, err := mail.ReadMessage(bytes.NewReader(got.data))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	if subject != m.Subject {
		t.Errorf("Subject = %q, want %q", subject, m.Subject)
	}
	if raw := msg.Header.Get("Subject"); !strings.Contains(raw, "=?utf-8?") {
		t.Errorf("non-ASCII subject not RFC 2047 encoded: %q", raw)
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "alerts@astro.example" || from[0].Name != "Astro Plane" {
		t.Errorf("From = %v (%v)", from, err)
	}
	toHdr, err := msg.Header.AddressList("To")
	if err != nil || len(toHdr) != 2 || toHdr[1].Name != "Ada Lovelace" {
		t.Errorf("To = %v (%v)", toHdr, err)
	}
	if d, err := msg.Header.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date = %v (%v)", d, err)
	}
	if id := msg.Header.Get("Message-ID"); !regexp.MustCompile(`^<[0-9a-f]{32}@astro\.example>$`).MatchString(id) {
		t.Errorf("Message-ID = %q", id)
	}
	if v := msg.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q", v)
	}
	if v := msg.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", v)
	}

	parts := readParts(t, msg)
	if len(parts) != 2 {
		t.Fatalf("got %d MIME parts, want 2", len(parts))
	}
	text, htmlPart := parts[0], parts[1]
	if text.contentType != "text/plain" || htmlPart.contentType != "text/html" {
		t.Fatalf("part types = %q, %q", text.contentType, htmlPart.contentType)
	}
	if !strings.Contains(text.body, "\r\n.dot line must survive\r\n") {
		t.Errorf("dot-leading line mangled in text part:\n%s", text.body)
	}
	for _, l := range m.Links {
		if !strings.Contains(text.body, l.Label+": "+l.URL+"\r\n") {
			t.Errorf("text part lacks %q verbatim:\n%s", l.URL, text.body)
		}
		// 7bit text part: the URL is verbatim on the wire too.
		if !bytes.Contains(got.data, []byte(l.URL)) {
			t.Errorf("raw message lacks %q verbatim", l.URL)
		}
	}

	hrefs := hrefsOf(htmlPart.body)
	if len(hrefs) != 2 || hrefs[0] != m.Links[0].URL || hrefs[1] != m.Links[1].URL {
		t.Errorf("HTML hrefs = %q, want the link URLs", hrefs)
	}
	for _, want := range []string{
		`href="https://astro.example/approvals/42?token=a%2Bb&amp;decision=approve"`,
		`>Reject &lt;now&gt;</a>`,
		`<p>Cluster &lt;prod-eu&gt; &amp; friends wants to upgrade.<br>`,
		`<p>Second paragraph.</p>`,
		`background: #1f6feb`, // primary
		`background: #cf222e`, // danger
	} {
		if !strings.Contains(htmlPart.body, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, htmlPart.body)
		}
	}
	if strings.Contains(htmlPart.body, "<prod-eu>") {
		t.Errorf("HTML part contains unescaped text")
	}
}

// part is one decoded MIME part.
type part struct {
	contentType string
	cte         string
	body        string
}

// readParts decodes the parts of a multipart message; quoted-printable is
// decoded by mime/multipart.
func readParts(t *testing.T, msg *mail.Message) []part {
	t.Helper()
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q (%v)", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts []part
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return parts
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, ctParams, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil || ctParams["charset"] != "utf-8" {
			t.Fatalf("part Content-Type = %q (%v)", p.Header.Get("Content-Type"), err)
		}
		body, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		parts = append(parts, part{contentType: ct, cte: p.Header.Get("Content-Transfer-Encoding"), body: string(body)})
	}
}

var hrefRE = regexp.MustCompile(`href="([^"]*)"`)

// hrefsOf returns the HTML-unescaped href values in s.
func hrefsOf(s string) []string {
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(s, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestSendEmailQuotedPrintableBody(t *testing.T) {
	be := &smtpBackend{}
	host, port := startSMTP(t, be, serverOpts{tls: true})
	long := "https://astro.example/approvals/7?token=" + strings.Repeat("x", 120) + "&decision=approve"
	m := Message{
		Subject: "Plain subject",
		Text:    "Größe: 3 nœuds — approve?",
		HTML:    "<h1>Größe</h1>",
		Links:   []Link{{Label: "Approve", URL: long, Style: StylePrimary}},
	}
	cfg := SMTPConfig{Host: host, Port: port, From: "alerts@astro.example", InsecureSkipVerify: true}
	if err := SendEmail(context.Background(), cfg, []string{"ops@example.com"}, m); err != nil {
		t.Fatalf("SendEmail: %v", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	msg, err := mail.ReadMessage(bytes.NewReader(msgs[0].data))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	if got := msg.Header.Get("Subject"); got != "Plain subject" {
		t.Errorf("ASCII Subject = %q, want it unencoded", got)
	}
	for _, line := range strings.Split(string(msgs[0].data), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line of %d octets", len(line))
		}
	}
	parts := readParts(t, msg)
	if len(parts) != 2 {
		t.Fatalf("got %d parts", len(parts))
	}
	if !strings.Contains(parts[0].body, "Größe: 3 nœuds — approve?") || !strings.Contains(parts[0].body, "Approve: "+long) {
		t.Errorf("decoded text part:\n%s", parts[0].body)
	}
	if !strings.Contains(parts[1].body, "<h1>Größe</h1>") {
		t.Errorf("trusted HTML not kept verbatim:\n%s", parts[1].body)
	}
	if h := hrefsOf(parts[1].body); len(h) != 1 || h[0] != long {
		t.Errorf("hrefs = %q", h)
	}
}

func TestSendEmailPolicies(t *testing.T) {
	tests := []struct {
		name string
		// server is the test server to start; nil starts none.
		server *serverOpts
		// backend defaults to an accepting one.
		backend *smtpBackend
		// config adjusts a config that authenticates with the right
		// credentials, requires STARTTLS and skips certificate checks.
		config        func(cfg *SMTPConfig)
		wantDelivered bool
		wantTLS       bool
		wantPermanent bool
		wantNoAuth    bool // the server must not see an AUTH attempt
	}{
		{
			name:          "starttls required and offered",
			server:        &serverOpts{tls: true},
			wantDelivered: true,
			wantTLS:       true,
		},
		{
			name:          "starttls required but not offered",
			server:        &serverOpts{allowInsecureAuth: true},
			wantPermanent: true,
		},
		{
			name:          "wrong password",
			server:        &serverOpts{tls: true},
			config:        func(cfg *SMTPConfig) { cfg.Password = "wrong" },
			wantPermanent: true,
		},
		{
			name:          "untrusted certificate",
			server:        &serverOpts{tls: true},
			config:        func(cfg *SMTPConfig) { cfg.InsecureSkipVerify = false },
			wantPermanent: true,
		},
		{
			name:          "recipient rejected with 550",
			server:        &serverOpts{tls: true},
			backend:       &smtpBackend{rcptErr: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}},
			wantPermanent: true,
		},
		{
			name:          "data deferred with 451",
			server:        &serverOpts{tls: true},
			backend:       &smtpBackend{dataErr: &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}},
			wantPermanent: false,
		},
		{
			name:          "credentials refused without tls to a non-localhost host",
			server:        &serverOpts{allowInsecureAuth: true, host: "127.0.0.2"},
			config:        func(cfg *SMTPConfig) { cfg.StartTLS = StartTLSNone },
			wantPermanent: true,
			wantNoAuth:    true,
		},
		{
			name:   "auth not offered",
			server: &serverOpts{}, // no TLS and no insecure auth: no AUTH extension
			config: func(cfg *SMTPConfig) {
				cfg.StartTLS = StartTLSOpportunistic
			},
			wantPermanent: true,
		},
		{
			name:          "opportunistic without tls sends to localhost",
			server:        &serverOpts{allowInsecureAuth: true},
			config:        func(cfg *SMTPConfig) { cfg.StartTLS = StartTLSOpportunistic },
			wantDelivered: true,
		},
		{
			name:          "opportunistic upgrades when offered",
			server:        &serverOpts{tls: true},
			config:        func(cfg *SMTPConfig) { cfg.StartTLS = StartTLSOpportunistic },
			wantDelivered: true,
			wantTLS:       true,
		},
		{
			name:   "none stays in clear text",
			server: &serverOpts{tls: true},
			config: func(cfg *SMTPConfig) {
				cfg.StartTLS = StartTLSNone
				cfg.Username, cfg.Password = "", ""
			},
			wantDelivered: true,
		},
		{
			name: "server down",
			config: func(cfg *SMTPConfig) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatalf("listen: %v", err)
				}
				cfg.Port = ln.Addr().(*net.TCPAddr).Port
				ln.Close()
			},
			wantPermanent: false,
		},
		{
			name:          "empty host",
			config:        func(cfg *SMTPConfig) { cfg.Host = "" },
			wantPermanent: true,
		},
		{
			name:          "host with a port",
			config:        func(cfg *SMTPConfig) { cfg.Host = "mail.example.com:587" },
			wantPermanent: true,
		},
		{
			name:          "unknown starttls policy",
			config:        func(cfg *SMTPConfig) { cfg.StartTLS = "maybe" },
			wantPermanent: true,
		},
		{
			name:          "port out of range",
			config:        func(cfg *SMTPConfig) { cfg.Port = 70000 },
			wantPermanent: true,
		},
		{
			name:          "invalid from",
			config:        func(cfg *SMTPConfig) { cfg.From = "not an address" },
			wantPermanent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := tt.backend
			if be == nil {
				be = &smtpBackend{}
			}
			cfg := SMTPConfig{
				Host: "127.0.0.1", Port: 1, Username: testUser, Password: testPass,
				From: "alerts@astro.example", InsecureSkipVerify: true, Timeout: 10 * time.Second,
			}
			if tt.server != nil {
				cfg.Host, cfg.Port = startSMTP(t, be, *tt.server)
			}
			if tt.config != nil {
				tt.config(&cfg)
			}

			err := SendEmail(context.Background(), cfg, []string{"ops@example.com"}, approvalMessage())

			msgs := be.messages()
			if tt.wantDelivered {
				if err != nil {
					t.Fatalf("SendEmail: %v", err)
				}
				if len(msgs) != 1 {
					t.Fatalf("server received %d messages, want 1", len(msgs))
				}
				if msgs[0].tls != tt.wantTLS {
					t.Fatalf("delivered over TLS = %v, want %v", msgs[0].tls, tt.wantTLS)
				}
				if msgs[0].authd != (cfg.Username != "") {
					t.Fatalf("authenticated = %v with username %q", msgs[0].authd, cfg.Username)
				}
				return
			}
			if err == nil {
				t.Fatalf("SendEmail succeeded, want error")
			}
			if len(msgs) != 0 {
				t.Fatalf("server received %d messages despite the error", len(msgs))
			}
			if got := errors.Is(err, ErrPermanent); got != tt.wantPermanent {
				t.Fatalf("errors.Is(%v, ErrPermanent) = %v, want %v", err, got, tt.wantPermanent)
			}
			if strings.Contains(err.Error(), testPass) {
				t.Fatalf("error %q leaks the password", err)
			}
			if tt.wantNoAuth && be.sawAuth() {
				t.Fatalf("credentials were sent in clear text to %s", cfg.Host)
			}
		})
	}
}

func TestSendEmailInvalidInput(t *testing.T) {
	cfg := SMTPConfig{Host: "127.0.0.1", Port: 1, From: "alerts@astro.example"}
	tests := []struct {
		name string
		to   []string
		m    Message
	}{
		{"no recipients", nil, approvalMessage()},
		{"invalid recipient", []string{"ops@example.com", "nope"}, approvalMessage()},
		{"header injection in recipient", []string{"ops@example.com\r\nBcc: evil@example.com"}, approvalMessage()},
		{"empty message", []string{"ops@example.com"}, Message{}},
		{"javascript link", []string{"ops@example.com"}, Message{Text: "x", Links: []Link{{Label: "x", URL: "javascript:alert(1)"}}}},
		{"relative link", []string{"ops@example.com"}, Message{Text: "x", Links: []Link{{Label: "x", URL: "/approve"}}}},
		{"unknown style", []string{"ops@example.com"}, Message{Text: "x", Links: []Link{{Label: "x", URL: "https://a.example", Style: "warning"}}}},
		{"empty label", []string{"ops@example.com"}, Message{Text: "x", Links: []Link{{URL: "https://a.example"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := SendEmail(context.Background(), cfg, tt.to, tt.m)
			if !errors.Is(err, ErrPermanent) {
				t.Fatalf("SendEmail error = %v, want ErrPermanent", err)
			}
		})
	}
}

// silentServer accepts connections and never answers, like a black-holed
// SMTP port.
func silentServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func TestSendEmailHonoursContext(t *testing.T) {
	tests := []struct {
		name    string
		ctx     func() (context.Context, context.CancelFunc)
		timeout time.Duration
		want    error
	}{
		{
			name: "context deadline",
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 200*time.Millisecond)
			},
			timeout: time.Minute,
			want:    context.DeadlineExceeded,
		},
		{
			name:    "config timeout",
			ctx:     func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			timeout: 200 * time.Millisecond,
			want:    context.DeadlineExceeded,
		},
		{
			name: "cancellation",
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(200*time.Millisecond, cancel)
				return ctx, cancel
			},
			timeout: time.Minute,
			want:    context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := silentServer(t)
			ctx, cancel := tt.ctx()
			defer cancel()
			cfg := SMTPConfig{Host: "127.0.0.1", Port: port, From: "alerts@astro.example", Timeout: tt.timeout}

			start := time.Now()
			err := SendEmail(ctx, cfg, []string{"ops@example.com"}, approvalMessage())
			if !errors.Is(err, tt.want) {
				t.Fatalf("SendEmail error = %v, want %v", err, tt.want)
			}
			if errors.Is(err, ErrPermanent) {
				t.Fatalf("timeout classified permanent: %v", err)
			}
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Fatalf("SendEmail returned after %v", elapsed)
			}
		})
	}
}

func TestBuildEmailHeaders(t *testing.T) {
	from := &mail.Address{Name: "Astro Plane", Address: "alerts@astro.example"}
	var to []*mail.Address
	for i := range 8 {
		to = append(to, &mail.Address{Address: "recipient" + strconv.Itoa(i) + "@example.com"})
	}
	tests := []struct {
		name        string
		subject     string
		wantSubject string
	}{
		{"ascii", "Cluster ready", "Cluster ready"},
		{"header injection", "Hi\r\nBcc: evil@example.com", "Hi Bcc: evil@example.com"},
		{"long non-ascii", strings.Repeat("déploiement ", 20), strings.TrimSpace(strings.Repeat("déploiement ", 20))},
		{"long ascii", strings.Repeat("upgrade ", 30), strings.TrimSpace(strings.Repeat("upgrade ", 30))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := buildEmail(from, to, Message{Subject: tt.subject, Text: "body"}, time.Unix(1_700_000_000, 0), "<id@astro.example>")
			if err != nil {
				t.Fatalf("buildEmail: %v", err)
			}
			head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
			for _, line := range strings.Split(string(head), "\r\n") {
				if len(line) > 78 && strings.Contains(line, " ") {
					t.Errorf("header line not folded (%d chars): %q", len(line), line)
				}
				if strings.HasPrefix(strings.ToLower(line), "bcc:") {
					t.Errorf("injected header line %q", line)
				}
			}
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			var dec mime.WordDecoder
			got, err := dec.DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || got != tt.wantSubject {
				t.Errorf("Subject = %q (%v), want %q", got, err, tt.wantSubject)
			}
			if list, err := msg.Header.AddressList("To"); err != nil || len(list) != len(to) {
				t.Errorf("To = %v (%v)", list, err)
			}
		})
	}
}
