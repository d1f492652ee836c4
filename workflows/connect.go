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
	var a *activities.CloudAccounts
	var prep activities.PrepareAWSConnectionResult
	var verified activities.VerifyAWSRoleResult
	f := connectFlow{orgID: in.OrgID, connectionID: in.ConnectionID,
		prepareStep: StepTemplate, waitStep: StepWaitForRole,
		preparing: "making the CloudFormation template", prepared: "template ready",
		refused: activities.ErrTypeTrustPolicy,
		prepare: func(sctx workflow.Context) (string, error) {
			err := workflow.ExecuteActivity(sctx, a.PrepareAWSConnection, activities.PrepareAWSConnectionInput{OrgID: in.OrgID, ConnectionID: in.ConnectionID}).Get(sctx, &prep)
			return fmt.Sprintf("waiting for the role %s in account %s: create the stack from the setup link", prep.RoleName, prep.AccountID), err
		},
		verify: func(vctx workflow.Context) (bool, string, error) {
			err := workflow.ExecuteActivity(vctx, a.VerifyAWSRole, activities.VerifyAWSRoleInput{
				AccountID: prep.AccountID, RoleName: prep.RoleName, ExternalID: prep.ExternalID}).Get(vctx, &verified)
			return verified.Ready, verified.Reason, err
		},
		timedOut: func(timeout time.Duration, last string) error {
			return fmt.Errorf("the role %s in account %s could not be assumed with your external ID within %s (last answer: %s); "+
				"create the stack from the setup link, then connect again", prep.RoleName, prep.AccountID, timeout, last)
		},
		verified: func() string { return "assumed " + verified.RoleARN },
		connected: func(rec *activities.RecordConnectionInput) string {
			rec.RoleARN = verified.RoleARN
			return fmt.Sprintf("connected: account %s through role %s", prep.AccountID, verified.RoleARN)
		},
	}
	f.timeout, f.poll, f.max = connectTiming(in.Timeout, in.Poll, in.MaxPoll)
	status, msg, err := f.run(ctx)
	out := ConnectAWSAccountResult{Status: status, Message: msg}
	if status == store.ConnectionConnected {
		out.RoleARN = verified.RoleARN
	}
	return out, err
}

// connectFlow is what one cloud's connection workflow adds to the steps all three
// share: prepare the customer's setup (step prepareStep), wait with backoff until
// verify says the setup works or the deadline passes (step waitStep), and record the
// connection (step record). The commands it issues are those ConnectAWSAccount
// issued before the GCP and Azure workflows shared them: recorded histories replay.
type connectFlow struct {
	orgID, connectionID string
	timeout, poll, max  time.Duration

	prepareStep, waitStep string
	preparing, prepared   string // the prepare step's running and end messages
	// refused is the verify activity's own non-retryable error type.
	refused string
	// prepare runs the prepare activity and says what the wait step shows meanwhile.
	prepare func(sctx workflow.Context) (waiting string, err error)
	// verify asks once whether the setup works: ready, or why not yet.
	verify func(vctx workflow.Context) (ready bool, why string, err error)
	// timedOut is the failure once the deadline passed, last the last answer.
	timedOut func(timeout time.Duration, last string) error
	// verified is the wait step's end message; connected fills the connected record
	// and answers its message.
	verified  func() string
	connected func(rec *activities.RecordConnectionInput) string
}

// connectTiming applies the defaults of a connection's timing: an hour's deadline, a
// first wait of DefaultConnectPoll doubling up to 12 of them (at most
// DefaultConnectMaxPoll), or a ceiling the caller gave above the first wait.
func connectTiming(timeout, poll, maxPoll time.Duration) (time.Duration, time.Duration, time.Duration) {
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	if poll <= 0 {
		poll = DefaultConnectPoll
	}
	if maxPoll < poll {
		maxPoll = max(poll, min(DefaultConnectMaxPoll, 12*poll))
	}
	return timeout, poll, maxPoll
}

