package workflows_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// startedActivity is how an activity was started: its start-to-close limit and
// heartbeat timeout. (The test environment does not show the retry policy: tests
// see it in the gaps between attempts.)
type startedActivity struct {
	limit, heartbeat time.Duration
}

// activityOptions records, by activity type, the options each activity of env ran
// with (the last start of each).
func activityOptions(env *testsuite.TestWorkflowEnvironment) func(name string) startedActivity {
	var mu sync.Mutex
	seen := map[string]startedActivity{}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		mu.Lock()
		defer mu.Unlock()
		seen[info.ActivityType.Name] = startedActivity{limit: info.Deadline.Sub(info.StartedTime).Round(time.Second), heartbeat: info.HeartbeatTimeout}
	})
	return func(name string) startedActivity {
		mu.Lock()
		defer mu.Unlock()
		return seen[name]
	}
}

// appRun is one run of an application workflow against mocked activities.
type appRun struct {
	env     *testsuite.TestWorkflowEnvironment
	options func(string) startedActivity
	mu      sync.Mutex
	calls   []string
	records []activities.AppRecord
	resync  []activities.AppResync
	// waitErr fails WaitApplication; waitTakes delays it.
	waitErr   error
	waitTakes time.Duration
	deleteErr error
	// failures fails the named activity's first attempts with a retryable error;
	// attempts holds when each attempt started.
	failures map[string]int
	attempts map[string][]time.Time
	// repo is what ResolveAppRepository answers (resolved counts its calls);
	// writes are WriteApplication's inputs.
	repo     activities.AppRepository
	repoErr  error
	resolved int
	writes   []activities.AppOnCluster
	// released are ReleaseRepoCredential's inputs.
	released []activities.AppOnCluster
}

// flaky records an attempt of name and fails it while failures last.
func (r *appRun) flaky(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flakyLocked(name)
}

func (r *appRun) flakyLocked(name string) error {
	r.attempts[name] = append(r.attempts[name], r.env.Now())
	if len(r.attempts[name]) <= r.failures[name] {
		return errors.New("the cluster's API is not reachable yet")
	}
	return nil
}

// gaps are the waits between name's attempts.
func (r *appRun) gaps(name string) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	at := r.attempts[name]
	for i := 1; i < len(at); i++ {
		out = append(out, at[i].Sub(at[i-1]).Round(time.Second))
	}
	return out
}

func newAppRun(t *testing.T) *appRun {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	r := &appRun{env: ts.NewTestWorkflowEnvironment(), failures: map[string]int{}, attempts: map[string][]time.Time{}}
	env := r.env
	a := &activities.Apps{}
	env.RegisterActivity(a)
	r.options = activityOptions(env)
	call := func(name string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = append(r.calls, name)
	}
	env.OnActivity(a.ValidateApplication, mock.Anything, mock.Anything).Return(func(context.Context, activities.AppRef) error {
		call("ValidateApplication")
		return nil
	})
	env.OnActivity(a.ResolveAppProfile, mock.Anything, mock.Anything).Return(func(context.Context, activities.AppRef) (activities.AppTarget, error) {
		call("ResolveAppProfile")
		return activities.AppTarget{ClusterID: "c-1", ClusterName: "prod", Reason: "profile web"}, nil
	})
	// A public source unless repo says otherwise (apprepo_test.go).
	env.OnActivity(a.ResolveAppRepository, mock.Anything, mock.Anything).Return(func(context.Context, activities.AppRef) (activities.AppRepository, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.resolved++
		return r.repo, r.repoErr
	})
	env.OnActivity(a.WriteApplication, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AppOnCluster) error {
		call("WriteApplication")
		r.mu.Lock()
		r.writes = append(r.writes, in)
		r.mu.Unlock()
		if in.ClusterID != "c-1" || in.AppID != "app-1" || in.OrgID != "org-1" {
			t.Errorf("WriteApplication(%+v)", in)
		}
		return r.flaky("WriteApplication")
	})
	env.OnActivity(a.WaitApplication, mock.Anything, mock.Anything).AfterFn(func() time.Duration { return r.waitTakes }).Return(func(context.Context, activities.AppOnCluster) (activities.AppHealth, error) {
		call("WaitApplication")
		if r.waitErr != nil {
			return activities.AppHealth{Sync: "OutOfSync", Health: "Degraded"}, r.waitErr
		}
		return activities.AppHealth{Sync: "Synced", Health: "Healthy", Revision: "abc"}, nil
	})
	env.OnActivity(a.RecordApplication, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AppRecord) error {
		call("RecordApplication")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.records = append(r.records, in)
		return nil
	})
	env.OnActivity(a.ResyncArgoApplication, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AppResync) error {
		call("ResyncArgoApplication")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.resync = append(r.resync, in)
		return r.flakyLocked("ResyncArgoApplication")
	})
	env.OnActivity(a.DeleteArgoApplication, mock.Anything, mock.Anything).Return(func(context.Context, activities.AppOnCluster) error {
		call("DeleteArgoApplication")
		return r.deleteErr
	})
	env.OnActivity(a.ReleaseRepoCredential, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AppOnCluster) error {
		call("ReleaseRepoCredential")
		r.mu.Lock()
		defer r.mu.Unlock()
		r.released = append(r.released, in)
		return r.flakyLocked("ReleaseRepoCredential")
	})
	env.OnActivity(a.ForgetApplication, mock.Anything, mock.Anything).Return(func(context.Context, activities.AppRef) error {
		call("ForgetApplication")
		return nil
	})
	return r
}

