package workflows_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/workflows"
)

var privateRepo = activities.AppRepository{URL: "https://github.com/acme/web.git", Installation: 42, RepoID: 1001, FullName: "acme/web"}

// refresherMock stands in for RefreshRepoCredentials in a deploy's environment:
// started children's IDs and inputs, and how long each runs.
type refresherMock struct {
	mu     sync.Mutex
	ids    []string
	inputs []workflows.RepoCredentialInput
	creds  []activities.RepoCredentialRef
}

func privateRun(t *testing.T, mocked bool) (*appRun, *refresherMock) {
	t.Helper()
	r := newAppRun(t)
	r.repo = privateRepo
	m := &refresherMock{}
	env := r.env
	a := &activities.Apps{}
	env.OnActivity(a.WriteRepoCredential, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RepoCredentialRef) (activities.RepoCredentialState, error) {
		m.mu.Lock()
		m.creds = append(m.creds, in)
		m.mu.Unlock()
		r.mu.Lock()
		r.calls = append(r.calls, "WriteRepoCredential")
		r.mu.Unlock()
		return activities.RepoCredentialState{Written: true}, nil
	})
	if mocked {
		env.RegisterWorkflow(workflows.RefreshRepoCredentials)
		env.OnWorkflow(workflows.RefreshRepoCredentials, mock.Anything, mock.Anything).Return("ended", nil)
	}
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
		if info.WorkflowType.Name != "RefreshRepoCredentials" {
			return
		}
		var in workflows.RepoCredentialInput
		if err := args.Get(&in); err != nil {
			t.Error(err)
		}
		m.mu.Lock()
		m.ids, m.inputs = append(m.ids, info.WorkflowExecution.ID), append(m.inputs, in)
		m.mu.Unlock()
		r.mu.Lock()
		r.calls = append(r.calls, "start RefreshRepoCredentials")
		r.mu.Unlock()
	})
	return r, m
}

// A deploy from a repository of a linked installation starts the credential's
// refresher (its fixed ID, the repository's URL), writes the credential, then the
// Application naming that URL, each write with the write's limit; a public source
// does neither and writes the Application as it is.
func TestDeployApplicationWritesPrivateRepoCredential(t *testing.T) {
	r, m := privateRun(t, true)
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.calls, ", "); got != "ValidateApplication, ResolveAppProfile, start RefreshRepoCredentials, WriteRepoCredential, WriteApplication, WaitApplication, RecordApplication" {
		t.Fatalf("calls %s", got)
	}
	if want := "repo-credential.org-1.c-1.github.com/acme/web"; !slices.Equal(m.ids, []string{want}) {
		t.Fatalf("refresher IDs %v, want %s", m.ids, want)
	}
	if want := (workflows.RepoCredentialInput{OrgID: "org-1", ClusterID: "c-1", RepoURL: privateRepo.URL}); len(m.inputs) != 1 || m.inputs[0] != want {
		t.Fatalf("refresher input %+v", m.inputs)
	}
	if want := (activities.RepoCredentialRef{OrgID: "org-1", ClusterID: "c-1", Repo: privateRepo}); len(m.creds) != 1 || m.creds[0] != want {
		t.Fatalf("credential written %+v", m.creds)
	}
	if len(r.writes) != 1 || r.writes[0].RepoURL != privateRepo.URL {
		t.Fatalf("Application written %+v", r.writes)
	}
	for _, name := range []string{"ResolveAppRepository", "WriteRepoCredential"} {
		if o := r.options(name); o.limit != 2*time.Minute {
			t.Fatalf("%s ran with %+v", name, o)
		}
	}

	r = newAppRun(t)
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if r.resolved != 1 || len(r.writes) != 1 || r.writes[0].RepoURL != "" {
		t.Fatalf("public source: %d resolves, writes %+v", r.resolved, r.writes)
	}
}

// Workflows started before the change do not look for a repository credential.
func TestDeployApplicationBeforeRepoCredentials(t *testing.T) {
	r, m := privateRun(t, true)
	r.env.OnGetVersion("app-private-repo-credentials", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if r.resolved != 0 || len(m.ids) != 0 || len(m.creds) != 0 || r.writes[0].RepoURL != "" {
		t.Fatalf("an old deploy resolved %d, started %v, wrote %+v / %+v", r.resolved, m.ids, m.creds, r.writes)
	}
}

// A failure to resolve the repository (no GitHub App on the worker) fails the
// deploy at write-application before anything is written.
func TestDeployApplicationPrivateRepoWithoutGitHubApp(t *testing.T) {
	r, m := privateRun(t, true)
	r.repoErr = temporal.NewNonRetryableApplicationError("this worker has no GitHub App configured", activities.ErrTypeNotConfigured, nil)
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	if err := r.env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "no GitHub App") {
		t.Fatalf("error %v", err)
	}
	if rec := r.lastRecord(t); !strings.HasPrefix(rec.Message, "deploy failed at "+workflows.StepWriteApplication) || !strings.Contains(rec.Message, "no GitHub App") {
		t.Fatalf("record %+v", rec)
	}
	if len(m.ids) != 0 || len(m.creds) != 0 || len(r.writes) != 0 {
		t.Fatalf("written without a token: %v %+v %+v", m.ids, m.creds, r.writes)
	}
}

