package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// Connection workflow types and the steps of ConnectAWSAccount.
const (
	OpConnectAWS = "connect-aws"

	StepTemplate      = "template"
	StepWaitForRole   = "waitForRole"
	StepConnectRecord = "record"

	// ErrTypeConnectionFailed is the error type of a connection workflow that failed.
	ErrTypeConnectionFailed = "ConnectionFailed"
)

// Defaults of ConnectAWSAccountInput's timing.
const (
	DefaultConnectTimeout = time.Hour
	DefaultConnectPoll    = 10 * time.Second
	DefaultConnectMaxPoll = 2 * time.Minute
)

// ConnectAWSAccountInput starts the connection of an AWS account: the connection
// record (store.CloudConnection, made by the API) names the organization, cluster,
// account, region and level. It carries no credential.
type ConnectAWSAccountInput struct {
	OrgID        string
	ConnectionID string
	// Timeout bounds the wait for the customer's role; default an hour.
	Timeout time.Duration
	// Poll is the first wait between attempts to assume the role, doubling up to
	// MaxPoll; defaults 10 s and 12 Polls (at most 2 min).
	Poll, MaxPoll time.Duration
}

// ConnectAWSAccountResult is how the connection ended.
type ConnectAWSAccountResult struct {
	Status  string // CONNECTED, FAILED or CANCELLED
	Message string
	RoleARN string
}

// ConnectAWSAccount connects an AWS account: it makes the CloudFormation template
// and quick-create link (step template), waits with backoff until the role can be
// assumed with the organization's external ID or the timeout passes (step
// waitForRole), and records the connected account (step record). Each step's state
// is recorded on the connection as it changes, which the status operation answers.
// A failure or a cancel is recorded too, with its reason.
func ConnectAWSAccount(ctx workflow.Context, in ConnectAWSAccountInput) (ConnectAWSAccountResult, error) {
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
	c := &connection{in: in, steps: []activities.ConnectionStep{
		{Name: StepTemplate, Status: "PENDING"}, {Name: StepWaitForRole, Status: "PENDING"}, {Name: StepConnectRecord, Status: "PENDING"}}}
	sctx := storeOptions(ctx)
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 10, NonRetryableErrorTypes: append(append([]string{}, nonRetryable...),
				activities.ErrTypeTrustPolicy, activities.ErrTypeNotConfigured, activities.ErrTypeNotConnected)},
	})

	fail := func(err error) (ConnectAWSAccountResult, error) {
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
			return ConnectAWSAccountResult{Status: status, Message: msg}, err
		}
		// Failed in Temporal too, so operators see it; the record holds the reason.
		return ConnectAWSAccountResult{Status: status, Message: msg},
			temporal.NewNonRetryableApplicationError(msg, ErrTypeConnectionFailed, nil)
	}

	// Step template.
	c.start(ctx, StepTemplate)
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, c.record(ctx, store.ConnectionRunning, "making the CloudFormation template")).Get(ctx, nil); err != nil {
		return fail(err)
	}
	var prep activities.PrepareAWSConnectionResult
	if err := workflow.ExecuteActivity(sctx, a.PrepareAWSConnection, activities.PrepareAWSConnectionInput{OrgID: in.OrgID, ConnectionID: in.ConnectionID}).Get(ctx, &prep); err != nil {
		return fail(err)
	}
	c.end(ctx, StepTemplate, "SUCCEEDED", "template ready")

	// Step waitForRole.
	deadline := workflow.Now(ctx).Add(in.Timeout)
	c.start(ctx, StepWaitForRole)
	waiting := fmt.Sprintf("waiting for the role %s in account %s: create the stack from the setup link", prep.RoleName, prep.AccountID)
	rec := c.record(ctx, store.ConnectionWaitingForCustomer, waiting)
	rec.Deadline = &deadline
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, rec).Get(ctx, nil); err != nil {
		return fail(err)
	}
	var verified activities.VerifyAWSRoleResult
	wait := in.Poll
	for {
		err := workflow.ExecuteActivity(pctx, a.VerifyAWSRole, activities.VerifyAWSRoleInput{
			AccountID: prep.AccountID, RoleName: prep.RoleName, ExternalID: prep.ExternalID}).Get(ctx, &verified)
		if err != nil {
			return fail(err)
		}
		if verified.Ready {
			break
		}
		left := deadline.Sub(workflow.Now(ctx))
		if left <= 0 {
			return fail(fmt.Errorf("the role %s in account %s could not be assumed with your external ID within %s (last answer: %s); "+
				"create the stack from the setup link, then connect again", prep.RoleName, prep.AccountID, in.Timeout, verified.Reason))
		}
		if err := workflow.Sleep(ctx, min(wait, left)); err != nil {
			return fail(err)
		}
		wait = min(2*wait, in.MaxPoll)
	}
	c.end(ctx, StepWaitForRole, "SUCCEEDED", "assumed "+verified.RoleARN)

	// Step record.
	c.start(ctx, StepConnectRecord)
	c.end(ctx, StepConnectRecord, "SUCCEEDED", "")
	now := workflow.Now(ctx)
	msg := fmt.Sprintf("connected: account %s through role %s", prep.AccountID, verified.RoleARN)
	rec = c.record(ctx, store.ConnectionConnected, msg)
	rec.RoleARN, rec.ConnectedAt, rec.Ended = verified.RoleARN, &now, true
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, rec).Get(ctx, nil); err != nil {
		return fail(err)
	}
	return ConnectAWSAccountResult{Status: store.ConnectionConnected, Message: msg, RoleARN: verified.RoleARN}, nil
}