// run runs the steps and answers how the connection ended (CONNECTED, FAILED or
// CANCELLED) with its message; err is the cancel or a non-retryable
// ConnectionFailed, so operators see a failed connection failed in Temporal too.
func (f connectFlow) run(ctx workflow.Context) (status, msg string, err error) {
	var a *activities.CloudAccounts
	c := &connection{orgID: f.orgID, connectionID: f.connectionID, steps: []activities.ConnectionStep{
		{Name: f.prepareStep, Status: "PENDING"}, {Name: f.waitStep, Status: "PENDING"}, {Name: StepConnectRecord, Status: "PENDING"}}}
	sctx := storeOptions(ctx)
	vctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
			MaximumAttempts: 10, NonRetryableErrorTypes: append(append([]string{}, nonRetryable...),
				f.refused, activities.ErrTypeNotConfigured, activities.ErrTypeNotConnected)},
	})

	fail := func(err error) (string, string, error) {
		status, msg := store.ConnectionFailed, reason(err)
		if cancelled(ctx, err) {
			status, msg = store.ConnectionCancelled, "the connection was cancelled"
		}
		c.endRunning(ctx, status, msg)
		// A cancelled workflow's context is done: record in a disconnected one.
		dctx, cancel := workflow.NewDisconnectedContext(sctx)
		defer cancel()
		rec := c.record(status, msg)
		rec.Ended = true
		if rerr := workflow.ExecuteActivity(dctx, a.RecordConnection, rec).Get(dctx, nil); rerr != nil {
			workflow.GetLogger(ctx).Error("record the connection's end", "err", rerr)
		}
		if status == store.ConnectionCancelled {
			return status, msg, err
		}
		return status, msg, temporal.NewNonRetryableApplicationError(msg, ErrTypeConnectionFailed, nil)
	}

	// Step prepare.
	c.start(ctx, f.prepareStep)
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, c.record(store.ConnectionRunning, f.preparing)).Get(ctx, nil); err != nil {
		return fail(err)
	}
	waiting, err := f.prepare(sctx)
	if err != nil {
		return fail(err)
	}
	c.end(ctx, f.prepareStep, "SUCCEEDED", f.prepared)

	// Step wait.
	deadline := workflow.Now(ctx).Add(f.timeout)
	c.start(ctx, f.waitStep)
	rec := c.record(store.ConnectionWaitingForCustomer, waiting)
	rec.Deadline = &deadline
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, rec).Get(ctx, nil); err != nil {
		return fail(err)
	}
	wait := f.poll
	for {
		ready, why, err := f.verify(vctx)
		if err != nil {
			return fail(err)
		}
		if ready {
			break
		}
		left := deadline.Sub(workflow.Now(ctx))
		if left <= 0 {
			return fail(f.timedOut(f.timeout, why))
		}
		if err := workflow.Sleep(ctx, min(wait, left)); err != nil {
			return fail(err)
		}
		wait = min(2*wait, f.max)
	}
	c.end(ctx, f.waitStep, "SUCCEEDED", f.verified())

	// Step record.
	c.start(ctx, StepConnectRecord)
	c.end(ctx, StepConnectRecord, "SUCCEEDED", "")
	now := workflow.Now(ctx)
	rec = c.record(store.ConnectionConnected, "")
	msg = f.connected(&rec)
	rec.Message, rec.ConnectedAt, rec.Ended = msg, &now, true
	if err := workflow.ExecuteActivity(sctx, a.RecordConnection, rec).Get(ctx, nil); err != nil {
		return fail(err)
	}
	return store.ConnectionConnected, msg, nil
}

// connection is a connection workflow's record of its steps.
type connection struct {
	orgID, connectionID string
	steps               []activities.ConnectionStep
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

// record is the connection's state to record: status, message and a copy of the steps.
func (c *connection) record(status, msg string) activities.RecordConnectionInput {
	return activities.RecordConnectionInput{OrgID: c.orgID, ConnectionID: c.connectionID, Status: status, Message: msg,
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
