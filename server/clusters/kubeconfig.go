package clusters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// Bounds of a kubeconfig's validity (the request's duration).
const (
	MinKubeconfigDuration = 5 * time.Minute
	MaxKubeconfigDuration = 24 * time.Hour
)

// kubeconfigWait is how long a generate request for a managed cluster waits for its
// file before answering 202 (the client then polls GET).
const kubeconfigWait = 20 * time.Second

// kubeconfigRequest is ClusterKubeconfigRequest with its duration in either form
// clients send.
type kubeconfigRequest struct {
	ClusterName string `json:"clusterName"`
	Credentials struct {
		Type string            `json:"type"`
		Data map[string]string `json:"data"` // never used: the cluster's own credentials are
	} `json:"credentials"`
	Duration json.RawMessage `json:"duration"`
}

// GenerateClusterKubeconfig makes a kubeconfig of the cluster for the caller: a
// worker asks the cluster's provider with the cluster's own credentials and seals
// the file into the store; a managed cluster's (EKS, GKE, AKS) comes back in this
// answer, a selfHosted cluster's is generated in the background (202, then GET).
func (s *Server) GenerateClusterKubeconfig(c echo.Context, clusterID string, _ api.GenerateClusterKubeconfigParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	cl, cs, err := s.liveCluster(c, clusterID) // another organization's cluster is a 404 before anything else
	if err != nil {
		return err
	}
	if s.box == nil {
		return &httpx.APIError{Status: http.StatusServiceUnavailable, Code: httpx.CodeServiceUnavailable,
			Message: "kubeconfigs need the server's encryption key (ASTRO_ENCRYPTION_KEY), which is not set"}
	}
	if s.temporal == nil {
		return httpx.ErrNoTemporal
	}
	var in kubeconfigRequest
	if err := httpx.BindBody(c, &in); err != nil {
		return err
	}
	d, given, err := httpx.ParseJSONDuration(in.Duration)
	if err == nil && !given {
		err = errors.New("is required: a duration such as \"1h\", or an integer of nanoseconds")
	}
	if err == nil && (d < MinKubeconfigDuration || d > MaxKubeconfigDuration) {
		err = fmt.Errorf("%s is outside 5m to 24h", d)
	}
	if err != nil {
		return httpx.ValidationFailed(map[string]any{"duration": err.Error()})
	}
	if in.ClusterName != cl.Name {
		return httpx.ValidationFailed(map[string]any{"clusterName": fmt.Sprintf("is %q, but the path names cluster %q", in.ClusterName, cl.Name)})
	}
	if cl.ExternalID == "" || cl.Status == store.ClusterDeleting {
		return httpx.Conflict(fmt.Sprintf("cluster %q has no control plane to connect to (it is %s)", cl.Name, cl.Status), nil)
	}
	ctx := c.Request().Context()
	s.pruneGrants(ctx)
	g := store.KubeconfigGrant{ID: workflows.OperationID(p.OrgName, cl.Name, "kubeconfig", randomSuffix()),
		OrgID: p.OrgID, ClusterID: cl.ID, UserID: p.UserID, Duration: d}
	if err := s.store.CreateKubeconfigGrant(ctx, &g); err != nil {
		return err
	}
	run, err := s.temporal.ExecuteWorkflow(context.WithoutCancel(ctx), client.StartWorkflowOptions{
		ID: workflows.KubeconfigWorkflowID(g.ID), TaskQueue: s.taskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		StaticSummary:            fmt.Sprintf("kubeconfig of cluster %s", cl.Name),
	}, workflows.IssueKubeconfig, activities.IssueKubeconfigInput{
		OrgID: p.OrgID, GrantID: g.ID, Spec: cs, Duration: d,
		Ref: activities.ClusterRef{Provider: cl.Provider, ExternalID: cl.ExternalID, Endpoint: cl.Endpoint},
	})
	if err != nil {
		_ = s.store.CompleteKubeconfigGrant(context.WithoutCancel(ctx), p.OrgID, g.ID, "", "", "its workflow did not start", nil)
		return fmt.Errorf("start kubeconfig workflow: %w", err)
	}
	s.audit.Record(c, p, "CLUSTER", "KUBECONFIG", g.ID, store.OutcomeSuccess)
	note := credentialsNote(in.Credentials.Type, cs.AccountRef().CredentialsType)
	if cs.ProvisionerType != "selfHosted" {
		wait, cancel := context.WithTimeout(ctx, kubeconfigWait)
		defer cancel()
		if err := run.Get(wait, nil); err == nil || !errors.Is(wait.Err(), context.DeadlineExceeded) {
			return s.answerGrant(c, p, cl, g.ID, note)
		}
	}
	return httpx.Accepted(c, grantAccepted(cl, g.ID, store.KubeconfigPending), "generating the kubeconfig; GET this path for it"+note)
}