func (r *appRun) lastRecord(t *testing.T) activities.AppRecord {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.records) == 0 {
		t.Fatal("nothing recorded")
	}
	return r.records[len(r.records)-1]
}

func (r *appRun) progress(t *testing.T) workflows.Progress {
	t.Helper()
	return queryProgress(t, r.env)
}

var appIn = workflows.AppOperationInput{OrgID: "org-1", AppID: "app-1", OperationID: "op-1"}

// A deploy writes the Application on the profile's cluster, waits for it Synced
// and Healthy for the default wait, and records where it landed. Writing to a
// cluster is retried for a while; the wait is one attempt bounded by the wait.
func TestDeployApplicationRecordsWhereItLanded(t *testing.T) {
	r := newAppRun(t)
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	var res workflows.AppDeployResult
	if err := r.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (workflows.AppDeployResult{ClusterID: "c-1", ClusterName: "prod", Reason: "profile web", Sync: "Synced", Health: "Healthy"}) {
		t.Fatalf("result %+v", res)
	}
	if got := strings.Join(r.calls, " "); got != "ValidateApplication ResolveAppProfile WriteApplication WaitApplication RecordApplication" {
		t.Fatalf("calls %s", got)
	}
	rec := r.lastRecord(t)
	if rec.Status != store.AppDeployed || rec.Message != "deployed on prod" || rec.ClusterID != "c-1" || rec.Health != "Healthy" || rec.OperationID != "op-1" {
		t.Fatalf("record %+v", rec)
	}
	if p := r.progress(t); p.Status != workflows.StatusSucceeded || p.Percent != 100 || p.OperationType != workflows.OpAppDeploy {
		t.Fatalf("progress %+v", p)
	}
	if write := r.options("WriteApplication"); write.limit != 2*time.Minute {
		t.Fatalf("WriteApplication ran with %+v", write)
	}
	if wait := r.options("WaitApplication"); wait.limit != workflows.DefaultAppWait || wait.heartbeat != time.Minute {
		t.Fatalf("WaitApplication ran with %+v", wait)
	}
}

// Writing the Application is retried from a second on, doubling up to 30 s, ten
// attempts in all; the wait for health is not retried.
func TestDeployApplicationRetriesTheWriteNotTheWait(t *testing.T) {
	r := newAppRun(t)
	r.failures["WriteApplication"] = 7
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	if got := r.gaps("WriteApplication"); !slices.Equal(got, want) {
		t.Fatalf("waits between writes %v, want %v", got, want)
	}

	r = newAppRun(t)
	r.failures["WriteApplication"] = 100
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	if r.env.GetWorkflowError() == nil {
		t.Fatal("a write that always fails succeeded")
	}
	if n := len(r.attempts["WriteApplication"]); n != 10 {
		t.Fatalf("%d attempts to write, want 10", n)
	}

	r = newAppRun(t)
	r.waitErr = errors.New("not healthy yet")
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	if r.env.GetWorkflowError() == nil {
		t.Fatal("a failed wait succeeded")
	}
	if n := strings.Count(strings.Join(r.calls, " "), "WaitApplication"); n != 1 {
		t.Fatalf("the wait ran %d times, want once", n)
	}
}

// A wait the request gives bounds the wait for Synced and Healthy.
func TestDeployApplicationWaitsAsLongAsAsked(t *testing.T) {
	r := newAppRun(t)
	in := appIn
	in.Wait = 3 * time.Minute
	r.env.ExecuteWorkflow(workflows.DeployApplication, in)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got := r.options("WaitApplication").limit; got != 3*time.Minute {
		t.Fatalf("WaitApplication bounded by %s, want 3m", got)
	}
}

