package clusters

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/internal/idempotency"
	"github.com/astropulse/astroplane/server/approvals"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// newOperation prepares the record of an operation on cl, its ID naming org, cluster
// and type, and the request's hash for Idempotency-Key checks.
func newOperation(c echo.Context, p httpx.Principal, cl store.Cluster, opType string, idemKey *string) store.Operation {
	id := workflows.OperationID(p.OrgName, cl.Name, opType, randomSuffix())
	return store.Operation{
		ID: id, OrgID: p.OrgID, ClusterID: cl.ID, ClusterName: cl.Name, Type: opType,
		Status: store.OperationRunning, WorkflowID: id, IdempotencyKey: deref(idemKey),
		RequestHash: requestHash(c), CreatedBy: p.UserID,
	}
}

// requestHash identifies a request for Idempotency-Key checks: method, path and body.
func requestHash(c echo.Context) string {
	raw := httpx.Body(c)
	return idempotency.RequestHash(c.Request().Method, c.Request().URL.Path, raw)
}

// repeatedOperation answers a change whose Idempotency-Key was seen before, before
// the cluster's state is looked at: a repeat gets the first operation even when that
// operation has since changed the cluster (UPDATING, or DELETED and gone), and the
// same key with another request is a 422. ok is false when there is no key or it is
// new, or when the first operation must be started again (see priorOperation).
func (s *Server) repeatedOperation(c echo.Context, p httpx.Principal, idemKey *string) (prior store.Operation, ok bool, err error) {
	return s.priorOperation(c, store.Operation{OrgID: p.OrgID, IdempotencyKey: deref(idemKey), RequestHash: requestHash(c)})
}

// priorOperation answers a request whose Idempotency-Key was seen before: the same
// operation for the same request, 422 for another. ok is false when the key is new.
//
// A first operation that is still running but whose workflow Temporal does not have
// was recorded and never started: the API was killed, or Temporal or the store failed,
// between the record and the start, and the client, which got no 202, repeats the
// request. Answering it 202 would hand the client an operation that never runs (and
// leave its cluster PENDING for good), so priorOperation returns it with ok false:
// the caller handles the repeat as the first request (resume), under the first
// operation's ID — the request is the same, by its hash — and its start either starts
// the workflow or finds it started by the first request in the meantime. When Temporal
// cannot say, the repeat is answered the error, for the client to repeat again.
func (s *Server) priorOperation(c echo.Context, op store.Operation) (prior store.Operation, ok bool, err error) {
	if op.IdempotencyKey == "" {
		return store.Operation{}, false, nil
	}
	prior, err = s.store.GetOperationByIdempotencyKey(c.Request().Context(), op.OrgID, op.IdempotencyKey)
	if errors.Is(err, store.ErrNotFound) {
		return store.Operation{}, false, nil
	}
	if err != nil {
		return store.Operation{}, false, err
	}
	if err := idempotency.Check(prior.RequestHash, op.RequestHash); err != nil {
		return store.Operation{}, false, &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable,
			Message: "Idempotency-Key was already used with a different request",
			Details: map[string]any{"header.Idempotency-Key": "reused with a different request"}}
	}
	if prior.EndedAt != nil || s.temporal == nil {
		return prior, true, nil
	}
	_, err = s.temporal.DescribeWorkflow(c.Request().Context(), prior.WorkflowID, "")
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		return prior, true, nil
	case errors.As(err, &notFound):
		s.log.WarnContext(c.Request().Context(), "repeated request of an operation whose workflow never started: starting it", "operationID", prior.ID)
		return prior, false, nil
	}
	return store.Operation{}, false, fmt.Errorf("is the workflow of %s started: %w", prior.ID, err)
}

// resume reports whether priorOperation returned an operation to start again.
func resume(prior store.Operation) bool { return prior.ID != "" }

// conflictWithRunning is the 409 for a cluster that already has an operation running.
// An operation whose workflow has ended without recording it (terminated by an
// operator, say) is closed here, so it never blocks the cluster for good; retry
// reports whether the caller should try again.
func (s *Server) conflictWithRunning(ctx context.Context, orgID, clusterID string) (retry bool, err error) {
	running, err := s.store.RunningOperation(ctx, orgID, clusterID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil // finished in between
	}
	if err != nil {
		return false, err
	}
	if s.temporal == nil {
		return false, httpx.ErrNoTemporal
	}
	desc, err := s.temporal.DescribeWorkflow(ctx, running.WorkflowID, "")
	var notFound *serviceerror.NotFound
	stale, status := false, store.OperationFailed
	switch {
	case err == nil && desc.RawResponse.WorkflowExecutionInfo.Status != enums.WORKFLOW_EXECUTION_STATUS_RUNNING:
		stale = true
		if desc.RawResponse.WorkflowExecutionInfo.Status == enums.WORKFLOW_EXECUTION_STATUS_CANCELED {
			status = store.OperationCancelled
		}
	case errors.As(err, &notFound):
		// A request may be between recording its operation and starting the
		// workflow; only an old record without a workflow is stale.
		stale = time.Since(running.CreatedAt) > staleAfter
	}
	if stale {
		done, ferr := s.store.FinishOperation(ctx, orgID, running.ID, status, "workflow ended without recording its outcome", time.Now().UTC())
		if ferr == nil && done {
			return true, nil
		}
	}
	return false, httpx.Conflict(fmt.Sprintf("operation %s (%s) is already running on this cluster", running.ID, running.Type),
		map[string]any{"runningOperationId": running.ID, "runningOperationType": running.Type})
}

