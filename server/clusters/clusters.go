// Package clusters serves the reference's Clusters group: list, get, deploy, update,
// delete and cancel clusters, each change a Temporal workflow recorded as an
// operation; their progress (polled or streamed), history and current spec. The
// approval page and decision, which the reference also tags Clusters, are in package
// approvals.
package clusters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/secrets"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/approvals"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/livecatalog"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// Server answers the cluster operations.
type Server struct {
	store     *store.Store
	temporal  client.Client
	taskQueue string
	log       *slog.Logger
	audit     httpx.Audit
	// hub feeds the progress streams (see streamHub).
	hub     *hub
	hubOnce sync.Once
	// box opens the kubeconfigs workers seal; nil: kubeconfigs answer 503.
	box *secrets.Box
	// lastPrune is when expired kubeconfig grants were last pruned (Unix ns).
	lastPrune atomic.Int64
	// live asks connected accounts' live catalogs (WithLiveCatalog); nil: none.
	live *livecatalog.Lookup
}

// NewServer returns the cluster handlers: records in st, workflows started on
// taskQueue through tc (without a client, operations that need Temporal answer 503),
// failures that cannot be answered logged to log, changes recorded by audit,
// kubeconfigs opened with box.
func NewServer(st *store.Store, tc client.Client, taskQueue string, log *slog.Logger, audit httpx.Audit, box *secrets.Box) *Server {
	return &Server{store: st, temporal: tc, taskQueue: taskQueue, log: log, audit: audit, box: box}
}

// ListClusters lists the organization's clusters (DELETED ones are history, not listed).
func (s *Server) ListClusters(c echo.Context, params api.ListClustersParams) error {
	p, err := httpx.MustPrincipal(c)
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
	return httpx.OK(c, out, httpx.Count(len(out), "cluster", "clusters"))
}

// GetCluster returns one of the organization's clusters, by ID or name.
func (s *Server) GetCluster(c echo.Context, clusterID string, _ api.GetClusterParams) error {
	cl, err := s.findCluster(c, clusterID)
	if err != nil {
		return err
	}
	return httpx.OK(c, clusterView(cl), "cluster")
}

func (s *Server) findCluster(c echo.Context, ref string) (store.Cluster, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return store.Cluster{}, err
	}
	cl, err := s.store.GetCluster(c.Request().Context(), p.OrgID, ref)
	if errors.Is(err, store.ErrNotFound) {
		return store.Cluster{}, httpx.NotFound(fmt.Sprintf("cluster %q", ref))
	}
	return cl, err
}

