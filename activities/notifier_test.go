package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/store"
)

// Secrets the notifier handles; none may appear in what an activity returns, records
// in its heartbeat, or logs.
const (
	webhookSecret = "secretWebhookToken"
	smtpPassword  = "hunter2-smtp-password"
	publicURL     = "https://astro.example.com"
)

// mailSink is a local SMTP server recording each delivery. reject, when set, answers
// every RCPT with it.
type mailSink struct {
	host string
	port int

	mu     sync.Mutex
	mails  []sunkMail
	reject *smtp.SMTPError
}

type sunkMail struct {
	from  string
	rcpts []string
	data  []byte
}

func (s *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

func (s *mailSink) received() []sunkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mails)
}

type sinkSession struct {
	s   *mailSink
	cur sunkMail
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.cur = sunkMail{from: from}
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.s.reject != nil {
		return ss.s.reject
	}
	ss.cur.rcpts = append(ss.cur.rcpts, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.data = data
	ss.s.mu.Lock()
	ss.s.mails = append(ss.s.mails, ss.cur)
	ss.s.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset()        { ss.cur = sunkMail{} }
func (ss *sinkSession) Logout() error { return nil }

func startMailSink(t *testing.T) *mailSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &mailSink{host: "127.0.0.1", port: ln.Addr().(*net.TCPAddr).Port}
	srv := smtp.NewServer(sink)
	srv.Domain = "mx.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	return sink
}

// textOf returns the decoded text/plain part of a delivered email.
func textOf(t *testing.T, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("no text/plain part: %v", err)
		}
		if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			continue
		}
		var r io.Reader = p // multipart decodes quoted-printable itself
		if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			r = quotedprintable.NewReader(p)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

func subjectOf(t *testing.T, raw []byte) string {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// slackSink is a local Slack incoming webhook recording each post; status, when set,
// is its answer.
type slackSink struct {
	*httptest.Server
	mu     sync.Mutex
	posts  []string
	paths  []string
	status int
}

func startSlackSink(t *testing.T) *slackSink {
	t.Helper()
	s := &slackSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		status := s.status
		if status == 0 || status < 300 {
			s.posts = append(s.posts, string(body))
			s.paths = append(s.paths, r.URL.Path)
		}
		s.mu.Unlock()
		if status != 0 {
			http.Error(w, "no", status)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *slackSink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

func (s *slackSink) webhookURL() string { return s.URL + "/services/T000/B000/" + webhookSecret }

// notifierFixture is a Notifier on a SQLite store with one organization: an admin
// and an editor (approvers when asked for), a viewer, and a cluster with a running
// deploy; its own relay is a local SMTP sink and webhooks reach a local Slack sink.
type notifierFixture struct {
	n                 *activities.Notifier
	st                *store.Store
	signer            *approval.Signer
	relay             *mailSink // the server's relay
	orgSMTP           *mailSink // the organization's own relay
	slack             *slackSink
	orgID, clusterID  string
	admin, editor     store.User
	viewer            store.User
	logs              *syncBuffer
	heartbeats        [][]byte
	heartbeatsMu      sync.Mutex
	s                 testsuite.WorkflowTestSuite
	approvalInput     activities.ApprovalInput
	integrationSealer *secrets.Box
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newNotifierFixture(t *testing.T) *notifierFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "n.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	box, err := secrets.NewBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := approval.NewSigner(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &notifierFixture{st: st, signer: signer, relay: startMailSink(t), orgSMTP: startMailSink(t), slack: startSlackSink(t),
		logs: &syncBuffer{}, integrationSealer: box}
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	f.orgID = org.ID
	for _, m := range []struct {
		u    *store.User
		role string
	}{{&f.admin, store.RoleAdmin}, {&f.editor, store.RoleEditor}, {&f.viewer, store.RoleViewer}} {
		*m.u = store.User{ID: store.NewID(), Email: m.role + "@acme.example"}
		if err := st.CreateUser(ctx, m.u); err != nil {
			t.Fatal(err)
		}
		if err := st.AddMember(ctx, org.ID, m.u.ID, m.role); err != nil {
			t.Fatal(err)
		}
	}
	cl := store.Cluster{ID: store.NewID(), OrgID: org.ID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Status: store.ClusterProvisioning}
	opID := "acme.prod.deploy.1"
	if err := st.CreateClusterWithOperation(ctx, &cl, &store.Operation{ID: opID, OrgID: org.ID, ClusterID: cl.ID, ClusterName: "prod",
		Type: "deploy", Status: store.OperationRunning, WorkflowID: opID}); err != nil {
		t.Fatal(err)
	}
	f.clusterID = cl.ID
	guard := notify.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	f.n = &activities.Notifier{Store: st, Box: box, Signer: signer, PublicURL: publicURL + "/", HTTP: guard.HTTPClient(10 * time.Second), Guard: &guard,
		SMTP: notify.SMTPConfig{Host: f.relay.host, Port: f.relay.port, From: "astro@example.com", StartTLS: notify.StartTLSNone, Timeout: 10 * time.Second}}
	f.approvalInput = activities.ApprovalInput{OrgID: org.ID, ClusterID: cl.ID, ClusterName: "prod", OperationID: opID, OperationType: "deploy",
		ExpiresAt: time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second), ApproverRoles: []string{store.RoleAdmin, store.RoleEditor},
		RequestedBy: f.admin.ID, Summary: []activities.Fact{{Label: "Region", Value: "us-east-1"}}}
	f.s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	return f
}

// env is a test activity environment that records heartbeat details.
func (f *notifierFixture) env() *testsuite.TestActivityEnvironment {
	env := f.s.NewTestActivityEnvironment()
	env.RegisterActivity(f.n)
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var done map[string]bool
		if details.HasValues() {
			_ = details.Get(&done)
		}
		b, _ := json.Marshal(done)
		f.heartbeatsMu.Lock()
		f.heartbeats = append(f.heartbeats, b)
		f.heartbeatsMu.Unlock()
	})
	return env
}

