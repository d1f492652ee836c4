package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/store"
)

// UpdateDecide is the Update that delivers an approval decision to a waiting
// operation. Its validator refuses a decision the gate cannot take (no gate open, or
// already decided), so the caller learns at once whether it was accepted.
const UpdateDecide = "decide"

// StepApproval is the progress step of the approval gate.
const StepApproval = "approval"

// Decision actions.
const (
	ActionApprove = "APPROVE"
	ActionReject  = "REJECT"
)

// Error types an operation ends with when its approval gate closes it.
const (
	ErrTypeRejected = "Rejected"
	ErrTypeExpired  = "Expired"
)

// Statuses progress shows while and after waiting.
const (
	StatusWaitingForApproval = "WAITING_FOR_APPROVAL"
	StatusRejected           = "REJECTED"
	StatusExpired            = "EXPIRED"
)

// ApprovalGate is in an operation's input when its organization's policy wants the
// operation approved first.
type ApprovalGate struct {
	ExpiresIn     time.Duration
	ApproverRoles []string
	RequestedBy   string
	Summary       []activities.Fact
}

// Decision is the argument of UpdateDecide.
type Decision struct {
	Action    string // APPROVE or REJECT
	DecidedBy string // who decided, for progress and audit
}

// DecisionResult is what UpdateDecide answers.
type DecisionResult struct {
	Status string // APPROVED or REJECTED
}

// Approval is what progress shows of an approval gate.
type Approval struct {
	RequestedFrom []string   `json:"requestedFrom"`
	ExpiresAt     time.Time  `json:"expiresAt"`
	Status        string     `json:"status"`
	DecidedBy     string     `json:"decidedBy,omitempty"`
	DecidedAt     *time.Time `json:"decidedAt,omitempty"`
}

// gate is an operation's approval gate; the decide handler is registered at workflow
// start so it exists before any link is sent.
type gate struct {
	open     bool
	decision *Decision
}

func newGate(ctx workflow.Context) (*gate, error) {
	g := &gate{}
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide,
		func(ctx workflow.Context, d Decision) (DecisionResult, error) {
			g.decision = &d
			if d.Action == ActionApprove {
				return DecisionResult{Status: store.ApprovalApproved}, nil
			}
			return DecisionResult{Status: store.ApprovalRejected}, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, d Decision) error {
			switch {
			case d.Action != ActionApprove && d.Action != ActionReject:
				return fmt.Errorf("action %q is neither %s nor %s", d.Action, ActionApprove, ActionReject)
			case g.decision != nil:
				return fmt.Errorf("the operation was already %s", decidedWord(g.decision.Action))
			case !g.open:
				return fmt.Errorf("the operation is not waiting for approval")
			}
			return nil
		}})
	return g, err
}

func decidedWord(action string) string {
	if action == ActionApprove {
		return "approved"
	}
	return "rejected"
}

// approvalChange versions the gate and the notifications: histories recorded before
// they existed replay without them.
const approvalChange = "approval-gate"

// approvalExpiryChange ends the wait at the expiry the request reports and its links
// carry (to the second), however long recording the request took; before it, the wait
// ran the whole ExpiresIn from after recording, later than reported.
const approvalExpiryChange = "approval-expiry-deadline"

