package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// The Azure connection's operation type and its waiting step (its other steps are
// StepSetupScript and StepConnectRecord).
const (
	OpConnectAzure = "connect-azure"

	StepWaitForIdentity = "waitForIdentity"
)

// ConnectAzureSubscriptionInput starts the connection of an Azure subscription: the
// connection record (made by the API) names the organization, cluster, subscription,
// tenant, resource group and level. It carries no credential. Timing as
// ConnectAWSAccountInput.
type ConnectAzureSubscriptionInput struct {
	OrgID        string
	ConnectionID string
	// Timeout bounds the wait for the customer's setup; default an hour.
	Timeout time.Duration
	// Poll is the first wait between attempts, doubling up to MaxPoll.
	Poll, MaxPoll time.Duration
}

// ConnectAzureSubscriptionResult is how the connection ended.
type ConnectAzureSubscriptionResult struct {
	Status   string // CONNECTED, FAILED or CANCELLED
	Message  string
	ClientID string
}

// ConnectAzureSubscription connects an Azure subscription: it makes the setup script
// (step setupScript), waits with backoff until the managed identity the script
// reports exchanges the organization's token and reads its scope, or the timeout
// passes (step waitForIdentity), and records the connected subscription (step
// record). Each step's state is recorded on the connection as it changes; a failure
// or a cancel is recorded with its reason.
func ConnectAzureSubscription(ctx workflow.Context, in ConnectAzureSubscriptionInput) (ConnectAzureSubscriptionResult, error) {
	var a *activities.CloudAccounts
	var prep activities.PrepareAzureConnectionResult
	var verified activities.VerifyAzureIdentityResult
	f := connectFlow{orgID: in.OrgID, connectionID: in.ConnectionID,
		prepareStep: StepSetupScript, waitStep: StepWaitForIdentity,
		preparing: "making the setup script", prepared: "setup script ready",
		refused: activities.ErrTypeAzureRefused,
		prepare: func(sctx workflow.Context) (string, error) {
			err := workflow.ExecuteActivity(sctx, a.PrepareAzureConnection, activities.PrepareAzureConnectionInput{OrgID: in.OrgID, ConnectionID: in.ConnectionID}).Get(sctx, &prep)
			return fmt.Sprintf("waiting for the managed identity %s with the role %s on %s: run the setup script", prep.IdentityName, prep.Role, prep.Scope), err
		},
		verify: func(vctx workflow.Context) (bool, string, error) {
			err := workflow.ExecuteActivity(vctx, a.VerifyAzureIdentity, activities.VerifyAzureIdentityInput{
				OrgID: in.OrgID, ConnectionID: in.ConnectionID}).Get(vctx, &verified)
			return verified.Ready, verified.Reason, err
		},
		timedOut: func(timeout time.Duration, last string) error {
			return fmt.Errorf("the managed identity %s could not sign in for your organization and read %s within %s "+
				"(last answer: %s); run the setup script, then connect again", prep.IdentityName, prep.Scope, timeout, last)
		},
		verified: func() string { return fmt.Sprintf("signed in as %s and read %s", verified.ClientID, prep.Scope) },
		connected: func(*activities.RecordConnectionInput) string {
			return fmt.Sprintf("connected: subscription %s through managed identity %s (%s on %s)", prep.SubscriptionID, prep.IdentityName, prep.Role, prep.Scope)
		},
	}
	f.timeout, f.poll, f.max = connectTiming(in.Timeout, in.Poll, in.MaxPoll)
	status, msg, err := f.run(ctx)
	out := ConnectAzureSubscriptionResult{Status: status, Message: msg}
	if status == store.ConnectionConnected {
		out.ClientID = verified.ClientID
	}
	return out, err
}

// IssueAzureCredentialsInput asks for a temporary access token of a connected
// subscription, sealed to the API's one-time key.
type IssueAzureCredentialsInput = activities.IssueAzureCredentialsInput

// IssueAzureCredentials runs the one activity that exchanges the platform's token for
// the identity's; its result (and so its history) holds the token sealed only.
func IssueAzureCredentials(ctx workflow.Context, in IssueAzureCredentialsInput) (activities.IssueAzureCredentialsResult, error) {
	var a *activities.CloudAccounts
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second,
			MaximumAttempts: 3, NonRetryableErrorTypes: append(append([]string{}, nonRetryable...),
				activities.ErrTypeNotConfigured, activities.ErrTypeNotConnected)},
	})
	var out activities.IssueAzureCredentialsResult
	err := workflow.ExecuteActivity(ctx, a.IssueAzureCredentials, in).Get(ctx, &out)
	return out, err
}
