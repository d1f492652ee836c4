package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/tunnel"
	"github.com/astropulse/astroplane/workflows"
)

// ProvisionerType marks a registered cluster (store.Cluster.ProvisionerType and Provider).
const ProvisionerType = "registered"

// Deps are what the agent operations need.
type Deps struct {
	Store     *store.Store
	Temporal  client.Client
	TaskQueue string
	// Tunnel is this replica's tunnel endpoint; nil: registering answers 503 (the API
	// was started without ASTRO_TUNNEL_ADDR).
	Tunnel *tunnel.Server
	// Endpoint is the tunnel endpoint as agents reach it (https://HOST:PORT).
	Endpoint string
	// Proxy reaches tunnels other replicas hold (the internal proxy, which relays);
	// nil: operations needing the tunnel answer 503 on a replica without it.
	Proxy *tunnel.Proxied
	// Image is the agent's container image (ASTRO_AGENT_IMAGE).
	Image string
	// TokenTTL is how long a registration token lasts, and so how long a registration
	// waits for its agent (default 24 h).
	TokenTTL time.Duration
	Log      *slog.Logger
}

// Server answers the agent operations of the Clusters group.
type Server struct{ d Deps }

// NewServer returns the agent operations' handlers.
func NewServer(d Deps) *Server {
	if d.TokenTTL <= 0 {
		d.TokenTTL = 24 * time.Hour
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Image == "" {
		d.Image = "ghcr.io/astropulse/astro-agent:latest"
	}
	return &Server{d: d}
}

var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,48}[a-z0-9])?$`)

// registration is the request, from either form of the body.
type registration struct {
	name, arch, region, kubeVersion string
	dryRun                          bool
}

func parseRegistration(raw []byte, pathName string) (registration, error) {
	r := registration{name: pathName, arch: "amd64"}
	var probe struct {
		Kind string          `json:"kind"`
		Spec json.RawMessage `json:"spec"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return r, httpx.BadRequest("request body is not a JSON object", map[string]any{"body": err.Error()})
	}
	var req api.ClusterAgentRegistrationRequest
	field := func(f string) string { return f }
	if probe.Kind != "" {
		if probe.Kind != "K8sClusterRegistration" {
			return r, httpx.ValidationFailed(map[string]any{"kind": "must be K8sClusterRegistration"})
		}
		field = func(f string) string { return "spec." + f }
		if err := json.Unmarshal(probe.Spec, &req); err != nil {
			return r, httpx.ValidationFailed(map[string]any{"spec": err.Error()})
		}
		if req.ClusterName != nil && *req.ClusterName != "" && *req.ClusterName != pathName {
			return r, httpx.ValidationFailed(map[string]any{"spec.clusterName": fmt.Sprintf("%q differs from the cluster name in the path (%q)", *req.ClusterName, pathName)})
		}
	} else if err := json.Unmarshal(raw, &req); err != nil {
		return r, httpx.BadRequest("request body does not fit the operation", map[string]any{"body": err.Error()})
	}
	if !nameRE.MatchString(pathName) {
		return r, httpx.ValidationFailed(map[string]any{"clusterId": "a cluster name: lower-case letters, digits and '-', starting with a letter, at most 50 characters"})
	}
	if req.Architecture != nil {
		r.arch = string(*req.Architecture)
		if r.arch != "amd64" && r.arch != "arm64" {
			return r, httpx.ValidationFailed(map[string]any{field("architecture"): "amd64 or arm64"})
		}
	}
	if req.Region != nil {
		r.region = *req.Region
		if len(r.region) > 50 {
			return r, httpx.ValidationFailed(map[string]any{field("region"): "at most 50 characters"})
		}
	}
	if req.KubernetesVersion != nil {
		r.kubeVersion = *req.KubernetesVersion
		if len(r.kubeVersion) > 50 {
			return r, httpx.ValidationFailed(map[string]any{field("kubernetesVersion"): "at most 50 characters"})
		}
	}
	r.dryRun = req.DryRun != nil && *req.DryRun
	return r, nil
}

