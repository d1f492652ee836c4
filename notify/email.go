package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// StartTLS policies for SMTPConfig.StartTLS.
const (
	// StartTLSRequired upgrades the connection with STARTTLS and fails when
	// the server does not offer it. It is the default.
	StartTLSRequired = "required"
	// StartTLSOpportunistic upgrades the connection when the server offers
	// STARTTLS and sends in clear text otherwise.
	StartTLSOpportunistic = "opportunistic"
	// StartTLSNone never upgrades the connection. Credentials are then only
	// sent to localhost.
	StartTLSNone = "none"
)

// Defaults applied by SendEmail to zero SMTPConfig fields.
const (
	// DefaultSMTPPort is the submission port (RFC 6409).
	DefaultSMTPPort = 587
	// DefaultSMTPTimeout bounds a whole delivery: dial, TLS, auth and data.
	DefaultSMTPTimeout = 30 * time.Second
)

// heloName is the name announced in EHLO. It is what net/smtp uses by
// default; submission servers do not check it.
const heloName = "localhost"

// SMTPConfig describes how to reach a mail submission server.
type SMTPConfig struct {
	// Host is the server's host name or IP address. It is also the name the
	// TLS certificate is verified against.
	Host string
	// Port defaults to DefaultSMTPPort (587). Implicit TLS (port 465) is not
	// supported; use STARTTLS.
	Port int
	// Username enables AUTH PLAIN when set. Credentials are only sent over
	// TLS, or in clear text to localhost, 127.0.0.1 or ::1.
	Username string
	// Password is sent with Username.
	Password string
	// From is the sender, "addr@example.com" or "Name <addr@example.com>".
	From string
	// StartTLS is StartTLSRequired (default when empty),
	// StartTLSOpportunistic or StartTLSNone.
	StartTLS string
	// InsecureSkipVerify disables verification of the server's TLS
	// certificate. Only for test servers with self-signed certificates.
	InsecureSkipVerify bool
	// Timeout bounds the whole delivery; DefaultSMTPTimeout when zero. The
	// context's deadline applies too, whichever comes first.
	Timeout time.Duration
	// Dial connects to the relay; a plain net.Dialer when nil. Relays an
	// organization chose go through Guard.DialContext.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// withDefaults validates cfg and fills in defaults. Its errors are permanent.
func (cfg SMTPConfig) withDefaults() (SMTPConfig, error) {
	cfg.Host = strings.TrimSpace(cfg.Host)
	if cfg.Host == "" {
		return cfg, permanentf("smtp host is empty")
	}
	if strings.ContainsAny(cfg.Host, " \t\r\n/:@") && net.ParseIP(cfg.Host) == nil {
		return cfg, permanentf("smtp host %q is not a host name or IP address", cfg.Host)
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultSMTPPort
	}
	if cfg.Port < 1 || cfg.Port > 65535 {
		return cfg, permanentf("smtp port %d out of range", cfg.Port)
	}
	switch cfg.StartTLS {
	case "":
		cfg.StartTLS = StartTLSRequired
	case StartTLSRequired, StartTLSOpportunistic, StartTLSNone:
	default:
		return cfg, permanentf("smtp startTLS %q: want %q, %q or %q",
			cfg.StartTLS, StartTLSRequired, StartTLSOpportunistic, StartTLSNone)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	return cfg, nil
}

// SendEmail delivers m to the recipients in to through the submission server
// described by cfg. The message is multipart/alternative with a plain-text
// and an HTML part; links are appended to both.
//
// Errors wrap ErrPermanent for invalid configuration, addresses or message,
// for 5xx SMTP replies (including rejected credentials), for a server that
// does not offer STARTTLS under StartTLSRequired, and for untrusted TLS
// certificates. Network errors, timeouts and 4xx replies are transient. When
// ctx ends first, the error wraps ctx.Err().
//
// A message accepted by the server is not reported as failed even if closing
// the session afterwards fails, so a retry does not send it twice.
func SendEmail(ctx context.Context, cfg SMTPConfig, to []string, m Message) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return permanentf("smtp from address: %w", err)
	}
	rcpts, err := parseRecipients(to)
	if err != nil {
		return err
	}
	if err := m.validate(); err != nil {
		return err
	}
	msg, err := buildEmail(from, rcpts, m, time.Now(), newMessageID(from.Address))
	if err != nil {
		return err
	}

	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	if err := deliver(ctx, cfg, addr, from.Address, rcpts, msg); err != nil {
		return fmt.Errorf("send email via %s: %w", addr, err)
	}
	return nil
}

// deliver runs one SMTP session and classifies its error.
func deliver(ctx context.Context, cfg SMTPConfig, addr, from string, rcpts []*mail.Address, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	dial := cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return classifySMTP(ctx, fmt.Errorf("dial: %w", err))
	}
	defer conn.Close()
	// net/smtp has no context support: unblock pending I/O once ctx ends
	// (deadline or cancellation). Relying on ctx alone, rather than also
	// setting the deadline on conn, guarantees ctx.Err() is set by the time
	// the I/O error surfaces.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	return classifySMTP(ctx, session(conn, cfg, from, rcpts, msg))
}

