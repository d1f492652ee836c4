package clusters

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/astropulse/astroplane/server/approvals"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// startedMessage is the message of the 202 that starts an operation of opType: it
// says when the operation will first wait for approval, and for how long at most.
func startedMessage(opType string, gate *workflows.ApprovalGate) string {
	if gate == nil {
		return opType + " started"
	}
	return fmt.Sprintf("%s started; it waits for approval by a member with role %s before it changes anything (the request expires in %s if no one decides)",
		opType, strings.Join(gate.ApproverRoles, " or "), approvals.FormatDuration(gate.ExpiresIn))
}

// cancelMessage says what a cancel of an operation of opType will really do: an
// operation still waiting for approval has changed nothing, so nothing is rolled back;
// a deploy removes what it created; an update or a delete stops where it is.
func cancelMessage(opType string, waitingForApproval bool) string {
	if waitingForApproval {
		return "cancel requested: the " + opType + " is still waiting for approval and has changed nothing, so there is nothing to roll back; it ends CANCELLED"
	}
	switch opType {
	case workflows.OpDeploy:
		return "cancel requested: the deploy stops and removes what it created (rollback-* steps in progress), then ends CANCELLED"
	case workflows.OpUpdate:
		return "cancel requested: the update stops where it is and ends CANCELLED; steps already done stay done (upgrades are not rolled back) and the cluster stays READY at the state reached"
	case workflows.OpDelete:
		return "cancel requested: the delete stops where it is and ends CANCELLED; what it already removed stays removed, and the cluster is left FAILED until it is deleted again"
	}
	return "cancel requested: the " + opType + " ends CANCELLED"
}

// waitingForApproval reports whether op (running on cl) is still at its approval
// step, as its progress query says, or, when the query does not answer, as the
// cluster's status says.
func (s *Server) waitingForApproval(ctx context.Context, cl store.Cluster, op store.Operation) bool {
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var pr workflows.Progress
	if resp, err := s.temporal.QueryWorkflow(qctx, op.WorkflowID, "", workflows.QueryProgress); err == nil && resp.Get(&pr) == nil {
		for _, st := range pr.Steps {
			if st.Name == workflows.StepApproval {
				return st.Status == workflows.StepRunning
			}
		}
		return false
	}
	return cl.Status == store.ClusterWaitingForApproval
}
