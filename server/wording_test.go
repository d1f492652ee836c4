package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

// oneReadyCluster records a READY cluster named name directly in the store.
func oneReadyCluster(t *testing.T, e *env, name string) {
	t.Helper()
	cs := activities.ClusterSpec{Name: name, Provider: "aws", ProvisionerType: "eks", Region: "us-east-1", KubernetesVersion: "1.31"}
	state, err := json.Marshal(cs)
	must(t, err)
	cl := &store.Cluster{ID: store.NewID(), OrgID: e.orgID, Name: name, Provider: "aws", ProvisionerType: "eks", Region: "us-east-1",
		KubernetesVersion: "1.31", Status: store.ClusterReady, State: state}
	op := &store.Operation{ID: "acme." + name + ".deploy.1", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: "acme." + name + ".deploy.1"}
	must(t, e.store.CreateClusterWithOperation(context.Background(), cl, op))
}

// TestListMessagesCountInTheSingular: one of a thing is "1 cluster", not "1 clusters".
func TestListMessagesCountInTheSingular(t *testing.T) {
	e := newEnv(t, nil)
	if m := e.do(http.MethodGet, "/api/v1/clusters", e.key, nil).Envelope(t).Message; m != "0 clusters" {
		t.Fatalf("no cluster: %q", m)
	}
	oneReadyCluster(t, e, "solo")
	for path, want := range map[string]string{
		"/api/v1/clusters":                     "1 cluster",
		"/api/v1/orgs":                         "1 of 1 organization",
		"/api/v1/orgs/" + e.orgID + "/members": "1 member",
		"/api/v1/providers":                    "3 providers",
	} {
		a := e.do(http.MethodGet, path, e.key, nil)
		if a.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, a.Status, a.Body)
		}
		m := a.Envelope(t).Message
		if want != "" && m != want {
			t.Errorf("%s: message %q, want %q", path, m, want)
		}
		if strings.HasPrefix(m, "1 ") && strings.HasSuffix(m, "s") {
			t.Errorf("%s: message %q counts one in the plural", path, m)
		}
	}
	oneReadyCluster(t, e, "duo")
	if m := e.do(http.MethodGet, "/api/v1/clusters", e.key, nil).Envelope(t).Message; m != "2 clusters" {
		t.Fatalf("two clusters: %q", m)
	}
}

// TestApprovalPolicyDurationsAsGiven: expiresIn is echoed as it was given ("72h", not
// "72h0m0s"), days are accepted ("3d"), and a value that is not a duration or is out
// of range is a 400 saying so in words.
func TestApprovalPolicyDurationsAsGiven(t *testing.T) {
	e := newEnv(t, nil)
	if p := e.data(e.do(http.MethodGet, "/api/v1/approval-policy", e.key, nil)); p["expiresIn"] != "72h" {
		t.Fatalf("default expiresIn %v, want 72h", p["expiresIn"])
	}
	for _, given := range []string{"72h", "3d", "1d12h", "90m", "30d"} {
		a := e.do(http.MethodPut, "/api/v1/approval-policy", e.key, map[string]any{"operations": []any{"deploy"}, "expiresIn": given})
		if a.Status != http.StatusOK || e.data(a)["expiresIn"] != given {
			t.Fatalf("expiresIn %q: %d %s", given, a.Status, a.Body)
		}
		if got := e.data(e.do(http.MethodGet, "/api/v1/approval-policy", e.key, nil))["expiresIn"]; got != given {
			t.Fatalf("GET after expiresIn %q: %v", given, got)
		}
	}
	pol, err := e.store.GetApprovalPolicy(t.Context(), e.orgID)
	must(t, err)
	if pol.ExpiresIn.Hours() != 30*24 {
		t.Fatalf("30d stored as %s", pol.ExpiresIn)
	}
	for given, says := range map[string]string{
		"3x":     `"3x" is not a duration`,
		"3 days": `"3 days" is not a duration`,
		"d":      `"d" is not a duration: days are a whole number`,
		"-1d":    `"-1d" is not a duration`,
		"1m":     `"1m" is out of range: from 5m to 720h (30d)`,
		"31d":    `"31d" is out of range`,
	} {
		a := e.do(http.MethodPut, "/api/v1/approval-policy", e.key, map[string]any{"operations": []any{"deploy"}, "expiresIn": given})
		if a.Status != http.StatusBadRequest {
			t.Fatalf("expiresIn %q: %d %s", given, a.Status, a.Body)
		}
		if msg, _ := a.Error(t).Details["expiresIn"].(string); !strings.Contains(msg, says) {
			t.Errorf("expiresIn %q: %q does not say %q", given, msg, says)
		}
	}
}

