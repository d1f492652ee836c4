package clusters

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// GetClusterProgress answers the operation's progress from its workflow — a query,
// plus the running activity's last heartbeat from Describe — not from a copy in the
// database.
func (s *Server) GetClusterProgress(c echo.Context, clusterID string, params api.GetClusterProgressParams) error {
	cl, op, err := s.findOperation(c, clusterID, params.OperationId)
	if err != nil {
		return err
	}
	pr, detail, err := s.progress(c.Request().Context(), op)
	if err != nil {
		return err
	}
	return httpx.OK(c, progressView(pr, detail, cl), "progress")
}

// findOperation resolves a cluster and one of its operations (its last by default).
// An operation named by operationID is found by the cluster's ID or name even after
// the cluster was deleted (or its name reused), so a delete can be followed to its
// end; without operationID, a name whose cluster was deleted is a 410 naming the
// operation that deleted it.
func (s *Server) findOperation(c echo.Context, clusterID string, operationID *string) (store.Cluster, store.Operation, error) {
	if operationID != nil {
		return s.findNamedOperation(c, clusterID, *operationID)
	}
	cl, err := s.findCluster(c, clusterID)
	var apiErr *httpx.APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		return store.Cluster{}, store.Operation{}, s.deletedCluster(c, clusterID, err)
	}
	if err != nil {
		return store.Cluster{}, store.Operation{}, err
	}
	op, err := s.store.GetOperation(c.Request().Context(), cl.OrgID, cl.LastOperationID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Cluster{}, store.Operation{}, httpx.NotFound(fmt.Sprintf("operation %q of cluster %q", cl.LastOperationID, cl.Name))
	}
	return cl, op, err
}

// findNamedOperation is findOperation for operation opID, which must belong to the
// cluster ref names (by ID, or by the name it had).
func (s *Server) findNamedOperation(c echo.Context, ref, opID string) (store.Cluster, store.Operation, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return store.Cluster{}, store.Operation{}, err
	}
	ctx := c.Request().Context()
	op, err := s.store.GetOperation(ctx, p.OrgID, opID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && op.ClusterID != ref && op.ClusterName != ref) {
		return store.Cluster{}, store.Operation{}, httpx.NotFound(fmt.Sprintf("operation %q of cluster %q", opID, ref))
	}
	if err != nil {
		return store.Cluster{}, store.Operation{}, err
	}
	cl, err := s.store.GetCluster(ctx, p.OrgID, op.ClusterID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Cluster{}, store.Operation{}, httpx.NotFound(fmt.Sprintf("operation %q of cluster %q", opID, ref))
	}
	return cl, op, err
}

// deletedCluster is the answer for a cluster name that resolves to no live cluster:
// a 410 naming the operation that ended the most recently deleted cluster of that
// name and when, or notFound when there never was one.
func (s *Server) deletedCluster(c echo.Context, name string, notFound error) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cl, err := s.store.LastDeletedCluster(ctx, p.OrgID, name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	if err != nil {
		return err
	}
	details := map[string]any{"clusterId": cl.ID, "operationId": cl.LastOperationID, "deletedAt": cl.UpdatedAt}
	msg := fmt.Sprintf("cluster %q was deleted by operation %s at %s", name, cl.LastOperationID, cl.UpdatedAt.UTC().Format(time.RFC3339))
	if op, err := s.store.GetOperation(ctx, cl.OrgID, cl.LastOperationID); err == nil {
		details["operationType"] = op.Type
		if op.Type == workflows.OpDelete && op.EndedAt != nil {
			details["deletedAt"] = op.EndedAt.UTC()
			msg = fmt.Sprintf("cluster %q was deleted by operation %s at %s", name, op.ID, op.EndedAt.UTC().Format(time.RFC3339))
		}
		if op.Type != workflows.OpDelete {
			// A deploy that left nothing behind, whose record a later deploy of the
			// same name retired.
			msg = fmt.Sprintf("cluster %q no longer exists: its %s %s ended %s and left nothing behind", name, op.Type, op.ID, op.Status)
		}
	}
	details["hint"] = "pass operationId for the progress of one of its operations; GET /api/v1/clusters/" + name + "/history lists them"
	return &httpx.APIError{Status: http.StatusGone, Code: httpx.CodeClusterDeleted, Message: msg, Details: details}
}