// liveCluster is findCluster for a cluster that still exists, with the spec the
// workflows last recorded.
func (s *Server) liveCluster(c echo.Context, ref string) (store.Cluster, activities.ClusterSpec, error) {
	cl, err := s.findCluster(c, ref)
	if err != nil {
		return store.Cluster{}, activities.ClusterSpec{}, err
	}
	if cl.Status == store.ClusterDeleted {
		return store.Cluster{}, activities.ClusterSpec{}, httpx.NotFound(fmt.Sprintf("cluster %q", ref))
	}
	cs, err := storedSpec(cl)
	return cl, cs, err
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

// DeployCluster validates a K8sCluster manifest (or its legacy flat form), records the
// cluster as PENDING and starts its deploy workflow, answering 202 with the operation
// ID at once. With dryRun=true it only validates and returns the step plan, with the
// name conflict the real call would hit. A name held by a deploy that ended without a
// cluster and left nothing behind is taken over (see holderOfName).
func (s *Server) DeployCluster(c echo.Context, params api.DeployClusterParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	spec, isManifest, err := bindClusterSpec(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	errs, warnings, source := s.checkDeploy(ctx, p.OrgID, spec)
	if len(errs) > 0 {
		return httpx.ValidationFailed(fieldErrors(errs, isManifest))
	}
	cs := clusterSpec(spec)
	cs.Account.OrgID = p.OrgID // every provider call acts in the organization's account
	if params.DryRun != nil && *params.DryRun {
		return s.deployDryRun(c, p, spec, cs, warningLines(warnings), source)
	}
	cl := store.Cluster{
		ID: store.NewID(), OrgID: p.OrgID, Name: cs.Name, Provider: cs.Provider,
		ProvisionerType: cs.ProvisionerType, Region: cs.Region, KubernetesVersion: cs.KubernetesVersion,
		Status: store.ClusterPending, AccountID: cs.AccountID, Spec: redactedSpec(spec), State: httpx.MustJSON(cs),
	}
	op := newOperation(c, p, cl, workflows.OpDeploy, params.IdempotencyKey)
	prior, ok, err := s.priorOperation(c, op)
	if err != nil || ok {
		if err != nil {
			return err
		}
		return httpx.Accepted(c, operationAccepted(prior), "operation already started with this Idempotency-Key")
	}
	cl.LastOperationID = op.ID
	// The approval policy is read while the records are written: the two are
	// independent, and a deploy is the API's hot path.
	awaitGate := gateAhead(ctx, s.store, p, workflows.OpDeploy, clusterFacts(cs))
	// create records the cluster and its deploy, first retiring the record of a
	// deploy that ended without a cluster and left nothing behind under that name.
	create := func(retire *nameHolder) error {
		created := httpx.NewAuditEvent(c, p, "CLUSTER", "CREATE", op.ID, store.OutcomeSuccess)
		if retire == nil {
			return s.store.CreateDeploy(ctx, &cl, &op, created)
		}
		return s.store.InTx(ctx, func(tx *store.Store) error {
			h, prev := retire.cluster, retire.deploy
			done, err := tx.RetireCluster(ctx, h.OrgID, h.ID, h.Status, prev.ID, fmt.Sprintf(
				"deploy %s ended %s and left nothing behind; the name went to operation %s", prev.ID, prev.Status, op.ID))
			if err != nil {
				return err
			}
			if !done {
				return store.ErrConflict // it changed in between: the name is not free
			}
			if err := tx.RecordAudit(ctx, httpx.NewAuditEvent(c, p, "CLUSTER", "RETIRE", prev.ID, store.OutcomeSuccess)); err != nil {
				return err
			}
			return tx.CreateDeploy(ctx, &cl, &op, created)
		})
	}
	taken := httpx.Conflict(fmt.Sprintf("cluster %q already exists", cl.Name), map[string]any{"spec.clusterName": "already exists in this organization"})
	// A repeat of a request whose records were made but whose workflow never started
	// starts it under the records made (priorOperation).
	resumed := func(prior store.Operation) {
		op, cl.ID, cl.LastOperationID = prior, prior.ClusterID, prior.ID
	}
	if resume(prior) {
		resumed(prior)
	} else if err = create(nil); errors.Is(err, store.ErrConflict) {
		prior, ok, perr := s.priorOperation(c, op)
		if perr != nil || ok {
			if perr != nil {
				return perr
			}
			return httpx.Accepted(c, operationAccepted(prior), "operation already started with this Idempotency-Key")
		}
		if resume(prior) { // the same request's records, made in between
			resumed(prior)
			err = nil
		} else if err = s.takeOver(ctx, p.OrgID, cl.Name, create); errors.Is(err, store.ErrConflict) {
			return taken
		}
	}
	if err != nil {
		return err
	}
	gate, err := awaitGate()
	if err != nil {
		return err
	}
	in := workflows.DeployClusterInput{Op: workflows.Operation{OrgID: p.OrgID, ClusterID: cl.ID, OperationID: op.ID}, Spec: cs, Approval: gate}
	if notStarted, err := s.startWorkflow(ctx, op, cl.Provider, workflows.DeployCluster, in); err != nil {
		if !notStarted {
			return err // it may run: keep the records it needs
		}
		// Nothing runs for this cluster: take the records back so the name stays free.
		if derr := s.store.DeleteClusterWithOperations(context.WithoutCancel(ctx), p.OrgID, cl.ID); derr != nil {
			s.log.ErrorContext(ctx, "roll back cluster after failed start", "err", derr, "clusterID", cl.ID, "traceID", httpx.TraceID(c))
		}
		return err
	}
	msg := startedMessage(workflows.OpDeploy, gate)
	if lines := warningLines(warnings); len(lines) > 0 {
		msg += "; warnings: " + strings.Join(lines, "; ")
	}
	return httpx.Accepted(c, operationAccepted(op), msg)
}

// takeOver creates the records of a deploy of name when the name's holder can give
// it up (see holderOfName): a conflict when it is gone in between (the caller may try
// again), the holder's own conflict when it cannot.
func (s *Server) takeOver(ctx context.Context, orgID, name string, create func(retire *nameHolder) error) error {
	holder, err := s.holderOfName(ctx, orgID, name)
	switch {
	case err != nil:
		return err
	case holder == nil:
		return store.ErrConflict // gone in between: the caller may try again
	case !holder.freeable():
		return holder.conflict
	}
	return create(holder)
}

// DeleteCluster starts tearing the cluster down (202 with the operation ID). The
// cluster ends DELETED, kept for history, and its name is free again.
func (s *Server) DeleteCluster(c echo.Context, clusterID string, params api.DeleteClusterParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	prior, ok, err := s.repeatedOperation(c, p, params.IdempotencyKey)
	if err != nil || ok {
		if err != nil {
			return err
		}
		return httpx.Accepted(c, operationAccepted(prior), "operation already started with this Idempotency-Key")
	}
	if reg, err := s.findCluster(c, clusterID); err == nil && reg.ProvisionerType == "registered" && reg.Status != store.ClusterDeleted {
		return httpx.Conflict(fmt.Sprintf("cluster %q is registered with an agent, not made by the platform: unregister it (DELETE /api/v1/clusters/%s/agent; ?agent-only=true keeps the record)", reg.Name, reg.Name),
			map[string]any{"clusterId": "a registered cluster: use unregisterClusterAgent"})
	}
	cl, cs, err := s.liveCluster(c, clusterID)
	if err != nil {
		return err
	}
	createOp := cl.ID
	if first, err := s.store.FirstOperation(c.Request().Context(), cl.OrgID, cl.ID); err == nil {
		createOp = first.ID
	}
	op := newOperation(c, p, cl, workflows.OpDelete, params.IdempotencyKey)
	if resume(prior) {
		op = prior // recorded by this request before, never started: beginOperation starts it
	}
	gate, err := approvals.Gate(c.Request().Context(), s.store, p, workflows.OpDelete, clusterFacts(cs))
	if err != nil {
		return err
	}
	in := workflows.DeleteClusterInput{PriorStatus: cl.Status, Approval: gate,
		Op:   workflows.Operation{OrgID: p.OrgID, ClusterID: cl.ID, OperationID: op.ID},
		Spec: cs, Ref: activities.ClusterRef{Provider: cl.Provider, ExternalID: cl.ExternalID, Endpoint: cl.Endpoint},
		Network: activities.NetworkRef{ID: cl.NetworkID}, CreateOperationID: createOp,
	}
	started, err := s.beginOperation(c, op, cl.Provider, workflows.DeleteCluster, in)
	if err != nil {
		return err
	}
	s.audit.Record(c, p, "CLUSTER", "DELETE", started.ID, store.OutcomeSuccess)
	return httpx.Accepted(c, operationAccepted(started), startedMessage(workflows.OpDelete, gate))
}

// CancelClusterOperation cancels the operation running on the cluster; its workflow
// undoes what it half-did and ends CANCELLED.
func (s *Server) CancelClusterOperation(c echo.Context, clusterID string, _ api.CancelClusterOperationParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	cl, err := s.findCluster(c, clusterID)
	if err != nil {
		return err
	}
	if s.temporal == nil {
		return httpx.ErrNoTemporal
	}
	ctx := c.Request().Context()
	running, err := s.store.RunningOperation(ctx, cl.OrgID, cl.ID)
	if errors.Is(err, store.ErrNotFound) {
		return httpx.Conflict(fmt.Sprintf("no operation is running on cluster %q", cl.Name), nil)
	}
	if err != nil {
		return err
	}
	waiting := s.waitingForApproval(ctx, cl, running)
	if err := s.temporal.CancelWorkflow(ctx, running.WorkflowID, ""); err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return httpx.Conflict(fmt.Sprintf("operation %s has already ended", running.ID), nil)
		}
		return fmt.Errorf("cancel %s: %w", running.ID, err)
	}
	s.audit.Record(c, p, "CLUSTER", "CANCEL", running.ID, store.OutcomeSuccess)
	return httpx.OK(c, api.ClusterCancelResult{ClusterId: &cl.ID, OperationId: running.ID, Status: api.ClusterOperationStatusRUNNING},
		cancelMessage(running.Type, waiting))
}

