package server_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/notify"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

const testSigningKey = "signing-key-signing-key-signing-key!"

// startApprovalStackWith is startApprovalStack whose worker lets override replace
// activities (registered after the real ones, under their names).
func startApprovalStackWith(t *testing.T, override func(w worker.Worker, n *activities.Notifier)) *approvalStack {
	t.Helper()
	dev := testtemporal.Start(t)
	tc := dev.Client()
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	signer, err := approval.NewSigner([]byte(testSigningKey))
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
	n := &activities.Notifier{Store: e.store, Box: box, Signer: signer, PublicURL: st.http.URL, HTTP: guard.HTTPClient(10 * time.Second),
		SMTP: notify.SMTPConfig{Host: host, Port: portN, From: "astro@test", StartTLS: "none", Timeout: 10 * time.Second}}
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster:  &activities.Cluster{Store: e.store, Clouds: sim.Registry(cloud), PollInterval: 10 * time.Millisecond},
		Notifier: n,
	})
	override(w, n)
	must(t, w.Start())
	t.Cleanup(w.Stop)
	return st
}

var expiresLineRE = regexp.MustCompile(`Expires: ([^\r\n]+)`)

// TestApprovalExpiresWhenThePolicySays: recording the request is slow (the store
// refuses the first attempts; the retry policy waits about 7s), yet the wait ends at
// the expiry the request reports — in progress, in the store, in the email and in
// the link's token, all the same instant — not that much later. Afterwards the link
// is refused as expired through HTTP, and each refusal is audited.
func TestApprovalExpiresWhenThePolicySays(t *testing.T) {
	const failures = 3 // retried after 1s, 2s, 4s
	var attempts atomic.Int32
	var firstAttempt atomic.Int64 // Unix nanoseconds
	s := startApprovalStackWith(t, func(w worker.Worker, n *activities.Notifier) {
		w.RegisterActivityWithOptions(func(ctx context.Context, in activities.ApprovalInput) (activities.RequestApprovalResult, error) {
			firstAttempt.CompareAndSwap(0, time.Now().UnixNano())
			if attempts.Add(1) <= failures {
				return activities.RequestApprovalResult{}, errors.New("store briefly unavailable")
			}
			return n.RequestApproval(ctx, in)
		}, activity.RegisterOptions{Name: "RequestApproval", DisableAlreadyRegisteredCheck: true})
	})
	ctx := t.Context()
	if a := s.do(http.MethodPut, "/api/v1/notifications/integrations", s.key,
		map[string]any{"channel": "email", "config": map[string]any{"recipients": []any{"ops@example.com"}}},
		"X-Astro-Organization-ID", s.orgID); a.Status != http.StatusOK {
		t.Fatalf("email integration: %d %s", a.Status, a.Body)
	}
	// The API accepts no expiry under 5 minutes; the store takes a short one.
	const expiresIn = 15 * time.Second
	must(t, s.store.PutApprovalPolicy(ctx, &store.ApprovalPolicy{OrgID: s.orgID, Operations: workflows.OpDeploy,
		ApproverRoles: store.RoleAdmin, ExpiresIn: expiresIn}))

	requested := time.Now()
	opID := deploy(t, s.env, eksManifest("lapsed"))
	p := waitFor(t, 30*time.Second, func() (map[string]any, bool) {
		p := s.progress(t, "lapsed", opID)
		return p, p["status"] == workflows.StatusWaitingForApproval || p["status"] == workflows.StatusExpired
	})
	if n := attempts.Load(); n != failures+1 {
		t.Fatalf("RequestApproval ran %d times, want %d", n, failures+1)
	}
	expiresAt, err := time.Parse(time.RFC3339Nano, p["approval"].(map[string]any)["expiresAt"].(string))
	must(t, err)
	// The gate computes the expiry before it first records the request.
	if earliest, latest := requested.Add(expiresIn-time.Second), time.Unix(0, firstAttempt.Load()).Add(expiresIn); expiresAt.Before(earliest) || expiresAt.After(latest) {
		t.Fatalf("progress reports expiry %s, want %s (the policy's %s after the request) to the second", expiresAt, latest, expiresIn)
	}

	// The store, the email and the link's token say the same instant.
	req, err := s.store.GetApprovalRequest(ctx, s.orgID, opID)
	must(t, err)
	if !req.ExpiresAt.Equal(expiresAt) {
		t.Fatalf("approval request expires at %s, progress says %s", req.ExpiresAt, expiresAt)
	}
	raw := waitFor(t, 30*time.Second, func() (string, bool) {
		for _, m := range s.mail.all() {
			if strings.Contains(m, "cluster lapsed") && linkRE.MatchString(unfold(m)) {
				return unfold(m), true
			}
		}
		return "", false
	})
	link := linkRE.FindString(raw)
	if m := expiresLineRE.FindStringSubmatch(raw); len(m) < 2 || strings.TrimSpace(m[1]) != expiresAt.UTC().Format(time.RFC1123) {
		t.Fatalf("the email states expiry %q, progress says %s", m, expiresAt.UTC().Format(time.RFC1123))
	}
	u, err := url.Parse(link)
	must(t, err)
	signer, err := approval.NewSigner([]byte(testSigningKey))
	must(t, err)
	claims, err := signer.VerifyFor(approval.PurposeApproval, u.Query().Get("token"), requested)
	must(t, err)
	if !claims.ExpiresAt.Equal(expiresAt) {
		t.Fatalf("the link's token expires at %s, progress says %s", claims.ExpiresAt, expiresAt)
	}

	// The wait ended at that instant: the gate's timer fired then, not later.
	if c := s.waitStatus(t, "lapsed", "EXPIRED", "READY", "FAILED"); c["status"] != "EXPIRED" {
		t.Fatalf("after the expiry: %v", c)
	}
	fired := approvalTimerFired(t, s.env, opID)
	if late := fired.Sub(expiresAt); late < -100*time.Millisecond || late > 3*time.Second {
		t.Fatalf("the approval wait ended at %s, %s after the reported expiry %s", fired, late, expiresAt)
	}
	p = s.progress(t, "lapsed", opID)
	if p["status"] != workflows.StatusExpired || p["approval"].(map[string]any)["status"] != store.ApprovalExpired {
		t.Fatalf("progress after the expiry: %v", p)
	}
	if req, err := s.store.GetApprovalRequest(ctx, s.orgID, opID); err != nil || req.Status != store.ApprovalExpired {
		t.Fatalf("approval request after the expiry: %v %v", req.Status, err)
	}

	// The expired link, through HTTP: the decision and the page are refused, audited.
	const reason = "this approval link has expired"
	a := postOverHTTP(t, link+"&action=APPROVE", "")
	if a.Status != http.StatusBadRequest || a.Error(t).Error != reason {
		t.Fatalf("decision on an expired link: %d %s", a.Status, a.Body)
	}
	if n := refusedTokens(t, s.store, s.orgID, reason); n != 1 {
		t.Fatalf("refusals of the expired link audited: %d, want 1", n)
	}
	if a := getOverHTTP(t, link); a.Status != http.StatusBadRequest || !strings.Contains(string(a.Body), "expired") || strings.Contains(string(a.Body), `id="approve"`) {
		t.Fatalf("page of an expired link: %d %s", a.Status, a.Body)
	}
	if n := refusedTokens(t, s.store, s.orgID, reason); n != 2 {
		t.Fatalf("refusals of the expired link audited: %d, want 2", n)
	}
	if used, err := s.store.TokenUsed(ctx, claims.Nonce); err != nil || used {
		t.Fatalf("an expired link was spent: %v %v", used, err)
	}
	recordHistory(t, s.tc, opID, "deploy-gated-expired")
}

// approvalTimerFired returns when the longest timer of the operation's workflow (the
// approval gate's) fired, from its history on the Temporal server.
func approvalTimerFired(t *testing.T, e *env, workflowID string) time.Time {
	t.Helper()
	iter := e.tc.GetWorkflowHistory(t.Context(), workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	durations := map[string]time.Duration{}
	var fired time.Time
	var longest time.Duration
	for iter.HasNext() {
		ev, err := iter.Next()
		must(t, err)
		switch ev.EventType {
		case enums.EVENT_TYPE_TIMER_STARTED:
			a := ev.GetTimerStartedEventAttributes()
			durations[a.TimerId] = a.StartToFireTimeout.AsDuration()
		case enums.EVENT_TYPE_TIMER_FIRED:
			if d := durations[ev.GetTimerFiredEventAttributes().TimerId]; d > longest {
				longest, fired = d, ev.EventTime.AsTime()
			}
		}
	}
	if fired.IsZero() {
		t.Fatalf("no timer fired in %s", workflowID)
	}
	return fired
}