// twoDeploys deploys the same application twice in a row (as children), so the
// second finds the first's refresher running, and then stops the refresher.
func twoDeploys(ctx workflow.Context, in workflows.AppOperationInput) error {
	for range 2 {
		if err := workflow.ExecuteChildWorkflow(ctx, workflows.DeployApplication, in).Get(ctx, nil); err != nil {
			return err
		}
	}
	id := workflows.RepoCredentialWorkflowID(in.OrgID, "c-1", privateRepo.URL)
	return workflow.SignalExternalWorkflow(ctx, id, "", "stop", nil).Get(ctx, nil)
}

// wantedSignals counts the signals RefreshRepoCredentials below received.
var wantedSignals atomic.Int32

// RefreshRepoCredentials stands in for workflows.RefreshRepoCredentials (registered
// by its name, which the deploy starts by): it counts the signals until stopped.
func RefreshRepoCredentials(ctx workflow.Context, _ workflows.RepoCredentialInput) (string, error) {
	sel := workflow.NewSelector(ctx)
	stop := false
	sel.AddReceive(workflow.GetSignalChannel(ctx, workflows.SignalRepoCredentialWanted), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, nil)
		wantedSignals.Add(1)
	})
	sel.AddReceive(workflow.GetSignalChannel(ctx, "stop"), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); stop = true })
	for !stop {
		sel.Select(ctx)
	}
	return "stopped", nil
}

// A deploy that finds the refresher running signals it (it must not end on an
// earlier look) instead of starting another: one refresher, one signal, two
// credentials written.
func TestDeployApplicationSignalsARunningRefresher(t *testing.T) {
	r, m := privateRun(t, false)
	wantedSignals.Store(0)
	r.env.RegisterWorkflow(RefreshRepoCredentials)
	r.env.RegisterWorkflow(workflows.DeployApplication)
	r.env.ExecuteWorkflow(twoDeploys, appIn)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(m.ids) != 1 || wantedSignals.Load() != 1 || len(m.creds) != 2 {
		t.Fatalf("refresher started %d times, signalled %d times, %d credentials written", len(m.ids), wantedSignals.Load(), len(m.creds))
	}
}

// refreshRun runs RefreshRepoCredentials against a scripted RefreshRepoCredential:
// each call answers the next of script (an error: that many failed attempts at it).
type refreshRun struct {
	env   *testsuite.TestWorkflowEnvironment
	mu    sync.Mutex
	at    []time.Duration // when each attempt started, from the start
	refs  []activities.RepoCredentialRef
	start time.Time
}

type answer struct {
	st  activities.RepoCredentialState
	err error
}

func newRefreshRun(t *testing.T, script func(n int) answer) *refreshRun {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	rr := &refreshRun{env: ts.NewTestWorkflowEnvironment()}
	a := &activities.Apps{}
	rr.env.RegisterActivity(a)
	rr.start = rr.env.Now()
	rr.env.OnActivity(a.RefreshRepoCredential, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RepoCredentialRef) (activities.RepoCredentialState, error) {
		rr.mu.Lock()
		defer rr.mu.Unlock()
		rr.at = append(rr.at, rr.env.Now().Sub(rr.start).Round(time.Second))
		rr.refs = append(rr.refs, in)
		ans := script(len(rr.at))
		return ans.st, ans.err
	})
	return rr
}

var refreshIn = workflows.RepoCredentialInput{OrgID: "org-1", ClusterID: "c-1", RepoURL: privateRepo.URL}

var written = answer{st: activities.RepoCredentialState{Written: true}}

// The refresher re-mints every 45 minutes, retries a failing refresh (5 s doubling,
// five attempts) and tries again 5 minutes later, and ends with the reason once the
// credential is removed.
func TestRefreshRepoCredentialsCadence(t *testing.T) {
	rr := newRefreshRun(t, func(n int) answer {
		switch {
		case n <= 2:
			return written
		case n <= 7:
			return answer{err: errors.New("GitHub is unavailable")}
		case n == 8:
			return written
		}
		return answer{st: activities.RepoCredentialState{Reason: "no application on the cluster deploys from it"}}
	})
	opts := activityOptions(rr.env)
	rr.env.ExecuteWorkflow(workflows.RefreshRepoCredentials, refreshIn)
	var reason string
	if err := rr.env.GetWorkflowResult(&reason); err != nil || reason != "no application on the cluster deploys from it" {
		t.Fatalf("result %q %v", reason, err)
	}
	m := time.Minute
	fail := 135*m + 75*time.Second // the five failed attempts end 5+10+20+40 s after the first
	want := []time.Duration{45 * m, 90 * m, 135 * m, 135*m + 5*time.Second, 135*m + 15*time.Second, 135*m + 35*time.Second, fail,
		fail + 5*m, fail + 50*m}
	if !slices.Equal(rr.at, want) {
		t.Fatalf("refreshes at %v, want %v", rr.at, want)
	}
	if rr.refs[0] != (activities.RepoCredentialRef{OrgID: "org-1", ClusterID: "c-1", Repo: activities.AppRepository{URL: privateRepo.URL}}) {
		t.Fatalf("refresh of %+v", rr.refs[0])
	}
	if o := opts("RefreshRepoCredential"); o.limit != 2*time.Minute {
		t.Fatalf("RefreshRepoCredential ran with %+v", o)
	}
}

