package clusters

import (
	"github.com/astropulse/astroplane/server/httpx"

	"context"
	"errors"
	"fmt"
	"time"

	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// nameHolder is the cluster that holds a name a deploy asks for.
type nameHolder struct {
	cluster store.Cluster
	// deploy is the holder's only operation, a deploy that ended without a cluster
	// and left nothing behind; the name is free for a new deploy, which retires the
	// holder's record (kept as DELETED, for history). Empty when the name is taken.
	deploy store.Operation
	// conflict is the 409 a deploy of a taken name gets, saying how to free it.
	conflict *httpx.APIError
}

func (h *nameHolder) freeable() bool { return h != nil && h.deploy.ID != "" }

// holderOfName returns the live cluster of orgID named name, or nil when there is
// none, and whether a new deploy may take its name.
func (s *Server) holderOfName(ctx context.Context, orgID, name string) (*nameHolder, error) {
	cl, err := s.store.GetCluster(ctx, orgID, name)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (cl.Name != name || cl.Status == store.ClusterDeleted)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h := &nameHolder{cluster: cl}
	details := map[string]any{"spec.clusterName": "already exists in this organization", "clusterId": cl.ID,
		"status": cl.Status, "lastOperationId": cl.LastOperationID}
	if running, err := s.store.RunningOperation(ctx, orgID, cl.ID); err == nil {
		details["runningOperationId"], details["runningOperationType"] = running.ID, running.Type
		h.conflict = httpx.Conflict(fmt.Sprintf("cluster %q already exists and operation %s (%s) is running on it; wait for it to end or cancel it (POST /api/v1/clusters/%s/cancel)",
			name, running.ID, running.Type, name), details)
		return h, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	switch cl.Status {
	case store.ClusterCancelled, store.ClusterFailed, store.ClusterRejected, store.ClusterExpired:
		op, err := s.store.GetOperation(ctx, orgID, cl.LastOperationID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if err == nil && op.Type == workflows.OpDeploy && op.EndedAt != nil && cl.ExternalID == "" && cl.NetworkID == "" &&
			s.deployLeftNothing(ctx, op) {
			h.deploy = op
			return h, nil
		}
		h.conflict = httpx.Conflict(fmt.Sprintf("cluster %q already exists (%s): its operation %s may have left resources behind; "+
			"delete it (DELETE /api/v1/clusters/%s), which removes what remains and frees the name", name, cl.Status, cl.LastOperationID, name), details)
	default:
		h.conflict = httpx.Conflict(fmt.Sprintf("cluster %q already exists (%s); choose another name, or delete it (DELETE /api/v1/clusters/%s) to free the name",
			name, cl.Status, name), details)
	}
	return h, nil
}

// deployLeftNothing reports whether the ended deploy op removed everything it
// created, as its workflow tells: every create step that started was rolled back
// successfully, and nothing is listed as left behind. When the workflow cannot say
// (no worker answers, history gone), the answer is no.
func (s *Server) deployLeftNothing(ctx context.Context, op store.Operation) bool {
	if s.temporal == nil {
		return false
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := s.temporal.QueryWorkflow(qctx, op.WorkflowID, "", workflows.QueryProgress)
	var pr workflows.Progress
	if err != nil || resp.Get(&pr) != nil || len(pr.Steps) == 0 || pr.Status == workflows.StatusRunning || len(pr.LeftBehind) > 0 {
		return false
	}
	steps := map[string]workflows.Step{}
	for _, st := range pr.Steps {
		if st.Compensation && st.Status != workflows.StepSucceeded {
			return false
		}
		steps[st.Name] = st
	}
	for _, create := range []string{workflows.StepNetwork, workflows.StepControlPlane, workflows.StepNodeGroups} {
		if steps[create].StartedAt != nil && steps["rollback-"+create].Status != workflows.StepSucceeded {
			return false
		}
	}
	return true
}