// GetClusterSpec returns the cluster's spec as it is now, secrets removed: the
// manifest it was deployed with, brought to what its operations (deploy, updates)
// last recorded of it.
func (s *Server) GetClusterSpec(c echo.Context, clusterID string, _ api.GetClusterSpecParams) error {
	cl, err := s.findCluster(c, clusterID)
	if err != nil {
		return err
	}
	var spec api.K8sClusterSpec
	if err := json.Unmarshal(cl.Spec, &spec); err != nil {
		return fmt.Errorf("decode stored spec of %s: %w", cl.ID, err)
	}
	if len(cl.State) > 0 {
		cs, err := storedSpec(cl)
		if err != nil {
			return fmt.Errorf("decode recorded state of %s: %w", cl.ID, err)
		}
		spec = currentSpec(spec, cs)
	}
	return httpx.OK(c, spec, "cluster spec")
}

// deployDryRun answers a deploy with dryRun=true: the validation and step plan, and
// the name conflict the real call would hit (or the name it would take over from a
// deploy that left nothing behind).
func (s *Server) deployDryRun(c echo.Context, p httpx.Principal, spec api.K8sClusterSpec, cs activities.ClusterSpec, warnings []string, source string) error {
	v := deployValidation(spec, cs)
	*v.Warnings = append(*v.Warnings, warnings...)
	holder, err := s.holderOfName(c.Request().Context(), p.OrgID, cs.Name)
	if err != nil {
		return err
	}
	msg := "validation passed; nothing was created"
	if source != "" {
		msg = "validation passed (machine types and versions checked against " + source + "); nothing was created"
	}
	switch {
	case holder.freeable():
		h := holder.cluster
		*v.Warnings = append(*v.Warnings, fmt.Sprintf("spec.clusterName: %q is held by cluster %s, whose deploy %s ended %s and left nothing behind; "+
			"this deploy takes the name over (that record is kept as DELETED, in history)", cs.Name, h.ID, holder.deploy.ID, h.Status))
	case holder != nil:
		v.ValidationPassed = false
		*v.Errors = append(*v.Errors, "spec.clusterName: "+holder.conflict.Message)
		msg = "the deploy would be refused (see errors); nothing was created"
	}
	return httpx.OK(c, v, msg)
}