// integrate stores the organization's integration of channel, sealed.
func (f *notifierFixture) integrate(t *testing.T, channel string, enabled bool, cfg activities.IntegrationConfig) {
	t.Helper()
	sealed, err := activities.SealIntegrationConfig(f.integrationSealer, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.PutIntegration(context.Background(), &store.NotificationIntegration{OrgID: f.orgID, Channel: channel, Enabled: enabled, SealedConfig: sealed}); err != nil {
		t.Fatal(err)
	}
}

func (f *notifierFixture) subscribe(t *testing.T, topic string, enabled bool, channels ...string) {
	t.Helper()
	if err := f.st.PutSubscription(context.Background(), &store.NotificationSubscription{OrgID: f.orgID, Topic: topic, Channels: strings.Join(channels, ","), Enabled: enabled}); err != nil {
		t.Fatal(err)
	}
}

// orgRelay is the organization's own SMTP relay, with credentials.
func (f *notifierFixture) orgRelay() *activities.SMTPSettings {
	return &activities.SMTPSettings{Host: f.orgSMTP.host, Port: f.orgSMTP.port, From: "acme-astro@acme.example", StartTLS: notify.StartTLSNone}
}

// noSecrets fails if any secret shows up in s.
func (f *notifierFixture) noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{webhookSecret, smtpPassword, "token="} {
		if strings.Contains(s, secret) {
			t.Errorf("%s contains %q: %s", what, secret, s)
		}
	}
}

// afterwards checks that nothing secret went to the logs or heartbeats.
func (f *notifierFixture) afterwards(t *testing.T) {
	t.Helper()
	f.noSecrets(t, "activity log", f.logs.String())
	f.heartbeatsMu.Lock()
	defer f.heartbeatsMu.Unlock()
	for _, h := range f.heartbeats {
		f.noSecrets(t, "heartbeat details", string(h))
	}
}