// progress reads the operation's progress with one DescribeWorkflowExecution: the
// workflow keeps its Progress in its memo, and the running activity's heartbeat comes
// in the same answer; the Temporal server answers it alone, at the same cost at any
// history length. A workflow started before it kept the memo is asked its progress
// query; when no worker can answer that (all down), what the store and Temporal know
// of the operation stands in.
func (s *Server) progress(ctx context.Context, op store.Operation) (workflows.Progress, map[string]any, error) {
	if s.temporal == nil {
		return workflows.Progress{}, nil, httpx.ErrNoTemporal
	}
	d, err := s.temporal.DescribeWorkflow(ctx, op.WorkflowID, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return recordedProgress(op), nil, nil
	}
	if err != nil {
		return workflows.Progress{}, nil, fmt.Errorf("progress of %s: describe: %w", op.WorkflowID, err)
	}
	desc := d.RawResponse
	pr, ok, err := memoProgress(desc)
	if err != nil {
		return workflows.Progress{}, nil, fmt.Errorf("progress of %s: %w", op.WorkflowID, err)
	}
	// The memo is as of the workflow's last completed task: an operation the store
	// has seen end, whose workflow has not yet run the task that ends its progress,
	// is asked the query, which Temporal answers after that task.
	if !ok || (op.Status != store.OperationRunning && pr.EndedAt == nil) {
		pr = s.queryProgress(ctx, op, desc)
	}
	return pr, heartbeatDetail(desc), nil
}

// recordedProgress is the progress of an operation Temporal has no workflow for (its
// start never happened, or its history is past retention): what the store recorded.
func recordedProgress(op store.Operation) workflows.Progress {
	pr := workflows.Progress{OperationID: op.ID, OperationType: op.Type, ClusterID: op.ClusterID, Phase: "unknown",
		Status: op.Status, Message: op.Message, StartedAt: op.CreatedAt, EndedAt: op.EndedAt, Steps: []workflows.Step{}}
	if pr.Message == "" {
		pr.Message = "step details unavailable: Temporal has no workflow for this operation"
	}
	return pr
}

// memoProgress is the Progress the workflow keeps in its memo, if it keeps one.
func memoProgress(desc *workflowservice.DescribeWorkflowExecutionResponse) (workflows.Progress, bool, error) {
	var pr workflows.Progress
	field := desc.GetWorkflowExecutionInfo().GetMemo().GetFields()[workflows.MemoProgress]
	if field == nil {
		return pr, false, nil
	}
	if err := converter.GetDefaultDataConverter().FromPayload(field, &pr); err != nil {
		return pr, false, fmt.Errorf("decode the progress memo: %w", err)
	}
	return pr, true, nil
}

// queryProgress asks the workflow's progress query, for a workflow without the memo.
func (s *Server) queryProgress(ctx context.Context, op store.Operation, desc *workflowservice.DescribeWorkflowExecutionResponse) workflows.Progress {
	var pr workflows.Progress
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := s.temporal.QueryWorkflow(qctx, op.WorkflowID, "", workflows.QueryProgress)
	if err == nil {
		err = resp.Get(&pr)
	}
	if err == nil {
		return pr
	}
	pr = workflows.Progress{OperationID: op.ID, OperationType: op.Type, ClusterID: op.ClusterID, Phase: "unknown",
		Status: statusOf(desc.WorkflowExecutionInfo.Status), Message: "step details unavailable: no worker answered", Steps: []workflows.Step{}}
	if st := desc.WorkflowExecutionInfo.StartTime; st != nil {
		pr.StartedAt = st.AsTime()
	}
	return pr
}

// heartbeatDetail is what the running activity last reported, for the running step.
func heartbeatDetail(desc *workflowservice.DescribeWorkflowExecutionResponse) map[string]any {
	var detail map[string]any
	for _, pa := range desc.PendingActivities {
		detail = map[string]any{"activity": pa.ActivityType.GetName(), "attempt": pa.Attempt}
		if pa.HeartbeatDetails != nil {
			var hb any
			if err := converter.GetDefaultDataConverter().FromPayloads(pa.HeartbeatDetails, &hb); err == nil {
				detail["heartbeat"] = hb
			}
		}
		if t := pa.LastHeartbeatTime; t != nil {
			detail["lastHeartbeatAt"] = t.AsTime()
		}
		if f := pa.LastFailure; f != nil {
			detail["lastFailure"] = f.GetMessage()
		}
	}
	return detail
}