// RegisterClusterAgent records a registered cluster and answers its agent's install
// manifest (with a one-time token) and the registration operation; dryRun answers
// the manifest only (a placeholder token), recording nothing.
func (s *Server) RegisterClusterAgent(c echo.Context, clusterID string, _ api.RegisterClusterAgentParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	if _, perr := uuid.Parse(clusterID); perr == nil {
		// A cluster ID names an existing cluster: the caller's organization's, or none.
		cl, err := s.d.Store.GetCluster(c.Request().Context(), p.OrgID, clusterID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && cl.Status == store.ClusterDeleted) {
			return httpx.NotFound(fmt.Sprintf("cluster %q", clusterID))
		}
		if err != nil {
			return err
		}
		return httpx.Conflict(fmt.Sprintf("cluster %q exists; registering names a new cluster (an agent on a cluster the platform made is not supported)", cl.Name),
			map[string]any{"clusterId": cl.Name})
	}
	reg, err := parseRegistration(httpx.Body(c), clusterID)
	if err != nil {
		return err
	}
	if s.d.Tunnel == nil || s.d.Endpoint == "" {
		return httpx.NewError(http.StatusServiceUnavailable, httpx.CodeServiceUnavailable,
			"this API serves no agent tunnel endpoint (ASTRO_TUNNEL_ADDR and ASTRO_TUNNEL_ENDPOINT are unset)")
	}
	params := ManifestParams{ClusterName: reg.name, Image: s.d.Image, Architecture: reg.arch, Endpoint: s.d.Endpoint, CAPEM: s.d.Tunnel.CA.PEM()}
	if reg.dryRun {
		m, err := Manifest(params)
		if err != nil {
			return err
		}
		return httpx.OK(c, api.ClusterAgentRegistration{AgentManifest: m, ClusterName: reg.name, Status: ptr("DRY_RUN")},
			"dry run: the agent's manifest, with a placeholder token; nothing was recorded")
	}
	ctx := c.Request().Context()
	if _, err := s.d.Store.GetCluster(ctx, p.OrgID, reg.name); err == nil {
		return httpx.Conflict(fmt.Sprintf("a cluster named %q exists in this organization", reg.name), map[string]any{"clusterId": reg.name})
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	token, err := tunnel.NewToken()
	if err != nil {
		return err
	}
	cl := store.Cluster{ID: store.NewID(), OrgID: p.OrgID, Name: reg.name, Provider: ProvisionerType, ProvisionerType: ProvisionerType,
		Region: reg.region, KubernetesVersion: reg.kubeVersion, Status: "PROVISIONING", StatusMessage: "waiting for the agent's first connection"}
	opID := workflows.OperationID(p.OrgName, cl.Name, "register", store.NewID()[:8])
	op := store.Operation{ID: opID, Type: "register", Status: store.OperationRunning, WorkflowID: opID, CreatedBy: p.UserID}
	expires := time.Now().Add(s.d.TokenTTL).UTC()
	if err := s.d.Store.CreateClusterWithOperation(ctx, &cl, &op); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return httpx.Conflict(fmt.Sprintf("a cluster named %q exists in this organization", reg.name), map[string]any{"clusterId": reg.name})
		}
		return err
	}
	if err := s.d.Store.PutClusterAgent(ctx, &store.ClusterAgent{ClusterID: cl.ID, OrgID: p.OrgID, TokenHash: tunnel.HashToken(token),
		TokenExpiresAt: expires, Architecture: reg.arch}); err != nil {
		s.rollback(ctx, cl)
		return err
	}
	params.ClusterID, params.Token = cl.ID, token
	m, err := Manifest(params)
	if err != nil {
		s.rollback(ctx, cl)
		return err
	}
	if s.d.Temporal == nil {
		s.rollback(ctx, cl)
		return httpx.ErrNoTemporal
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.d.Temporal.ExecuteWorkflow(sctx, client.StartWorkflowOptions{ID: op.WorkflowID, TaskQueue: s.d.TaskQueue,
		StaticSummary: "register of cluster " + cl.Name},
		workflows.RegisterClusterAgent, workflows.RegisterClusterAgentInput{OrgID: p.OrgID, ClusterID: cl.ID, OperationID: op.ID,
			Deadline: s.d.TokenTTL, Region: reg.region, KubernetesVersion: reg.kubeVersion}); err != nil {
		s.rollback(ctx, cl)
		return fmt.Errorf("start registration: %w", err)
	}
	return httpx.Accepted(c, api.ClusterAgentRegistration{AgentManifest: m, ClusterId: &cl.ID, ClusterName: cl.Name, OperationId: &op.ID,
		Status: ptr("WAITING_FOR_AGENT"), TokenExpiresAt: &expires},
		"apply the manifest to the cluster (kubectl apply -f); its token works once, until tokenExpiresAt")
}

func (s *Server) rollback(ctx context.Context, cl store.Cluster) {
	ctx = context.WithoutCancel(ctx)
	_ = s.d.Store.DeleteClusterAgent(ctx, cl.OrgID, cl.ID)
	if err := s.d.Store.DeleteClusterWithOperations(ctx, cl.OrgID, cl.ID); err != nil {
		s.d.Log.ErrorContext(ctx, "roll back registered cluster", "clusterID", cl.ID, "err", err)
	}
}

func ptr[T any](v T) *T { return &v }