var tokenParam = regexp.MustCompile(`token=([A-Za-z0-9_.~%-]+)`)

// claimsIn returns the claims of every link with a token in s.
func claimsIn(t *testing.T, signer *approval.Signer, purpose, s string) []approval.Claims {
	t.Helper()
	var out []approval.Claims
	for _, m := range tokenParam.FindAllStringSubmatch(s, -1) {
		tok, err := url.QueryUnescape(m[1])
		if err != nil {
			t.Fatal(err)
		}
		c, err := signer.VerifyFor(purpose, tok, time.Now())
		if err != nil {
			t.Fatalf("link token does not verify for %s: %v", purpose, err)
		}
		if !slices.ContainsFunc(out, func(o approval.Claims) bool { return o == c }) {
			out = append(out, c)
		}
	}
	return out
}

func nonRetryable(err error) bool {
	var app *temporal.ApplicationError
	return errors.As(err, &app) && app.NonRetryable()
}

// RequestApproval records the request for the approvers (members with an approver
// role, not the others), marks the cluster waiting and audits it.
func TestRequestApproval(t *testing.T) {
	f := newNotifierFixture(t)
	v, err := f.env().ExecuteActivity(f.n.RequestApproval, f.approvalInput)
	if err != nil {
		t.Fatal(err)
	}
	var res activities.RequestApprovalResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Approvers, []string{f.admin.Email, f.editor.Email}) {
		t.Fatalf("approvers %v, want the admin and the editor", res.Approvers)
	}
	ctx := context.Background()
	req, err := f.st.GetApprovalRequest(ctx, f.orgID, f.approvalInput.OperationID)
	if err != nil {
		t.Fatal(err)
	}
	if req.Status != store.ApprovalPending || req.Approvers != f.admin.Email+","+f.editor.Email || !req.ExpiresAt.Equal(f.approvalInput.ExpiresAt) {
		t.Fatalf("request %+v", req)
	}
	cl, err := f.st.GetCluster(ctx, f.orgID, f.clusterID)
	if err != nil || cl.Status != store.ClusterWaitingForApproval {
		t.Fatalf("cluster %+v %v", cl, err)
	}
	events, _, err := f.st.ListAudit(ctx, f.orgID, store.AuditFilter{EventType: "APPROVAL", Action: "REQUEST"}, store.Page{})
	if err != nil || len(events) != 1 || events[0].ResourceID != f.approvalInput.OperationID {
		t.Fatalf("audit %+v %v", events, err)
	}
	if len(f.relay.received())+len(f.orgSMTP.received())+len(f.slack.received()) != 0 {
		t.Fatal("RequestApproval sent something: delivery is SendApprovalLinks's job")
	}

	// A cluster that is gone is not worth retrying.
	in := f.approvalInput
	in.ClusterID, in.OperationID = store.NewID(), "acme.gone.deploy.1"
	_, err = f.env().ExecuteActivity(f.n.RequestApproval, in)
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || !app.NonRetryable() || app.Type() != activities.ErrTypeNotFound {
		t.Fatalf("unknown cluster: %v, want a non-retryable %s", err, activities.ErrTypeNotFound)
	}
	f.afterwards(t)
}