// session speaks SMTP over conn up to the server accepting the message.
func session(conn net.Conn, cfg SMTPConfig, from string, rcpts []*mail.Address, msg []byte) error {
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		return fmt.Errorf("greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello(heloName); err != nil {
		return fmt.Errorf("ehlo: %w", err)
	}

	secure := false
	if cfg.StartTLS != StartTLSNone {
		if ok, _ := c.Extension("STARTTLS"); ok {
			tc := &tls.Config{
				ServerName:         cfg.Host,
				InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // opt-in, for test servers
				MinVersion:         tls.VersionTLS12,
			}
			if err := c.StartTLS(tc); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
			secure = true
		} else if cfg.StartTLS == StartTLSRequired {
			return permanentf("server does not offer STARTTLS (startTLS is %q)", StartTLSRequired)
		}
	}

	if cfg.Username != "" {
		// net/smtp's PlainAuth refuses clear-text credentials except to
		// localhost; check first so the refusal is classified permanent.
		if !secure && !isLocalhost(cfg.Host) {
			return permanentf("refusing to send credentials without TLS (startTLS is %q)", cfg.StartTLS)
		}
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return permanentf("username set but server does not offer AUTH")
		}
		if !hasToken(mechs, "PLAIN") {
			return permanentf("server does not offer AUTH PLAIN (offers %q)", mechs)
		}
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return fmt.Errorf("auth: %w", err)
		}
	}

	if err := c.Mail(from); err != nil {
		return fmt.Errorf("mail from: %w", err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r.Address); err != nil {
			return fmt.Errorf("rcpt to %s: %w", r.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of data: %w", err)
	}
	// The message is accepted; a failed QUIT must not turn into a retry
	// that sends it twice.
	_ = c.Quit()
	return nil
}

// classifySMTP marks permanent errors and attaches ctx's error when the
// session was cut short by the context.
func classifySMTP(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
		err = fmt.Errorf("%w: %w", err, ctxErr)
	}
	var tpErr *textproto.Error
	if errors.As(err, &tpErr) && tpErr.Code >= 500 && tpErr.Code < 600 {
		return permanent(err)
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verification     *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verification) {
		return permanent(err)
	}
	return err
}

// isLocalhost mirrors net/smtp's rule for where PLAIN auth may go unencrypted.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// hasToken reports whether the space-separated list contains tok, ignoring case.
func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, tok) {
			return true
		}
	}
	return false
}

// parseRecipients parses and de-duplicates bare or named addresses.
func parseRecipients(to []string) ([]*mail.Address, error) {
	var out []*mail.Address
	seen := map[string]bool{}
	for _, s := range to {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, permanentf("recipient %q: %w", s, err)
		}
		key := strings.ToLower(a.Address)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, permanentf("no recipients")
	}
	return out, nil
}

// newMessageID returns a unique Message-ID in the sender's domain.
func newMessageID(from string) string {
	domain := "astroplane.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">"
}

// buildEmail renders the complete RFC 5322 message with CRLF line endings.
func buildEmail(from *mail.Address, to []*mail.Address, m Message, date time.Time, msgID string) ([]byte, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)

	addrs := make([]string, len(to))
	for i, a := range to {
		addrs[i] = a.String()
	}
	writeHeader(&buf, "From", from.String())
	writeHeader(&buf, "To", strings.Join(addrs, ", "))
	writeHeader(&buf, "Subject", mime.QEncoding.Encode("utf-8", headerText(m.Subject)))
	writeHeader(&buf, "Date", date.Format(time.RFC1123Z))
	writeHeader(&buf, "Message-ID", msgID)
	writeHeader(&buf, "MIME-Version", "1.0")
	// Suppress vacation replies and other auto-responders (RFC 3834).
	writeHeader(&buf, "Auto-Submitted", "auto-generated")
	writeHeader(&buf, "Content-Type", mime.FormatMediaType("multipart/alternative",
		map[string]string{"boundary": mw.Boundary()}))
	buf.WriteString("\r\n")

	htmlBody, err := renderHTML(m)
	if err != nil {
		return nil, err
	}
	for _, p := range []struct{ contentType, body string }{
		{"text/plain; charset=utf-8", renderText(m)},
		{"text/html; charset=utf-8", htmlBody},
	} {
		if err := writePart(mw, p.contentType, p.body); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("close multipart: %w", err)
	}
	return buf.Bytes(), nil
}

// writeHeader writes "name: value" folded at spaces to keep lines short.
func writeHeader(buf *bytes.Buffer, name, value string) {
	const limit = 76
	line := name + ":"
	for i, word := range strings.Split(value, " ") {
		// Folding before the first word too keeps a 75-character
		// encoded-word within the line limit.
		if len(line)+1+len(word) > limit && strings.TrimSpace(line) != "" && (i > 0 || len(word) <= limit-1) {
			buf.WriteString(line + "\r\n")
			line = ""
		}
		line += " " + word
	}
	buf.WriteString(line + "\r\n")
}

