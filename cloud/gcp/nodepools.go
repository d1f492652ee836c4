package gcp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	container "google.golang.org/api/container/v1"

	"github.com/astropulse/astroplane/cloud"
)

// effects are GKE's taint effects by their Kubernetes names.
var effects = map[string]string{
	"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE",
	"NO_SCHEDULE": "NO_SCHEDULE", "PREFER_NO_SCHEDULE": "PREFER_NO_SCHEDULE", "NO_EXECUTE": "NO_EXECUTE",
}

// defaultMachineType is a node group's machine type when it names none.
const defaultMachineType = "e2-standard-4"

func validNodeGroup(ng cloud.NodeGroupSpec) error {
	switch {
	case !gkeName.MatchString(ng.Name):
		return cloud.Errorf(cloud.ErrInvalid, "node group name %q: GKE wants 1-40 lowercase letters, digits or '-', starting with a letter", ng.Name)
	case ng.MinNode < 0 || ng.MaxNode < ng.MinNode:
		return cloud.Errorf(cloud.ErrInvalid, "node group %q: minNode %d and maxNode %d are not 0 <= min <= max", ng.Name, ng.MinNode, ng.MaxNode)
	case len(ng.MachineTypes) > 1:
		return cloud.Errorf(cloud.ErrInvalid, "node group %q: a GKE node pool has one machine type, not %v", ng.Name, ng.MachineTypes)
	}
	for _, t := range ng.Taints {
		if effects[t.Effect] == "" || t.Key == "" {
			return cloud.Errorf(cloud.ErrInvalid, "node group %q: taint %s=%s:%s needs a key and an effect of NoSchedule, PreferNoSchedule or NoExecute", ng.Name, t.Key, t.Value, t.Effect)
		}
	}
	return nil
}

func machineType(ng cloud.NodeGroupSpec) string {
	if len(ng.MachineTypes) == 0 {
		return defaultMachineType
	}
	return ng.MachineTypes[0]
}

func taints(ng cloud.NodeGroupSpec) []*container.NodeTaint {
	out := []*container.NodeTaint{}
	for _, t := range ng.Taints {
		out = append(out, &container.NodeTaint{Key: t.Key, Value: t.Value, Effect: effects[t.Effect]})
	}
	return out
}

func sameTaints(a, b []*container.NodeTaint) bool {
	return slices.EqualFunc(a, b, func(x, y *container.NodeTaint) bool {
		return x.Key == y.Key && x.Value == y.Value && x.Effect == y.Effect
	})
}

// count is a rollout bound: an integer, or a percentage of n rounded up.
func count(v string, n, def int) (int64, error) {
	if v == "" {
		return int64(def), nil
	}
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.Atoi(pct)
		if err != nil || p < 0 || p > 100 {
			return 0, fmt.Errorf("%q is not a percentage", v)
		}
		return int64((p*n + 99) / 100), nil
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return 0, fmt.Errorf("%q is not a count", v)
	}
	return int64(i), nil
}

// upgradeSettings are the surge settings of a group's rolling updates: its Rollout,
// else one node at a time.
func upgradeSettings(ng cloud.NodeGroupSpec) (*container.UpgradeSettings, error) {
	r := cloud.Rollout{}
	if ng.Rollout != nil {
		r = *ng.Rollout
	}
	surge, err := count(r.MaxSurge, ng.MaxNode, 1)
	if err != nil {
		return nil, cloud.Errorf(cloud.ErrInvalid, "node group %q: maxSurge %v", ng.Name, err)
	}
	unavailable, err := count(r.MaxUnavailable, ng.MaxNode, 1)
	if err != nil {
		return nil, cloud.Errorf(cloud.ErrInvalid, "node group %q: maxUnavailable %v", ng.Name, err)
	}
	if surge == 0 && unavailable == 0 {
		return nil, cloud.Errorf(cloud.ErrInvalid, "node group %q: maxSurge and maxUnavailable cannot both be 0", ng.Name)
	}
	return &container.UpgradeSettings{Strategy: "SURGE", MaxSurge: surge, MaxUnavailable: unavailable,
		ForceSendFields: []string{"MaxSurge", "MaxUnavailable"}}, nil
}

// perZone is a total node count spread over zones, rounded up.
func perZone(total, zones int) int64 { return int64((total + zones - 1) / max(zones, 1)) }

