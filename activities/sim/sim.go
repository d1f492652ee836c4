// Package sim is a simulated cloud: clusters "exist" in memory after a realistic
// delay, so the whole product runs without a cloud account.
package sim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/astropulse/astroplane/activities"
)

// Provider is the simulated cloud. StepDelay is how long each call takes (zero in
// tests). It is safe for concurrent use and idempotent on the request token.
type Provider struct {
	StepDelay time.Duration

	mu       sync.Mutex
	clusters map[string]activities.ClusterRef // by request token
}

var _ activities.Provider = (*Provider)(nil)

// New returns a simulated cloud whose calls each take stepDelay.
func New(stepDelay time.Duration) *Provider {
	return &Provider{StepDelay: stepDelay, clusters: map[string]activities.ClusterRef{}}
}

// CreateCluster "creates" a cluster after StepDelay, heartbeating while it waits.
func (p *Provider) CreateCluster(ctx context.Context, req activities.CreateClusterRequest) (activities.ClusterRef, error) {
	if err := p.wait(ctx, "creating control plane"); err != nil {
		return activities.ClusterRef{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ref, ok := p.clusters[req.RequestToken]; ok {
		return ref, nil
	}
	ref := activities.ClusterRef{
		Provider:   req.Provider,
		ExternalID: fmt.Sprintf("sim-%s-%s", req.ClusterName, req.RequestToken),
		Endpoint:   fmt.Sprintf("https://%s.%s.sim.astro.local", req.ClusterName, req.Region),
	}
	p.clusters[req.RequestToken] = ref
	return ref, nil
}

// DeleteCluster "deletes" a cluster after StepDelay; a missing cluster is not an error.
func (p *Provider) DeleteCluster(ctx context.Context, ref activities.ClusterRef) error {
	if err := p.wait(ctx, "deleting cluster"); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for token, r := range p.clusters {
		if r.ExternalID == ref.ExternalID {
			delete(p.clusters, token)
		}
	}
	return nil
}

// wait sleeps StepDelay, heartbeating once a second when run inside an activity.
func (p *Provider) wait(ctx context.Context, detail string) error {
	if p.StepDelay <= 0 {
		return ctx.Err()
	}
	deadline := time.NewTimer(p.StepDelay)
	defer deadline.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return nil
		case <-tick.C:
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, detail)
			}
		}
	}
}
