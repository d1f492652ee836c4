package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
)

// KubeconfigWorkflowID is the ID of the workflow that makes kubeconfig grant
// grantID: the grant's own ID.
func KubeconfigWorkflowID(grantID string) string { return grantID }

// IssueKubeconfig makes one kubeconfig grant: the worker, which holds the cloud
// credentials, asks the cluster's provider for the file and seals it into the store
// bound to the grant; the file never enters this workflow's history. A grant that
// cannot be made is recorded FAILED with the reason, for the API to tell the user.
//
// It is not a cluster operation: it changes nothing in the cloud, may run beside an
// update of the same cluster, and is not listed among the cluster's operations.
func IssueKubeconfig(ctx workflow.Context, in activities.IssueKubeconfigInput) (activities.IssuedKubeconfig, error) {
	var a *activities.Cluster
	var out activities.IssuedKubeconfig
	err := workflow.ExecuteActivity(providerOptions(ctx, "IssueKubeconfig"), a.IssueKubeconfig, in).Get(ctx, &out)
	if err == nil {
		return out, nil
	}
	fail := activities.FailKubeconfigInput{OrgID: in.OrgID, GrantID: in.GrantID, Message: "the kubeconfig could not be made: " + describe(err)}
	if ferr := workflow.ExecuteActivity(storeOptions(ctx), a.FailKubeconfig, fail).Get(ctx, nil); ferr != nil {
		workflow.GetLogger(ctx).Error("record failed kubeconfig grant", "grantID", in.GrantID, "err", ferr)
	}
	return out, err
}

// kubeconfigStep sizes IssueKubeconfig for a user waiting on it: a few quick
// attempts rather than a deploy step's patience.
var kubeconfigStep = providerStep{StartToClose: 2 * time.Minute, Attempts: 4, MaxInterval: 10 * time.Second}