// autoscaling is a group's autoscaling: total bounds when min < max, off for a fixed
// size (set by setSize).
func autoscaling(ng cloud.NodeGroupSpec) *container.NodePoolAutoscaling {
	if ng.MinNode == ng.MaxNode {
		return &container.NodePoolAutoscaling{Enabled: false, ForceSendFields: []string{"Enabled"}}
	}
	return &container.NodePoolAutoscaling{Enabled: true, TotalMinNodeCount: int64(ng.MinNode), TotalMaxNodeCount: int64(ng.MaxNode),
		LocationPolicy: "BALANCED", ForceSendFields: []string{"TotalMinNodeCount"}}
}

func sameAutoscaling(a, b *container.NodePoolAutoscaling) bool {
	if a == nil || !a.Enabled {
		return b == nil || !b.Enabled
	}
	return b != nil && b.Enabled && a.TotalMinNodeCount == b.TotalMinNodeCount && a.TotalMaxNodeCount == b.TotalMaxNodeCount
}

// nodePool is the node pool of a group spread over zones, labelled with the token.
func nodePool(ng cloud.NodeGroupSpec, token string, zones int) (*container.NodePool, error) {
	if err := validNodeGroup(ng); err != nil {
		return nil, err
	}
	up, err := upgradeSettings(ng)
	if err != nil {
		return nil, err
	}
	np := &container.NodePool{
		Name: ng.Name, Version: ng.Version,
		Config: &container.NodeConfig{
			MachineType: machineType(ng), ImageType: ng.ImageType, Labels: ng.Labels, Taints: taints(ng), Spot: ng.Spot(),
			ResourceLabels: map[string]string{LabelToken: hashOf(token), LabelManaged: managedValue},
		},
		Management:      &container.NodeManagement{AutoRepair: true, AutoUpgrade: true},
		UpgradeSettings: up,
		Autoscaling:     autoscaling(ng),
	}
	if ng.MinNode == ng.MaxNode {
		np.InitialNodeCount = perZone(ng.MaxNode, zones)
	} else {
		np.InitialNodeCount = max(perZone(ng.MinNode, zones), 1)
	}
	return np, nil
}

// CreateNodeGroup creates the node pool and waits until its operation is done. A
// pool of that name made with this token, or with the cluster by its create (the
// first node group), is this create done already.
func (p *Provider) CreateNodeGroup(ctx context.Context, c cloud.Call, r cloud.ClusterRef, ng cloud.NodeGroupSpec) error {
	if err := validNodeGroup(ng); err != nil {
		return err
	}
	path, err := p.resolve(ctx, r.ExternalID)
	if err != nil {
		return err
	}
	cl, err := p.getCluster(ctx, path)
	if err != nil {
		return err
	}
	if cl.Autopilot != nil && cl.Autopilot.Enabled {
		return cloud.Errorf(cloud.ErrInvalid, "cluster %s is an Autopilot cluster: GKE manages its nodes, it takes no node groups", cl.Name)
	}
	np, err := nodePool(ng, c.Token, max(len(cl.Locations), 1))
	if err != nil {
		return err
	}
	what := fmt.Sprintf("create node pool %s of cluster %s", ng.Name, cl.Name)
	if err := p.waitIdle(ctx, c, path, what); err != nil {
		return err
	}
	// A pool of that name made with this token, or with the cluster (the first node
	// group), is this create done already: wait for it rather than ask again.
	existing := func(cause error) error {
		np, err := p.gke.Projects.Locations.Clusters.NodePools.Get(path + "/nodePools/" + ng.Name).Context(ctx).Do()
		if err = typed(ctx, what, err); err != nil {
			if cause != nil {
				return cause
			}
			return err
		}
		tok := ""
		if np.Config != nil {
			tok = np.Config.ResourceLabels[LabelToken]
		}
		if tok != hashOf(c.Token) && tok != cl.ResourceLabels[LabelToken] {
			return &cloud.Error{Kind: cloud.ErrAlreadyExists, Msg: fmt.Sprintf("node pool %s of cluster %s exists and was not created by this operation", ng.Name, cl.Name), Err: cause}
		}
		c.Report(fmt.Sprintf("node pool %s exists already (made with this token or with the cluster)", ng.Name))
		return p.waitPool(ctx, c, path, ng.Name, what)
	}
	if err := existing(nil); !errors.Is(err, cloud.ErrNotFound) {
		return err
	}
	c.Report(fmt.Sprintf("creating node pool %s (%d-%d × %s%s)", ng.Name, ng.MinNode, ng.MaxNode, np.Config.MachineType, map[bool]string{true: ", spot"}[ng.Spot()]))
	op, err := p.gke.Projects.Locations.Clusters.NodePools.Create(path, &container.CreateNodePoolRequest{NodePool: np}).Context(ctx).Do()
	if err != nil {
		if err = typed(ctx, what, err); errors.Is(err, cloud.ErrAlreadyExists) {
			return existing(err) // made meanwhile
		}
		return err
	}
	return p.waitOp(ctx, c, parentOf(path), what, op)
}

