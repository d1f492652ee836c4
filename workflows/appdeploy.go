package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// Application operation types (Progress.OperationType).
const (
	OpAppDeploy = "app-deploy"
	OpAppDelete = "app-delete"
	OpAppResync = "app-resync"
)

// Application deploy and delete steps.
const (
	StepResolveProfile    = "resolve-profile"
	StepWriteApplication  = "write-application" //nolint:gosec // a step name, not a credential
	StepWaitHealthy       = "wait-healthy"
	StepDeleteApplication = "delete-application"
	StepResync            = "resync"
)

// AppDeploySteps is the plan every application deploy follows; AppDeleteSteps every
// delete.
var (
	AppDeploySteps = []string{StepValidate, StepResolveProfile, StepWriteApplication, StepWaitHealthy, StepRecord}
	AppDeleteSteps = []string{StepDeleteApplication, StepRecord}
	AppResyncSteps = []string{StepResync, StepWaitHealthy, StepRecord}
)

// DefaultAppWait bounds how long a deploy waits for Synced and Healthy.
const DefaultAppWait = 10 * time.Minute

// AppOperationInput is what an application deploy or delete needs: references only.
type AppOperationInput struct {
	OrgID, AppID, OperationID string
	// ClusterID is where a delete finds the Application ("" if never placed).
	ClusterID string
	// Wait bounds a deploy's wait for Synced and Healthy; zero: DefaultAppWait.
	Wait time.Duration
	// ManualSync: the application syncs only when asked (resync), so a deploy
	// writes its Application and does not wait for it.
	ManualSync bool
	// Force makes a resync replace what cannot be patched.
	Force bool
}

// AppDeployResult is where a deploy placed the application and how it ended.
type AppDeployResult struct {
	ClusterID, ClusterName, Reason string
	Sync, Health                   string
}

// DeployApplication validates the application, resolves its profile to a cluster,
// writes the credential of a private repository source (writeRepoCredential),
// creates or updates its Argo CD Application there, waits until Argo CD reports it
// Synced and Healthy, and records it DEPLOYED. A failure or cancel records it FAILED
// with where and why; the Application written stays (a later deploy updates it, a
// delete removes it).
func DeployApplication(ctx workflow.Context, in AppOperationInput) (AppDeployResult, error) {
	op := Operation{OrgID: in.OrgID, OperationID: in.OperationID}
	t, err := newTracker(ctx, op, OpAppDeploy, AppDeploySteps...)
	if err != nil {
		return AppDeployResult{}, err
	}
	var a *activities.Apps
	ref := activities.AppRef{OrgID: in.OrgID, AppID: in.AppID}
	sctx := storeOptions(ctx)
	kctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 10, NonRetryableErrorTypes: nonRetryable},
	})
	wait := in.Wait
	if wait <= 0 {
		wait = DefaultAppWait
	}
	wctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: wait, HeartbeatTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var res AppDeployResult
	var target activities.AppTarget
	var health activities.AppHealth
	on := func() activities.AppOnCluster {
		return activities.AppOnCluster{OrgID: in.OrgID, AppID: in.AppID, ClusterID: target.ClusterID}
	}
	steps := []step{
		{name: StepValidate, run: func() error { return workflow.ExecuteActivity(sctx, a.ValidateApplication, ref).Get(ctx, nil) }},
		{name: StepResolveProfile, run: func() error {
			return workflow.ExecuteActivity(sctx, a.ResolveAppProfile, ref).Get(ctx, &target)
		}, done: func() string { return target.ClusterName + ": " + target.Reason }},
		{name: StepWriteApplication, run: func() error {
			write := on()
			if workflow.GetVersion(ctx, appRepoCredentialsChange, workflow.DefaultVersion, 1) >= 1 {
				url, err := writeRepoCredential(ctx, kctx, ref, target.ClusterID)
				if err != nil {
					return err
				}
				write.RepoURL = url
			}
			return workflow.ExecuteActivity(kctx, a.WriteApplication, write).Get(ctx, nil)
		}},
		{name: StepWaitHealthy, skip: manualSkip(in.ManualSync), run: func() error {
			return workflow.ExecuteActivity(wctx, a.WaitApplication, on()).Get(ctx, &health)
		}, done: func() string { return health.Sync + "/" + health.Health }},
		{name: StepRecord, run: func() error {
			msg := "deployed on " + target.ClusterName
			if in.ManualSync {
				msg = "written on " + target.ClusterName + "; manual sync: resync to sync it"
			}
			return workflow.ExecuteActivity(sctx, a.RecordApplication, activities.AppRecord{OrgID: in.OrgID, AppID: in.AppID,
				OperationID: in.OperationID, Status: store.AppDeployed, Message: msg,
				ClusterID: target.ClusterID, Sync: health.Sync, Health: health.Health}).Get(ctx, nil)
		}},
	}
	if err := newRunner(t, op).run(ctx, steps); err != nil {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		status, message := StatusFailed, "deploy failed at "+t.p.Phase+": "+describe(err)
		if cancelled(ctx, err) {
			status, message = StatusCancelled, "deploy cancelled at "+t.p.Phase
		}
		_ = workflow.ExecuteActivity(storeOptions(dctx), a.RecordApplication, activities.AppRecord{OrgID: in.OrgID, AppID: in.AppID,
			OperationID: in.OperationID, Status: store.AppFailed, Message: message, ClusterID: target.ClusterID,
			Sync: health.Sync, Health: health.Health}).Get(dctx, nil)
		t.finish(dctx, status, message)
		if status == StatusCancelled {
			return AppDeployResult{}, temporal.NewCanceledError(message)
		}
		return AppDeployResult{}, err
	}
	res = AppDeployResult{ClusterID: target.ClusterID, ClusterName: target.ClusterName, Reason: target.Reason, Sync: health.Sync, Health: health.Health}
	t.finish(ctx, StatusSucceeded, "deployed on "+target.ClusterName)
	return res, nil
}