// With manual sync a deploy writes the Application and does not wait for it.
func TestDeployApplicationManualSyncDoesNotWait(t *testing.T) {
	r := newAppRun(t)
	in := appIn
	in.ManualSync = true
	r.env.ExecuteWorkflow(workflows.DeployApplication, in)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(r.calls, " "), "WaitApplication") {
		t.Fatalf("a manual-sync deploy waited: %v", r.calls)
	}
	if rec := r.lastRecord(t); rec.Message != "written on prod; manual sync: resync to sync it" {
		t.Fatalf("record %+v", rec)
	}
}

// A deploy that fails records the application FAILED with the step and the reason,
// and fails; a cancelled one records where it was cancelled and ends cancelled.
func TestDeployApplicationFailureAndCancel(t *testing.T) {
	r := newAppRun(t)
	r.waitErr = temporal.NewNonRetryableApplicationError("Degraded: ImagePullBackOff", "AppUnhealthy", nil)
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	err := r.env.GetWorkflowError()
	if err == nil || temporal.IsCanceledError(err) {
		t.Fatalf("error %v, want the failure", err)
	}
	rec := r.lastRecord(t)
	if rec.Status != store.AppFailed || !strings.HasPrefix(rec.Message, "deploy failed at "+workflows.StepWaitHealthy+": ") ||
		!strings.Contains(rec.Message, "ImagePullBackOff") || rec.ClusterID != "c-1" {
		t.Fatalf("record %+v", rec)
	}
	if p := r.progress(t); p.Status != workflows.StatusFailed {
		t.Fatalf("progress %+v", p)
	}

	r = newAppRun(t)
	r.waitTakes = time.Hour
	r.env.RegisterDelayedCallback(r.env.CancelWorkflow, time.Minute)
	r.env.ExecuteWorkflow(workflows.DeployApplication, appIn)
	if err := r.env.GetWorkflowError(); !temporal.IsCanceledError(err) {
		t.Fatalf("error %v, want cancelled", err)
	}
	if rec := r.lastRecord(t); rec.Status != store.AppFailed || rec.Message != "deploy cancelled at "+workflows.StepWaitHealthy {
		t.Fatalf("record %+v", rec)
	}
	if p := r.progress(t); p.Status != workflows.StatusCancelled {
		t.Fatalf("progress %+v", p)
	}
}

// A resync asks Argo CD to sync (forced when asked), waits, and records it.
func TestResyncApplication(t *testing.T) {
	r := newAppRun(t)
	in := appIn
	in.ClusterID, in.Force = "c-1", true
	r.env.ExecuteWorkflow(workflows.ResyncApplication, in)
	var res workflows.AppDeployResult
	if err := r.env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.ClusterID != "c-1" || res.Health != "Healthy" {
		t.Fatalf("result %+v", res)
	}
	if len(r.resync) != 1 || !r.resync[0].Force || r.resync[0].ClusterID != "c-1" {
		t.Fatalf("resync %+v", r.resync)
	}
	if rec := r.lastRecord(t); rec.Status != store.AppDeployed || rec.Message != "resynced" {
		t.Fatalf("record %+v", rec)
	}
	if sync := r.options("ResyncArgoApplication"); sync.limit != 2*time.Minute {
		t.Fatalf("ResyncArgoApplication ran with %+v", sync)
	}
	if wait := r.options("WaitApplication"); wait.limit != workflows.DefaultAppWait || wait.heartbeat != time.Minute {
		t.Fatalf("WaitApplication ran with %+v", wait)
	}

	r = newAppRun(t)
	r.failures["ResyncArgoApplication"] = 6
	r.env.ExecuteWorkflow(workflows.ResyncApplication, in)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if got, want := r.gaps("ResyncArgoApplication"), []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second}; !slices.Equal(got, want) {
		t.Fatalf("waits between resyncs %v, want %v", got, want)
	}

	r = newAppRun(t)
	in.Wait = 90 * time.Second
	r.env.ExecuteWorkflow(workflows.ResyncApplication, in)
	if err := r.env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if wait := r.options("WaitApplication"); wait.limit != 90*time.Second {
		t.Fatalf("WaitApplication bounded by %s, want 90s", wait.limit)
	}

	r = newAppRun(t)
	r.waitErr = temporal.NewNonRetryableApplicationError("Degraded", "AppUnhealthy", nil)
	r.env.ExecuteWorkflow(workflows.ResyncApplication, in)
	if r.env.GetWorkflowError() == nil {
		t.Fatal("a failed resync succeeded")
	}
	if rec := r.lastRecord(t); rec.Status != store.AppFailed || !strings.HasPrefix(rec.Message, "resync failed at "+workflows.StepWaitHealthy) {
		t.Fatalf("record %+v", rec)
	}
	if p := r.progress(t); p.Status != workflows.StatusFailed {
		t.Fatalf("progress %+v", p)
	}
}

