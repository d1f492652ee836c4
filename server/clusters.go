package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// ListClusters lists the organization's clusters (DELETED ones are history, not listed).
func (s *Server) ListClusters(c echo.Context, params api.ListClustersParams) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	f := store.ClusterFilter{}
	if params.ProviderId != nil {
		f.Provider = *params.ProviderId
	}
	clusters, err := s.store.ListClusters(c.Request().Context(), p.OrgID, f)
	if err != nil {
		return err
	}
	out := make([]api.Cluster, 0, len(clusters))
	for _, cl := range clusters {
		out = append(out, clusterView(cl))
	}
	return ok(c, out, fmt.Sprintf("%d clusters", len(out)))
}

// GetCluster returns one of the organization's clusters, by ID or name.
func (s *Server) GetCluster(c echo.Context, clusterID string, _ api.GetClusterParams) error {
	cl, err := s.findCluster(c, clusterID)
	if err != nil {
		return err
	}
	return ok(c, clusterView(cl), "cluster")
}

func (s *Server) findCluster(c echo.Context, ref string) (store.Cluster, error) {
	p, err := mustPrincipal(c)
	if err != nil {
		return store.Cluster{}, err
	}
	cl, err := s.store.GetCluster(c.Request().Context(), p.OrgID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return store.Cluster{}, NotFound(fmt.Sprintf("cluster %q", ref))
	}
	return cl, err
}

func clusterView(cl store.Cluster) api.Cluster {
	v := api.Cluster{
		Id: cl.ID, Name: cl.Name, OrgId: cl.OrgID, Status: api.ClusterStatus(cl.Status),
		CreatedAt: cl.CreatedAt, UpdatedAt: cl.UpdatedAt,
		Provider: &cl.Provider, Region: &cl.Region, KubernetesVersion: &cl.KubernetesVersion,
	}
	pt := api.ClusterProvisionerType(cl.ProvisionerType)
	v.ProvisionerType = &pt
	if cl.StatusMessage != "" {
		v.StatusMessage = &cl.StatusMessage
	}
	if cl.LastOperationID != "" {
		v.LastOperationId = &cl.LastOperationID
	}
	return v
}

// deployPlan is the step plan a deploy walks, as dry runs report it.
var deployPlan = []string{"provision", "create-cluster", "record"}

// DeployCluster validates a K8sCluster manifest (or its legacy flat form), records the
// cluster as PENDING and starts its deploy workflow, answering 202 with the operation
// ID at once. With dryRun=true it only validates and returns the plan.
func (s *Server) DeployCluster(c echo.Context, params api.DeployClusterParams) error {
	p, err := mustPrincipal(c)
	if err != nil {
		return err
	}
	spec, err := bindClusterSpec(c)
	if err != nil {
		return err
	}
	if details := validateClusterSpec(spec); len(details) > 0 {
		return ValidationFailed(details)
	}
	if params.DryRun != nil && *params.DryRun {
		return ok(c, map[string]any{"validationPassed": true, "errors": []string{}, "plan": deployPlan}, "validation passed; nothing was created")
	}
	ctx := c.Request().Context()
	raw, _ := c.Get(bodyKey).([]byte)
	requestHash := sha256.Sum256(raw)

	idemKey := ""
	if params.IdempotencyKey != nil {
		idemKey = *params.IdempotencyKey
		if prior, err := s.store.GetOperationByIdempotencyKey(ctx, p.OrgID, idemKey); err == nil {
			return s.repeatOperation(c, prior, hex.EncodeToString(requestHash[:]))
		}
	}

	cl := store.Cluster{
		ID: store.NewID(), OrgID: p.OrgID, Name: spec.ClusterName, Provider: string(spec.Provider),
		ProvisionerType: string(spec.Provisioner.Type), Region: deref(spec.Region),
		KubernetesVersion: deref(spec.KubernetesVersion), Status: store.ClusterPending,
		AccountID: accountID(spec), Spec: redactedSpec(spec),
	}
	opID := workflows.OperationID(p.OrgName, cl.Name, workflows.OpDeploy, randomSuffix())
	op := store.Operation{
		ID: opID, Type: workflows.OpDeploy, Status: store.OperationRunning, WorkflowID: opID,
		IdempotencyKey: idemKey, RequestHash: hex.EncodeToString(requestHash[:]), CreatedBy: p.UserID,
	}
	cl.LastOperationID = opID
	if err := s.store.CreateClusterWithOperation(ctx, &cl, &op); err != nil {
		if errors.Is(err, store.ErrConflict) {
			if idemKey != "" {
				if prior, err := s.store.GetOperationByIdempotencyKey(ctx, p.OrgID, idemKey); err == nil {
					return s.repeatOperation(c, prior, op.RequestHash)
				}
			}
			return Conflict(fmt.Sprintf("cluster %q already exists", cl.Name), map[string]any{"spec.clusterName": "already exists in this organization"})
		}
		return err
	}
	in := workflows.DeployClusterInput{
		OrgID: p.OrgID, ClusterID: cl.ID, ClusterName: cl.Name, OperationID: opID,
		Provider: cl.Provider, ProvisionerType: cl.ProvisionerType, Region: cl.Region,
		KubernetesVersion: cl.KubernetesVersion,
	}
	_, err = s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       opID,
		TaskQueue:                s.taskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, workflows.DeployCluster, in)
	if err != nil {
		// Nothing runs for this cluster: take the records back so the name stays free.
		if derr := s.store.DeleteClusterWithOperations(ctx, p.OrgID, cl.ID); derr != nil {
			s.log.ErrorContext(ctx, "roll back cluster after failed start", "err", derr, "clusterID", cl.ID, "traceID", TraceID(c))
		}
		return fmt.Errorf("start deploy workflow: %w", err)
	}
	s.audit(c, p, "CLUSTER", "CREATE", opID, store.OutcomeSuccess)
	return accepted(c, operationAccepted(op, cl.ID), "deploy started")
}