// await runs the approval step: it records the request, sends the links (without
// waiting for delivery: a channel that is down delays the links, never the gate), and
// waits for a decision or the expiry on a durable timer. It returns nil when approved,
// an ApplicationError of type Rejected or Expired otherwise, or the cancellation.
func (g *gate) await(ctx workflow.Context, t *tracker, op Operation, opType, clusterName string, in *ApprovalGate) error {
	if in == nil || workflow.GetVersion(ctx, approvalChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		t.skip(ctx, StepApproval, "no approval required")
		return nil
	}
	var a *activities.Notifier
	t.start(ctx, StepApproval)
	exactExpiry := workflow.GetVersion(ctx, approvalExpiryChange, workflow.DefaultVersion, 1) >= 1
	expiresAt := workflow.Now(ctx).Add(in.ExpiresIn)
	if exactExpiry {
		expiresAt = expiresAt.Truncate(time.Second) // links carry whole seconds
	}
	req := activities.ApprovalInput{
		OrgID: op.OrgID, ClusterID: op.ClusterID, ClusterName: clusterName, OperationID: op.OperationID,
		OperationType: opType, ExpiresAt: expiresAt, ApproverRoles: in.ApproverRoles, RequestedBy: in.RequestedBy,
		Summary: in.Summary,
	}
	var asked activities.RequestApprovalResult
	if err := workflow.ExecuteActivity(storeOptions(ctx), a.RequestApproval, req).Get(ctx, &asked); err != nil {
		t.end(ctx, stepStatusFor(ctx, err), stepMessage(ctx, err))
		return err
	}
	emit(ctx, op, activities.TopicClusterApprovalRequest, clusterName,
		fmt.Sprintf("The %s of cluster %s waits for approval until %s (operation %s).", opType, clusterName, expiresAt.UTC().Format(time.RFC1123), op.OperationID))
	t.p.Status = StatusWaitingForApproval
	t.p.Approval = &Approval{RequestedFrom: asked.Approvers, ExpiresAt: expiresAt, Status: store.ApprovalPending}
	t.publish(ctx)
	g.open = true

	// Links go out on their own; the gate waits for the decision, not for delivery.
	sendCtx, stopSending := workflow.WithCancel(ctx)
	defer stopSending()
	_ = workflow.ExecuteActivity(deliveryOptions(sendCtx, in.ExpiresIn), a.SendApprovalLinks, req)

	wait := in.ExpiresIn
	if exactExpiry {
		wait = expiresAt.Sub(workflow.Now(ctx)) // recording the request took some of it
	}
	decided, err := false, error(nil)
	if wait > 0 {
		decided, err = workflow.AwaitWithTimeout(ctx, wait, func() bool { return g.decision != nil })
	}
	g.open = false
	if err != nil {
		t.end(ctx, StepCancelled, "cancelled while waiting for approval")
		g.recordCancel(ctx, op, opType)
		return err
	}
	status, by := store.ApprovalExpired, ""
	if decided {
		by = g.decision.DecidedBy
		status = store.ApprovalRejected
		if g.decision.Action == ActionApprove {
			status = store.ApprovalApproved
		}
	}
	now := workflow.Now(ctx)
	t.p.Approval.Status, t.p.Approval.DecidedBy, t.p.Approval.DecidedAt = status, by, &now
	t.publish(ctx)
	err = workflow.ExecuteActivity(storeOptions(ctx), a.RecordApprovalDecision, activities.DecisionInput{
		OrgID: op.OrgID, ClusterID: op.ClusterID, OperationID: op.OperationID, OperationType: opType, Status: status, DecidedBy: by,
	}).Get(ctx, nil)
	if err != nil {
		t.end(ctx, stepStatusFor(ctx, err), stepMessage(ctx, err))
		return err
	}
	emit(ctx, op, activities.TopicClusterApprovalDecision, clusterName,
		fmt.Sprintf("The %s of cluster %s was %s%s (operation %s).", opType, clusterName, strings.ToLower(status), byWhom(by), op.OperationID))
	switch status {
	case store.ApprovalApproved:
		t.p.Status = StatusRunning
		t.end(ctx, StepSucceeded, "approved by "+by)
		return nil
	case store.ApprovalRejected:
		t.end(ctx, StepFailed, "rejected by "+by)
		return temporal.NewNonRetryableApplicationError("rejected by "+by, ErrTypeRejected, nil)
	default:
		t.end(ctx, StepFailed, "approval request expired")
		return temporal.NewNonRetryableApplicationError("approval request expired at "+expiresAt.UTC().Format(time.RFC3339), ErrTypeExpired, nil)
	}
}

// approvalCancelChange records an approval request cancelled while waiting as
// CANCELLED (version 1), so its links say so instead of offering buttons; before it,
// the request stayed PENDING until it expired.
const approvalCancelChange = "approval-cancel-recorded"

// recordCancel records the request of an operation cancelled while it waited, in a
// context the cancel does not reach. The operation is cancelled whatever happens, so a
// store that fails here only leaves the request PENDING, as before this change.
func (g *gate) recordCancel(ctx workflow.Context, op Operation, opType string) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if workflow.GetVersion(dctx, approvalCancelChange, workflow.DefaultVersion, 1) < 1 {
		return
	}
	var a *activities.Notifier
	_ = workflow.ExecuteActivity(storeOptions(dctx), a.RecordApprovalDecision, activities.DecisionInput{
		OrgID: op.OrgID, ClusterID: op.ClusterID, OperationID: op.OperationID, OperationType: opType, Status: store.ApprovalCancelled,
	}).Get(dctx, nil)
}

func byWhom(by string) string {
	if by == "" {
		return ""
	}
	return " by " + by
}

// deliveryOptions retry a notification until it is delivered or no longer useful.
func deliveryOptions(ctx workflow.Context, within time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToCloseTimeout: within,
		StartToCloseTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 2 * time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeInvalidInput},
		},
	})
}

// gateOutcome is how an operation stopped by err is recorded: operation status,
// progress status, and whether it was cancelled.
func gateOutcome(ctx workflow.Context, err error) (opStatus, status string) {
	var appErr *temporal.ApplicationError
	switch {
	case cancelled(ctx, err):
		return store.OperationCancelled, StatusCancelled
	case errors.As(err, &appErr) && appErr.Type() == ErrTypeRejected:
		return store.OperationRejected, StatusRejected
	case errors.As(err, &appErr) && appErr.Type() == ErrTypeExpired:
		return store.OperationExpired, StatusExpired
	}
	return store.OperationFailed, StatusFailed
}