// SendApprovalLinks sends each approver, and nobody else, their own link by email
// through the organization's relay, and one link to Slack.
func TestSendApprovalLinks(t *testing.T) {
	f := newNotifierFixture(t)
	f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}, SMTP: f.orgRelay()})
	f.integrate(t, activities.ChannelSlack, true, activities.IntegrationConfig{WebhookURL: f.slack.webhookURL()})
	if _, err := f.env().ExecuteActivity(f.n.SendApprovalLinks, f.approvalInput); err != nil {
		t.Fatal(err)
	}
	if n := len(f.relay.received()); n != 0 {
		t.Fatalf("%d emails through the server's relay, want the organization's", n)
	}
	mails := f.orgSMTP.received()
	want := map[string]string{f.admin.Email: f.admin.ID, f.editor.Email: f.editor.ID}
	if len(mails) != len(want) {
		t.Fatalf("%d emails, want one per approver", len(mails))
	}
	for _, m := range mails {
		if len(m.rcpts) != 1 || want[m.rcpts[0]] == "" {
			t.Fatalf("email to %v, want one approver each (not %s, not the integration's recipients)", m.rcpts, f.viewer.Email)
		}
		if m.from != "acme-astro@acme.example" {
			t.Errorf("email from %s, want the organization relay's sender", m.from)
		}
		if got := subjectOf(t, m.data); got != "Approval needed: deploy of cluster prod" {
			t.Errorf("subject %q", got)
		}
		text := textOf(t, m.data)
		for _, s := range []string{"A deploy of cluster prod waits for your approval.", "Region: us-east-1", "Operation: acme.prod.deploy.1",
			publicURL + "/api/v1/cluster-approvals?"} {
			if !strings.Contains(text, s) {
				t.Errorf("email to %s lacks %q:\n%s", m.rcpts[0], s, text)
			}
		}
		claims := claimsIn(t, f.signer, approval.PurposeApproval, text)
		if len(claims) != 1 || claims[0].Approver != want[m.rcpts[0]] || claims[0].OrgID != f.orgID ||
			claims[0].OperationID != f.approvalInput.OperationID || claims[0].ClusterName != "prod" ||
			!claims[0].ExpiresAt.Equal(f.approvalInput.ExpiresAt) {
			t.Errorf("email to %s carries %+v, want one link bound to that approver, the operation and the expiry", m.rcpts[0], claims)
		}
	}
	posts := f.slack.received()
	if len(posts) != 1 || f.slack.paths[0] != "/services/T000/B000/"+webhookSecret {
		t.Fatalf("slack posts %d to %v, want one to the webhook", len(posts), f.slack.paths)
	}
	claims := claimsIn(t, f.signer, approval.PurposeApproval, posts[0])
	if len(claims) != 1 || claims[0].Approver != "slack:"+f.orgID {
		t.Fatalf("slack link %+v, want one bound to the organization's Slack channel", claims)
	}
	f.afterwards(t)
}

// A retry sends only what the last attempt did not (the heartbeat remembers).
func TestSendApprovalLinksResumes(t *testing.T) {
	f := newNotifierFixture(t)
	f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{SMTP: f.orgRelay()})
	f.integrate(t, activities.ChannelSlack, true, activities.IntegrationConfig{WebhookURL: f.slack.webhookURL()})
	env := f.env()
	env.SetHeartbeatDetails(map[string]bool{"email:" + f.admin.Email: true, "slack": true})
	if _, err := env.ExecuteActivity(f.n.SendApprovalLinks, f.approvalInput); err != nil {
		t.Fatal(err)
	}
	mails := f.orgSMTP.received()
	if len(mails) != 1 || !slices.Equal(mails[0].rcpts, []string{f.editor.Email}) || len(f.slack.received()) != 0 {
		t.Fatalf("resent: %d emails (%v), %d slack posts; want only the editor's email", len(mails), mails, len(f.slack.received()))
	}
	f.afterwards(t)
}