// A run waits its input's Wait before the first refresh, and continues as new after
// RepoCredentialIterations refreshes, carrying the wait that was due.
func TestRefreshRepoCredentialsContinuesAsNew(t *testing.T) {
	for _, tc := range []struct {
		last     answer
		nextWait time.Duration
	}{{written, workflows.RepoCredentialRefreshEvery}, {answer{err: temporal.NewNonRetryableApplicationError("refused", "Failed", nil)}, workflows.RepoCredentialRetryEvery}} {
		rr := newRefreshRun(t, func(n int) answer {
			if n == workflows.RepoCredentialIterations {
				return tc.last
			}
			return written
		})
		in := refreshIn
		in.Wait = 7 * time.Minute
		rr.env.ExecuteWorkflow(workflows.RefreshRepoCredentials, in)
		var cont *workflow.ContinueAsNewError
		if err := rr.env.GetWorkflowError(); !errors.As(err, &cont) {
			t.Fatalf("error %v, want continue-as-new", err)
		}
		if len(rr.at) != workflows.RepoCredentialIterations || rr.at[0] != 7*time.Minute || rr.at[1] != 52*time.Minute {
			t.Fatalf("%d refreshes, first at %v", len(rr.at), rr.at[:2])
		}
		var next workflows.RepoCredentialInput
		if err := converter.GetDefaultDataConverter().FromPayloads(cont.Input, &next); err != nil {
			t.Fatal(err)
		}
		if want := refreshIn; next != (workflows.RepoCredentialInput{OrgID: want.OrgID, ClusterID: want.ClusterID, RepoURL: want.RepoURL, Wait: tc.nextWait}) {
			t.Fatalf("continues with %+v, want wait %s", next, tc.nextWait)
		}
	}
}

// A deploy's signal received before a refresh that removed the credential makes the
// refresher look again at once (the deploy's application now uses it) and go on; a
// signal is not kept for a later look.
func TestRefreshRepoCredentialsWantedAfterRemoval(t *testing.T) {
	removed := answer{st: activities.RepoCredentialState{Reason: "no application"}}
	rr := newRefreshRun(t, func(n int) answer {
		if n == 2 {
			return written
		}
		return removed
	})
	rr.env.RegisterDelayedCallback(func() { rr.env.SignalWorkflow(workflows.SignalRepoCredentialWanted, nil) }, 10*time.Minute)
	rr.env.ExecuteWorkflow(workflows.RefreshRepoCredentials, refreshIn)
	if err := rr.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{45 * time.Minute, 45 * time.Minute, 90 * time.Minute}; !slices.Equal(rr.at, want) {
		t.Fatalf("refreshes at %v, want %v", rr.at, want)
	}

	// A signal while the credential is kept is consumed: the next removal ends it.
	rr = newRefreshRun(t, func(n int) answer {
		if n == 1 {
			return written
		}
		return removed
	})
	rr.env.RegisterDelayedCallback(func() { rr.env.SignalWorkflow(workflows.SignalRepoCredentialWanted, nil) }, 10*time.Minute)
	rr.env.ExecuteWorkflow(workflows.RefreshRepoCredentials, refreshIn)
	if err := rr.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{45 * time.Minute, 90 * time.Minute}; !slices.Equal(rr.at, want) {
		t.Fatalf("refreshes at %v, want %v", rr.at, want)
	}
}

// Cancelling the refresher ends it cancelled.
func TestRefreshRepoCredentialsCancelled(t *testing.T) {
	rr := newRefreshRun(t, func(int) answer { return written })
	rr.env.RegisterDelayedCallback(rr.env.CancelWorkflow, 2*time.Hour)
	rr.env.ExecuteWorkflow(workflows.RefreshRepoCredentials, refreshIn)
	if err := rr.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("error %v", err)
	}
	if len(rr.at) != 2 {
		t.Fatalf("%d refreshes in two hours", len(rr.at))
	}
}

func TestRepoCredentialWorkflowID(t *testing.T) {
	if got := workflows.RepoCredentialWorkflowID("o", "c", "https://ghe.example.com/a/b.git"); got != "repo-credential.o.c.ghe.example.com/a/b" {
		t.Fatal(got)
	}
}
