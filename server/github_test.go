package server_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/ghapp"
	"github.com/astropulse/astroplane/ghapp/ghfake"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/ghintegration"
	"github.com/astropulse/astroplane/store"
)

// TestGithubIntegration drives the 13 Integrations operations through the API
// against ghfake, GitHub's REST API as documented.
func TestGithubIntegration(t *testing.T) {
	f := ghfake.New(4242)
	t.Cleanup(f.Close)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.Key)})
	app, err := ghapp.NewWithKey(ghapp.Config{AppID: 4242, Slug: "astro", APIURL: f.URL, WebHost: "github.com"}, pemKey, f.Client())
	must(t, err)
	var repos []*ghfake.Repo
	for i, n := range []string{"a", "b", "c", "d", "deploy"} {
		repos = append(repos, &ghfake.Repo{ID: int64(100 + i), Owner: "acme", Name: n, DefaultBranch: "main", Branches: []string{"main", "dev", "x"},
			Files: map[string]string{"deploy/app.yaml": "kind: App\n", "README.md": "hi", "bin/blob": "\x00\x01"}})
	}
	f.AddInstallation(&ghfake.Installation{ID: 7, Account: "acme", AccountType: "Organization",
		Permissions: map[string]string{"contents": "write", "metadata": "read"}, Repos: repos})
	f.AddInstallation(&ghfake.Installation{ID: 8, Account: "globex", AccountType: "User", Permissions: map[string]string{"contents": "read"},
		Repos: []*ghfake.Repo{{ID: 200, Owner: "globex", Name: "secret", DefaultBranch: "main", Branches: []string{"main"}, Files: map[string]string{"x": "y"}}}})
	stateKey := []byte("0123456789abcdef0123456789abcdef")
	deps := ghintegration.Deps{App: app, StateKey: stateKey, WebhookSecret: []byte("hook secret")}
	e := newEnvWith(t, nil, server.Options{GitHub: deps})
	issuer := ghintegration.NewServer(deps) // the same key: states it issues are the server's
	base := "/api/v1/integrations/github"
	var answers strings.Builder
	do := func(method, path, key string, body any) answer {
		t.Helper()
		a := e.do(method, path, key, body)
		answers.Write(a.Body)
		return a
	}
	field := func(a answer, status int, name string) {
		t.Helper()
		if a.Status != status {
			t.Fatalf("want %d, got %d %s", status, a.Status, a.Body)
		}
		if _, ok := a.Error(t).Details[name]; !ok && name != "" {
			t.Fatalf("no detail for %s in %s", name, a.Body)
		}
	}
	data := func(a answer) map[string]any {
		t.Helper()
		if a.Status != http.StatusOK {
			t.Fatalf("want 200, got %d %s", a.Status, a.Body)
		}
		m, _ := a.Envelope(t).Data.(map[string]any)
		return m
	}

	// The install link carries a state the callback takes; a viewer gets none.
	link := data(do("POST", base+"/install-link", e.key, nil))
	lu, err := url.Parse(link["url"].(string))
	must(t, err)
	if lu.Host != "github.com" || lu.Path != "/apps/astro/installations/new" || lu.Query().Get("state") == "" {
		t.Fatalf("install link %v", link)
	}
	linked := data(do("GET", base+"/callback?installation_id=8&setup_action=install&state="+url.QueryEscape(lu.Query().Get("state")), "", nil))
	if linked["accountLogin"] != "globex" {
		t.Fatalf("callback with the link's state: %v", linked)
	}
	data(do("DELETE", base+"/installations/8", e.key, nil))

	// Callback: no state, forged state, the good state once, then its replay.
	field(do("GET", base+"/callback?installation_id=7&setup_action=install", "", nil), 400, "state")
	good, err := issuer.IssueState(e.orgID, e.userID)
	must(t, err)
	forged := strings.Replace(good, good[:4], "eyJv", 1) + "x"
	field(do("GET", base+"/callback?installation_id=7&setup_action=install&state="+url.QueryEscape(forged), "", nil), 400, "state")
	other := ghintegration.NewServer(ghintegration.Deps{App: app, StateKey: []byte("another key, another platform....")})
	foreign, _ := other.IssueState(e.orgID, e.userID)
	field(do("GET", base+"/callback?installation_id=7&setup_action=install&state="+url.QueryEscape(foreign), "", nil), 400, "state")
	missing, _ := issuer.IssueState(e.orgID, e.userID)
	if a := do("GET", base+"/callback?installation_id=99&setup_action=install&state="+url.QueryEscape(missing), "", nil); a.Status != 404 {
		t.Fatalf("an installation GitHub does not have was recorded: %d %s", a.Status, a.Body)
	}
	cb := data(do("GET", base+"/callback?installation_id=7&setup_action=install&state="+url.QueryEscape(good), "", nil))
	if cb["accountLogin"] != "acme" || cb["syncStatus"] != "SYNCED" || cb["orgId"] != e.orgID {
		t.Fatalf("callback answer %v", cb)
	}
	field(do("GET", base+"/callback?installation_id=8&setup_action=install&state="+url.QueryEscape(good), "", nil), 400, "state")

	// Installations: list, get, bad ID, another org's view.
	list := listData(t, do("GET", base+"/installations", e.key, nil))
	if len(list) != 1 {
		t.Fatalf("installations %v", list)
	}
	field(do("GET", base+"/installations/abc", e.key, nil), 400, "installation_id")
	if a := do("GET", base+"/installations/8", e.key, nil); a.Status != 404 {
		t.Fatalf("unlinked installation: %d", a.Status)
	}
	otherOrg, _, otherKey := e.newOrg("globex", store.RoleAdmin)
	_ = otherOrg
	if a := do("GET", base+"/installations/7", otherKey, nil); a.Status != 404 {
		t.Fatalf("another org's installation: %d %s", a.Status, a.Body)
	}
	if a := do("GET", base+"/branches?repoUrl=acme/a", otherKey, nil); a.Status != 404 {
		t.Fatalf("another org reads acme/a: %d %s", a.Status, a.Body)
	}

	// Repositories across GitHub's pages (2 a page in the fake).
	if rs := listData(t, do("GET", base+"/installations/7/repositories", e.key, nil)); len(rs) != 5 {
		t.Fatalf("repositories %d (pagination not followed?)", len(rs))
	}

	// Every form of one repository is that repository; another's is 404.
	for _, u := range []string{"https://github.com/acme/deploy", "https://github.com/Acme/deploy.git", "git@github.com:acme/deploy.git", "ssh://git@github.com/acme/deploy"} {
		br := listData(t, do("GET", base+"/branches?repoUrl="+url.QueryEscape(u), e.key, nil))
		if len(br) != 3 {
			t.Fatalf("%s: branches %v", u, br)
		}
	}
	if a := do("GET", base+"/branches?repoUrl=https://github.com/globex/secret", e.key, nil); a.Status != 404 {
		t.Fatalf("a repository outside the org's installations: %d", a.Status)
	}
	field(do("GET", base+"/branches?repoUrl=https://gitlab.com/acme/deploy", e.key, nil), 400, "repoUrl")
	field(do("GET", base+"/branches?repoUrl=nope", e.key, nil), 400, "repoUrl")

	// Contents: browse, a file decoded, a binary refused, a path validated.
	if root := listData(t, do("GET", base+"/contents?repoUrl=acme/deploy", e.key, nil)); len(root) != 3 {
		t.Fatalf("root entries %v", root)
	}
	fc := data(do("GET", base+"/file?repoUrl=acme/deploy&filePath=deploy/app.yaml&branch=dev", e.key, nil))
	if fc["content"] != "kind: App\n" || fc["contentType"] != "yaml" || fc["branch"] != "dev" {
		t.Fatalf("file %v", fc)
	}
	field(do("GET", base+"/file?repoUrl=acme/deploy&filePath=bin/blob", e.key, nil), 400, "filePath")
	field(do("GET", base+"/file?repoUrl=acme/deploy&filePath=../etc", e.key, nil), 400, "filePath")
	if v := data(do("POST", base+"/validate-path", e.key, map[string]any{"repoUrl": "acme/deploy", "path": "deploy"})); v["exists"] != true || v["type"] != "dir" {
		t.Fatalf("validate dir %v", v)
	}
	if v := data(do("POST", base+"/validate-path", e.key, map[string]any{"repoUrl": "acme/deploy", "path": "nope.yaml"})); v["exists"] != false {
		t.Fatalf("validate missing %v", v)
	}

	// Tokens: a repository token is scoped at GitHub to that repository, read-only.
	rt := data(do("POST", base+"/repository-token", e.key, map[string]any{"repoUrl": "git@github.com:acme/deploy.git"}))
	issued, ok := f.Token(rt["token"].(string))
	if !ok || len(issued.Repos) != 1 || issued.Repos[0] != 104 || issued.Permissions["contents"] != "read" {
		t.Fatalf("repository token at GitHub: %+v", issued)
	}
	if rt["expiresAt"] == "" || len(rt["repositories"].([]any)) != 1 {
		t.Fatalf("repository token answer %v", rt)
	}
	it := data(do("POST", base+"/installations/7/token", e.key, nil))
	if got, ok := f.Token(it["token"].(string)); !ok || got.Repos != nil {
		t.Fatalf("installation token at GitHub: %+v", got)
	}
	_, viewerKey := func() (string, string) {
		u := store.User{ID: store.NewID(), Email: "viewer@acme.example"}
		must(t, e.store.CreateUser(context.Background(), &u))
		must(t, e.store.AddMember(context.Background(), e.orgID, u.ID, store.RoleViewer))
		return u.ID, e.newKey(e.orgID, u.ID, func(*store.APIKey) {})
	}()
	if a := do("POST", base+"/repository-token", viewerKey, map[string]any{"repoUrl": "acme/deploy"}); a.Status != 403 {
		t.Fatalf("a viewer minted a token: %d", a.Status)
	}
	tokensAudited := 0
	must(t, e.store.StreamAudit(context.Background(), e.orgID, store.AuditFilter{EventType: "GITHUB_TOKEN"}, func(ev *store.AuditEvent) error {
		if ev.Action == "ISSUE" {
			tokensAudited++
			if strings.Contains(string(ev.Details), "ghs_") {
				t.Errorf("a token in the audit log: %s", ev.Details)
			}
		}
		return nil
	}))
	if tokensAudited != 2 {
		t.Fatalf("%d token issuances audited, want 2", tokensAudited)
	}

	// Rate limits: secondary and primary surface as 429 with Retry-After.
	f.RateLimit(1, true)
	a := do("GET", base+"/branches?repoUrl=acme/deploy", e.key, nil)
	if a.Status != 429 || a.Header.Get("Retry-After") != "30" || a.Error(t).Code != "TOO_MANY_REQUESTS" {
		t.Fatalf("secondary rate limit: %d %v %s", a.Status, a.Header, a.Body)
	}
	f.RateLimit(1, false)
	if a := do("GET", base+"/installations/7/repositories", e.key, nil); a.Status != 429 || a.Header.Get("Retry-After") == "" {
		t.Fatalf("primary rate limit: %d %s", a.Status, a.Body)
	}

	// An outage at GitHub is a 503 with Retry-After, never a 500.
	f.Fail(1)
	if a := do("GET", base+"/contents?repoUrl=acme/deploy", e.key, nil); a.Status != 503 || a.Header.Get("Retry-After") == "" ||
		a.Error(t).Code != "SERVICE_UNAVAILABLE" {
		t.Fatalf("GitHub outage: %d %s", a.Status, a.Body)
	}

	// Map: an admin of both organizations maps 7 into the second; nobody else can.
	ctx := context.Background()
	orgB := store.Organization{ID: store.NewID(), Name: "acme-two"}
	must(t, e.store.CreateOrganization(ctx, &orgB))
	must(t, e.store.AddMember(ctx, orgB.ID, e.userID, store.RoleAdmin))
	keyB := e.newKey(orgB.ID, e.userID, func(*store.APIKey) {})
	if a := do("POST", base+"/installations/7/map", otherKey, nil); a.Status != 404 {
		t.Fatalf("an admin of an unrelated org mapped 7: %d %s", a.Status, a.Body)
	}
	syncB := data(do("POST", base+"/installations/sync", keyB, map[string]any{}))
	if av := syncB["available"].([]any); len(av) != 1 || av[0].(map[string]any)["installationId"] != float64(7) {
		t.Fatalf("available to B: %v", syncB)
	}
	if m := data(do("POST", base+"/installations/7/map", keyB, nil)); m["orgId"] != orgB.ID {
		t.Fatalf("map %v", m)
	}
	if a := do("POST", base+"/installations/7/map", keyB, nil); a.Status != 409 {
		t.Fatalf("second map: %d", a.Status)
	}

	// Sync with refresh re-verifies; an installation gone from GitHub is ERROR.
	s := data(do("POST", base+"/installations/sync", e.key, map[string]any{"refresh": true}))
	if l := s["linked"].([]any); len(l) != 1 || l[0].(map[string]any)["syncStatus"] != "SYNCED" || s["refreshed"] != true {
		t.Fatalf("sync %v", s)
	}
	f.RemoveInstallation(7)
	s = data(do("POST", base+"/installations/sync", keyB, map[string]any{"refresh": true}))
	if l := s["linked"].([]any); len(l) != 1 || l[0].(map[string]any)["syncStatus"] != "ERROR" {
		t.Fatalf("sync after uninstall %v", s)
	}

	// Delete unlinks here only.
	if d := data(do("DELETE", base+"/installations/7", e.key, nil)); d["deleted"] != true {
		t.Fatalf("delete %v", d)
	}
	if a := do("GET", base+"/installations/7", e.key, nil); a.Status != 404 {
		t.Fatalf("after delete: %d", a.Status)
	}
	if a := do("GET", base+"/installations/7", keyB, nil); a.Status != 200 {
		t.Fatalf("B's link went with A's: %d", a.Status)
	}

	// The webhook is routed, outside the contract, and refuses an unsigned delivery.
	for sig, want := range map[string]int{"": 401, "sha256=00": 401, hookSig([]byte("hook secret"), "{}"): 200} {
		req := httptest.NewRequest(http.MethodPost, ghintegration.WebhookPath, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sig)
		req.Header.Set("X-GitHub-Event", "ping")
		req.Header.Set("X-GitHub-Delivery", "delivery-"+strconv.Itoa(want)+strconv.Itoa(len(sig)))
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("webhook with signature %q: %d %s", sig, rec.Code, rec.Body)
		}
	}

	// No private key or token in a log line, nor a token in any answer but a token's.
	logs := e.logs.String()
	for tok := range f.Issued() {
		if strings.Contains(logs, tok) {
			t.Fatal("a GitHub token in the logs")
		}
	}
	if strings.Contains(logs, "PRIVATE KEY") || strings.Contains(logs, string(pemKey[40:80])) {
		t.Fatal("the app's private key in the logs")
	}
	all := answers.String()
	if n := strings.Count(all, "ghs_"); n != 2 {
		t.Fatalf("%d tokens in answers, want exactly the 2 issued", n)
	}
}

func hookSig(secret []byte, body string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