func manualSkip(manual bool) string {
	if manual {
		return "manual sync: the application syncs when resynced"
	}
	return ""
}

// ResyncApplication asks Argo CD to sync the application now, waits until it is
// Synced and Healthy, and records it DEPLOYED; a failure records it FAILED.
func ResyncApplication(ctx workflow.Context, in AppOperationInput) (AppDeployResult, error) {
	op := Operation{OrgID: in.OrgID, ClusterID: in.ClusterID, OperationID: in.OperationID}
	t, err := newTracker(ctx, op, OpAppResync, AppResyncSteps...)
	if err != nil {
		return AppDeployResult{}, err
	}
	var a *activities.Apps
	wait := in.Wait
	if wait <= 0 {
		wait = DefaultAppWait
	}
	kctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 10, NonRetryableErrorTypes: nonRetryable},
	})
	wctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: wait, HeartbeatTimeout: time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	on := activities.AppOnCluster{OrgID: in.OrgID, AppID: in.AppID, ClusterID: in.ClusterID}
	var health activities.AppHealth
	steps := []step{
		{name: StepResync, run: func() error {
			return workflow.ExecuteActivity(kctx, a.ResyncArgoApplication, activities.AppResync{OrgID: in.OrgID, AppID: in.AppID,
				ClusterID: in.ClusterID, Force: in.Force}).Get(ctx, nil)
		}},
		{name: StepWaitHealthy, run: func() error { return workflow.ExecuteActivity(wctx, a.WaitApplication, on).Get(ctx, &health) },
			done: func() string { return health.Sync + "/" + health.Health }},
		{name: StepRecord, run: func() error {
			return workflow.ExecuteActivity(storeOptions(ctx), a.RecordApplication, activities.AppRecord{OrgID: in.OrgID, AppID: in.AppID,
				OperationID: in.OperationID, Status: store.AppDeployed, Message: "resynced", Sync: health.Sync, Health: health.Health}).Get(ctx, nil)
		}},
	}
	if err := newRunner(t, op).run(ctx, steps); err != nil {
		fctx, _ := workflow.NewDisconnectedContext(ctx)
		message := "resync failed at " + t.p.Phase + ": " + describe(err)
		_ = workflow.ExecuteActivity(storeOptions(fctx), a.RecordApplication, activities.AppRecord{OrgID: in.OrgID, AppID: in.AppID,
			OperationID: in.OperationID, Status: store.AppFailed, Message: message, Sync: health.Sync, Health: health.Health}).Get(fctx, nil)
		t.finish(fctx, StatusFailed, message)
		return AppDeployResult{}, err
	}
	t.finish(ctx, StatusSucceeded, "resynced")
	return AppDeployResult{ClusterID: in.ClusterID, Sync: health.Sync, Health: health.Health}, nil
}

