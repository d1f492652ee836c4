package gcp

import (
	"context"
	"fmt"
	"net"
	"slices"

	container "google.golang.org/api/container/v1"

	"github.com/astropulse/astroplane/cloud"
)

// UpdateClusterSettings changes the cluster's GKE settings in place, each only if it
// differs, each change waited for: the release channel and the master authorized
// networks (clusters.update), the maintenance window (setMaintenancePolicy with the
// policy's resource version), and the node image type (nodePools.update of every
// pool at its own version, which re-images its nodes).
func (p *Provider) UpdateClusterSettings(ctx context.Context, c cloud.Call, r cloud.ClusterRef, s cloud.ClusterSettings) error {
	g := s.GKE
	if s.Empty() || g == nil || (g.ImageType == "" && g.ReleaseChannel == "" && g.MaintenanceWindow == nil && g.AuthorizedNetworks == nil) {
		return cloud.Errorf(cloud.ErrInvalid, "cluster settings: no GKE setting to change")
	}
	if g.ReleaseChannel != "" && !slices.Contains(channels, g.ReleaseChannel) {
		return cloud.Errorf(cloud.ErrInvalid, "unknown GKE release channel %q (want one of %v)", g.ReleaseChannel, channels)
	}
	for _, cidr := range g.AuthorizedNetworks {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return cloud.Errorf(cloud.ErrInvalid, "authorized network %q is not a CIDR", cidr)
		}
	}
	var policy *container.MaintenancePolicy
	if g.MaintenanceWindow != nil {
		var err error
		if policy, err = maintenancePolicy(*g.MaintenanceWindow); err != nil {
			return err
		}
	}
	path, err := p.resolve(ctx, r.ExternalID)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("update the settings of GKE cluster %s", shortName(path))
	if err := p.waitIdle(ctx, c, path, what); err != nil {
		return err
	}
	cl, err := p.getCluster(ctx, path)
	if err != nil {
		return err
	}
	run := func(step string, call func() (*container.Operation, error)) error {
		c.Report(fmt.Sprintf("%s: %s", what, step))
		op, err := call()
		if err != nil {
			return typed(ctx, what+": "+step, err)
		}
		return p.waitOp(ctx, c, parentOf(path), what+": "+step, op)
	}
	update := func(u *container.ClusterUpdate) func() (*container.Operation, error) {
		return func() (*container.Operation, error) {
			return p.gke.Projects.Locations.Clusters.Update(path, &container.UpdateClusterRequest{Update: u}).Context(ctx).Do()
		}
	}
	changed := false
	if ch := g.ReleaseChannel; ch != "" && (cl.ReleaseChannel == nil || cl.ReleaseChannel.Channel != ch) {
		changed = true
		if err := run("release channel "+ch, update(&container.ClusterUpdate{DesiredReleaseChannel: &container.ReleaseChannel{Channel: ch}})); err != nil {
			return err
		}
	}
	if g.AuthorizedNetworks != nil && !sameNetworks(cl.MasterAuthorizedNetworksConfig, g.AuthorizedNetworks) {
		changed = true
		if err := run(fmt.Sprintf("authorized networks %v", g.AuthorizedNetworks),
			update(&container.ClusterUpdate{DesiredMasterAuthorizedNetworksConfig: authorizedNetworks(g.AuthorizedNetworks)})); err != nil {
			return err
		}
	}
	if policy != nil && !sameWindow(cl.MaintenancePolicy, policy) {
		changed = true
		if cl.MaintenancePolicy != nil {
			policy.ResourceVersion = cl.MaintenancePolicy.ResourceVersion
		}
		if err := run("maintenance window from "+g.MaintenanceWindow.StartTime, func() (*container.Operation, error) {
			return p.gke.Projects.Locations.Clusters.SetMaintenancePolicy(path, &container.SetMaintenancePolicyRequest{MaintenancePolicy: policy}).Context(ctx).Do()
		}); err != nil {
			return err
		}
	}
	if image := g.ImageType; image != "" {
		for _, np := range cl.NodePools {
			if np.Config != nil && np.Config.ImageType == image {
				continue
			}
			changed = true
			name, version := path+"/nodePools/"+np.Name, np.Version
			if err := run(fmt.Sprintf("image type %s on node pool %s", image, np.Name), func() (*container.Operation, error) {
				return p.gke.Projects.Locations.Clusters.NodePools.Update(name, &container.UpdateNodePoolRequest{NodeVersion: version, ImageType: image}).Context(ctx).Do()
			}); err != nil {
				return err
			}
		}
	}
	if !changed {
		c.Report(fmt.Sprintf("cluster %s already has these settings", cl.Name))
	}
	return nil
}

func sameNetworks(cfg *container.MasterAuthorizedNetworksConfig, cidrs []string) bool {
	if cfg == nil || !cfg.Enabled {
		return len(cidrs) == 0
	}
	var have []string
	for _, b := range cfg.CidrBlocks {
		have = append(have, b.CidrBlock)
	}
	return slices.Equal(slices.Sorted(slices.Values(have)), slices.Sorted(slices.Values(cidrs)))
}

func sameWindow(have, want *container.MaintenancePolicy) bool {
	if have == nil || have.Window == nil {
		return false
	}
	h, w := have.Window, want.Window
	switch {
	case w.DailyMaintenanceWindow != nil:
		return h.DailyMaintenanceWindow != nil && h.DailyMaintenanceWindow.StartTime == w.DailyMaintenanceWindow.StartTime && h.RecurringWindow == nil
	case w.RecurringWindow != nil:
		return h.RecurringWindow != nil && h.RecurringWindow.Recurrence == w.RecurringWindow.Recurrence && h.RecurringWindow.Window != nil &&
			h.RecurringWindow.Window.StartTime == w.RecurringWindow.Window.StartTime && h.RecurringWindow.Window.EndTime == w.RecurringWindow.Window.EndTime
	}
	return false
}
