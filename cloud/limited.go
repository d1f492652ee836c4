package cloud

import (
	"context"

	"golang.org/x/time/rate"
)

// limited paces every call of a provider by its account's limiter.
type limited struct {
	p   Provider
	lim *rate.Limiter
}

var _ Provider = limited{}

func (l limited) wait(ctx context.Context) error { return l.lim.Wait(ctx) }

func (l limited) CreateNetwork(ctx context.Context, c Call, spec ClusterSpec) (NetworkRef, error) {
	if err := l.wait(ctx); err != nil {
		return NetworkRef{}, err
	}
	return l.p.CreateNetwork(ctx, c, spec)
}

func (l limited) DeleteNetwork(ctx context.Context, c Call, net NetworkRef) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.DeleteNetwork(ctx, c, net)
}

func (l limited) CreateControlPlane(ctx context.Context, c Call, spec ClusterSpec, net NetworkRef) (ClusterRef, error) {
	if err := l.wait(ctx); err != nil {
		return ClusterRef{}, err
	}
	return l.p.CreateControlPlane(ctx, c, spec, net)
}

func (l limited) ControlPlaneStatus(ctx context.Context, c Call, ref ClusterRef) (string, error) {
	if err := l.wait(ctx); err != nil {
		return "", err
	}
	return l.p.ControlPlaneStatus(ctx, c, ref)
}

func (l limited) DeleteControlPlane(ctx context.Context, c Call, ref ClusterRef) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.DeleteControlPlane(ctx, c, ref)
}

func (l limited) CreateNodeGroup(ctx context.Context, c Call, ref ClusterRef, ng NodeGroupSpec) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.CreateNodeGroup(ctx, c, ref, ng)
}

func (l limited) UpdateNodeGroup(ctx context.Context, c Call, ref ClusterRef, ng NodeGroupSpec, replace bool, batches int) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.UpdateNodeGroup(ctx, c, ref, ng, replace, batches)
}

func (l limited) DeleteNodeGroup(ctx context.Context, c Call, ref ClusterRef, name string) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.DeleteNodeGroup(ctx, c, ref, name)
}

func (l limited) InstallAddons(ctx context.Context, c Call, ref ClusterRef, version string) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.InstallAddons(ctx, c, ref, version)
}

func (l limited) Kubeconfig(ctx context.Context, c Call, ref ClusterRef) (string, error) {
	if err := l.wait(ctx); err != nil {
		return "", err
	}
	return l.p.Kubeconfig(ctx, c, ref)
}

func (l limited) UpgradeControlPlane(ctx context.Context, c Call, ref ClusterRef, version string) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.UpgradeControlPlane(ctx, c, ref, version)
}

func (l limited) UpdateTags(ctx context.Context, c Call, ref ClusterRef, tags map[string]string) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.UpdateTags(ctx, c, ref, tags)
}

func (l limited) UpdateClusterSettings(ctx context.Context, c Call, ref ClusterRef, s ClusterSettings) error {
	if err := l.wait(ctx); err != nil {
		return err
	}
	return l.p.UpdateClusterSettings(ctx, c, ref, s)
}
