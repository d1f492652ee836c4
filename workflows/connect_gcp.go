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
		{Name: StepSetupScript, Status: "PENDING"}, {Name: StepWaitForFederation, Status: "PENDING"}, {Name: StepConnectRecord, Status: "PENDING"}}}
	sctx := storeOptions(ctx)
	vctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 10, NonRetryableErrorTypes: append(append([]string{}, nonRetryable...),
				activities.ErrTypeGCPCondition, activities.ErrTypeNotConfigured, activities.ErrTypeNotConnected)},
	})

	fail := func(err error) (ConnectGCPProjectResult, error) {
		status, msg := store.ConnectionFailed, reason(err)
		if cancelled(ctx, err) {
			status, msg = store.ConnectionCancelled, "the connection was cancelled"
		}
		c.endRunning(ctx, status, msg)
		dctx, cancel := workflow.NewDisconnectedContext(sctx)
		defer cancel()
		rec := c.record(dctx, status, msg)
		rec.Ended = true
		if rerr := workflow.ExecuteActivity(dctx, a.RecordConnection, rec).Get(dctx, nil); rerr != nil {
			workflow.GetLogger(ctx).Error("record the connection's end", "err", rerr)
		}
		if status == store.ConnectionCancelled {
			return ConnectGCPProjectResult{Status: status, Message: msg}, err
		}
		return ConnectGCPProjectResult{Status: status, Message: msg},
			temporal.NewNonRetryableApplicationError(msg, ErrTypeConnectionFailed, nil)
	}

	// Step setupScript.
	c.start(ctx, StepSetupScript)
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, c.record(ctx, store.ConnectionRunning, "making the setup script")).Get(ctx, nil); err != nil {
		return fail(err)
	}
	var prep activities.PrepareGCPConnectionResult
	if err := workflow.ExecuteActivity(sctx, a.PrepareGCPConnection, activities.PrepareGCPConnectionInput{OrgID: in.OrgID, ConnectionID: in.ConnectionID}).Get(ctx, &prep); err != nil {
		return fail(err)
	}
	c.end(ctx, StepSetupScript, "SUCCEEDED", "setup script ready")

	// Step waitForFederation.
	deadline := workflow.Now(ctx).Add(in.Timeout)
	c.start(ctx, StepWaitForFederation)
	waiting := fmt.Sprintf("waiting for workload identity federation in project %s: run the setup script (it makes the service account %s)",
		prep.ProjectID, prep.ServiceAccount)
	rec := c.record(ctx, store.ConnectionWaitingForCustomer, waiting)
	rec.Deadline = &deadline
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, rec).Get(ctx, nil); err != nil {
		return fail(err)
	}
	var verified activities.VerifyGCPFederationResult
	wait := in.Poll
	for {
		err := workflow.ExecuteActivity(vctx, a.VerifyGCPFederation, activities.VerifyGCPFederationInput{
			OrgID: in.OrgID, ProjectNumber: prep.ProjectNumber, ServiceAccount: prep.ServiceAccount}).Get(ctx, &verified)
		if err != nil {
			return fail(err)
		}
		if verified.Ready {
			break
		}
		left := deadline.Sub(workflow.Now(ctx))
		if left <= 0 {
			return fail(fmt.Errorf("the service account %s of project %s could not be impersonated through workload identity federation within %s "+
				"(last answer: %s); run the setup script, then connect again", prep.ServiceAccount, prep.ProjectID, in.Timeout, verified.Reason))
		}
		if err := workflow.Sleep(ctx, min(wait, left)); err != nil {
			return fail(err)
		}
		wait = min(2*wait, in.MaxPoll)
	}
	c.end(ctx, StepWaitForFederation, "SUCCEEDED", "impersonated "+prep.ServiceAccount)

	// Step record.
	c.start(ctx, StepConnectRecord)
	c.end(ctx, StepConnectRecord, "SUCCEEDED", "")
	now := workflow.Now(ctx)
	msg := fmt.Sprintf("connected: project %s through service account %s", prep.ProjectID, prep.ServiceAccount)
	rec = c.record(ctx, store.ConnectionConnected, msg)
	rec.ConnectedAt, rec.Ended = &now, true
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, rec).Get(ctx, nil); err != nil {
		return fail(err)
	}
	return ConnectGCPProjectResult{Status: store.ConnectionConnected, Message: msg, ServiceAccount: prep.ServiceAccount}, nil
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
