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
	if in.Timeout <= 0 {
		in.Timeout = DefaultConnectTimeout
	}
	if in.Poll <= 0 {
		in.Poll = DefaultConnectPoll
	}
	if in.MaxPoll < in.Poll {
		in.MaxPoll = max(in.Poll, min(DefaultConnectMaxPoll, 12*in.Poll))
	}
	var a *activities.CloudAccounts
	c := &connection{in: ConnectAWSAccountInput{OrgID: in.OrgID, ConnectionID: in.ConnectionID}, steps: []activities.ConnectionStep{
		{Name: StepSetupScript, Status: "PENDING"}, {Name: StepWaitForIdentity, Status: "PENDING"}, {Name: StepConnectRecord, Status: "PENDING"}}}
	sctx := storeOptions(ctx)
	vctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 10, NonRetryableErrorTypes: append(append([]string{}, nonRetryable...),
				activities.ErrTypeAzureRefused, activities.ErrTypeNotConfigured, activities.ErrTypeNotConnected)},
	})

	fail := func(err error) (ConnectAzureSubscriptionResult, error) {
		status, msg := store.ConnectionFailed, reason(err)
		if cancelled(ctx, err) {
			status, msg = store.ConnectionCancelled, "the connection was cancelled"
		}
		c.endRunning(ctx, status, msg)
		// A cancelled workflow's context is done: record in a disconnected one.
		dctx, cancel := workflow.NewDisconnectedContext(sctx)
		defer cancel()
		rec := c.record(dctx, status, msg)
		rec.Ended = true
		if rerr := workflow.ExecuteActivity(dctx, a.RecordConnection, rec).Get(dctx, nil); rerr != nil {
			workflow.GetLogger(ctx).Error("record the connection's end", "err", rerr)
		}
		if status == store.ConnectionCancelled {
			return ConnectAzureSubscriptionResult{Status: status, Message: msg}, err
		}
		return ConnectAzureSubscriptionResult{Status: status, Message: msg},
			temporal.NewNonRetryableApplicationError(msg, ErrTypeConnectionFailed, nil)
	}

	// Step setupScript.
	c.start(ctx, StepSetupScript)
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, c.record(ctx, store.ConnectionRunning, "making the setup script")).Get(ctx, nil); err != nil {
		return fail(err)
	}
	var prep activities.PrepareAzureConnectionResult
	if err := workflow.ExecuteActivity(sctx, a.PrepareAzureConnection, activities.PrepareAzureConnectionInput{OrgID: in.OrgID, ConnectionID: in.ConnectionID}).Get(ctx, &prep); err != nil {
		return fail(err)
	}
	c.end(ctx, StepSetupScript, "SUCCEEDED", "setup script ready")

	// Step waitForIdentity.
	deadline := workflow.Now(ctx).Add(in.Timeout)
	c.start(ctx, StepWaitForIdentity)
	waiting := fmt.Sprintf("waiting for the managed identity %s with the role %s on %s: run the setup script", prep.IdentityName, prep.Role, prep.Scope)
	rec := c.record(ctx, store.ConnectionWaitingForCustomer, waiting)
	rec.Deadline = &deadline
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, rec).Get(ctx, nil); err != nil {
		return fail(err)
	}
	var verified activities.VerifyAzureIdentityResult
	wait := in.Poll
	for {
		err := workflow.ExecuteActivity(vctx, a.VerifyAzureIdentity, activities.VerifyAzureIdentityInput{
			OrgID: in.OrgID, ConnectionID: in.ConnectionID}).Get(ctx, &verified)
		if err != nil {
			return fail(err)
		}
		if verified.Ready {
			break
		}
		left := deadline.Sub(workflow.Now(ctx))
		if left <= 0 {
			return fail(fmt.Errorf("the managed identity %s could not sign in for your organization and read %s within %s "+
				"(last answer: %s); run the setup script, then connect again", prep.IdentityName, prep.Scope, in.Timeout, verified.Reason))
		}
		if err := workflow.Sleep(ctx, min(wait, left)); err != nil {
			return fail(err)
		}
		wait = min(2*wait, in.MaxPoll)
	}
	c.end(ctx, StepWaitForIdentity, "SUCCEEDED", fmt.Sprintf("signed in as %s and read %s", verified.ClientID, prep.Scope))

	// Step record.
	c.start(ctx, StepConnectRecord)
	c.end(ctx, StepConnectRecord, "SUCCEEDED", "")
	now := workflow.Now(ctx)
	msg := fmt.Sprintf("connected: subscription %s through managed identity %s (%s on %s)", prep.SubscriptionID, prep.IdentityName, prep.Role, prep.Scope)
	rec = c.record(ctx, store.ConnectionConnected, msg)
	rec.ConnectedAt, rec.Ended = &now, true
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, rec).Get(ctx, nil); err != nil {
		return fail(err)
	}
	return ConnectAzureSubscriptionResult{Status: store.ConnectionConnected, Message: msg, ClientID: verified.ClientID}, nil
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
