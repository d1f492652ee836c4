package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
)

// appRepoCredentialsChange: the application deploy writes a repository credential
// (and starts its refresher) before the Application when the source is a repository
// of one of the organization's linked GitHub installations.
const appRepoCredentialsChange = "app-private-repo-credentials" //nolint:gosec // a change ID, not a credential

// SignalRepoCredentialWanted tells a running RefreshRepoCredentials that a deploy
// has just written its credential: it must not end on a check made before.
const SignalRepoCredentialWanted = "repo-credential-wanted" //nolint:gosec // a signal name, not a credential

// Repository credential refresh cadence. Installation tokens last an hour; the
// credential is re-minted every RepoCredentialRefreshEvery, a refresh that failed is
// tried again after RepoCredentialRetryEvery, and a run continues as new after
// RepoCredentialIterations refreshes.
const (
	RepoCredentialRefreshEvery = 45 * time.Minute
	RepoCredentialRetryEvery   = 5 * time.Minute
	RepoCredentialIterations   = 32
)

// repoRefresherStarts bounds a deploy's attempts to start or reach the refresher.
const repoRefresherStarts = 3

// RepoCredentialInput names the credential a RefreshRepoCredentials keeps: an
// organization's cluster and a repository's https URL. No secret.
type RepoCredentialInput struct {
	OrgID, ClusterID, RepoURL string
	// Wait is how long the run waits before its first refresh; zero:
	// RepoCredentialRefreshEvery (a deploy has just written the credential).
	Wait time.Duration `json:",omitempty"`
}

// RepoCredentialWorkflowID is the one refresher's workflow ID of a repository
// credential on an organization's cluster.
func RepoCredentialWorkflowID(orgID, clusterID, repoURL string) string {
	return "repo-credential." + orgID + "." + clusterID + "." + strings.TrimSuffix(strings.TrimPrefix(repoURL, "https://"), ".git")
}

// RefreshRepoCredentials keeps a private repository's Argo CD credential on a
// cluster fresh while an application there deploys from it: every
// RepoCredentialRefreshEvery it mints a new token and rewrites the Secret (inside
// the activity: no token ever enters the history). It ends, the Secret deleted,
// once no application uses the repository there (or no linked installation reaches
// it, or the cluster is gone), unless a deploy signalled meanwhile that it wants
// it. It returns why it ended.
func RefreshRepoCredentials(ctx workflow.Context, in RepoCredentialInput) (string, error) {
	var a *activities.Apps
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 5},
	})
	log := workflow.GetLogger(ctx)
	wanted := workflow.GetSignalChannel(ctx, SignalRepoCredentialWanted)
	drain := func() bool {
		got := false
		for wanted.ReceiveAsync(nil) {
			got = true
		}
		return got
	}
	ref := activities.RepoCredentialRef{OrgID: in.OrgID, ClusterID: in.ClusterID, Repo: activities.AppRepository{URL: in.RepoURL}}
	refresh := func() (activities.RepoCredentialState, error) {
		var st activities.RepoCredentialState
		err := workflow.ExecuteActivity(actx, a.RefreshRepoCredential, ref).Get(ctx, &st)
		return st, err
	}
	wait := in.Wait
	if wait <= 0 {
		wait = RepoCredentialRefreshEvery
	}
	for i := 0; i < RepoCredentialIterations; i++ {
		if err := workflow.Sleep(ctx, wait); err != nil {
			return "", err
		}
		st, err := refresh()
		if err == nil && !st.Written && drain() {
			// A deploy wrote the credential after this refresh looked: look again.
			st, err = refresh()
		}
		drain()
		switch {
		case err != nil:
			log.Warn("repository credential refresh failed", "orgID", in.OrgID, "clusterID", in.ClusterID, "repo", in.RepoURL, "error", err)
			wait = RepoCredentialRetryEvery
		case st.Written:
			wait = RepoCredentialRefreshEvery
		default:
			log.Info("repository credential removed", "orgID", in.OrgID, "clusterID", in.ClusterID, "repo", in.RepoURL, "reason", st.Reason)
			return st.Reason, nil
		}
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			break
		}
	}
	next := in
	next.Wait = wait
	return "", workflow.NewContinueAsNewError(ctx, RefreshRepoCredentials, next)
}

// ensureRepoRefresher starts the credential's refresher (its fixed ID: one per
// organization, cluster and repository), abandoned to outlive the deploy; one
// already running is signalled that the credential is wanted. A refresher that ends
// between the two is started again.
func ensureRepoRefresher(ctx workflow.Context, in RepoCredentialInput) error {
	id := RepoCredentialWorkflowID(in.OrgID, in.ClusterID, in.RepoURL)
	dctx, _ := workflow.NewDisconnectedContext(ctx) // a cancelled deploy does not cancel the refresher
	cctx := workflow.WithChildOptions(dctx, workflow.ChildWorkflowOptions{WorkflowID: id,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE})
	var err error
	for range repoRefresherStarts {
		err = workflow.ExecuteChildWorkflow(cctx, RefreshRepoCredentials, in).GetChildWorkflowExecution().Get(ctx, nil)
		if !temporal.IsWorkflowExecutionAlreadyStartedError(err) {
			break
		}
		if err = workflow.SignalExternalWorkflow(ctx, id, "", SignalRepoCredentialWanted, nil).Get(ctx, nil); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("start the repository credential refresher %s: %w", id, err)
	}
	return nil
}

// writeRepoCredential writes the application's repository credential on the
// cluster when its source is a repository of a linked GitHub installation, with the
// refresher that keeps it, and returns the URL the Application must name ("": a
// public source, nothing written).
func writeRepoCredential(ctx, kctx workflow.Context, ref activities.AppRef, clusterID string) (string, error) {
	var a *activities.Apps
	var repo activities.AppRepository
	if err := workflow.ExecuteActivity(kctx, a.ResolveAppRepository, ref).Get(ctx, &repo); err != nil {
		return "", err
	}
	if repo.URL == "" {
		return "", nil
	}
	if err := ensureRepoRefresher(ctx, RepoCredentialInput{OrgID: ref.OrgID, ClusterID: clusterID, RepoURL: repo.URL}); err != nil {
		return "", err
	}
	err := workflow.ExecuteActivity(kctx, a.WriteRepoCredential, activities.RepoCredentialRef{OrgID: ref.OrgID, ClusterID: clusterID, Repo: repo}).Get(ctx, nil)
	if err != nil {
		return "", err
	}
	return repo.URL, nil
}
