package activities_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/ghapp"
	"github.com/astropulse/astroplane/ghapp/ghfake"
	"github.com/astropulse/astroplane/internal/testargocd"
	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// repoFixture is an organization with a cluster (a real kube-apiserver with Argo
// CD's CRD and the test reconciler), a profile placing applications there, and the
// fake GitHub's installation 42 of account acme (repositories web and api).
type repoFixture struct {
	ctx     context.Context
	st      *store.Store
	org     store.Organization
	cluster store.Cluster
	gh      *ghfake.Server
	app     *ghapp.App
	apps    *activities.Apps
	typed   kubernetes.Interface
	dyn     dynamic.Interface
}

func newRepoFixture(t *testing.T, kube bool) *repoFixture {
	t.Helper()
	f := &repoFixture{ctx: context.Background()}
	var err error
	f.st, err = store.Open(f.ctx, "sqlite://"+filepath.Join(t.TempDir(), "astro.db"), nil)
	must(t, err)
	t.Cleanup(func() { _ = f.st.Close() })
	f.org = store.Organization{ID: store.NewID(), Name: "acme"}
	must(t, f.st.CreateOrganization(f.ctx, &f.org))
	f.gh = ghfake.New(7)
	t.Cleanup(f.gh.Close)
	f.gh.AddInstallation(&ghfake.Installation{ID: 42, Account: "acme", AccountType: "Organization",
		Permissions: map[string]string{"contents": "write", "metadata": "read"},
		Repos:       []*ghfake.Repo{{ID: 1001, Owner: "acme", Name: "web"}, {ID: 1002, Owner: "acme", Name: "api"}}})
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(f.gh.Key)})
	f.app, err = ghapp.NewWithKey(ghapp.Config{AppID: 7, APIURL: f.gh.URL, WebHost: "github.com"}, pemKey, nil)
	must(t, err)
	f.apps = &activities.Apps{Store: f.st, GitHub: f.app, ChartRepoURL: "https://astro.example.com/api/v1/charts", Poll: 50 * time.Millisecond}
	must(t, f.st.CreateAppProfile(f.ctx, &store.AppProfile{OrgID: f.org.ID, Name: "prod", ClusterName: "prod", AvailabilityTier: "basic"}))
	if !kube {
		return f
	}
	k := testkube.Start(t)
	cfg := k.RESTConfig()
	testargocd.InstallApplicationCRD(t, cfg)
	f.typed, f.dyn = kubernetes.NewForConfigOrDie(cfg), dynamic.NewForConfigOrDie(cfg)
	_, err = f.typed.CoreV1().Namespaces().Create(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}, metav1.CreateOptions{})
	must(t, err)
	testargocd.StartReconciler(t, cfg, "argocd")
	state, err := json.Marshal(activities.ClusterSpec{Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-west-2"})
	must(t, err)
	f.cluster = store.Cluster{ID: store.NewID(), OrgID: f.org.ID, Name: "prod", Provider: "aws", ProvisionerType: "eks", Region: "us-west-2",
		Status: store.ClusterReady, State: state, ExternalID: "prod-cp", Endpoint: k.URL}
	must(t, f.st.CreateClusterWithOperation(f.ctx, &f.cluster, &store.Operation{ID: "op-prod", Type: "deploy", Status: store.OperationSucceeded, WorkflowID: "op-prod"}))
	prov := &kubeconfigProvider{Provider: sim.New(0), kubeconfig: string(k.Kubeconfig())}
	f.apps.Clusters = &activities.KubeClients{Cluster: &activities.Cluster{Store: f.st, Clouds: cloud.RegistryOf(prov)}}
	return f
}

func (f *repoFixture) link(t *testing.T, orgID string) {
	t.Helper()
	must(t, f.st.CreateGithubInstallation(f.ctx, &store.GithubInstallation{OrgID: orgID, InstallationID: 42, AccountLogin: "acme",
		AccountType: "Organization", SyncStatus: "SYNCED"}))
}

func (f *repoFixture) repoApp(t *testing.T, name, repoURL string) store.Application {
	t.Helper()
	spec := activities.AppSpec{Name: name, Namespace: name, Source: argocd.Source{Type: argocd.SourceRepository,
		Repository: &argocd.RepositorySource{RepoURL: repoURL, Path: "deploy"}}}
	desired, err := json.Marshal(spec)
	must(t, err)
	a := store.Application{OrgID: f.org.ID, Name: name, Profile: "prod", SourceType: argocd.SourceRepository, Namespace: name,
		SyncType: "auto", Desired: desired, Status: store.AppPending}
	must(t, f.st.CreateApplication(f.ctx, &a))
	return a
}

// A private repository's application, end to end on a real Temporal dev server,
// kube-apiserver and the fake GitHub: the deploy writes Argo CD's repository
// credential (a token of that repository only, contents read-only, its expiry
// annotated) before the Application, which names the repository's https URL
// whatever form the source gave; the refresher is started by its fixed ID; the
// token is in no event of either history; a second application from the
// repository signals the running refresher; a public repository deploys as before;
// a refresh re-mints (password and expiry change); the refresher workflow, its
// time driven by the test environment, re-mints at 45 minutes and, the last
// application deleted, removes the Secret at 90 and ends saying why.
func TestPrivateRepositoryCredential(t *testing.T) {
	f := newRepoFixture(t, true)
	f.link(t, f.org.ID)
	srv := testtemporal.Start(t)
	tc := srv.Client()
	w := worker.New(tc, "repo-test", worker.Options{})
	workflows.RegisterWorkflows(w)
	w.RegisterActivity(f.apps)
	must(t, w.Start())
	t.Cleanup(w.Stop)
	run := func(id string, wf any, in workflows.AppOperationInput) error {
		run, err := tc.ExecuteWorkflow(f.ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "repo-test"}, wf, in)
		must(t, err)
		return run.Get(f.ctx, nil)
	}

	web := f.repoApp(t, "web", "git@github.com:Acme/Web.git")
	if err := run("deploy-web", workflows.DeployApplication, workflows.AppOperationInput{OrgID: f.org.ID, AppID: web.ID, OperationID: "op-web", Wait: time.Minute}); err != nil {
		t.Fatal(err)
	}
	const url = "https://github.com/acme/web.git"
	secrets := f.typed.CoreV1().Secrets("argocd")
	name := argocd.RepoCredentialName(url)
	sec, err := secrets.Get(f.ctx, name, metav1.GetOptions{})
	must(t, err)
	if sec.Labels[argocd.LabelSecretType] != "repository" || string(sec.Data["url"]) != url || string(sec.Data["username"]) != "x-access-token" ||
		string(sec.Data["type"]) != "git" {
		t.Fatalf("credential Secret %v %v", sec.Labels, sec.Data)
	}
	token := string(sec.Data["password"])
	issued, ok := f.gh.Token(token)
	if !ok || !slices.Equal(issued.Repos, []int64{1001}) || !maps.Equal(issued.Permissions, map[string]string{"contents": "read"}) {
		t.Fatalf("the Secret's token is not web's read-only token: %+v %v", issued, ok)
	}
	if exp := sec.Annotations[argocd.AnnotationExpiresAt]; exp != issued.ExpiresAt.UTC().Format(time.RFC3339) {
		t.Fatalf("expiry annotation %q, token expires %s", exp, issued.ExpiresAt)
	}
	u, err := f.dyn.Resource(argocd.GVR).Namespace("argocd").Get(f.ctx, "web", metav1.GetOptions{})
	must(t, err)
	if repo, _, _ := unstructured.NestedString(u.Object, "spec", "source", "repoURL"); repo != url {
		t.Fatalf("the Application names %q, its credential %q", repo, url)
	}
	if sec.CreationTimestamp.IsZero() || sec.CreationTimestamp.After(u.GetCreationTimestamp().Time) {
		t.Fatalf("the credential (%s) was not written before the Application (%s)", sec.CreationTimestamp, u.GetCreationTimestamp())
	}
	refresher := workflows.RepoCredentialWorkflowID(f.org.ID, f.cluster.ID, url)
	desc, err := tc.DescribeWorkflow(f.ctx, refresher, "")
	must(t, err)
	if st := desc.RawResponse.GetWorkflowExecutionInfo().GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("refresher %s is %s", refresher, st)
	}
	for _, id := range []string{"deploy-web", refresher} {
		assertNoSecretInHistory(t, tc, id, token)
	}
	recordHistory(t, tc, "deploy-web", "app-deploy-private-repo")
	if n := len(f.gh.Issued()); n == 0 {
		t.Fatal("no token minted")
	}

	// A second application from the same repository (another form of its URL):
	// the running refresher is signalled, not started again; the one Secret is
	// rewritten with a new token.
	web2 := f.repoApp(t, "web2", "https://github.com/acme/web")
	if err := run("deploy-web2", workflows.DeployApplication, workflows.AppOperationInput{OrgID: f.org.ID, AppID: web2.ID, OperationID: "op-web2", Wait: time.Minute}); err != nil {
		t.Fatal(err)
	}
	desc2, err := tc.DescribeWorkflow(f.ctx, refresher, "")
	must(t, err)
	if desc2.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId() != desc.RawResponse.GetWorkflowExecutionInfo().GetExecution().GetRunId() ||
		desc2.RawResponse.GetWorkflowExecutionInfo().GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("the refresher was replaced or ended: %v", desc2.RawResponse.GetWorkflowExecutionInfo())
	}
	if !historyHas(t, tc, "deploy-web2", enums.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED) {
		t.Fatal("the second deploy did not signal the running refresher")
	}
	sec, err = secrets.Get(f.ctx, name, metav1.GetOptions{})
	must(t, err)
	if token2 := string(sec.Data["password"]); token2 == token {
		t.Fatal("the second deploy did not write a fresh token")
	} else {
		for _, id := range []string{"deploy-web2", refresher} {
			assertNoSecretInHistory(t, tc, id, token2)
		}
		recordHistory(t, tc, "deploy-web2", "app-deploy-private-repo-refresher-running")
	}

	// A repository of no linked installation: no credential, the URL as given.
	public := f.repoApp(t, "public", "https://github.com/argoproj/argocd-example-apps")
	if err := run("deploy-public", workflows.DeployApplication, workflows.AppOperationInput{OrgID: f.org.ID, AppID: public.ID, OperationID: "op-public", Wait: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Get(f.ctx, argocd.RepoCredentialName("https://github.com/argoproj/argocd-example-apps.git"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a public repository got a credential: %v", err)
	}
	u, err = f.dyn.Resource(argocd.GVR).Namespace("argocd").Get(f.ctx, "public", metav1.GetOptions{})
	must(t, err)
	if repo, _, _ := unstructured.NestedString(u.Object, "spec", "source", "repoURL"); repo != "https://github.com/argoproj/argocd-example-apps" {
		t.Fatalf("public Application names %q", repo)
	}

	// Refresh: a new token, a later expiry (the fake's expiries are whole seconds).
	ref := activities.RepoCredentialRef{OrgID: f.org.ID, ClusterID: f.cluster.ID, Repo: activities.AppRepository{URL: url}}
	waitNextSecond(issued.ExpiresAt)
	st, err := f.apps.RefreshRepoCredential(f.ctx, ref)
	if err != nil || !st.Written || !st.ExpiresAt.After(issued.ExpiresAt) {
		t.Fatalf("refresh %+v %v (first token expires %s)", st, err, issued.ExpiresAt)
	}
	sec, err = secrets.Get(f.ctx, name, metav1.GetOptions{})
	must(t, err)
	fresh := string(sec.Data["password"])
	if it, ok := f.gh.Token(fresh); fresh == token || !ok || !slices.Equal(it.Repos, []int64{1001}) ||
		sec.Annotations[argocd.AnnotationExpiresAt] != st.ExpiresAt.Format(time.RFC3339) {
		t.Fatalf("after refresh: same token %v, scope %+v, expiry %q want %s", fresh == token, it, sec.Annotations[argocd.AnnotationExpiresAt], st.ExpiresAt)
	}

	// The refresher itself, its time driven by the test environment, with the real
	// activities: at 45 minutes it re-mints; at an hour web is deleted and the
	// credential stays (web2 uses it); at 90 minutes it re-mints; at 100 minutes web2,
	// the last application from the repository, is deleted and its delete removes
	// the credential at once; at 135 minutes the refresher finds nothing to keep and
	// ends.
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(workflows.RefreshRepoCredentials)
	env.RegisterActivity(f.apps)
	env.SetTestTimeout(time.Minute)
	minted := len(f.gh.Issued())
	var afterFirst, afterSecond int
	env.RegisterDelayedCallback(func() {
		afterFirst = len(f.gh.Issued())
		if err := run("delete-web", workflows.DeleteApplication, workflows.AppOperationInput{OrgID: f.org.ID, AppID: web.ID, OperationID: "op-del", ClusterID: f.cluster.ID}); err != nil {
			t.Error(err)
		}
		if _, err := secrets.Get(f.ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("the credential after deleting web, web2 still using it: %v", err)
		}
		recordHistory(t, tc, "delete-web", "app-delete-private-repo-still-used")
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		afterSecond = len(f.gh.Issued())
		if err := run("delete-web2", workflows.DeleteApplication, workflows.AppOperationInput{OrgID: f.org.ID, AppID: web2.ID, OperationID: "op-del2", ClusterID: f.cluster.ID}); err != nil {
			t.Error(err)
		}
		if _, err := secrets.Get(f.ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the credential right after the last application's delete: %v", err)
		}
		recordHistory(t, tc, "delete-web2", "app-delete-private-repo-last")
	}, 100*time.Minute)
	env.ExecuteWorkflow(workflows.RefreshRepoCredentials, workflows.RepoCredentialInput{OrgID: f.org.ID, ClusterID: f.cluster.ID, RepoURL: url})
	var reason string
	if err := env.GetWorkflowResult(&reason); err != nil || !strings.Contains(reason, "no application") {
		t.Fatalf("refresher ended with %q %v", reason, err)
	}
	// Minted at 45 minutes, at 90 (web2 still there), none at 135.
	if afterFirst != minted+1 || afterSecond != minted+2 || len(f.gh.Issued()) != afterSecond {
		t.Fatalf("tokens minted: %d before, %d at 1 h, %d at 100 min, %d at the end", minted, afterFirst, afterSecond, len(f.gh.Issued()))
	}
	if _, err := secrets.Get(f.ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the credential after the last application's delete: %v", err)
	}

	// An application deploying from it, not placed yet, keeps it (a deploy about to
	// write it); the installation unlinked, the refresh removes it; the cluster
	// gone, the refresh ends without touching it.
	web3 := f.repoApp(t, "web3", "acme/web")
	must(t, f.st.UpdateApplication(f.ctx, f.org.ID, web3.ID, map[string]any{"status": store.AppDeploying}))
	if st, err := f.apps.RefreshRepoCredential(f.ctx, ref); err != nil || !st.Written {
		t.Fatalf("refresh with an application deploying: %+v %v", st, err)
	}
	must(t, f.st.DeleteGithubInstallation(f.ctx, f.org.ID, 42))
	if st, err := f.apps.RefreshRepoCredential(f.ctx, ref); err != nil || st.Written || !strings.Contains(st.Reason, "no GitHub installation") {
		t.Fatalf("refresh after the unlink: %+v %v", st, err)
	}
	if _, err := secrets.Get(f.ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the credential after the installation's unlink: %v", err)
	}
	f.link(t, f.org.ID)
	must(t, f.st.SetClusterStatus(f.ctx, f.org.ID, f.cluster.ID, store.ClusterDeleting, ""))
	minted = len(f.gh.Issued())
	if st, err := f.apps.RefreshRepoCredential(f.ctx, ref); err != nil || st.Written || st.Reason != "the cluster is gone" || len(f.gh.Issued()) != minted {
		t.Fatalf("refresh on a deleting cluster: %+v %v", st, err)
	}
}

// recordHistory writes workflow id's (closed) history as name.json into
// $ASTRO_RECORD_HISTORIES, as make record-histories does (server/record_test.go);
// unset, nothing.
func recordHistory(t *testing.T, tc client.Client, id, name string) {
	t.Helper()
	dir := os.Getenv("ASTRO_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	var events []*history.HistoryEvent
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		must(t, err)
		events = append(events, ev)
	}
	raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&history.History{Events: events})
	must(t, err)
	f, err := os.OpenFile(filepath.Join(dir, name+".json"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		t.Fatalf("record %s (recorded histories are never overwritten): %v", name, err)
	}
	_, err = f.Write(raw)
	must(t, errors.Join(err, f.Close()))
}

// historyHas reports whether workflow id's history has an event of type typ.
func historyHas(t *testing.T, tc client.Client, id string, typ enums.EventType) bool {
	t.Helper()
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		must(t, err)
		if ev.EventType == typ {
			return true
		}
	}
	return false
}

func waitNextSecond(after time.Time) {
	for !time.Now().Add(time.Hour).Truncate(time.Second).After(after) {
		time.Sleep(20 * time.Millisecond)
	}
}

// assertNoSecretInHistory fails when the token, raw or base64, is in any event of
// workflow id's history.
func assertNoSecretInHistory(t *testing.T, tc client.Client, id, token string) {
	t.Helper()
	it := tc.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	n := 0
	for it.HasNext() {
		ev, err := it.Next()
		must(t, err)
		n++
		assertEventClean(t, id, ev, token)
	}
	if n < 3 {
		t.Fatalf("history of %s has %d events", id, n)
	}
}

func assertEventClean(t *testing.T, id string, ev *history.HistoryEvent, token string) {
	t.Helper()
	b, err := protojson.Marshal(ev)
	must(t, err)
	for _, needle := range []string{token, base64.StdEncoding.EncodeToString([]byte(token)), base64.StdEncoding.EncodeToString([]byte(`"` + token))} {
		if strings.Contains(string(b), needle) {
			t.Fatalf("the token is in event %d (%s) of %s", ev.EventId, ev.EventType, id)
		}
	}
}

// Whose repository it is: an installation linked to another organization gives
// this one nothing (no token, not even a GitHub request); a repository of no
// installation, on another host or not reached by the linked installation is
// public; a linked one resolves to its installation and https URL in every form;
// without a GitHub App on the worker a linked one fails, non-retryable, saying so.
func TestResolveAppRepository(t *testing.T) {
	f := newRepoFixture(t, false)
	other := store.Organization{ID: store.NewID(), Name: "other"}
	must(t, f.st.CreateOrganization(f.ctx, &other))
	f.link(t, other.ID)
	resolve := func(raw string) (activities.AppRepository, error) {
		a := f.repoApp(t, "app-"+strings.ToLower(store.NewID()[:8]), raw)
		return f.apps.ResolveAppRepository(f.ctx, activities.AppRef{OrgID: f.org.ID, AppID: a.ID})
	}
	r, err := resolve("https://github.com/acme/web")
	if err != nil || r != (activities.AppRepository{}) {
		t.Fatalf("another organization's installation: %+v %v", r, err)
	}
	if len(f.gh.Requests) != 0 || len(f.gh.Issued()) != 0 {
		t.Fatalf("GitHub was asked about another organization's installation: %v", f.gh.Requests)
	}

	f.link(t, f.org.ID)
	for _, raw := range []string{"https://github.com/acme/web", "https://github.com/Acme/web.git", "git@github.com:acme/web.git",
		"ssh://git@github.com/acme/Web.git", "acme/web"} {
		r, err := resolve(raw)
		if err != nil || r != (activities.AppRepository{URL: "https://github.com/acme/web.git", Installation: 42, RepoID: 1001, FullName: "acme/web"}) {
			t.Fatalf("%s: %+v %v", raw, r, err)
		}
	}
	for _, raw := range []string{"https://github.com/someone/else", "https://gitlab.com/acme/web", "https://github.com/acme/missing"} {
		if r, err := resolve(raw); err != nil || r.URL != "" {
			t.Fatalf("%s: %+v %v", raw, r, err)
		}
	}
	if len(f.gh.Issued()) != 1 { // the one unscoped token GetRepository reads with
		t.Fatalf("resolving minted %d tokens", len(f.gh.Issued()))
	}
	// Repository credentials are refused for what is not a resolved repository.
	if _, err := f.apps.WriteRepoCredential(f.ctx, activities.RepoCredentialRef{OrgID: f.org.ID, Repo: activities.AppRepository{URL: "https://github.com/acme/web.git"}}); err == nil {
		t.Fatal("a credential without installation and repository")
	}

	f.apps.GitHub = nil
	_, err = resolve("git@github.com:acme/web.git")
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || !ae.NonRetryable() || ae.Type() != activities.ErrTypeNotConfigured || !strings.Contains(err.Error(), "no GitHub App configured") {
		t.Fatalf("no GitHub App: %v", err)
	}
	if r, err := resolve("https://github.com/someone/else"); err != nil || r.URL != "" {
		t.Fatalf("a public repository without a GitHub App: %+v %v", r, err)
	}
	if _, err := f.apps.WriteRepoCredential(f.ctx, activities.RepoCredentialRef{OrgID: f.org.ID,
		Repo: activities.AppRepository{URL: "https://github.com/acme/web.git", Installation: 42, RepoID: 1001}}); !errors.As(err, &ae) || ae.Type() != activities.ErrTypeNotConfigured {
		t.Fatalf("writing a credential without a GitHub App: %v", err)
	}
}

// An application's delete releases its repository's credential only when it was the
// last application using it: another on the cluster, or one deploying from it
// anywhere, keeps it; a source on another host, an application already gone, or one
// never placed, changes nothing; releasing twice is no error.
func TestReleaseRepoCredential(t *testing.T) {
	f := newRepoFixture(t, true)
	f.link(t, f.org.ID)
	secrets := f.typed.CoreV1().Secrets("argocd")
	name := argocd.RepoCredentialName("https://github.com/acme/web.git")
	present := func() bool {
		t.Helper()
		_, err := secrets.Get(f.ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false
		}
		must(t, err)
		return true
	}
	placed := func(a store.Application) store.Application {
		t.Helper()
		must(t, f.st.UpdateApplication(f.ctx, f.org.ID, a.ID, map[string]any{"cluster_id": f.cluster.ID, "status": store.AppDeployed}))
		return a
	}
	release := func(appID string) {
		t.Helper()
		must(t, f.apps.ReleaseRepoCredential(f.ctx, activities.AppOnCluster{OrgID: f.org.ID, AppID: appID, ClusterID: f.cluster.ID}))
	}
	web := placed(f.repoApp(t, "web", "git@github.com:Acme/Web.git"))
	web2 := placed(f.repoApp(t, "web2", "https://github.com/acme/web"))
	repo, err := f.apps.ResolveAppRepository(f.ctx, activities.AppRef{OrgID: f.org.ID, AppID: web.ID})
	must(t, err)
	_, err = f.apps.WriteRepoCredential(f.ctx, activities.RepoCredentialRef{OrgID: f.org.ID, ClusterID: f.cluster.ID, Repo: repo})
	must(t, err)

	release(web.ID)
	if !present() {
		t.Fatal("released while web2 still uses it")
	}
	must(t, f.st.DeleteApplication(f.ctx, f.org.ID, web.ID))
	deploying := f.repoApp(t, "web3", "acme/web") // not placed yet
	must(t, f.st.UpdateApplication(f.ctx, f.org.ID, deploying.ID, map[string]any{"status": store.AppDeploying}))
	release(web2.ID)
	if !present() {
		t.Fatal("released while an application deploys from it")
	}
	must(t, f.st.DeleteApplication(f.ctx, f.org.ID, deploying.ID))
	elsewhere := placed(f.repoApp(t, "mirror", "https://gitlab.com/acme/web.git"))
	release(elsewhere.ID)
	release("no-such-app")
	must(t, f.apps.ReleaseRepoCredential(f.ctx, activities.AppOnCluster{OrgID: f.org.ID, AppID: web2.ID})) // never placed: no cluster to ask
	if !present() {
		t.Fatal("released by an application of another host, or by none")
	}
	release(web2.ID)
	if present() {
		t.Fatal("the last application's release left the credential")
	}
	release(web2.ID)
}
