package wiffake_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/cloud/gcp/wiffake"
)

// The fake refuses what Google refuses, in Google's shapes: a token exchange with a
// wrong grant, token type or no scope (OAuth errors), an audience naming no provider
// (invalid_target); generateAccessToken without a federated token (401) or beyond an
// hour (400); and a script command it does not know.
func TestRefusals(t *testing.T) {
	fake := wiffake.New()
	fake.AddProject("acme-prod", "42")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	post := func(path, auth string, body map[string]any) (int, map[string]any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(string(raw)))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	good := map[string]any{"grantType": "urn:ietf:params:oauth:grant-type:token-exchange", "audience": "//iam.googleapis.com/projects/42/locations/global/workloadIdentityPools/p/providers/x",
		"scope": "https://www.googleapis.com/auth/cloud-platform", "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
		"subjectToken": "a.b.c", "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt"}
	for _, tc := range []struct{ field, value, want string }{
		{"grantType", "client_credentials", "unsupported_grant_type"},
		{"requestedTokenType", "urn:ietf:params:oauth:token-type:id_token", "invalid_request"},
		{"subjectTokenType", "urn:ietf:params:oauth:token-type:saml2", "invalid_request"},
		{"scope", "", "invalid_scope"},
		{"audience", good["audience"].(string), "invalid_target"},
	} {
		body := map[string]any{}
		for k, v := range good {
			body[k] = v
		}
		body[tc.field] = tc.value
		if code, out := post("/v1/token", "", body); code != http.StatusBadRequest || out["error"] != tc.want {
			t.Errorf("%s=%q: %d %v, want 400 %s", tc.field, tc.value, code, out, tc.want)
		}
	}
	sa := "/v1/projects/-/serviceAccounts/astro-x@acme-prod.iam.gserviceaccount.com:generateAccessToken"
	if code, _ := post(sa, "", map[string]any{"scope": []string{"s"}}); code != http.StatusUnauthorized {
		t.Errorf("no bearer: %d", code)
	}
	if code, _ := post(sa, "Bearer ya29.other", map[string]any{"scope": []string{"s"}}); code != http.StatusUnauthorized {
		t.Errorf("a token STS did not issue: %d", code)
	}
	if len(fake.Requests("sts.token")) != 5 || len(fake.Requests("generateAccessToken")) != 2 {
		t.Errorf("requests recorded: %d, %d", len(fake.Requests("sts.token")), len(fake.Requests("generateAccessToken")))
	}
	if err := fake.Run("gcloud iam roles create x --project=acme-prod"); err == nil {
		t.Error("an unknown command runs")
	}
	if err := fake.Run("gcloud iam service-accounts create astro-x --project=nowhere"); err == nil {
		t.Error("a service account in an unknown project")
	}
	if err := fake.Run("gcloud iam service-accounts create astro-x --project=acme-prod\ngcloud iam service-accounts create astro-x --project=acme-prod"); err == nil {
		t.Error("creating twice without || succeeds")
	}
	if err := fake.Run("gcloud iam service-accounts create astro-x --project=acme-prod || gcloud iam service-accounts describe astro-x@acme-prod.iam.gserviceaccount.com --project=acme-prod"); err != nil {
		t.Errorf("create || describe: %v", err)
	}
}
