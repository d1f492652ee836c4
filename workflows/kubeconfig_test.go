package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/workflows"
)

// A kubeconfig the provider gives ends the workflow with its context and expiry
// (never the file); one it refuses is recorded FAILED with the reason, and the
// workflow fails too.
func TestIssueKubeconfig(t *testing.T) {
	in := activities.IssueKubeconfigInput{OrgID: "org-1", GrantID: "acme.kc.kubeconfig.1", Duration: time.Hour}
	run := func(issueErr error) (*testsuite.TestWorkflowEnvironment, []activities.FailKubeconfigInput) {
		var ts testsuite.WorkflowTestSuite
		env := ts.NewTestWorkflowEnvironment()
		a := &activities.Cluster{}
		env.RegisterActivity(a)
		var failed []activities.FailKubeconfigInput
		env.OnActivity(a.IssueKubeconfig, mock.Anything, mock.Anything).Return(
			activities.IssuedKubeconfig{Context: "astro", ExpiresAt: time.Unix(3600, 0)}, issueErr)
		env.OnActivity(a.FailKubeconfig, mock.Anything, mock.Anything).Return(func(_ context.Context, f activities.FailKubeconfigInput) error {
			failed = append(failed, f)
			return nil
		})
		env.ExecuteWorkflow(workflows.IssueKubeconfig, in)
		return env, failed
	}

	env, failed := run(nil)
	var out activities.IssuedKubeconfig
	if err := env.GetWorkflowResult(&out); err != nil || out.Context != "astro" || !out.ExpiresAt.Equal(time.Unix(3600, 0)) {
		t.Fatalf("result %+v, %v", out, err)
	}
	if len(failed) != 0 {
		t.Fatalf("a kubeconfig made was recorded failed: %+v", failed)
	}

	env, failed = run(temporal.NewNonRetryableApplicationError("eks:DescribeCluster is not allowed for the role", "InvalidInput", nil))
	if env.GetWorkflowError() == nil {
		t.Fatal("the workflow succeeded without a kubeconfig")
	}
	if len(failed) != 1 || failed[0].GrantID != in.GrantID || failed[0].OrgID != in.OrgID ||
		!strings.Contains(failed[0].Message, "eks:DescribeCluster is not allowed") {
		t.Fatalf("failure recorded as %+v", failed)
	}
}
