// Package activities holds the Temporal activities of the control plane: the only code
// that talks to clouds and records workflow outcomes in the store. Activities are
// methods on structs holding their dependencies; workflows call them through nil
// pointers of those types, so names and signatures are checked by the compiler.
package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/astropulse/astroplane/store"
)

// Error types of non-retryable activity failures; workflows and the API match on them.
const (
	ErrTypeNotFound      = "NotFound"
	ErrTypeInvalidInput  = "InvalidInput"
	ErrTypeQuotaExceeded = "QuotaExceeded"
	ErrTypeInjected      = "InjectedFailure"
)

// CreateClusterRequest asks a provider for a cluster. RequestToken makes the call
// idempotent: a retried activity passes the same token and gets the same cluster.
type CreateClusterRequest struct {
	RequestToken      string
	OrgID             string
	ClusterName       string
	Provider          string
	ProvisionerType   string
	Region            string
	KubernetesVersion string
}

// ClusterRef identifies a cluster inside its provider.
type ClusterRef struct {
	Provider   string
	ExternalID string
	Endpoint   string
}

// Provider manages clusters in one cloud account. Implementations are safe for
// concurrent use and idempotent on CreateClusterRequest.RequestToken; DeleteCluster of
// a cluster that is already gone succeeds.
type Provider interface {
	CreateCluster(ctx context.Context, req CreateClusterRequest) (ClusterRef, error)
	DeleteCluster(ctx context.Context, ref ClusterRef) error
}

// Cluster holds the cluster activities' dependencies.
type Cluster struct {
	Store *store.Store
	// Providers maps a manifest's provider (aws, gcp, azure) to its implementation.
	Providers map[string]Provider
}

// SetClusterStatusInput names a cluster and the status to record.
type SetClusterStatusInput struct {
	OrgID     string
	ClusterID string
	Status    string
	Message   string
}

// SetClusterStatus records a cluster's status in the store.
func (a *Cluster) SetClusterStatus(ctx context.Context, in SetClusterStatusInput) error {
	err := a.Store.SetClusterStatus(ctx, in.OrgID, in.ClusterID, in.Status, in.Message)
	if errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("cluster %s not found", in.ClusterID), ErrTypeNotFound, err)
	}
	return err
}

// CreateCluster creates the cluster through its provider.
func (a *Cluster) CreateCluster(ctx context.Context, req CreateClusterRequest) (ClusterRef, error) {
	p, ok := a.Providers[req.Provider]
	if !ok {
		return ClusterRef{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no provider %q on this worker", req.Provider), ErrTypeInvalidInput, nil)
	}
	ref, err := p.CreateCluster(ctx, req)
	if err != nil {
		return ClusterRef{}, fmt.Errorf("create cluster %q on %s: %w", req.ClusterName, req.Provider, err)
	}
	return ref, nil
}

// FinishOperationInput records the outcome of an operation and its cluster.
type FinishOperationInput struct {
	OrgID         string
	ClusterID     string
	OperationID   string
	OperationStat string // store.Operation* status
	ClusterStatus string // store.Cluster* status
	Message       string
}

// FinishOperation records the operation's outcome and the cluster's resulting status
// in one transaction, and an audit event.
func (a *Cluster) FinishOperation(ctx context.Context, in FinishOperationInput) error {
	now := time.Now().UTC()
	return a.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.SetClusterStatus(ctx, in.OrgID, in.ClusterID, in.ClusterStatus, in.Message); err != nil {
			return err
		}
		if err := tx.FinishOperation(ctx, in.OrgID, in.OperationID, in.OperationStat, in.Message, now); err != nil {
			return err
		}
		outcome := store.OutcomeSuccess
		if in.OperationStat != store.OperationSucceeded {
			outcome = store.OutcomeFailure
		}
		return tx.RecordAudit(ctx, &store.AuditEvent{
			OrgID: in.OrgID, EventType: "CLUSTER", Action: "OPERATION_FINISHED",
			ResourceID: in.OperationID, Outcome: outcome, CreatedAt: now,
		})
	})
}
