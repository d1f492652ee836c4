package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"go.temporal.io/sdk/worker"
	"gorm.io/gorm"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/store"
)

// tokenCloud is the simulated cloud whose kubeconfigs carry a bearer token, as real
// clouds' do: the secret the API must hand over without it touching a workflow's
// history or a log.
type tokenCloud struct {
	cloud.Provider
	token string
}

func (p tokenCloud) Kubeconfig(ctx context.Context, c cloud.Call, ref cloud.ClusterRef) (string, error) {
	if _, err := p.Provider.Kubeconfig(ctx, c, ref); err != nil {
		return "", err
	}
	return "apiVersion: v1\nkind: Config\nclusters:\n- name: " + ref.ExternalID + "\n  cluster:\n    server: " + ref.Endpoint +
		"\ncontexts:\n- name: astro\n  context:\n    cluster: " + ref.ExternalID + "\n    user: astro\ncurrent-context: astro\n" +
		"users:\n- name: astro\n  user:\n    token: " + p.token + "\n", nil
}

// A managed cluster's kubeconfig comes back in the generate answer and again from
// GET, to the user who asked only; its duration is taken in both forms and bounded;
// the file is sealed in the store and never in the workflow's history or the logs.
// A selfHosted cluster's is generated in the background: 202, then GET.
func TestKubeconfigIsHandedToWhoAskedOnly(t *testing.T) {
	dev := testtemporal.Start(t)
	tc := dev.Client()
	box, err := secrets.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	must(t, err)
	e := newEnvWith(t, tc, server.Options{Box: box})
	const token = "k8s-aws-v1.c2VjcmV0LXRva2VuLW9mLXRoZS10ZXN0"
	e.startWorker(tc, cloud.RegistryOf(tokenCloud{Provider: sim.New(0), token: token}), worker.Options{})

	for _, name := range []string{"kc", "kc-self"} {
		m := eksManifest(name)
		if name == "kc-self" {
			spec := m["spec"].(map[string]any)
			spec["provisioner"] = map[string]any{"type": "selfHosted", "selfHosted": map[string]any{
				"accountId": "123456789012", "bucketName": "astro-state", "credentials": map[string]any{"type": "dynamic"}}}
			spec["clusterSpec"].(map[string]any)["controlPlane"] = map[string]any{"nodeGroup": map[string]any{
				"name": "control-plane", "machineTypes": []any{"t3.medium"}}}
		}
		if a := e.do(http.MethodPost, "/api/v1/clusters", e.key, m); a.Status != http.StatusAccepted {
			t.Fatalf("deploy %s: %d %s", name, a.Status, a.Body)
		}
		e.waitStatus(t, name, "READY")
	}
	body := func(name string, duration any) map[string]any {
		return map[string]any{"clusterName": name, "credentials": map[string]any{"type": "dynamic"}, "duration": duration}
	}
	kubeconfigOf := func(a answer) (string, time.Time) {
		t.Helper()
		items, ok := a.Envelope(t).Data.([]any)
		if !ok || len(items) != 1 {
			t.Fatalf("answer data is not one kubeconfig: %s", a.Body)
		}
		v := items[0].(map[string]any)
		exp, err := time.Parse(time.RFC3339, v["expiresAt"].(string))
		must(t, err)
		if v["context"] != "astro" {
			t.Errorf("context = %v, want astro", v["context"])
		}
		return v["kubeconfig"].(string), exp
	}

	a := e.do(http.MethodPost, "/api/v1/clusters/kc/kubeconfig", e.key, body("kc", "2h"))
	if a.Status != http.StatusOK {
		t.Fatalf("generate: %d %s", a.Status, a.Body)
	}
	kc, exp := kubeconfigOf(a)
	if !strings.Contains(kc, "token: "+token) || !strings.Contains(kc, "server: https://") {
		t.Fatalf("kubeconfig is not the provider's: %s", kc)
	}
	if d := time.Until(exp); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
		t.Errorf("expires in %v, want about 2h", d)
	}
	a = e.do(http.MethodPost, "/api/v1/clusters/kc/kubeconfig", e.key, body("kc", int64(30*time.Minute)))
	if a.Status != http.StatusOK {
		t.Fatalf("generate with nanoseconds: %d %s", a.Status, a.Body)
	}
	if _, exp := kubeconfigOf(a); time.Until(exp) > 31*time.Minute {
		t.Errorf("a 30m kubeconfig expires at %v", exp)
	}
	if a := e.do(http.MethodGet, "/api/v1/clusters/kc/kubeconfig", e.key, nil); a.Status != http.StatusOK {
		t.Fatalf("get: %d %s", a.Status, a.Body)
	} else if got, exp := kubeconfigOf(a); got != kc || time.Until(exp) > 31*time.Minute {
		t.Errorf("GET did not answer the newest kubeconfig (expires %v)", exp)
	}

	for _, tc := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"too short", body("kc", "1m"), "duration"},
		{"too long", body("kc", "25h"), "duration"},
		{"not a duration", body("kc", "soon"), "duration"},
		{"another cluster's name", body("other", "1h"), "clusterName"},
	} {
		a := e.do(http.MethodPost, "/api/v1/clusters/kc/kubeconfig", e.key, tc.body)
		if a.Status != http.StatusBadRequest || !strings.Contains(string(a.Body), tc.field) {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.name, a.Status, a.Body, tc.field)
		}
	}

	// Another member of the organization has none of their own; a viewer may not
	// ask; another organization does not see the cluster.
	_, editor := e.addMember(store.RoleEditor)
	if a := e.do(http.MethodGet, "/api/v1/clusters/kc/kubeconfig", editor, nil); a.Status != http.StatusNotFound {
		t.Errorf("another member's GET: %d %s, want 404", a.Status, a.Body)
	}
	_, viewer := e.addMember(store.RoleViewer)
	if a := e.do(http.MethodPost, "/api/v1/clusters/kc/kubeconfig", viewer, body("kc", "1h")); a.Status != http.StatusForbidden {
		t.Errorf("viewer's generate: %d %s, want 403", a.Status, a.Body)
	}
	_, _, otherKey := e.newOrg("globex", store.RoleAdmin)
	if a := e.do(http.MethodPost, "/api/v1/clusters/kc/kubeconfig", otherKey, body("kc", "1h")); a.Status != http.StatusNotFound {
		t.Errorf("another organization's generate: %d %s, want 404", a.Status, a.Body)
	}

	// selfHosted: in the background.
	a = e.do(http.MethodPost, "/api/v1/clusters/kc-self/kubeconfig", e.key, body("kc-self", "1h"))
	if a.Status != http.StatusAccepted {
		t.Fatalf("selfHosted generate: %d %s, want 202", a.Status, a.Body)
	}
	got := waitFor(t, 20*time.Second, func() (answer, bool) {
		a := e.do(http.MethodGet, "/api/v1/clusters/kc-self/kubeconfig", e.key, nil)
		return a, a.Status != http.StatusAccepted
	})
	if got.Status != http.StatusOK {
		t.Fatalf("selfHosted GET: %d %s", got.Status, got.Body)
	}

	// The token is sealed in the store and absent from every history and log.
	db, err := gorm.Open(sqlite.Open(e.dbPath), &gorm.Config{})
	must(t, err)
	var grants []store.KubeconfigGrant
	must(t, db.Find(&grants).Error)
	if len(grants) != 3 {
		t.Fatalf("%d grants recorded, want 3", len(grants))
	}
	for _, g := range grants {
		if g.Sealed == "" || strings.Contains(g.Sealed, token) {
			t.Errorf("grant %s is not sealed: %q", g.ID, g.Sealed)
		}
		scanHistory(t, e, g.ID, token)
	}
	recordHistory(t, tc, grants[0].ID, "kubeconfig-issued")
	if strings.Contains(e.logs.String(), token) {
		t.Error("the API's log holds the token")
	}
}