// progressView is the API's form of pr; detail (the running activity's heartbeat)
// goes on the running step, and what a rollback left behind is listed when it did.
func progressView(pr workflows.Progress, detail map[string]any, cl store.Cluster) api.ClusterProgress {
	v := api.ClusterProgress{
		OperationId: pr.OperationID, OperationType: api.ClusterOperationType(pr.OperationType),
		Percent: pr.Percent, Status: api.ClusterOperationStatus(pr.Status),
		ClusterId: &cl.ID, ClusterName: &cl.Name, Phase: &pr.Phase, Steps: []api.ClusterProgressStep{},
		EndedAt: pr.EndedAt,
	}
	if !pr.StartedAt.IsZero() {
		v.StartedAt = &pr.StartedAt
	}
	if pr.Message != "" {
		v.Message = &pr.Message
	}
	if a := pr.Approval; a != nil {
		status := api.ClusterApprovalRequestStatus(a.Status)
		v.Approval = &api.ClusterApprovalRequest{RequestedFrom: &a.RequestedFrom, ExpiresAt: &a.ExpiresAt, Status: &status, DecidedAt: a.DecidedAt}
		if a.DecidedBy != "" {
			v.Approval.DecidedBy = &a.DecidedBy
		}
	}
	if len(pr.LeftBehind) > 0 {
		left := make([]api.ClusterLeftover, 0, len(pr.LeftBehind))
		for _, l := range pr.LeftBehind {
			left = append(left, api.ClusterLeftover{Step: l.Step, Resource: l.Resource, Error: l.Error})
		}
		v.LeftBehind = &left
	}
	for _, st := range pr.Steps {
		step := api.ClusterProgressStep{Name: st.Name, Status: api.ClusterProgressStepStatus(st.Status), StartedAt: st.StartedAt, EndedAt: st.EndedAt}
		if st.Message != "" {
			msg := st.Message
			step.Message = &msg
		}
		if st.Compensation {
			step.Detail = &map[string]any{"compensation": true}
		}
		if st.Status == workflows.StepRunning && detail != nil {
			step.Detail = &detail
		}
		v.Steps = append(v.Steps, step)
	}
	return v
}

func statusOf(s enums.WorkflowExecutionStatus) string {
	switch s {
	case enums.WORKFLOW_EXECUTION_STATUS_RUNNING, enums.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return workflows.StatusRunning
	case enums.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return workflows.StatusSucceeded
	case enums.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return workflows.StatusCancelled
	default:
		return workflows.StatusFailed
	}
}

// visibilityStatus is the ExecutionStatus filter for a progress status.
var visibilityStatus = map[api.ClusterOperationStatus]string{
	api.ClusterOperationStatusRUNNING:   "ExecutionStatus = 'Running'",
	api.ClusterOperationStatusSUCCEEDED: "ExecutionStatus = 'Completed'",
	api.ClusterOperationStatusFAILED:    "ExecutionStatus IN ('Failed', 'Terminated', 'TimedOut')",
	api.ClusterOperationStatusCANCELLED: "ExecutionStatus = 'Canceled'",
}

// ListClusterProgress lists the organization's operations from Temporal visibility,
// newest first, filtered by the custom search attributes every operation carries.
func (s *Server) ListClusterProgress(c echo.Context, params api.ListClusterProgressParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	if s.temporal == nil {
		return httpx.ErrNoTemporal
	}
	clauses := []string{fmt.Sprintf("%s = '%s'", workflows.AttrOrgID.GetName(), p.OrgID)}
	if params.OperationType != nil {
		// The contract restricts the value to its enum, so it is safe to quote.
		clauses = append(clauses, fmt.Sprintf("%s = '%s'", workflows.AttrOperationType.GetName(), *params.OperationType))
	} else {
		// Cluster operations only: the organization's other workflows (cloud account
		// connections) carry the same attributes.
		clauses = append(clauses, fmt.Sprintf("%s IN ('%s', '%s', '%s')", workflows.AttrOperationType.GetName(),
			workflows.OpDeploy, workflows.OpUpdate, workflows.OpDelete))
	}
	if params.Status != nil {
		f, known := visibilityStatus[*params.Status]
		if !known { // statuses no finished workflow has (PENDING, WAITING_FOR_APPROVAL, …)
			return httpx.OK(c, api.ClusterProgressList{Items: []api.ClusterProgress{}}, "0 operations")
		}
		clauses = append(clauses, f)
	}
	var token []byte
	if params.PageToken != nil {
		if token, err = base64.RawURLEncoding.DecodeString(*params.PageToken); err != nil {
			return httpx.ValidationFailed(map[string]any{"query.pageToken": "not a page token of this API"})
		}
	}
	size := 50
	if params.Limit != nil && *params.Limit > 0 {
		size = min(*params.Limit, 1000)
	}
	resp, err := s.temporal.ListWorkflow(c.Request().Context(), &workflowservice.ListWorkflowExecutionsRequest{
		PageSize: int32(size), NextPageToken: token, Query: strings.Join(clauses, " AND "), // newest first is the visibility store's own order
	})
	if err != nil {
		return fmt.Errorf("list operations: %w", err)
	}
	list := api.ClusterProgressList{Items: []api.ClusterProgress{}}
	for _, ex := range resp.Executions {
		item := api.ClusterProgress{
			OperationId: ex.Execution.GetWorkflowId(), Status: api.ClusterOperationStatus(statusOf(ex.Status)),
			Steps: []api.ClusterProgressStep{},
		}
		var opType, name string
		if sa := ex.SearchAttributes; sa != nil {
			if pl, ok := sa.IndexedFields[workflows.AttrOperationType.GetName()]; ok {
				_ = converter.GetDefaultDataConverter().FromPayload(pl, &opType)
			}
			if pl, ok := sa.IndexedFields[workflows.AttrClusterName.GetName()]; ok {
				_ = converter.GetDefaultDataConverter().FromPayload(pl, &name)
			}
		}
		item.OperationType, item.ClusterName = api.ClusterOperationType(opType), &name
		if st := ex.StartTime; st != nil {
			t := st.AsTime()
			item.StartedAt = &t
		}
		if ct := ex.CloseTime; ct != nil {
			t := ct.AsTime()
			item.EndedAt = &t
			if item.Status == api.ClusterOperationStatusSUCCEEDED {
				item.Percent = 100
			}
		}
		// Visibility carries the memo: phase, percent and steps with no query per row.
		if field := ex.GetMemo().GetFields()[workflows.MemoProgress]; field != nil {
			var pr workflows.Progress
			if err := converter.GetDefaultDataConverter().FromPayload(field, &pr); err == nil {
				full := progressView(pr, nil, store.Cluster{ID: pr.ClusterID, Name: name})
				if ex.CloseTime != nil && pr.EndedAt == nil { // ended without the workflow saying so (terminated)
					full.Status, full.EndedAt = item.Status, item.EndedAt
				}
				item = full
			}
		}
		list.Items = append(list.Items, item)
	}
	if len(resp.NextPageToken) > 0 {
		t := base64.RawURLEncoding.EncodeToString(resp.NextPageToken)
		list.NextPageToken = &t
	}
	return httpx.OK(c, list, httpx.Count(len(list.Items), "operation", "operations"))
}

