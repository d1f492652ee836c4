package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// cloudAPI fakes the connect and status operations: a connection reaches final after
// one WAITING_FOR_CUSTOMER answer; azure's setup link serves a script.
func cloudAPI(t *testing.T, final string) (*httptest.Server, *map[string]any) {
	t.Helper()
	got := map[string]any{}
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/v1/cloud/"):
			_ = json.NewDecoder(r.Body).Decode(&got)
			provider := strings.Split(r.URL.Path, "/")[4]
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintf(w, `{"data":{"operationId":"%s-connect-1","provider":%q,"clusterName":"prod"},"id":"t","message":"","status":"accepted"}`, provider, provider)
		case strings.Contains(r.URL.Path, "/connections/"):
			provider := strings.Split(r.URL.Path, "/")[4]
			polls++
			status, details := "RUNNING", ""
			switch {
			case polls == 2 && provider == "aws":
				status, details = "WAITING_FOR_CUSTOMER", `"aws":{"setupUrl":"https://console.aws.amazon.com/cloudformation/home#/stacks/quickcreate?x=1","externalId":"ext-1"},`
			case polls == 2:
				status, details = "WAITING_FOR_CUSTOMER", `"azure":{"setupScript":"#!/bin/bash\necho setup\n"},`
			case polls > 2:
				status = final
			}
			fmt.Fprintf(w, `{"data":{%s"operationId":"x","provider":%q,"status":%q,"message":"role %s"},"id":"t","message":"","status":"success"}`, details, provider, status, strings.ToLower(status))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func TestCloudConnect(t *testing.T) {
	isolate(t)
	srv, got := cloudAPI(t, "CONNECTED")
	auth := []string{"--server", srv.URL, "--api-key", "k"}
	out, errOut, code := astroctl(t, "", append([]string{"cloud", "aws", "connect", "--account-id", "123456789012", "--cluster-name", "prod", "--region", "us-east-1"}, auth...)...)
	if code != 0 || !strings.Contains(out, "operation aws-connect-1") || !strings.Contains(out, "quickcreate") || !strings.Contains(out, "External ID: ext-1") || !strings.Contains(out, "WAITING_FOR_CUSTOMER") || !strings.Contains(out, "CONNECTED") {
		t.Fatalf("aws connect: %d\n%s\n%s", code, out, errOut)
	}
	if (*got)["destinationAccountId"] != "123456789012" || (*got)["clusterName"] != "prod" || (*got)["targetRegion"] != "us-east-1" || len(*got) != 3 {
		t.Fatalf("aws request: %v", *got)
	}

	// Azure: the setup script is saved, executable by its owner only; a FAILED
	// connection is exit 1.
	t.Chdir(t.TempDir())
	srv, got = cloudAPI(t, "FAILED")
	auth = []string{"--server", srv.URL, "--api-key", "k"}
	out, errOut, code = astroctl(t, "", append([]string{"cloud", "azure", "connect", "--subscription-id", "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "--resource-group", "rg", "--cluster-name", "prod", "--region", "eastus"}, auth...)...)
	if code != exitFailed || !strings.Contains(out, "bash astro-azure-setup-prod.sh") || !strings.Contains(errOut, "FAILED: role failed") {
		t.Fatalf("azure connect: %d\n%s\n%s", code, out, errOut)
	}
	fi, err := os.Stat("astro-azure-setup-prod.sh")
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("script: %v %v", fi, err)
	}
	if b, _ := os.ReadFile("astro-azure-setup-prod.sh"); string(b) != "#!/bin/bash\necho setup\n" {
		t.Fatalf("script: %q", b)
	}
	if (*got)["subscriptionId"] != "0b1f6471-1bf0-4dda-aec3-cb9272f09590" || (*got)["resourceGroup"] != "rg" {
		t.Fatalf("azure request: %v", *got)
	}
	if _, _, code := astroctl(t, "", append([]string{"cloud", "gcp", "connect"}, auth...)...); code != exitValidation {
		t.Fatalf("no --cluster-name: %d", code)
	}
}

func TestRegisterPrintsTheAgentManifest(t *testing.T) {
	isolate(t)
	var got map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/clusters/edge-1/agent" {
			t.Errorf("unexpected %s %s", r.Method, r.URL)
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"data":{"clusterName":"edge-1","operationId":"op-9","agentManifest":"apiVersion: v1\nkind: Namespace\n","tokenExpiresAt":"2026-12-01T10:00:00Z"},"id":"t","message":"","status":"success"}`)
	}))
	defer srv.Close()
	out, errOut, code := astroctl(t, "", "clusters", "register", "--cluster-name", "edge-1", "--server", srv.URL, "--api-key", "k")
	if code != 0 || out != "apiVersion: v1\nkind: Namespace\n" || !strings.Contains(errOut, "single-use") || !strings.Contains(errOut, "--operation op-9") {
		t.Fatalf("register: %d %q %s", code, out, errOut)
	}
	if spec, _ := got["spec"].(map[string]any); got["kind"] != "K8sClusterRegistration" || spec["clusterName"] != "edge-1" {
		t.Fatalf("request: %v", got)
	}
}