// headerText flattens s to one line of printable text, so that a subject
// cannot inject headers.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// writePart writes one body part, 7bit when the body allows it (so URLs stay
// verbatim on the wire) and quoted-printable otherwise.
func writePart(mw *multipart.Writer, contentType, body string) error {
	body = crlf(body)
	cte := "7bit"
	if !is7bit(body) {
		cte = "quoted-printable"
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Type", contentType)
	h.Set("Content-Transfer-Encoding", cte)
	pw, err := mw.CreatePart(h)
	if err != nil {
		return fmt.Errorf("create %s part: %w", contentType, err)
	}
	w := pw
	var qp *quotedprintable.Writer
	if cte == "quoted-printable" {
		qp = quotedprintable.NewWriter(pw)
		w = qp
	}
	if _, err := io.WriteString(w, body); err != nil {
		return fmt.Errorf("write %s part: %w", contentType, err)
	}
	if qp != nil {
		if err := qp.Close(); err != nil {
			return fmt.Errorf("write %s part: %w", contentType, err)
		}
	}
	return nil
}

// crlf normalizes all line endings to CRLF and ends s with one.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\r\n") + "\r\n"
}

// is7bit reports whether a CRLF-normalized body can be sent as 7bit: ASCII
// without NUL and lines of at most 998 octets (RFC 5322).
func is7bit(s string) bool {
	for _, line := range strings.Split(s, "\r\n") {
		if len(line) > 998 {
			return false
		}
		for i := 0; i < len(line); i++ {
			if line[i] == 0 || line[i] >= 0x80 {
				return false
			}
		}
	}
	return true
}

// renderText returns the plain-text part: the text, then one "Label: URL"
// line per link, URLs verbatim.
func renderText(m Message) string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(m.Text, "\r\n"))
	links := urlLinks(m.Links)
	if len(links) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		for _, l := range links {
			fmt.Fprintf(&b, "%s: %s\n", l.Label, l.URL)
		}
	}
	return b.String()
}

var emailTemplate = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Subject}}</title>
</head>
<body style="font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 14px; line-height: 1.5; color: #1f2328;">
{{.Body}}
{{- if .Links}}
<p style="margin-top: 24px;">
{{- range .Links}}
<a href="{{.URL}}" style="{{.CSS}}">{{.Label}}</a>
{{- end}}
</p>
{{- end}}
</body>
</html>
`))

// buttonCSS holds the inline styles of link buttons; email clients ignore
// style sheets.
var buttonCSS = map[string]template.CSS{
	StylePrimary: "display: inline-block; margin: 0 8px 8px 0; padding: 10px 18px; border-radius: 6px; background: #1f6feb; color: #ffffff; text-decoration: none; font-weight: 600;",
	StyleDanger:  "display: inline-block; margin: 0 8px 8px 0; padding: 10px 18px; border-radius: 6px; background: #cf222e; color: #ffffff; text-decoration: none; font-weight: 600;",
	"":           "display: inline-block; margin: 0 8px 8px 0; padding: 10px 18px; border-radius: 6px; background: #f6f8fa; color: #1f2328; text-decoration: none; font-weight: 600; border: 1px solid #d0d7de;",
}

// renderHTML returns the HTML part: m.HTML as trusted markup, or m.Text
// escaped into paragraphs, followed by the links as buttons. Link URLs and
// labels are escaped by html/template.
func renderHTML(m Message) (string, error) {
	body := template.HTML(m.HTML) //nolint:gosec // Message.HTML is documented as trusted
	if strings.TrimSpace(m.HTML) == "" {
		body = textToHTML(m.Text)
	}
	type link struct {
		Label, URL string
		CSS        template.CSS
	}
	data := struct {
		Subject string
		Body    template.HTML
		Links   []link
	}{Subject: headerText(m.Subject), Body: body}
	for _, l := range urlLinks(m.Links) {
		data.Links = append(data.Links, link{Label: l.Label, URL: l.URL, CSS: buttonCSS[l.Style]})
	}
	var b strings.Builder
	if err := emailTemplate.Execute(&b, data); err != nil {
		return "", fmt.Errorf("render html: %w", err)
	}
	return b.String(), nil
}

// textToHTML escapes plain text and keeps its paragraphs and line breaks.
func textToHTML(text string) template.HTML {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	var b strings.Builder
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		para = strings.Trim(para, "\n")
		if para == "" {
			continue
		}
		lines := strings.Split(para, "\n")
		for i := range lines {
			lines[i] = html.EscapeString(lines[i])
		}
		b.WriteString("<p>" + strings.Join(lines, "<br>\n") + "</p>\n")
	}
	return template.HTML(b.String()) //nolint:gosec // every line is escaped above
}

// urlLinks are the links email can render: those with a URL (interactive Slack
// buttons have none).
func urlLinks(links []Link) []Link {
	out := make([]Link, 0, len(links))
	for _, l := range links {
		if l.URL != "" {
			out = append(out, l)
		}
	}
	return out
}
