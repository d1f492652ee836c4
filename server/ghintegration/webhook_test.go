package ghintegration_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/astropulse/astroplane/ghapp"
	"github.com/astropulse/astroplane/ghapp/ghfake"
	"github.com/astropulse/astroplane/server/ghintegration"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
)

func TestWebhook(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	f := ghfake.New(1)
	defer f.Close()
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.Key)})
	app, err := ghapp.NewWithKey(ghapp.Config{AppID: 1, APIURL: f.URL}, pemKey, f.Client())
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("webhook secret")
	srv := ghintegration.NewServer(ghintegration.Deps{Store: st, App: app, WebhookSecret: secret})
	var orgs []string
	for _, name := range []string{"a", "b"} {
		org := store.Organization{ID: store.NewID(), Name: name}
		if err := st.CreateOrganization(ctx, &org); err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, org.ID)
		if err := st.CreateGithubInstallation(ctx, &store.GithubInstallation{OrgID: org.ID, InstallationID: 7, AccountLogin: "acme",
			AccountType: "Organization", SyncStatus: "SYNCED"}); err != nil {
			t.Fatal(err)
		}
	}
	e := echo.New()
	e.HTTPErrorHandler = httpx.ErrorHandler(nil)
	e.POST(ghintegration.WebhookPath, srv.Webhook)
	send := func(event, delivery, body string, sign []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, ghintegration.WebhookPath, strings.NewReader(body))
		m := hmac.New(sha256.New, sign)
		m.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-GitHub-Delivery", delivery)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	status := func() string {
		l, err := st.GetGithubInstallation(ctx, orgs[0], 7)
		if err != nil {
			return "gone"
		}
		return l.SyncStatus
	}
	suspend := `{"action":"suspend","installation":{"id":7}}`
	if r := send("installation", "d1", suspend, []byte("forged")); r.Code != 401 || status() != "SYNCED" {
		t.Fatalf("a bad signature: %d, status %s", r.Code, status())
	}
	if r := send("installation", "d1", "not json", secret); r.Code != 400 {
		t.Fatalf("not JSON: %d", r.Code)
	}
	if r := send("installation", "d2", suspend, secret); r.Code != 200 || status() != "SUSPENDED" {
		t.Fatalf("suspend: %d %s, status %s", r.Code, r.Body, status())
	}
	// A replayed delivery is acknowledged and not acted on again.
	unsuspend := `{"action":"unsuspend","installation":{"id":7}}`
	if r := send("installation", "d3", unsuspend, secret); r.Code != 200 || status() != "SYNCED" {
		t.Fatalf("unsuspend: %d, status %s", r.Code, status())
	}
	if r := send("installation", "d2", suspend, secret); r.Code != 200 || !strings.Contains(r.Body.String(), "duplicate") || status() != "SYNCED" {
		t.Fatalf("replayed delivery: %d %s, status %s", r.Code, r.Body, status())
	}
	if r := send("installation", "d4", `{"action":"deleted","installation":{"id":7}}`, secret); r.Code != 200 || status() != "gone" {
		t.Fatalf("deleted: %d, status %s", r.Code, status())
	}
	if l, _ := st.GithubInstallationLinks(ctx, 7); len(l) != 0 {
		t.Fatalf("links left after the app was uninstalled: %d", len(l))
	}
}
