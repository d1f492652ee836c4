package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// The GCP connection's operation type and steps.
const (
	OpConnectGCP = "connect-gcp"

	StepSetupScript       = "setupScript"
	StepWaitForFederation = "waitForFederation"
)

// ConnectGCPProjectInput starts the connection of a GCP project: the connection
// record (made by the API) names the organization, cluster, project ID and number and
// level. It carries no credential. Timing as ConnectAWSAccountInput.
type ConnectGCPProjectInput struct {
	OrgID        string
	ConnectionID string
	// Timeout bounds the wait for the customer's setup; default an hour.
	Timeout time.Duration
	// Poll is the first wait between attempts, doubling up to MaxPoll.
	Poll, MaxPoll time.Duration
}

// ConnectGCPProjectResult is how the connection ended.
type ConnectGCPProjectResult struct {
	Status         string // CONNECTED, FAILED or CANCELLED
	Message        string
	ServiceAccount string
}

// ConnectGCPProject connects a GCP project: it makes the setup script (step
// setupScript), waits with backoff until the organization's token exchanges for
// the service account's access token, or the timeout passes (step
// waitForFederation), and records the connected project (step record). Each step's
// state is recorded on the connection as it changes; a failure or a cancel is
// recorded with its reason.
func ConnectGCPProject(ctx workflow.Context, in ConnectGCPProjectInput) (ConnectGCPProjectResult, error) {
	var a *activities.CloudAccounts
	var prep activities.PrepareGCPConnectionResult
	f := connectFlow{orgID: in.OrgID, connectionID: in.ConnectionID,
		prepareStep: StepSetupScript, waitStep: StepWaitForFederation,
		preparing: "making the setup script", prepared: "setup script ready",
		refused: activities.ErrTypeGCPCondition,
		prepare: func(sctx workflow.Context) (string, error) {
			err := workflow.ExecuteActivity(sctx, a.PrepareGCPConnection, activities.PrepareGCPConnectionInput{OrgID: in.OrgID, ConnectionID: in.ConnectionID}).Get(sctx, &prep)
			return fmt.Sprintf("waiting for workload identity federation in project %s: run the setup script (it makes the service account %s)",
				prep.ProjectID, prep.ServiceAccount), err
		},
		verify: func(vctx workflow.Context) (bool, string, error) {
			var verified activities.VerifyGCPFederationResult
			err := workflow.ExecuteActivity(vctx, a.VerifyGCPFederation, activities.VerifyGCPFederationInput{
				OrgID: in.OrgID, ProjectNumber: prep.ProjectNumber, ServiceAccount: prep.ServiceAccount}).Get(vctx, &verified)
			return verified.Ready, verified.Reason, err
		},
		timedOut: func(timeout time.Duration, last string) error {
			return fmt.Errorf("the service account %s of project %s could not be impersonated through workload identity federation within %s "+
				"(last answer: %s); run the setup script, then connect again", prep.ServiceAccount, prep.ProjectID, timeout, last)
		},
		verified: func() string { return "impersonated " + prep.ServiceAccount },
		connected: func(*activities.RecordConnectionInput) string {
			return fmt.Sprintf("connected: project %s through service account %s", prep.ProjectID, prep.ServiceAccount)
		},
	}
	f.timeout, f.poll, f.max = connectTiming(in.Timeout, in.Poll, in.MaxPoll)
	status, msg, err := f.run(ctx)
	out := ConnectGCPProjectResult{Status: status, Message: msg}
	if status == store.ConnectionConnected {
		out.ServiceAccount = prep.ServiceAccount
	}
	return out, err
}

// IssueGCPCredentialsInput asks for a temporary access token of a connected project,
// sealed to the API's one-time key.
type IssueGCPCredentialsInput = activities.IssueGCPCredentialsInput

// IssueGCPCredentials runs the one activity that exchanges the platform's token for
// the service account's; its result (and so its history) holds the token sealed only.
func IssueGCPCredentials(ctx workflow.Context, in IssueGCPCredentialsInput) (activities.IssueGCPCredentialsResult, error) {
	var a *activities.CloudAccounts
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second,
			MaximumAttempts: 3, NonRetryableErrorTypes: append(append([]string{}, nonRetryable...),
				activities.ErrTypeNotConfigured, activities.ErrTypeNotConnected)},
	})
	var out activities.IssueGCPCredentialsResult
	err := workflow.ExecuteActivity(ctx, a.IssueGCPCredentials, in).Get(ctx, &out)
	return out, err
}