// Nothing configured, nothing sent, and no error: no key, no subscription, a disabled
// subscription or integration, an email integration without recipients, a Slack one
// without a webhook, a channel the subscription does not name.
func TestNotifierSkipsWhatIsNotConfigured(t *testing.T) {
	topic := activities.TopicClusterFailed
	ev := func(f *notifierFixture) activities.TopicInput {
		return activities.TopicInput{OrgID: f.orgID, Topic: topic, Subject: "Cluster prod failed", Text: "It failed."}
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, f *notifierFixture)
		slack bool // Slack still gets the event
	}{
		{"no encryption key on the worker", func(t *testing.T, f *notifierFixture) {
			f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}})
			f.subscribe(t, topic, true, activities.ChannelEmail)
			f.n.Box = nil
		}, false},
		{"no subscription", func(t *testing.T, f *notifierFixture) {
			f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}})
		}, false},
		{"subscription disabled", func(t *testing.T, f *notifierFixture) {
			f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}})
			f.subscribe(t, topic, false, activities.ChannelEmail)
		}, false},
		{"integration disabled", func(t *testing.T, f *notifierFixture) {
			f.integrate(t, activities.ChannelEmail, false, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}})
			f.subscribe(t, topic, true, activities.ChannelEmail)
		}, false},
		{"no integration for the channel", func(t *testing.T, f *notifierFixture) {
			f.subscribe(t, topic, true, activities.ChannelEmail, activities.ChannelSlack)
		}, false},
		{"email without recipients, slack without webhook", func(t *testing.T, f *notifierFixture) {
			f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{})
			f.integrate(t, activities.ChannelSlack, true, activities.IntegrationConfig{SlackChannel: "#ops"})
			f.subscribe(t, topic, true, activities.ChannelEmail, activities.ChannelSlack)
		}, false},
		{"channel not subscribed", func(t *testing.T, f *notifierFixture) {
			f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}})
			f.integrate(t, activities.ChannelSlack, true, activities.IntegrationConfig{WebhookURL: f.slack.webhookURL()})
			f.subscribe(t, topic, true, activities.ChannelSlack)
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newNotifierFixture(t)
			tc.setup(t, f)
			if _, err := f.env().ExecuteActivity(f.n.DeliverTopic, ev(f)); err != nil {
				t.Fatalf("DeliverTopic: %v", err)
			}
			if n := len(f.relay.received()) + len(f.orgSMTP.received()); n != 0 {
				t.Fatalf("%d emails sent", n)
			}
			if got := len(f.slack.received()); got != map[bool]int{false: 0, true: 1}[tc.slack] {
				t.Fatalf("%d slack posts", got)
			}
		})
	}

	t.Run("approval links without integrations", func(t *testing.T) {
		f := newNotifierFixture(t)
		if _, err := f.env().ExecuteActivity(f.n.SendApprovalLinks, f.approvalInput); err != nil {
			t.Fatal(err)
		}
		f.n.Box = nil
		if _, err := f.env().ExecuteActivity(f.n.SendApprovalLinks, f.approvalInput); err != nil {
			t.Fatal(err)
		}
		if len(f.relay.received())+len(f.orgSMTP.received())+len(f.slack.received()) != 0 {
			t.Fatal("something was sent")
		}
	})
}

