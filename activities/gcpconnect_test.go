package activities_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud/gcp/wiffake"
	"github.com/astropulse/astroplane/gcpconnect"
	"github.com/astropulse/astroplane/store"
)

// The GCP activities against the wire server: Prepare records the script (the same
// token when repeated) and the names; Verify waits (not ready) until the script ran,
// then succeeds; Issue seals a working token to the recipient only; a worker
// without an identity says what to configure.
func TestGCPConnectActivities(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "c.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	org := store.Organization{ID: store.NewID(), Name: "acme"}
	if err := st.CreateOrganization(ctx, &org); err != nil {
		t.Fatal(err)
	}
	conn := store.CloudConnection{ID: "acme.prod.connect-gcp.1", OrgID: org.ID, Provider: "gcp", ClusterName: "prod",
		Level: "read", Status: store.ConnectionPending, AccountID: "acme-prod", GCPProjectNumber: "42424242"}
	if err := st.CreateCloudConnection(ctx, &conn); err != nil {
		t.Fatal(err)
	}
	fake := wiffake.New()
	fake.AddProject("acme-prod", "42424242")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	id, err := gcpconnect.IdentityFromSecret("https://astro.example", secret)
	if err != nil {
		t.Fatal(err)
	}
	a := &activities.CloudAccounts{Store: st, GCP: &activities.GCPPlatform{Identity: id,
		Endpoints: gcpconnect.Endpoints{STS: srv.URL + "/", IAMCredentials: srv.URL + "/"}}}

	in := activities.PrepareGCPConnectionInput{OrgID: org.ID, ConnectionID: conn.ID}
	first, err := a.PrepareGCPConnection(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	rec1, _ := st.GetCloudConnection(ctx, org.ID, conn.ID)
	again, err := a.PrepareGCPConnection(ctx, in)
	rec2, _ := st.GetCloudConnection(ctx, org.ID, conn.ID)
	if err != nil || again != first || rec1.TemplateToken == "" || rec1.TemplateToken != rec2.TemplateToken ||
		rec2.GCPServiceAccount != "astro-prod@acme-prod.iam.gserviceaccount.com" || rec2.GCPPoolProvider != first.Provider ||
		!strings.Contains(string(rec2.Template), "roles/container.viewer") || strings.Contains(string(rec2.Template), "roles/container.admin") {
		t.Fatalf("prepare: %+v then %+v (%v); record %+v", first, again, err, rec2)
	}

	vin := activities.VerifyGCPFederationInput{OrgID: org.ID, ProjectNumber: first.ProjectNumber, ServiceAccount: first.ServiceAccount}
	if v, err := a.VerifyGCPFederation(ctx, vin); err != nil || v.Ready || !strings.Contains(v.Reason, "does not exist") {
		t.Fatalf("before the script: %+v %v", v, err)
	}
	if err := fake.Run(string(rec2.Template)); err != nil {
		t.Fatal(err)
	}
	if v, err := a.VerifyGCPFederation(ctx, vin); err != nil || !v.Ready {
		t.Fatalf("after the script: %+v %v", v, err)
	}
	fake.SetCondition(first.Provider, "assertion.org == 'another'")
	var app *temporal.ApplicationError
	if _, err := a.VerifyGCPFederation(ctx, vin); !errors.As(err, &app) || app.Type() != activities.ErrTypeGCPCondition || !app.NonRetryable() {
		t.Fatalf("refused: %v", err)
	}
	fake.SetCondition(first.Provider, "assertion.org == '"+org.ID+"'")

	key, _ := ecdh.X25519().GenerateKey(rand.Reader)
	iin := activities.IssueGCPCredentialsInput{OrgID: org.ID, ConnectionID: conn.ID, Duration: 20 * time.Minute, RecipientKey: key.PublicKey().Bytes()}
	if _, err := a.IssueGCPCredentials(ctx, iin); !errors.As(err, &app) || app.Type() != activities.ErrTypeNotConnected {
		t.Fatalf("not connected yet: %v", err)
	}
	if err := st.UpdateCloudConnection(ctx, org.ID, conn.ID, map[string]any{"status": store.ConnectionConnected}); err != nil {
		t.Fatal(err)
	}
	res, err := a.IssueGCPCredentials(ctx, iin)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := activities.OpenGCPToken(key, res.Sealed)
	if err != nil || !tok.ExpireTime.Equal(res.ExpireTime) || time.Until(tok.ExpireTime) > 21*time.Minute {
		t.Fatalf("token %+v, %v", res, err)
	}
	if who, _, ok := fake.AccessTokenInfo(tok.AccessToken); !ok || who != first.ServiceAccount || strings.Contains(string(res.Sealed), tok.AccessToken) {
		t.Fatalf("token of %q", who)
	}
	other, _ := ecdh.X25519().GenerateKey(rand.Reader)
	if _, err := activities.OpenGCPToken(other, res.Sealed); err == nil {
		t.Fatal("opened with another key")
	}

	bare := &activities.CloudAccounts{Store: st}
	if _, err := bare.PrepareGCPConnection(ctx, in); !errors.As(err, &app) || app.Type() != activities.ErrTypeNotConfigured ||
		!strings.Contains(app.Message(), "ASTRO_GCP_PLATFORM_KEY_FILE") {
		t.Fatalf("no identity: %v", err)
	}
}