// GetClusterHistory lists a cluster's operations, newest first. A cluster that no
// longer exists under its name is found by the reference's storage-location lookup
// (provider, provisionerType, accountId, region) among deleted clusters.
func (s *Server) GetClusterHistory(c echo.Context, clusterID string, params api.GetClusterHistoryParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cl, err := s.findCluster(c, clusterID)
	var apiErr *httpx.APIError
	if errors.As(err, &apiErr) && apiErr.Status == 404 {
		loc := store.ClusterLocation{Name: clusterID, ProvisionerType: deref(params.ProvisionerType), AccountID: deref(params.AccountId), Region: deref(params.Region)}
		if params.Provider != nil {
			loc.Provider = string(*params.Provider)
		}
		switch {
		case loc == store.ClusterLocation{Name: clusterID}:
			// By name alone: the most recently deleted cluster of that name.
			cl, err = s.store.LastDeletedCluster(ctx, p.OrgID, clusterID)
		case loc.Provider == "" || loc.ProvisionerType == "" || loc.AccountID == "" || loc.Region == "":
			return &httpx.APIError{Status: 404, Code: httpx.CodeNotFound, Message: fmt.Sprintf("cluster %q not found", clusterID),
				Details: map[string]any{"hint": "for a deleted cluster pass provider, provisionerType, accountId and region"}}
		default:
			cl, err = s.store.FindDeletedCluster(ctx, p.OrgID, loc)
		}
		if errors.Is(err, store.ErrNotFound) {
			return httpx.NotFound(fmt.Sprintf("cluster %q", clusterID))
		}
	}
	if err != nil {
		return err
	}
	limit := 100
	if params.Limit != nil && *params.Limit > 0 {
		limit = min(*params.Limit, 1000)
	}
	ops, next, err := s.store.ListOperations(ctx, cl.OrgID, cl.ID, deref(params.PageToken), limit)
	if errors.Is(err, store.ErrBadPageToken) {
		return httpx.ValidationFailed(map[string]any{"query.pageToken": "not a page token of this API"})
	}
	if err != nil {
		return err
	}
	h := api.ClusterHistory{ClusterId: &cl.ID, Operations: []api.ClusterOperation{}}
	for _, op := range ops {
		o := api.ClusterOperation{OperationId: op.ID, OperationType: api.ClusterOperationType(op.Type),
			Status: api.ClusterOperationStatus(operationStatus(op.Status)), StartedAt: &op.CreatedAt, EndedAt: op.EndedAt}
		if op.Message != "" {
			o.Message = &op.Message
		}
		if op.CreatedBy != "" {
			o.RequestedBy = &op.CreatedBy
		}
		h.Operations = append(h.Operations, o)
	}
	if next != "" {
		h.NextPageToken = &next
	}
	return httpx.OK(c, h, httpx.Count(len(h.Operations), "operation", "operations"))
}

// operationStatus maps the store's operation status to the API's.
func operationStatus(s string) string {
	switch s {
	case store.OperationSucceeded:
		return workflows.StatusSucceeded
	case store.OperationCancelled:
		return workflows.StatusCancelled
	case store.OperationFailed:
		return workflows.StatusFailed
	}
	return workflows.StatusRunning
}