// DeliverTopic sends the event to each of the email integration's recipients through
// the server's relay (the integration has none of its own), one email each with an
// unsubscribe link for that topic, channel and recipient, and to Slack without one.
func TestDeliverTopic(t *testing.T) {
	f := newNotifierFixture(t)
	topic := activities.TopicClusterDeployed
	f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example", "oncall@acme.example"}})
	f.integrate(t, activities.ChannelSlack, true, activities.IntegrationConfig{WebhookURL: f.slack.webhookURL()})
	f.subscribe(t, topic, true, activities.ChannelEmail, activities.ChannelSlack)
	in := activities.TopicInput{OrgID: f.orgID, Topic: topic, Subject: "Cluster prod is ready", Text: "Cluster prod is ready at https://prod."}
	if _, err := f.env().ExecuteActivity(f.n.DeliverTopic, in); err != nil {
		t.Fatal(err)
	}
	mails := f.relay.received()
	if len(mails) != 2 || !slices.Equal(mails[0].rcpts, []string{"ops@acme.example"}) || !slices.Equal(mails[1].rcpts, []string{"oncall@acme.example"}) ||
		mails[0].from != "astro@example.com" {
		t.Fatalf("emails %+v, want one to each recipient through the server's relay", mails)
	}
	for i, rcpt := range []string{"ops@acme.example", "oncall@acme.example"} {
		if got := subjectOf(t, mails[i].data); got != in.Subject {
			t.Errorf("subject %q", got)
		}
		text := textOf(t, mails[i].data)
		if !strings.Contains(text, in.Text) || !strings.Contains(text, publicURL+"/api/v1/notifications/unsubscribe?token=") {
			t.Errorf("email text lacks the event or the unsubscribe link:\n%s", text)
		}
		claims := claimsIn(t, f.signer, approval.PurposeUnsubscribe, text)
		if len(claims) != 1 || claims[0].OrgID != f.orgID || claims[0].Topic != topic || claims[0].Channel != activities.ChannelEmail ||
			claims[0].Recipient != rcpt {
			t.Errorf("unsubscribe link %+v, want one for this organization, topic, email and %s", claims, rcpt)
		}
	}

	// A recipient who opted out gets no more; the other still does.
	if err := f.st.AddOptOut(context.Background(), &store.NotificationOptOut{OrgID: f.orgID, Channel: activities.ChannelEmail, Topic: topic, Recipient: "ops@acme.example"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env().ExecuteActivity(f.n.DeliverTopic, in); err != nil {
		t.Fatal(err)
	}
	if mails := f.relay.received(); len(mails) != 3 || !slices.Equal(mails[2].rcpts, []string{"oncall@acme.example"}) {
		t.Fatalf("after ops@ opted out: %+v", mails)
	}
	posts := f.slack.received()
	if len(posts) != 2 || !strings.Contains(posts[0], in.Subject) || strings.Contains(posts[0], "unsubscribe") { // one per delivery
		t.Fatalf("slack posts %v", posts)
	}

	// Without a signing key the email still goes, without the link.
	f.n.Signer = nil
	f.subscribe(t, topic, true, activities.ChannelEmail)
	if _, err := f.env().ExecuteActivity(f.n.DeliverTopic, in); err != nil {
		t.Fatal(err)
	}
	if mails := f.relay.received(); len(mails) != 4 || strings.Contains(textOf(t, mails[3].data), "unsubscribe") {
		t.Fatalf("without a signing key: %d emails", len(mails))
	}
	f.afterwards(t)
}

// Failures are retried when a retry may help and not when none can; either way the
// error names the channel and carries no secret.
func TestNotifierErrorClassification(t *testing.T) {
	topic := activities.TopicClusterFailed
	for _, tc := range []struct {
		name      string
		setup     func(t *testing.T, f *notifierFixture)
		retryable bool
		inError   string
	}{
		{"slack answers 500", func(t *testing.T, f *notifierFixture) {
			f.slack.status = http.StatusInternalServerError
		}, true, "slack: "},
		{"slack answers 429", func(t *testing.T, f *notifierFixture) {
			f.slack.status = http.StatusTooManyRequests
		}, true, "slack: "},
		{"slack answers 404 (webhook revoked)", func(t *testing.T, f *notifierFixture) {
			f.slack.status = http.StatusNotFound
			f.orgSMTP.reject = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}, false, "slack: "},
		{"relay refuses the recipients for good", func(t *testing.T, f *notifierFixture) {
			f.orgSMTP.reject = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}, false, "email: "},
		{"relay busy", func(t *testing.T, f *notifierFixture) {
			f.orgSMTP.reject = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}, true, "email: "},
		{"one permanent, one transient", func(t *testing.T, f *notifierFixture) {
			f.slack.status = http.StatusNotFound
			f.orgSMTP.reject = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		}, true, "email: "},
		{"webhook refused by the request-forgery guard", func(t *testing.T, f *notifierFixture) {
			f.n.HTTP = notify.Guard{}.HTTPClient(10 * time.Second)
		}, false, "loopback"},
		{"relay unreachable", func(t *testing.T, f *notifierFixture) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := ln.Addr().(*net.TCPAddr).Port
			_ = ln.Close() // nothing listens there now
			settings := f.orgRelay()
			settings.Port = port
			f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}, SMTP: settings})
		}, true, "email: "},
		{"credentials for a relay that offers no AUTH", func(t *testing.T, f *notifierFixture) {
			relay := f.orgRelay()
			relay.Host = "localhost" // credentials go in clear text to localhost only
			relay.Username, relay.Password = "mailer", smtpPassword
			f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}, SMTP: relay})
		}, false, "organization's SMTP relay"}, // its cause (no AUTH) stays in the worker's log
		{"integration sealed with another key", func(t *testing.T, f *notifierFixture) {
			other, err := secrets.NewBox(bytes.Repeat([]byte{8}, 32))
			if err != nil {
				t.Fatal(err)
			}
			f.n.Box = other
		}, false, "cannot be opened with this server's key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newNotifierFixture(t)
			f.integrate(t, activities.ChannelEmail, true, activities.IntegrationConfig{Recipients: []string{"ops@acme.example"}, SMTP: f.orgRelay()})
			f.integrate(t, activities.ChannelSlack, true, activities.IntegrationConfig{WebhookURL: f.slack.webhookURL()})
			f.subscribe(t, topic, true, activities.ChannelEmail, activities.ChannelSlack)
			tc.setup(t, f)
			_, err := f.env().ExecuteActivity(f.n.DeliverTopic, activities.TopicInput{OrgID: f.orgID, Topic: topic, Subject: "Cluster prod failed", Text: "It failed."})
			if err == nil {
				t.Fatal("DeliverTopic succeeded")
			}
			if got := !nonRetryable(err); got != tc.retryable {
				t.Fatalf("retryable = %v, want %v: %v", got, tc.retryable, err)
			}
			if !strings.Contains(err.Error(), tc.inError) {
				t.Errorf("error %q lacks %q", err, tc.inError)
			}
			f.noSecrets(t, "error", err.Error())
			f.afterwards(t)
		})
	}

	t.Run("approval links without a signing key", func(t *testing.T) {
		f := newNotifierFixture(t)
		f.integrate(t, activities.ChannelSlack, true, activities.IntegrationConfig{WebhookURL: f.slack.webhookURL()})
		f.n.Signer = nil
		_, err := f.env().ExecuteActivity(f.n.SendApprovalLinks, f.approvalInput)
		if !nonRetryable(err) || !strings.Contains(err.Error(), "ASTRO_APPROVAL_SIGNING_KEY") {
			t.Fatalf("error %v, want a non-retryable one naming the missing key", err)
		}
		if len(f.slack.received()) != 0 {
			t.Fatal("a link was sent without a signature")
		}
	})
}