// A credential that cannot be released is tried three times, a second apart, and
// the delete goes on: the application is forgotten all the same (its repository's
// refresher removes the credential at its next round).
func TestDeleteApplicationGoesOnWithoutReleasingTheCredential(t *testing.T) {
	r := newAppRun(t)
	r.failures["ReleaseRepoCredential"] = 100
	in := appIn
	in.ClusterID = "c-1"
	r.env.ExecuteWorkflow(workflows.DeleteApplication, in)
	var res string
	if err := r.env.GetWorkflowResult(&res); err != nil || res != "DELETED" {
		t.Fatalf("result %q, %v", res, err)
	}
	if got := r.gaps("ReleaseRepoCredential"); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Fatalf("waits between releases %v, want 1s 2s", got)
	}
	if !strings.HasSuffix(strings.Join(r.calls, " "), "ReleaseRepoCredential ForgetApplication") {
		t.Fatalf("calls %v", r.calls)
	}
	if p := r.progress(t); p.Status != workflows.StatusSucceeded {
		t.Fatalf("progress %+v", p)
	}
}

// A delete removes the Application (waiting up to 15 minutes for the cascade),
// releases its repository's credential and forgets the application; a failed
// delete records it FAILED, to delete again.
func TestDeleteApplication(t *testing.T) {
	r := newAppRun(t)
	in := appIn
	in.ClusterID = "c-1"
	r.env.ExecuteWorkflow(workflows.DeleteApplication, in)
	var res string
	if err := r.env.GetWorkflowResult(&res); err != nil || res != "DELETED" {
		t.Fatalf("result %q, %v", res, err)
	}
	if got := strings.Join(r.calls, " "); got != "DeleteArgoApplication ReleaseRepoCredential ForgetApplication" {
		t.Fatalf("calls %s", got)
	}
	if del := r.options("DeleteArgoApplication"); del.limit != 15*time.Minute || del.heartbeat != time.Minute {
		t.Fatalf("DeleteArgoApplication ran with %+v", del)
	}
	if want := (activities.AppOnCluster{OrgID: "org-1", AppID: "app-1", ClusterID: "c-1"}); !slices.Equal(r.released, []activities.AppOnCluster{want}) {
		t.Fatalf("ReleaseRepoCredential(%+v), want %+v", r.released, want)
	}
	if rel := r.options("ReleaseRepoCredential"); rel.limit != time.Minute {
		t.Fatalf("ReleaseRepoCredential ran with %+v", rel)
	}

	r = newAppRun(t)
	r.deleteErr = temporal.NewNonRetryableApplicationError("the cluster refused", "Forbidden", nil)
	r.env.ExecuteWorkflow(workflows.DeleteApplication, in)
	if err := r.env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(strings.Join(r.calls, " "), "ForgetApplication") {
		t.Fatalf("a failed delete forgot the application: %v", r.calls)
	}
	if rec := r.lastRecord(t); rec.Status != store.AppFailed || !strings.HasPrefix(rec.Message, "delete failed at "+workflows.StepDeleteApplication) {
		t.Fatalf("record %+v", rec)
	}
	if n := strings.Count(strings.Join(r.calls, " "), "DeleteArgoApplication"); n != 1 {
		t.Fatalf("a refused delete ran %d times, want once", n)
	}

	// A delete that keeps failing is tried three times.
	r = newAppRun(t)
	r.deleteErr = errors.New("connection refused")
	r.env.ExecuteWorkflow(workflows.DeleteApplication, in)
	if r.env.GetWorkflowError() == nil {
		t.Fatal("a failing delete succeeded")
	}
	if n := strings.Count(strings.Join(r.calls, " "), "DeleteArgoApplication"); n != 3 {
		t.Fatalf("the delete ran %d times, want 3", n)
	}
	if p := r.progress(t); p.Status != workflows.StatusFailed {
		t.Fatalf("progress %+v", p)
	}
}