// staleAfter is how old a running operation without a workflow must be before it is
// closed as never started.
const staleAfter = time.Minute

// startTimeout bounds a workflow start and the question whether it happened.
const startTimeout = 30 * time.Second

// startWorkflow starts an operation's workflow under the operation's ID, with the
// search attributes operators and the API find it by. The start runs in a context the
// client's disconnect cannot cancel: once the operation is recorded, its workflow
// starts or the record says why not. When the start answers an error, Temporal is
// asked whether the workflow exists (the start may have happened with its answer
// lost): if it does, the start succeeded. notStarted reports that Temporal confirmed
// no such workflow, so the caller may record the operation failed; an error with
// notStarted false leaves the record as it is (a record without a workflow is closed
// as stale later, and a workflow that did start finds its operation open).
func (s *Server) startWorkflow(ctx context.Context, op store.Operation, provider string, wf any, in any) (notStarted bool, err error) {
	if s.temporal == nil {
		return true, httpx.ErrNoTemporal
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), startTimeout)
	defer cancel()
	_, err = s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       op.WorkflowID,
		TaskQueue:                s.taskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.AttrOrgID.ValueSet(op.OrgID),
			workflows.AttrClusterName.ValueSet(op.ClusterName),
			workflows.AttrOperationType.ValueSet(op.Type),
			workflows.AttrProvider.ValueSet(provider),
		),
		StaticSummary: fmt.Sprintf("%s of cluster %s", op.Type, op.ClusterName),
	}, wf, in)
	if err == nil {
		return false, nil
	}
	_, derr := s.temporal.DescribeWorkflow(ctx, op.WorkflowID, "")
	var notFound *serviceerror.NotFound
	switch {
	case derr == nil:
		s.log.WarnContext(ctx, "workflow start answered an error but the workflow exists: it started", "operationID", op.ID, "err", err)
		return false, nil
	case errors.As(derr, &notFound):
		return true, fmt.Errorf("start %s workflow: %w", op.Type, err)
	}
	return false, fmt.Errorf("start %s workflow: %w (and whether it started is unknown: %w)", op.Type, err, derr)
}

// resumeStart starts the workflow of op, recorded by an earlier request whose start
// never happened. A start that fails again leaves the record for the next repeat.
func (s *Server) resumeStart(ctx context.Context, op store.Operation, provider string, wf any, in any) error {
	_, err := s.startWorkflow(ctx, op, provider, wf, in)
	return err
}

// beginOperation records op on an existing cluster and starts its workflow; a
// running operation is a 409 naming it, a repeated Idempotency-Key the same answer.
// It returns the operation that runs (op, or the earlier one of the same key).
func (s *Server) beginOperation(c echo.Context, op store.Operation, provider string, wf any, in any) (store.Operation, error) {
	ctx := c.Request().Context()
	prior, ok, err := s.priorOperation(c, op)
	if err != nil || ok {
		return prior, err
	}
	if resume(prior) {
		if prior.ID != op.ID {
			// Recorded by a request of the same key running alongside, which starts it.
			return prior, nil
		}
		return op, s.resumeStart(ctx, op, provider, wf, in)
	}
	for attempt := 0; ; attempt++ {
		err := s.store.StartOperation(ctx, &op)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) {
			return store.Operation{}, err
		}
		if prior, ok, perr := s.priorOperation(c, op); perr != nil || ok || resume(prior) {
			return prior, perr // the same key won a race with us (and starts its workflow)
		}
		retry, cerr := s.conflictWithRunning(ctx, op.OrgID, op.ClusterID)
		if cerr != nil {
			return store.Operation{}, cerr
		}
		if !retry || attempt > 0 {
			return store.Operation{}, httpx.Conflict("another operation is running on this cluster", nil)
		}
	}
	if notStarted, err := s.startWorkflow(ctx, op, provider, wf, in); err != nil {
		if notStarted {
			_, _ = s.store.FinishOperation(context.WithoutCancel(ctx), op.OrgID, op.ID, store.OperationFailed, "workflow did not start", time.Now().UTC())
		}
		return store.Operation{}, err
	}
	return op, nil
}

// gateAhead starts reading the organization's approval policy for an operation of
// opType and returns the wait for its gate (approvals.Gate), so the read can overlap
// the caller's other work.
func gateAhead(ctx context.Context, st *store.Store, p httpx.Principal, opType string, facts []activities.Fact) func() (*workflows.ApprovalGate, error) {
	type result struct {
		gate *workflows.ApprovalGate
		err  error
	}
	ch := make(chan result, 1) // the read ends even when nobody waits for it
	go func() {
		g, err := approvals.Gate(ctx, st, p, opType, facts)
		ch <- result{g, err}
	}()
	return func() (*workflows.ApprovalGate, error) {
		r := <-ch
		return r.gate, r.err
	}
}