// registered finds orgID's live registered cluster by ID or name, and its agent.
func (s *Server) registered(c echo.Context, ref string) (httpx.Principal, store.Cluster, store.ClusterAgent, error) {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return p, store.Cluster{}, store.ClusterAgent{}, err
	}
	ctx := c.Request().Context()
	cl, err := s.d.Store.GetCluster(ctx, p.OrgID, ref)
	if errors.Is(err, store.ErrNotFound) || (err == nil && cl.Status == store.ClusterDeleted) {
		return p, cl, store.ClusterAgent{}, httpx.NotFound(fmt.Sprintf("cluster %q", ref))
	}
	if err != nil {
		return p, cl, store.ClusterAgent{}, err
	}
	if cl.ProvisionerType != ProvisionerType {
		return p, cl, store.ClusterAgent{}, httpx.BadRequest(fmt.Sprintf("cluster %q was made by the platform (%s), not registered with an agent", cl.Name, cl.ProvisionerType),
			map[string]any{"clusterId": "not a registered cluster"})
	}
	ag, err := s.d.Store.GetClusterAgent(ctx, p.OrgID, cl.ID)
	if errors.Is(err, store.ErrNotFound) {
		return p, cl, ag, httpx.NotFound(fmt.Sprintf("the agent of cluster %q", ref))
	}
	return p, cl, ag, err
}

// GetClusterAgentStatus answers the agent's connection and the registration's progress.
func (s *Server) GetClusterAgentStatus(c echo.Context, clusterID string, params api.GetClusterAgentStatusParams) error {
	p, cl, ag, err := s.registered(c, clusterID)
	if err != nil {
		return err
	}
	arch := api.ClusterAgentStatusArchitecture(ag.Architecture)
	st := api.ClusterAgentStatus{ClusterId: &cl.ID, ClusterName: cl.Name, Architecture: &arch, Connected: ag.Replica != "",
		LastHeartbeatAt: ag.LastSeenAt, RegisteredAt: ag.RegisteredAt}
	if ag.AgentVersion != "" {
		st.AgentVersion = &ag.AgentVersion
	}
	if kv := firstNonEmpty(ag.KubernetesVersion, cl.KubernetesVersion); kv != "" {
		st.KubernetesVersion = &kv
	}
	switch {
	case ag.Tombstoned:
		st.Status = api.ClusterAgentStatusStatusTOMBSTONED
	case ag.Replica != "":
		st.Status = api.ClusterAgentStatusStatusCONNECTED
	case cl.Status == "FAILED" && ag.RegisteredAt == nil:
		st.Status = api.ClusterAgentStatusStatusFAILED
	case ag.RegisteredAt == nil && ag.ConnectedAt == nil:
		st.Status = api.ClusterAgentStatusStatusWAITINGFORAGENT
	default:
		st.Status = api.ClusterAgentStatusStatusDISCONNECTED
	}
	opRef := cl.LastOperationID
	if params.OperationId != nil && *params.OperationId != "" {
		opRef = *params.OperationId
	}
	if opRef != "" {
		op, err := s.d.Store.GetOperation(c.Request().Context(), p.OrgID, opRef)
		switch {
		case errors.Is(err, store.ErrNotFound) || (err == nil && op.ClusterID != cl.ID):
			if params.OperationId != nil {
				return httpx.NotFound(fmt.Sprintf("operation %q of cluster %q", opRef, cl.Name))
			}
		case err != nil:
			return err
		default:
			st.Registration = progressOf(op, cl)
		}
	}
	return httpx.OK(c, st, "agent "+string(st.Status))
}