// TestStreamWithoutUpgradeIs426: the WebSocket route asked over plain HTTP (curl) is a
// 426 in the error envelope, naming what to use, with Upgrade: websocket.
func TestStreamWithoutUpgradeIs426(t *testing.T) {
	e := newEnv(t, nil)
	oneReadyCluster(t, e, "solo")
	a := e.do(http.MethodGet, "/api/v1/clusters/solo/progress/stream", e.key, nil)
	if a.Status != http.StatusUpgradeRequired || a.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("stream without upgrade: %d %v %s", a.Status, a.Header, a.Body)
	}
	if env := a.Error(t); env.Code != httpx.CodeUpgradeRequired || !strings.Contains(env.Error, "WebSocket client") {
		t.Fatalf("426 envelope: %s", a.Body)
	}
	// Authentication still comes first.
	if a := e.do(http.MethodGet, "/api/v1/clusters/solo/progress/stream", "", nil); a.Status != http.StatusUnauthorized {
		t.Fatalf("without a key: %d %s", a.Status, a.Body)
	}
	// With the upgrade asked, the route goes on to find the cluster.
	a = e.do(http.MethodGet, "/api/v1/clusters/nowhere/progress/stream", e.key, nil,
		"Connection", "keep-alive, Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if a.Status != http.StatusNotFound {
		t.Fatalf("upgrade to an unknown cluster: %d %s", a.Status, a.Body)
	}
}

// TestEmailIntegrationNeedsARelay: an email integration is refused at configure time
// (400 naming config.smtp) when neither it nor the server has a mail relay; a PUT
// replaces the settings, so a relay left out is removed, not carried over, and only
// the password of the same relay is kept when left out.
func TestEmailIntegrationNeedsARelay(t *testing.T) {
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	put := func(e *env, config map[string]any) answer {
		return e.do(http.MethodPut, "/api/v1/notifications/integrations", e.key,
			map[string]any{"channel": "email", "config": config}, "X-Astro-Organization-ID", e.orgID)
	}
	stored := func(e *env) activities.IntegrationConfig {
		row, err := e.store.GetIntegration(t.Context(), e.orgID, "email")
		must(t, err)
		cfg, err := activities.OpenIntegrationConfig(box, row.SealedConfig)
		must(t, err)
		return cfg
	}
	recipients := []any{"ops@example.com"}
	relay := map[string]any{"host": "smtp.acme.example", "port": 587, "username": "mailer", "password": "relay-password-1"}

	// No server relay (ASTRO_SMTP_HOST unset).
	e := newEnvWith(t, nil, server.Options{Box: box})
	a := put(e, map[string]any{"recipients": recipients})
	if a.Status != http.StatusBadRequest {
		t.Fatalf("email without any relay: %d %s", a.Status, a.Body)
	}
	if msg, _ := a.Error(t).Details["config.smtp"].(string); !strings.Contains(msg, "ASTRO_SMTP_HOST") {
		t.Fatalf("400 does not name config.smtp and the server's relay: %s", a.Body)
	}
	if a := put(e, map[string]any{"recipients": recipients, "smtp": relay}); a.Status != http.StatusOK {
		t.Fatalf("email with its own relay: %d %s", a.Status, a.Body)
	}
	// Leaving the relay out is not "keep the old one": here it leaves no relay at all.
	if a := put(e, map[string]any{"recipients": recipients}); a.Status != http.StatusBadRequest {
		t.Fatalf("PUT without smtp kept the old relay: %d %s", a.Status, a.Body)
	}
	// The same relay without its password keeps the stored password; another drops it.
	same := map[string]any{"host": "smtp.acme.example", "port": 587, "username": "mailer"}
	if a := put(e, map[string]any{"recipients": []any{"dev@example.com"}, "smtp": same}); a.Status != http.StatusOK {
		t.Fatalf("same relay: %d %s", a.Status, a.Body)
	}
	if c := stored(e); c.SMTP == nil || c.SMTP.Password != "relay-password-1" || len(c.Recipients) != 1 || c.Recipients[0] != "dev@example.com" {
		t.Fatalf("same relay, password left out: %+v", c.SMTP)
	}
	other := map[string]any{"host": "smtp.other.example", "port": 587, "username": "mailer"}
	if a := put(e, map[string]any{"recipients": recipients, "smtp": other}); a.Status != http.StatusOK {
		t.Fatalf("other relay: %d %s", a.Status, a.Body)
	}
	if c := stored(e); c.SMTP == nil || c.SMTP.Host != "smtp.other.example" || c.SMTP.Password != "" {
		t.Fatalf("another relay inherited the old password: %+v", c.SMTP)
	}

	// With a server relay, recipients alone do; and a PUT without smtp removes the
	// organization's relay (mail then goes through the server's).
	e = newEnvWith(t, nil, server.Options{Box: box, ServerSMTPHost: "smtp.internal"})
	if a := put(e, map[string]any{"recipients": recipients, "smtp": relay}); a.Status != http.StatusOK {
		t.Fatalf("own relay: %d %s", a.Status, a.Body)
	}
	a = put(e, map[string]any{"recipients": recipients})
	if a.Status != http.StatusOK || strings.Contains(string(a.Body), "smtpHost") {
		t.Fatalf("PUT without smtp on a server with a relay: %d %s", a.Status, a.Body)
	}
	if c := stored(e); c.SMTP != nil {
		t.Fatalf("old relay carried over: %+v", c.SMTP)
	}
}