// appDeleteReleasesCredentialChange: from version 1 an application's delete removes
// its private repository's credential from the cluster when it was the last
// application using it (ReleaseRepoCredential), before it forgets the application.
const appDeleteReleasesCredentialChange = "app-delete-releases-repo-credential" //nolint:gosec // a change ID, not a credential

// releaseOptions bound ReleaseRepoCredential: a store read and one call to the
// cluster's API, tried three times; the delete goes on without it.
func releaseOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second, MaximumAttempts: 3,
			NonRetryableErrorTypes: nonRetryable},
	})
}

// DeleteApplication deletes the application's Argo CD Application with cascade,
// waits until it is gone, releases its private repository's credential when it was
// the last application using it, and forgets the application. A failure records it
// FAILED, to be deleted again.
func DeleteApplication(ctx workflow.Context, in AppOperationInput) (string, error) {
	op := Operation{OrgID: in.OrgID, ClusterID: in.ClusterID, OperationID: in.OperationID}
	t, err := newTracker(ctx, op, OpAppDelete, AppDeleteSteps...)
	if err != nil {
		return "", err
	}
	var a *activities.Apps
	ref := activities.AppRef{OrgID: in.OrgID, AppID: in.AppID}
	dctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute, HeartbeatTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 3, NonRetryableErrorTypes: nonRetryable},
	})
	steps := []step{
		{name: StepDeleteApplication, run: func() error {
			return workflow.ExecuteActivity(dctx, a.DeleteArgoApplication, activities.AppOnCluster{OrgID: in.OrgID, AppID: in.AppID, ClusterID: in.ClusterID}).Get(ctx, nil)
		}},
		{name: StepRecord, run: func() error {
			if workflow.GetVersion(ctx, appDeleteReleasesCredentialChange, workflow.DefaultVersion, 1) >= 1 {
				// Best effort: the repository's refresher removes a credential left here.
				err := workflow.ExecuteActivity(releaseOptions(ctx), a.ReleaseRepoCredential, activities.AppOnCluster{OrgID: in.OrgID, AppID: in.AppID, ClusterID: in.ClusterID}).Get(ctx, nil)
				if err != nil {
					workflow.GetLogger(ctx).Warn("repository credential not released; its refresher removes it", "appID", in.AppID, "error", err)
				}
			}
			return workflow.ExecuteActivity(storeOptions(ctx), a.ForgetApplication, ref).Get(ctx, nil)
		}},
	}
	if err := newRunner(t, op).run(ctx, steps); err != nil {
		fctx, _ := workflow.NewDisconnectedContext(ctx)
		message := "delete failed at " + t.p.Phase + ": " + describe(err)
		_ = workflow.ExecuteActivity(storeOptions(fctx), a.RecordApplication, activities.AppRecord{OrgID: in.OrgID, AppID: in.AppID,
			OperationID: in.OperationID, Status: store.AppFailed, Message: message}).Get(fctx, nil)
		t.finish(fctx, StatusFailed, message)
		return "", err
	}
	t.finish(ctx, StatusSucceeded, "application deleted")
	return "DELETED", nil
}