// connection is ConnectAWSAccount's record of its steps.
type connection struct {
	in    ConnectAWSAccountInput
	steps []activities.ConnectionStep
}

func (c *connection) step(name string) *activities.ConnectionStep {
	for i := range c.steps {
		if c.steps[i].Name == name {
			return &c.steps[i]
		}
	}
	return nil
}

func (c *connection) start(ctx workflow.Context, name string) {
	now := workflow.Now(ctx)
	s := c.step(name)
	s.Status, s.StartedAt = "RUNNING", &now
}

func (c *connection) end(ctx workflow.Context, name, status, msg string) {
	now := workflow.Now(ctx)
	s := c.step(name)
	s.Status, s.Message, s.EndedAt = status, msg, &now
}

// endRunning ends the running step with status (FAILED or CANCELLED) and msg.
func (c *connection) endRunning(ctx workflow.Context, status, msg string) {
	for i := range c.steps {
		if c.steps[i].Status == "RUNNING" {
			c.end(ctx, c.steps[i].Name, status, msg)
		}
	}
}

func (c *connection) record(_ workflow.Context, status, msg string) activities.RecordConnectionInput {
	return activities.RecordConnectionInput{OrgID: c.in.OrgID, ConnectionID: c.in.ConnectionID, Status: status, Message: msg,
		Steps: append([]activities.ConnectionStep(nil), c.steps...)}
}

// reason is an error's message for a user: an activity's own message without
// Temporal's wrapping.
func reason(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	return err.Error()
}

// IssueAWSCredentialsInput asks for temporary credentials of a connected account,
// sealed to the API's one-time key (see activities.IssueAWSCredentialsInput).
type IssueAWSCredentialsInput = activities.IssueAWSCredentialsInput

// IssueAWSCredentials runs the one activity that assumes the connected account's
// role; its result (and so its history) holds the credentials sealed only.
func IssueAWSCredentials(ctx workflow.Context, in IssueAWSCredentialsInput) (activities.IssueAWSCredentialsResult, error) {
	var a *activities.CloudAccounts
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 5 * time.Second,
			MaximumAttempts: 3, NonRetryableErrorTypes: append(append([]string{}, nonRetryable...),
				activities.ErrTypeNotConfigured, activities.ErrTypeNotConnected)},
	})
	var out activities.IssueAWSCredentialsResult
	err := workflow.ExecuteActivity(ctx, a.IssueAWSCredentials, in).Get(ctx, &out)
	return out, err
}
