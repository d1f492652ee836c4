package server_test

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/internal/oidcauth"
	"github.com/astropulse/astroplane/internal/oidctest"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
)

// TestNoPlaintextSecretInTheDatabase puts every kind of secret the API takes into the
// store — the bootstrap-style key, keys created through the API, a bearer token used
// to sign in, a Slack webhook URL and signing secret, an SMTP password — then reads
// the SQLite files byte by byte: none of them may be there in clear.
func TestNoPlaintextSecretInTheDatabase(t *testing.T) {
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	require.NoError(t, err)
	signer, err := approval.NewSigner([]byte("signing-key-signing-key-signing-key!"))
	require.NoError(t, err)
	iss := oidctest.New(t)
	v, err := oidcauth.New(oidcauth.Config{Issuer: iss.URL, Audience: testAudience})
	require.NoError(t, err)
	e := newEnvWith(t, nil, server.Options{Box: box, Signer: signer, Verifier: v})
	plain := map[string]string{"admin key": e.key}

	for _, name := range []string{"ci", "laptop"} {
		a := e.do(http.MethodPost, "/api/v1/api-keys", e.key, map[string]any{"orgId": e.orgID, "source": "cli", "name": name, "duration": "720h"})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Body)
		plain[name+" key"] = e.dataOf(a)["key"].(string)
	}
	token := iss.Token(t, "k1", userClaims("alice", "alice@example.com", nil))
	if a := e.do(http.MethodPost, "/api/v1/users/me", "", nil, bearer(token)...); a.Status != http.StatusCreated {
		t.Fatalf("sign in: %d %s", a.Status, a.Body)
	}
	plain["bearer token"] = token

	org := []string{"X-Astro-Organization-ID", e.orgID}
	webhook := "https://93.184.216.34/services/T000/B000/XXXXwebhookXXXX"
	signing := "slack-signing-secret-0123456789abcdef"
	if a := e.do(http.MethodPut, "/api/v1/notifications/integrations", e.key, map[string]any{"channel": "slack",
		"config": map[string]any{"webhookUrl": webhook, "slackChannel": "#ops", "signingSecret": signing}}, org...); a.Status != http.StatusOK {
		t.Fatalf("slack integration: %d %s", a.Status, a.Body)
	}
	password := "smtp-password-0123456789"
	if a := e.do(http.MethodPut, "/api/v1/notifications/integrations", e.key, map[string]any{"channel": "email",
		"config": map[string]any{"recipients": []any{"ops@example.com"},
			"smtp": map[string]any{"host": "smtp.example.com", "port": 587, "username": "u", "password": password}}}, org...); a.Status != http.StatusOK {
		t.Fatalf("email integration: %d %s", a.Status, a.Body)
	}
	plain["webhook token"] = "XXXXwebhookXXXX"
	plain["slack signing secret"] = signing
	plain["smtp password"] = password

	// Every file of the store: the database and its write-ahead log.
	files, err := filepath.Glob(e.dbPath + "*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var found bool
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		for what, secret := range plain {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("%s in clear in %s", what, filepath.Base(f))
			}
			found = found || bytes.Contains(raw, []byte("alice@example.com"))
		}
	}
	if !found {
		t.Fatal("the scan did not see the data written (alice's email is nowhere): it would find nothing")
	}
}
