package cloud

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// limited paces every call of a provider by its account's limiter.
type limited struct {
	p   Provider
	lim *rate.Limiter
}

var _ Provider = limited{}

// reportWaitsFrom is the shortest wait for the limiter that wait reports.
const reportWaitsFrom = time.Second

// wait waits for the account's limiter, as rate.Limiter.Wait does. A wait of a second
// or more is reported through c's progress callback before it starts, and its end
// after: the activity adapter turns reports into heartbeats and repeats the last one
// while the call is silent, so an activity queued behind its account's other calls
// keeps heartbeating. Before, a call that waited longer than its activity's heartbeat
// timeout (15 s: about 150 calls queued in one account) timed out before reaching the
// cloud, and its retry went to the back of the same queue.
func (l limited) wait(ctx context.Context, c Call) error {
	r := l.lim.Reserve()
	if !r.OK() {
		return fmt.Errorf("rate limit: no call can ever go through a burst of %d", l.lim.Burst())
	}
	d := r.Delay()
	if d == 0 {
		return nil
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d {
		r.Cancel()
		return fmt.Errorf("rate limit: the account's next call slot is in %s, after the call's deadline", d.Round(time.Millisecond))
	}
	if d >= reportWaitsFrom {
		c.Report(fmt.Sprintf("waiting %s for the cloud account's rate limit", d.Round(time.Second)))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
	if d >= reportWaitsFrom {
		c.Report(fmt.Sprintf("calling the cloud (waited %s for the account's rate limit)", d.Round(time.Second)))
	}
	return nil
}

func (l limited) CreateNetwork(ctx context.Context, c Call, spec ClusterSpec) (NetworkRef, error) {
	if err := l.wait(ctx, c); err != nil {
		return NetworkRef{}, err
	}
	return l.p.CreateNetwork(ctx, c, spec)
}

func (l limited) DeleteNetwork(ctx context.Context, c Call, net NetworkRef) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.DeleteNetwork(ctx, c, net)
}

func (l limited) CreateControlPlane(ctx context.Context, c Call, spec ClusterSpec, net NetworkRef) (ClusterRef, error) {
	if err := l.wait(ctx, c); err != nil {
		return ClusterRef{}, err
	}
	return l.p.CreateControlPlane(ctx, c, spec, net)
}

func (l limited) ControlPlaneStatus(ctx context.Context, c Call, ref ClusterRef) (string, error) {
	if err := l.wait(ctx, c); err != nil {
		return "", err
	}
	return l.p.ControlPlaneStatus(ctx, c, ref)
}

func (l limited) DeleteControlPlane(ctx context.Context, c Call, ref ClusterRef) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.DeleteControlPlane(ctx, c, ref)
}

func (l limited) CreateNodeGroup(ctx context.Context, c Call, ref ClusterRef, ng NodeGroupSpec) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.CreateNodeGroup(ctx, c, ref, ng)
}

func (l limited) UpdateNodeGroup(ctx context.Context, c Call, ref ClusterRef, ng NodeGroupSpec, replace bool, batches int) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.UpdateNodeGroup(ctx, c, ref, ng, replace, batches)
}

func (l limited) DeleteNodeGroup(ctx context.Context, c Call, ref ClusterRef, name string) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.DeleteNodeGroup(ctx, c, ref, name)
}

func (l limited) InstallAddons(ctx context.Context, c Call, ref ClusterRef, version string) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.InstallAddons(ctx, c, ref, version)
}

func (l limited) Kubeconfig(ctx context.Context, c Call, ref ClusterRef) (string, error) {
	if err := l.wait(ctx, c); err != nil {
		return "", err
	}
	return l.p.Kubeconfig(ctx, c, ref)
}

func (l limited) UpgradeControlPlane(ctx context.Context, c Call, ref ClusterRef, version string) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.UpgradeControlPlane(ctx, c, ref, version)
}

func (l limited) UpdateTags(ctx context.Context, c Call, ref ClusterRef, tags map[string]string) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.UpdateTags(ctx, c, ref, tags)
}

func (l limited) UpdateClusterSettings(ctx context.Context, c Call, ref ClusterRef, s ClusterSettings) error {
	if err := l.wait(ctx, c); err != nil {
		return err
	}
	return l.p.UpdateClusterSettings(ctx, c, ref, s)
}
