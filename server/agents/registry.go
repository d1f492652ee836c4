// Package agents is the API side of registered clusters (docs/registered-clusters.md):
// the tunnel's Registry over the store, and the install manifest an agent is deployed
// with.
package agents

import (
	"context"
	"errors"
	"time"

	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/tunnel"
)

// Registry is tunnel.Registry over the store: tokens, certificates and which replica
// holds each tunnel live in store.ClusterAgent, shared by every API replica.
type Registry struct {
	Store *store.Store
	// Now is the clock; default time.Now.
	Now func() time.Time
}

var _ tunnel.Registry = Registry{}

func (r Registry) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Redeem implements tunnel.Registry.
func (r Registry) Redeem(ctx context.Context, hash string) (tunnel.Identity, error) {
	a, err := r.Store.RedeemAgentToken(ctx, hash, r.now())
	if errors.Is(err, store.ErrTokenRefused) || errors.Is(err, store.ErrNotFound) {
		return tunnel.Identity{}, tunnel.ErrRefused
	}
	if err != nil {
		return tunnel.Identity{}, err
	}
	return tunnel.Identity{Org: a.OrgID, Cluster: a.ClusterID}, nil
}

// Issued implements tunnel.Registry.
func (r Registry) Issued(ctx context.Context, id tunnel.Identity, c tunnel.Issued) error {
	err := r.Store.AgentCertIssued(ctx, id.Org, id.Cluster, c.Serial, c.NotAfter)
	if errors.Is(err, store.ErrNotFound) {
		return tunnel.ErrRefused
	}
	return err
}

// Admit implements tunnel.Registry.
func (r Registry) Admit(ctx context.Context, id tunnel.Identity, serial string) error {
	err := r.Store.AdmitAgent(ctx, id.Org, id.Cluster, serial)
	if errors.Is(err, store.ErrNotFound) {
		return tunnel.ErrRefused
	}
	return err
}

// Connected implements tunnel.Registry.
func (r Registry) Connected(ctx context.Context, id tunnel.Identity, c tunnel.Connection) error {
	return r.Store.AgentConnected(ctx, id.Org, id.Cluster, store.AgentReport{
		Replica: c.Replica, Serial: c.Serial, Since: c.Since, At: r.now(),
		AgentVersion: c.Info.Version, KubernetesVersion: c.Info.KubernetesVersion, Nodes: c.Info.Nodes,
		Region: c.Info.Region, Healthy: c.Info.Healthy, Message: c.Info.Message,
	})
}

// Disconnected implements tunnel.Registry.
func (r Registry) Disconnected(ctx context.Context, id tunnel.Identity, replica string, at time.Time) error {
	return r.Store.AgentDisconnected(ctx, id.Org, id.Cluster, replica, at)
}