func progressOf(op store.Operation, cl store.Cluster) *api.ClusterProgress {
	pct := 0
	if op.EndedAt != nil {
		pct = 100
	}
	phase := "waiting for the agent's first connection"
	if op.EndedAt != nil {
		phase = "done"
	}
	return &api.ClusterProgress{OperationId: op.ID, OperationType: api.ClusterOperationType(op.Type), Status: api.ClusterOperationStatus(op.Status),
		Percent: pct, ClusterId: &cl.ID, ClusterName: &cl.Name, Message: &op.Message, Phase: &phase, StartedAt: &op.CreatedAt, EndedAt: op.EndedAt,
		Steps: []api.ClusterProgressStep{}}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// UnregisterClusterAgent starts the unregistration workflow: full cleanup (the
// agent's objects in the cluster, its record, the cluster record) or, with
// agent-only, a tombstone.
func (s *Server) UnregisterClusterAgent(c echo.Context, clusterID string, params api.UnregisterClusterAgentParams) error {
	p, cl, ag, err := s.registered(c, clusterID)
	if err != nil {
		return err
	}
	agentOnly := params.AgentOnly != nil && *params.AgentOnly
	if ag.Tombstoned && agentOnly {
		return httpx.Conflict(fmt.Sprintf("the agent of cluster %q is already tombstoned", cl.Name), map[string]any{"agent-only": true})
	}
	if s.d.Temporal == nil {
		return httpx.ErrNoTemporal
	}
	ctx := c.Request().Context()
	if err := s.endWaitingRegistration(ctx, p.OrgID, cl.ID); err != nil {
		return err
	}
	opID := workflows.OperationID(p.OrgName, cl.Name, "delete", store.NewID()[:8])
	op := store.Operation{ID: opID, OrgID: p.OrgID, ClusterID: cl.ID, ClusterName: cl.Name, Type: "delete", Status: store.OperationRunning,
		WorkflowID: opID, CreatedBy: p.UserID}
	if err := s.d.Store.StartOperation(ctx, &op); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return httpx.Conflict(fmt.Sprintf("an operation is running on cluster %q; wait for it or cancel it", cl.Name), map[string]any{"clusterId": cl.Name})
		}
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.d.Temporal.ExecuteWorkflow(sctx, client.StartWorkflowOptions{ID: op.WorkflowID, TaskQueue: s.d.TaskQueue,
		StaticSummary: "unregister of cluster " + cl.Name},
		workflows.UnregisterClusterAgent, workflows.UnregisterClusterAgentInput{OrgID: p.OrgID, ClusterID: cl.ID, OperationID: op.ID, AgentOnly: agentOnly}); err != nil {
		_, _ = s.d.Store.FinishOperation(context.WithoutCancel(ctx), p.OrgID, op.ID, "FAILED", "could not start", time.Now().UTC())
		return fmt.Errorf("start unregistration: %w", err)
	}
	deleted := !agentOnly
	return httpx.OK(c, api.ClusterAgentUnregisterResult{AgentOnly: &agentOnly, ClusterDeleted: &deleted, ClusterId: &cl.ID, ClusterName: cl.Name},
		"unregistering: operation "+op.ID)
}

// endWaitingRegistration ends a registration still waiting for its agent (its
// workflow only waits), so unregistering need not wait for the token's deadline.
func (s *Server) endWaitingRegistration(ctx context.Context, orgID, clusterID string) error {
	run, err := s.d.Store.RunningOperation(ctx, orgID, clusterID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && run.Type != "register") {
		return nil
	}
	if err != nil {
		return err
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var nf *serviceerror.NotFound
	if err := s.d.Temporal.TerminateWorkflow(tctx, run.WorkflowID, "", "unregistered while waiting for the agent"); err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("end the waiting registration: %w", err)
	}
	_, err = s.d.Store.FinishOperation(tctx, orgID, run.ID, "CANCELLED", "unregistered while waiting for the agent", time.Now().UTC())
	if err == nil {
		err = s.d.Store.RecordClusterOutcome(tctx, orgID, clusterID, "CANCELLED", "registration cancelled by unregistering", store.ClusterFacts{})
	}
	return err
}

// SyncClusterAuth rotates the agent's certificate: the agent makes a new key, gets
// it signed with its current certificate, reconnects with it, and the old tunnel
// drains; nothing is cut. The replica holding the tunnel does it (others relay
// through the internal proxy).
func (s *Server) SyncClusterAuth(c echo.Context, clusterID string, _ api.SyncClusterAuthParams) error {
	p, cl, ag, err := s.registered(c, clusterID)
	if err != nil {
		return err
	}
	if ag.Tombstoned {
		return httpx.Conflict(fmt.Sprintf("the agent of cluster %q is tombstoned", cl.Name), map[string]any{"clusterId": cl.Name})
	}
	if ag.Replica == "" {
		return httpx.Conflict(fmt.Sprintf("the agent of cluster %q is not connected: its certificate can only be rotated while it is", cl.Name),
			map[string]any{"clusterId": cl.Name})
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 30*time.Second)
	defer cancel()
	rotate := func(ctx context.Context, org, cluster string) error { return s.d.Tunnel.Rotate(ctx, org, cluster) }
	if s.d.Tunnel == nil || !s.d.Tunnel.Status(p.OrgID, cl.ID).Connected {
		if s.d.Proxy == nil {
			return httpx.NewError(http.StatusServiceUnavailable, httpx.CodeServiceUnavailable,
				"another API replica holds this agent's tunnel and this one has no internal proxy (ASTRO_AGENT_PROXY_KEY); retry")
		}
		rotate = s.d.Proxy.Rotate // relayed to the replica holding the tunnel
	}
	if err := rotate(ctx, p.OrgID, cl.ID); err != nil {
		s.d.Log.WarnContext(ctx, "agent certificate rotation", "clusterID", cl.ID, "err", err)
		return httpx.NewError(http.StatusServiceUnavailable, httpx.CodeServiceUnavailable, "the agent could not rotate its certificate; its current one stays valid")
	}
	return httpx.OK(c, "rotated", "the agent's certificate was rotated; the old one is refused once the agent reconnects with the new one")
}
