package server_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/astropulse/astroplane/approval"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/ratelimit"
	"github.com/astropulse/astroplane/store"
)

func (e *env) dataOf(a answer) map[string]any {
	e.t.Helper()
	d, ok := a.Envelope(e.t).Data.(map[string]any)
	if !ok {
		e.t.Fatalf("answer %d has no object in data: %s", a.Status, a.Body)
	}
	return d
}

func (e *env) auditEvents(orgID, action string) []store.AuditEvent {
	e.t.Helper()
	evs, _, err := e.store.ListAudit(context.Background(), orgID, store.AuditFilter{Action: action}, store.Page{Size: 100})
	must(e.t, err)
	return evs
}

// TestAPIKeyLifecycle: a key is created (duration as a string, as the reference's
// integer nanoseconds, or permanent), shown once in the format scanners find,
// authenticates, is listed, read, counted, validated, revoked with its reason kept,
// refused afterwards, and deleted; each change is an audit event, and no answer
// after the creation carries the key.
func TestAPIKeyLifecycle(t *testing.T) {
	e := newEnv(t, nil)
	create := func(body map[string]any) (map[string]any, string) {
		t.Helper()
		a := e.do(http.MethodPost, "/api/v1/api-keys", e.key, body)
		if a.Status != http.StatusCreated {
			t.Fatalf("create %v: %d %s", body, a.Status, a.Body)
		}
		d := e.dataOf(a)
		key, _ := d["key"].(string)
		if !strings.HasPrefix(key, "astro_") || len(key) != 42 || d["prefix"] != key[:10] {
			t.Fatalf("created key %q, prefix %v", key, d["prefix"])
		}
		return d, key
	}
	ci, ciKey := create(map[string]any{"orgId": e.orgID, "source": "cli", "name": "CI", "duration": "720h"})
	exp, _ := time.Parse(time.RFC3339, ci["expiresAt"].(string))
	if d := time.Until(exp); d < 719*time.Hour || d > 721*time.Hour || ci["isPermanent"] != false || ci["status"] != "active" {
		t.Fatalf("720h key: %v", ci)
	}
	nanos, _ := create(map[string]any{"orgId": "acme", "source": "ui", "duration": int64(2 * time.Hour)})
	exp, _ = time.Parse(time.RFC3339, nanos["expiresAt"].(string))
	if d := time.Until(exp); d < 119*time.Minute || d > 121*time.Minute {
		t.Fatalf("integer nanoseconds: expires in %s", d)
	}
	perm, _ := create(map[string]any{"orgId": e.orgID, "source": "cli", "isPermanent": true})
	if perm["isPermanent"] != true || perm["expiresAt"] != nil {
		t.Fatalf("permanent key: %v", perm)
	}
	for _, bad := range []any{"5s", "9000h", int64(time.Second), "soon"} {
		a := e.do(http.MethodPost, "/api/v1/api-keys", e.key, map[string]any{"orgId": e.orgID, "source": "cli", "duration": bad})
		if a.Status != http.StatusBadRequest || a.Error(t).Details["duration"] == nil {
			t.Fatalf("duration %v: %d %s", bad, a.Status, a.Body)
		}
	}

	// The new key authenticates.
	if a := e.do(http.MethodGet, "/api/v1/api-keys", ciKey, nil); a.Status != http.StatusOK || len(listData(t, a)) != 4 {
		t.Fatalf("list with the new key: %d %s", a.Status, a.Body)
	}
	a := e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/api-keys/"+ci["id"].(string), e.key, nil)
	if a.Status != http.StatusOK || e.dataOf(a)["name"] != "CI" || strings.Contains(string(a.Body), ciKey) {
		t.Fatalf("get: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/api-keys/validate", e.key, nil, "X-Validate-API-Key", ciKey)
	if v := e.dataOf(a); a.Status != http.StatusOK || v["valid"] != true || v["keyId"] != ci["id"] {
		t.Fatalf("validate: %d %s", a.Status, a.Body)
	}
	swap := "a"
	if ciKey[20] == 'a' {
		swap = "b"
	}
	typo := ciKey[:20] + swap + ciKey[21:]
	if a := e.do(http.MethodGet, "/api/v1/api-keys/validate", e.key, nil, "X-Validate-API-Key", typo); a.Status != http.StatusBadRequest {
		t.Fatalf("validate a mistyped key: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/clusters", typo, nil); a.Status != http.StatusUnauthorized {
		t.Fatalf("a mistyped key authenticates: %d", a.Status)
	}

	// Revoke with a reason: kept, audited, and the key is refused from then on.
	revoke := map[string]any{"keyId": ci["id"], "reason": "leaked in a CI log"}
	if a := e.do(http.MethodPost, "/api/v1/orgs/"+e.orgID+"/api-keys/revoke", e.key, revoke); a.Status != http.StatusOK || a.Envelope(t).Data != true {
		t.Fatalf("revoke: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/orgs/"+e.orgID+"/api-keys/revoke", e.key, revoke); a.Status != http.StatusConflict {
		t.Fatalf("second revoke: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/clusters", ciKey, nil); a.Status != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", a.Status)
	}
	got := e.dataOf(e.do(http.MethodGet, "/api/v1/orgs/acme/api-keys/"+ci["id"].(string), e.key, nil))
	if got["status"] != "revoked" || got["revokeReason"] != "leaked in a CI log" {
		t.Fatalf("revoked key reads %v", got)
	}
	a = e.do(http.MethodGet, "/api/v1/api-keys/validate", e.key, nil, "X-Validate-API-Key", ciKey)
	if v := e.dataOf(a); v["valid"] != false || v["status"] != "revoked" {
		t.Fatalf("validate a revoked key: %s", a.Body)
	}
	md := e.dataOf(e.do(http.MethodGet, "/api/v1/api-keys/metadata", e.key, nil))
	if md["activeCount"] != float64(3) || md["revokedCount"] != float64(1) || md["totalCount"] != float64(4) || md["lastRevokedAt"] == nil {
		t.Fatalf("metadata: %v", md)
	}

	if a := e.do(http.MethodDelete, "/api/v1/orgs/"+e.orgID+"/api-keys", e.key, map[string]any{"keyId": ci["id"]}); a.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/api-keys/"+ci["id"].(string), e.key, nil); a.Status != http.StatusNotFound {
		t.Fatalf("deleted key: %d", a.Status)
	}
	for _, action := range []string{"CREATE", "REVOKE", "DELETE"} {
		evs := e.auditEvents(e.orgID, action)
		found := false
		for _, ev := range evs {
			found = found || ev.EventType == "API_KEY"
			if strings.Contains(string(ev.Details), "astro_") && strings.Contains(string(ev.Details), ciKey) {
				t.Fatalf("an audit event holds the key: %s", ev.Details)
			}
		}
		if !found {
			t.Errorf("no API_KEY %s event: %+v", action, evs)
		}
	}
	if strings.Contains(e.logs.String(), ciKey) {
		t.Fatal("the key is in the logs")
	}
}

// A member who is not an admin sees and acts on their own keys only (another's is
// 404); a key never reaches another organization (403 naming its own).
func TestAPIKeysOfOthers(t *testing.T) {
	e := newEnv(t, nil)
	ctx := context.Background()
	viewer := store.User{ID: store.NewID(), Email: "viewer@example.com"}
	must(t, e.store.CreateUser(ctx, &viewer))
	must(t, e.store.AddMember(ctx, e.orgID, viewer.ID, store.RoleViewer))
	viewerKey := e.newKey(e.orgID, viewer.ID, func(*store.APIKey) {})
	admins := listData(t, e.do(http.MethodGet, "/api/v1/api-keys", e.key, nil))
	adminKeyID := admins[0].(map[string]any)["id"].(string)
	if a := e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/api-keys/"+adminKeyID, viewerKey, nil); a.Status != http.StatusNotFound {
		t.Fatalf("viewer reads the admin's key: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/orgs/"+e.orgID+"/api-keys/revoke", viewerKey, map[string]any{"keyId": adminKeyID}); a.Status != http.StatusNotFound && a.Status != http.StatusForbidden {
		t.Fatalf("viewer revokes the admin's key: %d %s", a.Status, a.Body)
	}
	viewers := listData(t, e.do(http.MethodGet, "/api/v1/api-keys", viewerKey, nil))
	if len(viewers) != 1 {
		t.Fatalf("the viewer lists %d keys, want their own", len(viewers))
	}
	viewerKeyID := viewers[0].(map[string]any)["id"].(string)
	if a := e.do(http.MethodGet, "/api/v1/orgs/"+e.orgID+"/api-keys/"+viewerKeyID, e.key, nil); a.Status != http.StatusOK {
		t.Fatalf("admin reads a member's key: %d %s", a.Status, a.Body)
	}
	otherOrg, _, otherKey := e.newOrg("globex", store.RoleAdmin)
	if a := e.do(http.MethodGet, "/api/v1/orgs/"+otherOrg+"/api-keys/"+adminKeyID, e.key, nil); a.Status != http.StatusForbidden && a.Status != http.StatusNotFound {
		t.Fatalf("a key of acme reads in globex: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodPost, "/api/v1/api-keys", otherKey, map[string]any{"orgId": e.orgID, "source": "cli"}); a.Status != http.StatusNotFound {
		t.Fatalf("a key of globex creates a key in acme: %d %s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/api-keys/validate", otherKey, nil, "X-Validate-API-Key", e.key); a.Status != http.StatusNotFound {
		t.Fatalf("globex validates acme's key: %d %s", a.Status, a.Body)
	}
}

// enterpriseOrg creates an organization on the enterprise plan with an admin, and
// returns its ID, the admin's ID and key.
func (e *env) enterpriseOrg(name string) (orgID, userID, key string) {
	e.t.Helper()
	ctx := context.Background()
	org := store.Organization{ID: store.NewID(), Name: name, Plan: "enterprise"}
	user := store.User{ID: store.NewID(), Email: name + "-admin@example.com"}
	must(e.t, e.store.CreateOrganization(ctx, &org))
	must(e.t, e.store.CreateUser(ctx, &user))
	must(e.t, e.store.AddMember(ctx, org.ID, user.ID, store.RoleAdmin))
	return org.ID, user.ID, e.newKey(org.ID, user.ID, func(*store.APIKey) {})
}

// TestAuditGroup: gated by plan (403 on free) and role; lists with filters and
// pages, gets one (another organization's is 404), exports CSV and JSON, counts.
func TestAuditGroup(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(http.MethodGet, "/api/v1/audit/events", e.key, nil)
	if a.Status != http.StatusForbidden || !strings.Contains(a.Error(t).Error, "enterprise") {
		t.Fatalf("audit on the free plan: %d %s", a.Status, a.Body)
	}
	orgID, userID, key := e.enterpriseOrg("initech")
	ctx := context.Background()
	base := time.Now().UTC().Add(-48 * time.Hour)
	for i := range 7 {
		must(t, e.store.RecordAudit(ctx, &store.AuditEvent{OrgID: orgID, UserID: userID, EventType: "CLUSTER",
			Action: []string{"CREATE", "DELETE"}[i%2], Outcome: store.OutcomeSuccess, ResourceID: "c" + strconv.Itoa(i),
			Source: "api", CreatedAt: base.Add(time.Duration(i) * time.Hour)}))
	}
	a = e.do(http.MethodGet, "/api/v1/audit/events?eventType=CLUSTER&action=CREATE&pageSize=2&page=2", key, nil)
	page := e.dataOf(a)
	if a.Status != http.StatusOK || page["total"] != float64(4) || page["totalPages"] != float64(2) || len(page["events"].([]any)) != 2 {
		t.Fatalf("filtered page: %d %s", a.Status, a.Body)
	}
	day := base.Format(time.DateOnly)
	a = e.do(http.MethodGet, "/api/v1/audit/events?eventType=CLUSTER&startDate="+day+"&endDate="+day, key, nil)
	if n := e.dataOf(a)["total"].(float64); n < 1 || n > 7 {
		t.Fatalf("one day: %s", a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/audit/events?startDate=yesterday", key, nil); a.Status != http.StatusBadRequest || a.Error(t).Details["query.startDate"] == nil {
		t.Fatalf("bad date: %d %s", a.Status, a.Body)
	}
	first := e.dataOf(e.do(http.MethodGet, "/api/v1/audit/events?pageSize=1", key, nil))["events"].([]any)[0].(map[string]any)
	if a := e.do(http.MethodGet, "/api/v1/audit/events/"+first["id"].(string), key, nil); a.Status != http.StatusOK {
		t.Fatalf("get: %d %s", a.Status, a.Body)
	}
	_, _, otherKey := e.enterpriseOrg("globex")
	if a := e.do(http.MethodGet, "/api/v1/audit/events/"+first["id"].(string), otherKey, nil); a.Status != http.StatusNotFound {
		t.Fatalf("another organization's event: %d %s", a.Status, a.Body)
	}

	a = e.do(http.MethodGet, "/api/v1/audit/export?format=csv&eventType=CLUSTER", key, nil)
	if a.Status != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(a.Header.Get("Content-Disposition"), ".csv") {
		t.Fatalf("csv export: %d %v", a.Status, a.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(a.Body))).ReadAll()
	if err != nil || len(rows) != 8 {
		t.Fatalf("csv rows %d: %v", len(rows), err)
	}
	a = e.do(http.MethodGet, "/api/v1/audit/export", key, nil)
	var exported struct{ Data []map[string]any }
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &exported) != nil || len(exported.Data) < 7 {
		t.Fatalf("json export: %d %s", a.Status, a.Body)
	}
	for _, period := range []string{"7d", "30d", "90d"} {
		a := e.do(http.MethodGet, "/api/v1/audit/stats?period="+period, key, nil)
		st := e.dataOf(a)
		if a.Status != http.StatusOK || st["period"] != period || st["totalEvents"].(float64) < 7 ||
			st["byAction"].(map[string]any)["CREATE"] != float64(4) {
			t.Fatalf("stats %s: %d %s", period, a.Status, a.Body)
		}
	}
	// An editor is refused, even on the enterprise plan.
	ctx2 := context.Background()
	editor := store.User{ID: store.NewID(), Email: "editor@example.com"}
	must(t, e.store.CreateUser(ctx2, &editor))
	must(t, e.store.AddMember(ctx2, orgID, editor.ID, store.RoleEditor))
	if a := e.do(http.MethodGet, "/api/v1/audit/stats", e.newKey(orgID, editor.ID, func(*store.APIKey) {}), nil); a.Status != http.StatusForbidden {
		t.Fatalf("editor reads the audit log: %d", a.Status)
	}
}

// Every mutating call is an audit event, even one the handler refuses before it
// records anything; the address is the connection's, whatever X-Forwarded-For says.
func TestMutatingCallsAreAuditedWithTheConnectionsAddress(t *testing.T) {
	e := newEnv(t, nil)
	a := e.do(http.MethodPost, "/api/v1/clusters", e.key, map[string]any{"kind": "K8sCluster"}, "X-Forwarded-For", "6.6.6.6", "User-Agent", "probe/1")
	if a.Status != http.StatusBadRequest {
		t.Fatalf("bad deploy: %d %s", a.Status, a.Body)
	}
	evs := e.auditEvents(e.orgID, "CREATE")
	if len(evs) != 1 || evs[0].EventType != "CLUSTER" || evs[0].Outcome != store.OutcomeFailure || evs[0].TraceID != a.Header.Get("X-Request-ID") ||
		evs[0].IPAddress != "192.0.2.1" || evs[0].UserAgent != "probe/1" || !strings.Contains(strings.ToLower(string(evs[0].Details)), "deploycluster") {
		t.Fatalf("audit of a refused deploy: %+v", evs)
	}
	// The key's first use from its address was an event too, once.
	e.do(http.MethodGet, "/api/v1/clusters", e.key, nil)
	if evs := e.auditEvents(e.orgID, "NEW_ADDRESS"); len(evs) != 1 || evs[0].IPAddress != "192.0.2.1" {
		t.Fatalf("new address events: %+v", evs)
	}
}

// Behind a trusted proxy, X-Forwarded-For names the client, and a key used from a
// new address is an audit event; a revoked key's use is a DENIED sign-in.
func TestTrustedProxyAddressAndKeyEvents(t *testing.T) {
	e := newEnvWith(t, nil, server.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	for _, ip := range []string{"203.0.113.5", "203.0.113.5", "198.51.100.20"} {
		if a := e.do(http.MethodGet, "/api/v1/clusters", e.key, nil, "X-Forwarded-For", ip); a.Status != http.StatusOK {
			t.Fatalf("list: %d", a.Status)
		}
	}
	evs := e.auditEvents(e.orgID, "NEW_ADDRESS")
	if len(evs) != 2 {
		t.Fatalf("new addresses: %+v", evs)
	}
	ips := map[string]bool{evs[0].IPAddress: true, evs[1].IPAddress: true}
	if !ips["203.0.113.5"] || !ips["198.51.100.20"] {
		t.Fatalf("addresses %v", ips)
	}
	revoked := e.newKey(e.orgID, e.userID, func(k *store.APIKey) { now := time.Now(); k.RevokedAt = &now })
	for range 3 {
		if a := e.do(http.MethodGet, "/api/v1/clusters", revoked, nil, "X-Forwarded-For", "203.0.113.9"); a.Status != http.StatusUnauthorized {
			t.Fatalf("revoked key: %d", a.Status)
		}
	}
	if evs := e.auditEvents(e.orgID, "SIGN_IN"); len(evs) != 1 || evs[0].Outcome != store.OutcomeDenied || evs[0].IPAddress != "203.0.113.9" {
		t.Fatalf("refused sign-ins (one per address): %+v", evs)
	}
}

// Refused unsubscribe tokens from ever new addresses cannot flood the organization's
// audit log: the events are capped.
func TestRefusedTokensCannotFloodTheAuditLog(t *testing.T) {
	signer, err := approval.NewSigner([]byte("signing-key-signing-key-signing-key!"))
	must(t, err)
	e := newEnvWith(t, nil, server.Options{Signer: signer, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	expired, err := signer.Sign(approval.Claims{OrgID: e.orgID, Purpose: approval.PurposeUnsubscribe, Topic: "cluster.deployed",
		Channel: "email", Recipient: "ops@example.com", ExpiresAt: time.Now().Add(-time.Hour)})
	must(t, err)
	for i := range 300 {
		a := e.do(http.MethodPost, "/api/v1/notifications/unsubscribe?token="+expired, "", nil,
			"X-Forwarded-For", "10."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250)+".1")
		if a.Status != http.StatusBadRequest {
			t.Fatalf("expired token: %d %s", a.Status, a.Body)
		}
	}
	if n := len(e.auditEvents(e.orgID, "TOKEN_REFUSED")); n == 0 || n > 100 {
		t.Fatalf("%d refused-token events from 300 requests, want some and at most the flood guard's burst", n)
	}
}

// With low limits, a client over its rate gets 429 with Retry-After and the error
// envelope, on an authenticated route and on a public one.
func TestRateLimits(t *testing.T) {
	e := newEnvWith(t, nil, server.Options{RateLimits: &ratelimit.Limits{PerIP: 0.1, BurstIP: 3, PerKey: 0.1, BurstKey: 2}})
	codes := []int{}
	for range 3 {
		codes = append(codes, e.do(http.MethodGet, "/api/v1/clusters", e.key, nil).Status)
	}
	if codes[0] != http.StatusOK || codes[1] != http.StatusOK || codes[2] != http.StatusTooManyRequests {
		t.Fatalf("per-key limit: %v", codes)
	}
	e.do(http.MethodGet, "/api/v1/pricing", "", nil) // the third request of this address: the last of its burst
	a := e.do(http.MethodGet, "/api/v1/pricing", "", nil)
	if a.Status != http.StatusTooManyRequests {
		t.Fatalf("per-IP limit on a public route: %d", a.Status)
	}
	if ra, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", a.Header.Get("Retry-After"))
	}
	if env := a.Error(t); env.Code != "TOO_MANY_REQUESTS" {
		t.Fatalf("error code %q", env.Code)
	}
}
