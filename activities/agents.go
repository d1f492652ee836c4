package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/tunnel"
)

// AgentNamespace is where a registered cluster's agent is installed (server/agents.Namespace).
const AgentNamespace = "astro-agent"

// Agents are the activities of registered clusters' workflows (RegisterClusterAgent,
// UnregisterClusterAgent): they read what the API's tunnel endpoint records in the
// store, and reach the cluster through Clusters (the API's internal proxy,
// tunnel.Proxied).
type Agents struct {
	Store *store.Store
	// Clusters reaches registered clusters; nil: unregistering leaves the agent's
	// objects in the cluster (the result says so).
	Clusters tunnel.Configs
	// Poll is how often AwaitAgent looks (default 2 s).
	Poll time.Duration
}

// AwaitAgentInput names the cluster and the deadline of its agent's first connection.
type AwaitAgentInput struct {
	OrgID, ClusterID string
	Until            time.Time
}

// AgentFacts are what the agent reported on connecting.
type AgentFacts struct {
	AgentVersion      string
	KubernetesVersion string
	Region            string
	Nodes             int
}

// ErrAgentTimeout is AwaitAgent's failure type when the deadline passes.
const ErrAgentTimeout = "AgentTimeout"

// AwaitAgent waits (heartbeating) until the cluster's agent holds a tunnel, and
// returns what it reported; past Until, a non-retryable AgentTimeout.
func (a *Agents) AwaitAgent(ctx context.Context, in AwaitAgentInput) (AgentFacts, error) {
	poll := a.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	for {
		ag, err := a.Store.GetClusterAgent(ctx, in.OrgID, in.ClusterID)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return AgentFacts{}, temporal.NewNonRetryableApplicationError("the cluster's agent record is gone", "AgentGone", err)
			}
			return AgentFacts{}, err
		}
		if ag.Replica != "" && ag.ConnectedAt != nil {
			return AgentFacts{AgentVersion: ag.AgentVersion, KubernetesVersion: ag.KubernetesVersion, Region: ag.Region, Nodes: ag.Nodes}, nil
		}
		if time.Now().After(in.Until) {
			return AgentFacts{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("the agent did not connect by %s: apply the install manifest, check that the cluster reaches the tunnel endpoint, then register again", in.Until.UTC().Format(time.RFC3339)),
				ErrAgentTimeout, nil)
		}
		activity.RecordHeartbeat(ctx)
		select {
		case <-ctx.Done():
			return AgentFacts{}, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// FinishRegistrationInput is a registration's outcome: Failure empty when the agent
// connected (Facts), else why not.
type FinishRegistrationInput struct {
	OrgID, ClusterID, OperationID string
	Facts                         AgentFacts
	// Region and KubernetesVersion, when the request gave them, win over the agent's.
	Region, KubernetesVersion string
	Failure                   string
}

// FinishRegistration records the outcome on the cluster and the operation.
func (a *Agents) FinishRegistration(ctx context.Context, in FinishRegistrationInput) error {
	now := time.Now().UTC()
	if in.Failure != "" {
		if err := a.Store.RecordClusterOutcome(ctx, in.OrgID, in.ClusterID, "FAILED", in.Failure, store.ClusterFacts{}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err := a.Store.FinishOperation(ctx, in.OrgID, in.OperationID, "FAILED", in.Failure, now)
		return err
	}
	region := firstOf(in.Region, in.Facts.Region)
	kv := firstOf(in.KubernetesVersion, in.Facts.KubernetesVersion)
	msg := fmt.Sprintf("registered: agent %s connected; Kubernetes %s, %d nodes", in.Facts.AgentVersion, kv, in.Facts.Nodes)
	if err := a.Store.RecordAgentRegistration(ctx, in.OrgID, in.ClusterID, kv, region, msg, now); err != nil {
		return err
	}
	_, err := a.Store.FinishOperation(ctx, in.OrgID, in.OperationID, "SUCCEEDED", msg, now)
	return err
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// UnregisterInput names the cluster and how far unregistering goes.
type UnregisterInput struct {
	OrgID, ClusterID, OperationID string
	// AgentOnly keeps the cluster record (a tombstone) and the agent's objects.
	AgentOnly bool
}

// RemoveAgentObjects deletes what the install manifest made (the namespace, which ends
// the agent, then its ClusterRoleBinding) through the tunnel. It returns a note for
// the operation's message when the cluster could not be reached (its agent is not
// connected): those objects are then the user's to delete.
func (a *Agents) RemoveAgentObjects(ctx context.Context, in UnregisterInput) (string, error) {
	if a.Clusters == nil {
		return "the agent's objects were left in the cluster (kubectl delete namespace " + AgentNamespace + "; kubectl delete clusterrole,clusterrolebinding astro-agent)", nil
	}
	cfg, err := a.Clusters.Config(ctx, in.OrgID, in.ClusterID)
	if err != nil {
		return "", err
	}
	cfg.Timeout = 20 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	// The namespace first (the agent, its Secrets), then the binding that let the agent
	// do it; the ClusterRole, unbound, grants nothing and cannot be deleted by the
	// agent once unbound (the note says so).
	del := []func() error{
		func() error { return cs.CoreV1().Namespaces().Delete(ctx, AgentNamespace, metav1.DeleteOptions{}) },
		func() error {
			return cs.RbacV1().ClusterRoleBindings().Delete(ctx, "astro-agent", metav1.DeleteOptions{})
		},
	}
	for _, d := range del {
		if err := d(); err != nil && !apierrors.IsNotFound(err) {
			if apierrors.IsServiceUnavailable(err) || apierrors.IsUnauthorized(err) || isUnreachable(err) {
				return "the agent is not connected, so its objects were left in the cluster (kubectl delete namespace " + AgentNamespace + "; kubectl delete clusterrole,clusterrolebinding astro-agent)", nil
			}
			return "", err
		}
	}
	return "the unbound ClusterRole astro-agent is left (it grants nothing): kubectl delete clusterrole astro-agent", nil
}

func isUnreachable(err error) bool {
	var se *apierrors.StatusError
	return !errors.As(err, &se)
}

// FinishUnregister refuses the agent from now on and records the outcome: with
// AgentOnly the cluster stays as a tombstone; otherwise the agent's record goes and
// the cluster is DELETED (kept in history, as deleted clusters are).
func (a *Agents) FinishUnregister(ctx context.Context, in UnregisterInput, note string) error {
	now := time.Now().UTC()
	msg := "unregistered: the agent and the cluster record were removed"
	if in.AgentOnly {
		msg = "agent tombstoned: the cluster record is kept, its agent is refused"
		if err := a.Store.TombstoneClusterAgent(ctx, in.OrgID, in.ClusterID); err != nil {
			return err
		}
		cl, err := a.Store.GetCluster(ctx, in.OrgID, in.ClusterID)
		if err != nil {
			return err
		}
		if err := a.Store.RecordClusterOutcome(ctx, in.OrgID, in.ClusterID, cl.Status, msg, store.ClusterFacts{}); err != nil {
			return err
		}
	} else {
		if note != "" {
			msg += "; " + note
		}
		if err := a.Store.DeleteClusterAgent(ctx, in.OrgID, in.ClusterID); err != nil {
			return err
		}
		if err := a.Store.RecordClusterOutcome(ctx, in.OrgID, in.ClusterID, store.ClusterDeleted, msg, store.ClusterFacts{}); err != nil {
			return err
		}
	}
	_, err := a.Store.FinishOperation(ctx, in.OrgID, in.OperationID, "SUCCEEDED", msg, now)
	return err
}
