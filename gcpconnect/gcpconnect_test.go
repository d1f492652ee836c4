package gcpconnect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/cloud/gcp/wiffake"
	"github.com/astropulse/astroplane/gcpconnect"
)

const (
	project = "customer-prod"
	number  = "123456789012"
	orgA    = "0b6f3c9e-aaaa-4c55-9d4e-5d1f7e1a0001"
	orgB    = "0b6f3c9e-bbbb-4c55-9d4e-5d1f7e1a0002"
)

func setup(t *testing.T) (*wiffake.Server, gcpconnect.Endpoints, *gcpconnect.Identity) {
	t.Helper()
	fake := wiffake.New()
	fake.AddProject(project, number)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	id, err := gcpconnect.IdentityFromSecret("https://astro.example", []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return fake, gcpconnect.Endpoints{STS: srv.URL + "/", IAMCredentials: srv.URL + "/"}, id
}

func script(t *testing.T, id *gcpconnect.Identity, org, cluster, level string) string {
	t.Helper()
	s, err := gcpconnect.Script(gcpconnect.ScriptInput{ProjectID: project, ProjectNumber: number, OrgID: org, Cluster: cluster,
		Level: level, Issuer: id.Issuer(), JWKS: id.JWKS()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScriptFederatesOneOrganization: before the script, the exchange is not ready;
// after it (run twice: it is re-runnable), the organization's token becomes the
// service account's access token for the lifetime asked, through the requests Google
// documents; another organization's token is refused by the provider even when
// presented at this organization's provider.
func TestScriptFederatesOneOrganization(t *testing.T) {
	fake, ep, id := setup(t)
	sa := gcpconnect.ServiceAccountEmail(project, "prod")
	if _, err := gcpconnect.Exchange(t.Context(), ep, id, orgA, number, sa, time.Hour); !errors.Is(err, gcpconnect.ErrNotReady) {
		t.Fatalf("before the script: %v, want not ready", err)
	}
	s := script(t, id, orgA, "prod", gcpconnect.LevelManage)
	for range 2 {
		if err := fake.Run(s); err != nil {
			t.Fatalf("run the script: %v\n%s", err, s)
		}
	}
	tok, err := gcpconnect.Exchange(t.Context(), ep, id, orgA, number, sa, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	who, exp, ok := fake.AccessTokenInfo(tok.AccessToken)
	if !ok || who != sa || time.Until(exp) < 29*time.Minute || time.Until(exp) > 31*time.Minute || !tok.ExpireTime.Equal(exp.Truncate(time.Second)) {
		t.Fatalf("token of %q until %v (answered %v)", who, exp, tok.ExpireTime)
	}
	x := fake.Requests("sts.token")
	last := x[len(x)-1].Body
	if last["grantType"] != gcpconnect.GrantTypeTokenExchange || last["audience"] != "//iam.googleapis.com/"+gcpconnect.ProviderName(number, orgA) ||
		last["subjectTokenType"] != gcpconnect.TokenTypeJWT || last["requestedTokenType"] != gcpconnect.TokenTypeAccessToken ||
		last["scope"] != gcpconnect.ScopeCloudPlatform {
		t.Fatalf("exchange request: %v", last)
	}
	g := fake.Requests("generateAccessToken")
	if r := g[len(g)-1]; r.Name != sa || r.Body["lifetime"] != "1800s" || !strings.HasPrefix(r.Auth, "Bearer fed-") {
		t.Fatalf("generateAccessToken request: %+v", r)
	}
	// Least privilege: manage roles only, no owner or editor.
	var roles []string
	for _, b := range fake.ProjectRoles(project) {
		if b.Member == "serviceAccount:"+sa {
			roles = append(roles, b.Role)
		}
	}
	slices.Sort(roles)
	want := slices.Clone(gcpconnect.ManageRoles)
	slices.Sort(want)
	if !slices.Equal(roles, want) {
		t.Fatalf("roles %v, want %v", roles, want)
	}
	// Organization B (another tenant) cannot use A's setup: its token, at A's
	// provider, fails the attribute condition.
	if _, err := gcpconnect.Exchange(t.Context(), ep, id, orgB, number, sa, time.Hour); !errors.Is(err, gcpconnect.ErrNotReady) {
		t.Fatalf("org B at its own (absent) provider: %v, want not ready", err)
	}
	aud := gcpconnect.Audience(number, orgA)
	tokB, err := id.SubjectToken(orgB, aud, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]string{"grantType": gcpconnect.GrantTypeTokenExchange, "audience": aud, "scope": gcpconnect.ScopeCloudPlatform,
		"requestedTokenType": gcpconnect.TokenTypeAccessToken, "subjectToken": tokB, "subjectTokenType": gcpconnect.TokenTypeJWT})
	resp, err := http.Post(ep.STS+"v1/token", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "attribute condition") {
		t.Fatalf("org B's token at org A's provider: %d %s", resp.StatusCode, body)
	}
	fake.SetCondition(gcpconnect.ProviderName(number, orgA), "assertion.org == '"+orgB+"'")
	if _, err := gcpconnect.Exchange(t.Context(), ep, id, orgA, number, sa, time.Hour); !errors.Is(err, gcpconnect.ErrCondition) {
		t.Fatalf("a provider bound to another organization: %v, want ErrCondition", err)
	}
}

// TestOrgBoundBinding: the impersonation binding names the organization's principal
// only, and the read level grants viewer roles only.
func TestOrgBoundBinding(t *testing.T) {
	fake, ep, id := setup(t)
	fake.Propagation = 2
	if err := fake.Run(script(t, id, orgA, "ro", gcpconnect.LevelRead)); err != nil {
		t.Fatal(err)
	}
	sa := gcpconnect.ServiceAccountEmail(project, "ro")
	bs, ok := fake.AccountBindings(sa)
	if !ok || len(bs) != 1 || bs[0].Member != gcpconnect.Principal(number, orgA) || bs[0].Role != "roles/iam.workloadIdentityUser" {
		t.Fatalf("bindings %v", bs)
	}
	for _, b := range fake.ProjectRoles(project) {
		if !slices.Contains(gcpconnect.ReadRoles, b.Role) {
			t.Fatalf("read level granted %s", b.Role)
		}
	}
	// While IAM propagates: not ready, then ready.
	for range 2 {
		if _, err := gcpconnect.Exchange(t.Context(), ep, id, orgA, number, sa, time.Hour); !errors.Is(err, gcpconnect.ErrNotReady) {
			t.Fatalf("propagating: %v", err)
		}
	}
	if _, err := gcpconnect.Exchange(t.Context(), ep, id, orgA, number, sa, time.Hour); err != nil {
		t.Fatal(err)
	}
	// A server error is neither (the activity retries it).
	fake.FailNext("sts.token", http.StatusServiceUnavailable)
	if _, err := gcpconnect.Exchange(t.Context(), ep, id, orgA, number, sa, time.Hour); err == nil ||
		errors.Is(err, gcpconnect.ErrNotReady) || errors.Is(err, gcpconnect.ErrCondition) {
		t.Fatalf("503: %v", err)
	}
	// A token signed by another key (another platform) is refused.
	other, err := gcpconnect.IdentityFromSecret("https://astro.example", []byte("another-secret-another-secret-xyz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gcpconnect.Exchange(t.Context(), ep, other, orgA, number, sa, time.Hour); !errors.Is(err, gcpconnect.ErrCondition) {
		t.Fatalf("another key: %v", err)
	}
}

func TestNamesAndChecks(t *testing.T) {
	if id := gcpconnect.ServiceAccountID(strings.Repeat("a", 50)); len(id) > 30 || len(id) < 6 {
		t.Errorf("service account ID %q", id)
	}
	if id := gcpconnect.ProviderID(orgA); len(id) < 4 || len(id) > 32 {
		t.Errorf("provider ID %q", id)
	}
	for _, bad := range []string{"", "0123", "12a", "01234567890"} {
		if gcpconnect.CheckProjectNumber(bad) == nil {
			t.Errorf("project number %q accepted", bad)
		}
	}
	for _, bad := range []string{"short", "Upper-case1", "ends-with-", "1starts-digit"} {
		if gcpconnect.CheckProjectID(bad) == nil {
			t.Errorf("project ID %q accepted", bad)
		}
	}
	if _, err := gcpconnect.Roles("admin"); err == nil {
		t.Error("level admin accepted")
	}
}