// repeatOperation answers a request repeated with the same Idempotency-Key: the same
// operation when the body is the same, 422 when it is not.
func (s *Server) repeatOperation(c echo.Context, prior store.Operation, requestHash string) error {
	if prior.RequestHash != requestHash {
		return &APIError{Status: http.StatusUnprocessableEntity, Code: CodeUnprocessable,
			Message: "Idempotency-Key was already used with a different request",
			Details: map[string]any{"header.Idempotency-Key": "reused with a different body"}}
	}
	return accepted(c, operationAccepted(prior, prior.ClusterID), "operation already started with this Idempotency-Key")
}

func operationAccepted(op store.Operation, clusterID string) api.OperationAccepted {
	status := op.Status
	return api.OperationAccepted{OperationId: op.ID, ClusterId: &clusterID, Status: &status}
}

// GetClusterProgress answers the operation's progress from its workflow (a query),
// not from a copy in the database.
func (s *Server) GetClusterProgress(c echo.Context, clusterID string, params api.GetClusterProgressParams) error {
	cl, err := s.findCluster(c, clusterID)
	if err != nil {
		return err
	}
	opID := cl.LastOperationID
	if params.OperationId != nil {
		opID = *params.OperationId
	}
	op, err := s.store.GetOperation(c.Request().Context(), cl.OrgID, opID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && op.ClusterID != cl.ID) {
		return NotFound(fmt.Sprintf("operation %q of cluster %q", opID, cl.Name))
	}
	if err != nil {
		return err
	}
	resp, err := s.temporal.QueryWorkflow(c.Request().Context(), op.WorkflowID, "", workflows.QueryProgress)
	if err != nil {
		return fmt.Errorf("query progress of %s: %w", op.WorkflowID, err)
	}
	var pr workflows.Progress
	if err := resp.Get(&pr); err != nil {
		return fmt.Errorf("decode progress of %s: %w", op.WorkflowID, err)
	}
	return ok(c, progressView(pr, cl), "progress")
}

func progressView(pr workflows.Progress, cl store.Cluster) api.ClusterProgress {
	v := api.ClusterProgress{
		OperationId: pr.OperationID, OperationType: api.ClusterOperationType(pr.OperationType),
		Percent: pr.Percent, Status: api.ClusterOperationStatus(pr.Status),
		ClusterId: &cl.ID, ClusterName: &cl.Name, Phase: &pr.Phase, Steps: []api.ClusterProgressStep{},
	}
	if pr.Message != "" {
		v.Message = &pr.Message
	}
	for _, st := range pr.Steps {
		step := api.ClusterProgressStep{Name: st.Name, Status: api.ClusterProgressStepStatus(st.Status), StartedAt: st.StartedAt, EndedAt: st.EndedAt}
		if st.Message != "" {
			msg := st.Message
			step.Message = &msg
		}
		v.Steps = append(v.Steps, step)
	}
	return v
}

// audit records an audit event; a failure to record is logged, not returned, because
// the audited action already happened.
func (s *Server) audit(c echo.Context, p Principal, eventType, action, resource, outcome string) {
	err := s.store.RecordAudit(c.Request().Context(), &store.AuditEvent{
		OrgID: p.OrgID, UserID: p.UserID, APIKeyID: p.KeyID, EventType: eventType, Action: action,
		ResourceID: resource, Outcome: outcome, TraceID: TraceID(c),
	})
	if err != nil {
		s.log.ErrorContext(c.Request().Context(), "record audit event", "err", err, "traceID", TraceID(c))
	}
}

func randomSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own types are marshalled here
	}
	return b
}