// RecordApprovalDecision records the decision on the request and audits it.
func TestRecordApprovalDecision(t *testing.T) {
	f := newNotifierFixture(t)
	if _, err := f.env().ExecuteActivity(f.n.RequestApproval, f.approvalInput); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ status, action string }{{store.ApprovalApproved, "APPROVE"}, {store.ApprovalRejected, "REJECT"}} {
		t.Run(tc.action, func(t *testing.T) {
			ctx := context.Background()
			in := activities.DecisionInput{OrgID: f.orgID, ClusterID: f.clusterID, OperationID: f.approvalInput.OperationID,
				OperationType: "deploy", Status: tc.status, DecidedBy: f.editor.Email}
			if _, err := f.env().ExecuteActivity(f.n.RecordApprovalDecision, in); err != nil {
				t.Fatal(err)
			}
			events, _, err := f.st.ListAudit(ctx, f.orgID, store.AuditFilter{EventType: "APPROVAL", Action: tc.action}, store.Page{})
			if err != nil || len(events) != 1 || !strings.Contains(string(events[0].Details), f.editor.Email) {
				t.Fatalf("audit %+v %v", events, err)
			}
		})
	}
	req, err := f.st.GetApprovalRequest(context.Background(), f.orgID, f.approvalInput.OperationID)
	if err != nil || req.Status != store.ApprovalApproved || req.DecidedBy != f.editor.Email {
		t.Fatalf("request %+v %v, want the first decision kept", req, err)
	}
}