// GetClusterKubeconfig answers the caller's newest kubeconfig of the cluster: 200
// with the file when it is ready, 202 while it is being made.
func (s *Server) GetClusterKubeconfig(c echo.Context, clusterID string, _ api.GetClusterKubeconfigParams) error {
	p, err := httpx.MustPrincipal(c)
	if err != nil {
		return err
	}
	cl, err := s.findCluster(c, clusterID)
	if err != nil {
		return err
	}
	g, err := s.store.LatestKubeconfigGrant(c.Request().Context(), p.OrgID, cl.ID, p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return httpx.NotFound(fmt.Sprintf("kubeconfig of cluster %q for you (POST this path to generate one)", cl.Name))
	}
	if err != nil {
		return err
	}
	return s.answerGrant(c, p, cl, g.ID, "")
}

// answerGrant answers grant id as it stands: 200 with the opened file, 202 while
// pending, 422 with the reason when it failed, 404 once expired.
func (s *Server) answerGrant(c echo.Context, p httpx.Principal, cl store.Cluster, id, note string) error {
	g, err := s.store.GetKubeconfigGrant(c.Request().Context(), p.OrgID, id)
	if err != nil {
		return err
	}
	switch {
	case g.Status == store.KubeconfigPending:
		return httpx.Accepted(c, grantAccepted(cl, g.ID, g.Status), "the kubeconfig is being generated; poll again"+note)
	case g.Status == store.KubeconfigFailed:
		return &httpx.APIError{Status: http.StatusUnprocessableEntity, Code: httpx.CodeUnprocessable, Message: g.Message}
	case g.ExpiresAt == nil || !time.Now().Before(*g.ExpiresAt):
		return httpx.NotFound(fmt.Sprintf("kubeconfig of cluster %q for you: the last one expired; POST this path to generate another", cl.Name))
	}
	if s.box == nil {
		return &httpx.APIError{Status: http.StatusServiceUnavailable, Code: httpx.CodeServiceUnavailable,
			Message: "kubeconfigs need the server's encryption key (ASTRO_ENCRYPTION_KEY), which is not set"}
	}
	raw, err := s.box.OpenBound(g.Sealed, activities.KubeconfigSeal(g.OrgID, g.ID))
	if err != nil {
		return fmt.Errorf("open kubeconfig grant %s: %w", g.ID, err)
	}
	v := api.ClusterKubeconfig{Kubeconfig: string(raw), ExpiresAt: g.ExpiresAt}
	if g.Context != "" {
		v.Context = &g.Context
	}
	if asked := g.CreatedAt.Add(g.Duration); g.Duration > 0 && g.ExpiresAt.Before(asked.Add(-time.Minute)) {
		// The provider's credentials in the file do not last as long as asked (an
		// EKS token lasts 15 minutes): say so rather than promise the duration.
		note += fmt.Sprintf("; shorter than the %s asked: the cluster's provider issues credentials of at most %s (%s tokens), so POST this path again for a fresh file once it expires",
			g.Duration, g.ExpiresAt.Sub(g.CreatedAt).Round(time.Minute), strings.ToUpper(cl.ProvisionerType))
	}
	return httpx.OK(c, []api.ClusterKubeconfig{v}, fmt.Sprintf("kubeconfig of cluster %s, valid until %s", cl.Name, g.ExpiresAt.Format(time.RFC3339))+note)
}

func grantAccepted(cl store.Cluster, id, status string) api.OperationAccepted {
	return api.OperationAccepted{OperationId: id, ClusterId: &cl.ID, Status: &status}
}

// credentialsNote tells the caller that the kubeconfig was made with the cluster's
// own credentials when the request named others: the cluster's account is the
// only one the worker acts in.
func credentialsNote(asked, used string) string {
	if asked == "" || used == "" || asked == used {
		return ""
	}
	return fmt.Sprintf(" (made with the cluster's own %s credentials, not the %s ones the request named)", used, asked)
}

// pruneGrants deletes expired grants, at most once a minute per process.
func (s *Server) pruneGrants(ctx context.Context) {
	now := time.Now()
	last := s.lastPrune.Load()
	if now.UnixNano()-last < int64(time.Minute) || !s.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	if _, err := s.store.PruneKubeconfigGrants(ctx, now); err != nil {
		s.log.WarnContext(ctx, "prune kubeconfig grants", "err", err)
	}
}