// waitPool waits until a node pool has no operation running and is RUNNING.
func (p *Provider) waitPool(ctx context.Context, c cloud.Call, path, name, what string) error {
	if err := p.waitIdle(ctx, c, path, what); err != nil {
		return err
	}
	for {
		np, err := p.gke.Projects.Locations.Clusters.NodePools.Get(path + "/nodePools/" + name).Context(ctx).Do()
		if err != nil {
			return typed(ctx, what, err)
		}
		switch np.Status {
		case "RUNNING", "RUNNING_WITH_ERROR":
			c.Report(fmt.Sprintf("node pool %s is %s", name, np.Status))
			return nil
		case "ERROR", "STOPPING":
			return cloud.Errorf(cloud.ErrFailed, "%s: node pool is %s: %s", what, np.Status, np.StatusMessage)
		}
		c.Report(fmt.Sprintf("node pool %s is %s", name, np.Status))
		if err := sleep(ctx, p.poll); err != nil {
			return err
		}
	}
}

// UpdateNodeGroup brings the node pool to ng, one GKE change at a time, each waited
// for: surge settings (from ng.Rollout) first, so the rolling changes after them
// (machine type, version and image type) replace nodes within them; then labels,
// taints, and the size (autoscaling bounds, or setSize for a fixed size). What
// already matches is not sent again.
func (p *Provider) UpdateNodeGroup(ctx context.Context, c cloud.Call, r cloud.ClusterRef, ng cloud.NodeGroupSpec, replace bool, batches int) error {
	if err := validNodeGroup(ng); err != nil {
		return err
	}
	want, err := nodePool(ng, c.Token, 1)
	if err != nil {
		return err
	}
	path, err := p.resolve(ctx, r.ExternalID)
	if err != nil {
		return err
	}
	name := path + "/nodePools/" + ng.Name
	what := fmt.Sprintf("update node pool %s of cluster %s", ng.Name, shortName(path))
	if err := p.waitIdle(ctx, c, path, what); err != nil {
		return err
	}
	cl, err := p.getCluster(ctx, path)
	if err != nil {
		return err
	}
	cur, err := p.gke.Projects.Locations.Clusters.NodePools.Get(name).Context(ctx).Do()
	if err != nil {
		return typed(ctx, what, err)
	}
	if cur.Config == nil {
		cur.Config = &container.NodeConfig{}
	}
	if cur.Config.Spot != ng.Spot() {
		return cloud.Errorf(cloud.ErrInvalid, "%s: GKE cannot switch a node pool between spot and on-demand in place; add a new node group and remove this one", what)
	}
	if replace {
		c.Report(fmt.Sprintf("node pool %s: nodes are replaced in about %d batches (max surge %d, max unavailable %d)", ng.Name, batches, want.UpgradeSettings.MaxSurge, want.UpgradeSettings.MaxUnavailable))
	}
	type change struct {
		what string
		do   func() (*container.Operation, error)
	}
	var changes []change
	update := func(desc string, req *container.UpdateNodePoolRequest) {
		changes = append(changes, change{desc, func() (*container.Operation, error) {
			return p.gke.Projects.Locations.Clusters.NodePools.Update(name, req).Context(ctx).Do()
		}})
	}
	if u := cur.UpgradeSettings; u == nil || u.MaxSurge != want.UpgradeSettings.MaxSurge || u.MaxUnavailable != want.UpgradeSettings.MaxUnavailable {
		update("surge settings", &container.UpdateNodePoolRequest{UpgradeSettings: want.UpgradeSettings})
	}
	if mt := want.Config.MachineType; mt != cur.Config.MachineType {
		update("machine type "+mt, &container.UpdateNodePoolRequest{MachineType: mt})
	}
	version, image := "", ""
	if ng.Version != "" && minorOf(ng.Version) != minorOf(cur.Version) {
		version = ng.Version
	}
	if ng.ImageType != "" && ng.ImageType != cur.Config.ImageType {
		image = ng.ImageType
	}
	if version != "" || image != "" {
		req := &container.UpdateNodePoolRequest{NodeVersion: version, ImageType: image}
		if version == "" {
			req.NodeVersion = cur.Version // the same version, a new image
		}
		update(strings.TrimSpace("version "+version+" image "+image), req)
	}
	if !maps.Equal(ng.Labels, cur.Config.Labels) {
		labels := ng.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		update("labels", &container.UpdateNodePoolRequest{Labels: &container.NodeLabels{Labels: labels, ForceSendFields: []string{"Labels"}}})
	}
	if !sameTaints(want.Config.Taints, cur.Config.Taints) {
		update("taints", &container.UpdateNodePoolRequest{Taints: &container.NodeTaints{Taints: want.Config.Taints, ForceSendFields: []string{"Taints"}}})
	}
	if !sameAutoscaling(want.Autoscaling, cur.Autoscaling) {
		changes = append(changes, change{fmt.Sprintf("autoscaling %d-%d", ng.MinNode, ng.MaxNode), func() (*container.Operation, error) {
			return p.gke.Projects.Locations.Clusters.NodePools.SetAutoscaling(name, &container.SetNodePoolAutoscalingRequest{Autoscaling: want.Autoscaling}).Context(ctx).Do()
		}})
	}
	if ng.MinNode == ng.MaxNode {
		size := perZone(ng.MaxNode, max(len(cl.Locations), 1))
		changes = append(changes, change{fmt.Sprintf("size %d per zone", size), func() (*container.Operation, error) {
			return p.gke.Projects.Locations.Clusters.NodePools.SetSize(name, &container.SetNodePoolSizeRequest{NodeCount: size, ForceSendFields: []string{"NodeCount"}}).Context(ctx).Do()
		}})
	}
	if len(changes) == 0 {
		c.Report(fmt.Sprintf("node pool %s already matches its spec", ng.Name))
		return nil
	}
	for i, ch := range changes {
		step := fmt.Sprintf("%s: %s (%d of %d)", what, ch.what, i+1, len(changes))
		c.Report(step)
		op, err := ch.do()
		if err != nil {
			return typed(ctx, step, err)
		}
		if err := p.waitOp(ctx, c, parentOf(path), step, op); err != nil {
			return err
		}
	}
	return nil
}

