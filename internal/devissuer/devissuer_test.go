package devissuer_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/astropulse/astroplane/internal/devissuer"
	"github.com/astropulse/astroplane/internal/oidcauth"
)

// start serves a development issuer on a test server whose URL is its issuer.
func start(t *testing.T) (*devissuer.Issuer, string) {
	t.Helper()
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var err error
	iss, err = devissuer.New(devissuer.Options{Issuer: srv.URL, Audience: "astro-plane"})
	require.NoError(t, err)
	return iss, srv.URL
}

func postForm(t *testing.T, u string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	}
	return resp.StatusCode, out
}

// DeviceLogin runs RFC 8628 against the issuer, approving as username through the
// device page the way a person (or curl) does, and returns the token response.
func deviceLogin(t *testing.T, base, username string) map[string]any {
	t.Helper()
	status, auth := postForm(t, base+"/device_authorization", url.Values{"client_id": {devissuer.ClientID}, "scope": {"openid email profile"}})
	require.Equal(t, http.StatusOK, status, auth)
	require.Contains(t, auth["verification_uri"], "/device")
	deviceCode, _ := auth["device_code"].(string)
	userCode, _ := auth["user_code"].(string)

	status, pending := postForm(t, base+"/oauth/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {deviceCode}, "client_id": {devissuer.ClientID}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "authorization_pending", pending["error"])

	status, _ = postForm(t, base+devissuer.DevicePath, url.Values{"user_code": {userCode}, "username": {username}})
	require.Equal(t, http.StatusOK, status)

	status, tok := postForm(t, base+"/oauth/token", url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {deviceCode}, "client_id": {devissuer.ClientID}})
	require.Equal(t, http.StatusOK, status, tok)
	return tok
}

// TestDeviceFlowTokenVerifies: a token from the development issuer's device flow is
// accepted by the API's verifier, through discovery and JWKS like any issuer's.
func TestDeviceFlowTokenVerifies(t *testing.T) {
	_, base := start(t)
	tok := deviceLogin(t, base, "alice")
	access, _ := tok["access_token"].(string)
	require.NotEmpty(t, access)
	require.NotEmpty(t, tok["id_token"])

	v, err := oidcauth.New(oidcauth.Config{Issuer: base, Audience: "astro-plane"})
	require.NoError(t, err)
	id, err := v.Verify(context.Background(), access)
	require.NoError(t, err)
	require.Equal(t, devissuer.Subject("alice"), id.Subject)
	require.Equal(t, "alice@localhost", id.Email)
	require.True(t, id.EmailVerified)
	require.Equal(t, base, id.Issuer)

	other, err := oidcauth.New(oidcauth.Config{Issuer: base, Audience: "another-api"})
	require.NoError(t, err)
	_, err = other.Verify(context.Background(), access)
	require.ErrorIs(t, err, oidcauth.ErrInvalidToken, "the audience is the API's")
}

func TestDevicePageRefuses(t *testing.T) {
	_, base := start(t)
	status, _ := postForm(t, base+devissuer.DevicePath, url.Values{"user_code": {"NOPE-NOPE"}, "username": {"alice"}})
	require.Equal(t, http.StatusBadRequest, status, "unknown user code")

	_, auth := postForm(t, base+"/device_authorization", url.Values{"client_id": {devissuer.ClientID}, "scope": {"openid"}})
	userCode, _ := auth["user_code"].(string)
	status, _ = postForm(t, base+devissuer.DevicePath, url.Values{"user_code": {userCode}, "username": {"Not A Name"}})
	require.Equal(t, http.StatusBadRequest, status, "user names are DNS-ish")
	status, _ = postForm(t, base+devissuer.DevicePath, url.Values{"user_code": {userCode}, "username": {"bob"}})
	require.Equal(t, http.StatusOK, status)
	status, _ = postForm(t, base+devissuer.DevicePath, url.Values{"user_code": {userCode}, "username": {"mallory"}})
	require.Equal(t, http.StatusBadRequest, status, "a user code signs in once")

	status, _ = postForm(t, base+"/device_authorization", url.Values{"client_id": {"unknown"}})
	require.NotEqual(t, http.StatusOK, status)
}