// deployStepDescriptions say what each deploy step does, for dry runs.
var deployStepDescriptions = map[string]string{
	workflows.StepValidate:     "Check the cluster record and mark it PROVISIONING",
	workflows.StepNetwork:      "Create the network (VPC, VNet) for the cluster",
	workflows.StepControlPlane: "Create the Kubernetes control plane",
	workflows.StepWaitActive:   "Wait until the control plane is ACTIVE",
	workflows.StepNodeGroups:   "Create the node groups",
	workflows.StepAddons:       "Install the cluster add-ons",
	workflows.StepKubeconfig:   "Fetch the kubeconfig and check the API endpoint",
	workflows.StepRecord:       "Record the cluster READY",
}

func deployValidation(spec api.K8sClusterSpec, cs activities.ClusterSpec) api.ClusterDeployValidation {
	steps := make([]api.ClusterPlanStep, 0, len(workflows.DeploySteps))
	for _, name := range workflows.DeploySteps {
		if name == workflows.StepNodeGroups && len(cs.NodeGroups) == 0 {
			continue
		}
		steps = append(steps, api.ClusterPlanStep{Name: name, Description: ptr(deployStepDescriptions[name])})
	}
	pt := spec.Provisioner.Type
	return api.ClusterDeployValidation{
		ValidationPassed: true, ClusterName: &cs.Name, Provider: &spec.Provider, ProvisionerType: &pt,
		KubernetesVersion: &cs.KubernetesVersion, Errors: &[]string{}, Warnings: &[]string{},
		RequiresApproval: ptr(false), Steps: &steps,
	}
}

// clusterFacts are what an approver sees of a cluster.
func clusterFacts(cs activities.ClusterSpec) []activities.Fact {
	groups := make([]string, 0, len(cs.NodeGroups))
	for _, ng := range cs.NodeGroups {
		groups = append(groups, fmt.Sprintf("%s (%d-%d × %s)", ng.Name, ng.MinNode, ng.MaxNode, strings.Join(ng.MachineTypes, ",")))
	}
	return []activities.Fact{
		{Label: "Provider", Value: cs.Provider + " (" + cs.ProvisionerType + ")"},
		{Label: "Region", Value: cs.Region},
		{Label: "Kubernetes", Value: cs.KubernetesVersion},
		{Label: "Node groups", Value: strings.Join(groups, "; ")},
	}
}

func operationAccepted(op store.Operation) api.OperationAccepted {
	status, clusterID := op.Status, op.ClusterID
	return api.OperationAccepted{OperationId: op.ID, ClusterId: &clusterID, Status: &status}
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