// DeleteNodeGroup deletes the node pool and waits until it is gone; a pool (or
// cluster) already gone, or vanishing while it is deleted, is deleted. Without a
// cluster reference there is nothing to find it by: its pools go with the cluster.
func (p *Provider) DeleteNodeGroup(ctx context.Context, c cloud.Call, r cloud.ClusterRef, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.ExternalID == "" {
		c.Report(fmt.Sprintf("no cluster reference: node pool %s goes with its cluster", name))
		return nil
	}
	path, err := p.resolve(ctx, r.ExternalID)
	if errors.Is(err, cloud.ErrNotFound) {
		c.Report(fmt.Sprintf("cluster %s is gone, and node pool %s with it", r.ExternalID, name))
		return nil
	} else if err != nil {
		return err
	}
	what := fmt.Sprintf("delete node pool %s of cluster %s", name, shortName(path))
	if err := p.waitIdle(ctx, c, path, what); err != nil {
		return err
	}
	c.Report(fmt.Sprintf("deleting node pool %s", name))
	op, err := p.gke.Projects.Locations.Clusters.NodePools.Delete(path + "/nodePools/" + name).Context(ctx).Do()
	if err = typed(ctx, what, err); errors.Is(err, cloud.ErrNotFound) {
		c.Report(fmt.Sprintf("node pool %s is already gone", name))
		return nil
	} else if err != nil {
		return err
	}
	if err := p.waitOp(ctx, c, parentOf(path), what, op); errors.Is(err, cloud.ErrNotFound) {
		c.Report(fmt.Sprintf("node pool %s vanished while it was deleted", name))
		return nil
	} else if err != nil {
		return err
	}
	return nil
}
