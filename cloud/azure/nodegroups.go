package azure

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/astropulse/astroplane/cloud"
)

// poolName is AKS's rule for Linux agent pool names.
var poolName = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// azureManaged prefixes the labels and taints AKS sets itself (spot pools'
// kubernetes.azure.com/scalesetpriority): an update keeps them.
const azureManaged = "kubernetes.azure.com/"

func validatePool(ng cloud.NodeGroupSpec) error {
	switch {
	case !poolName.MatchString(ng.Name):
		return cloud.Errorf(cloud.ErrInvalid, "node group %q: AKS agent pool names start with a lowercase letter and hold at most 12 lowercase letters and digits", ng.Name)
	case ng.MinNode < 0 || ng.MaxNode < ng.MinNode:
		return cloud.Errorf(cloud.ErrInvalid, "node group %q: minNode %d and maxNode %d are not a range", ng.Name, ng.MinNode, ng.MaxNode)
	case ng.MaxNode > 1000:
		return cloud.Errorf(cloud.ErrInvalid, "node group %q: AKS agent pools hold at most 1000 nodes, not %d", ng.Name, ng.MaxNode)
	}
	for _, t := range ng.Taints {
		switch t.Effect {
		case "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			return cloud.Errorf(cloud.ErrInvalid, "node group %q: taint %q has effect %q (NoSchedule, PreferNoSchedule or NoExecute)", ng.Name, t.Key, t.Effect)
		}
	}
	return nil
}

// poolProperties are the agent pool properties of ng in mode, with extra tags (key,
// value pairs).
func poolProperties(ng cloud.NodeGroupSpec, mode armcontainerservice.AgentPoolMode, tags ...string) (*armcontainerservice.ManagedClusterAgentPoolProfileProperties, error) {
	if err := validatePool(ng); err != nil {
		return nil, err
	}
	props := &armcontainerservice.ManagedClusterAgentPoolProfileProperties{
		Mode:       ptr(mode),
		OSType:     ptr(armcontainerservice.OSTypeLinux),
		Type:       ptr(armcontainerservice.AgentPoolTypeVirtualMachineScaleSets),
		NodeLabels: azureTags(ng.Labels),
		NodeTaints: taints(ng.Taints),
		Tags:       azureTags(nil, tags...),
	}
	if len(ng.MachineTypes) > 0 {
		props.VMSize = ptr(ng.MachineTypes[0])
	}
	if ng.Version != "" {
		props.OrchestratorVersion = ptr(ng.Version)
	}
	scaling(props, ng, i32(ng.MinNode))
	if ng.Spot() {
		props.ScaleSetPriority = ptr(armcontainerservice.ScaleSetPrioritySpot)
		props.ScaleSetEvictionPolicy = ptr(armcontainerservice.ScaleSetEvictionPolicyDelete)
		props.SpotMaxPrice = ptr(float32(-1)) // pay up to the on-demand price: evicted for capacity only
	}
	if ng.Rollout != nil && ng.Rollout.MaxSurge != "" {
		props.UpgradeSettings = &armcontainerservice.AgentPoolUpgradeSettings{MaxSurge: ptr(ng.Rollout.MaxSurge)}
	}
	return props, nil
}

// scaling sets the pool's size: autoscaled between minNode and maxNode, or fixed
// when they are equal; count is the current size, kept within the range.
func scaling(props *armcontainerservice.ManagedClusterAgentPoolProfileProperties, ng cloud.NodeGroupSpec, count int32) {
	lo, hi := i32(ng.MinNode), i32(ng.MaxNode)
	if *props.Mode == armcontainerservice.AgentPoolModeSystem && lo < 1 {
		lo = 1 // a system pool keeps a node
		hi = max(hi, lo)
	}
	count = min(max(count, lo), hi)
	props.Count = ptr(count)
	if lo == hi {
		props.EnableAutoScaling, props.MinCount, props.MaxCount = ptr(false), nil, nil
		return
	}
	props.EnableAutoScaling, props.MinCount, props.MaxCount = ptr(true), ptr(lo), ptr(hi)
}

// i32 is n as AKS's counts take it, clamped to 0–1000 (validatePool refuses more).
func i32(n int) int32 { return int32(min(max(n, 0), 1000)) }

// taints are AKS's form of taints: key=value:Effect.
func taints(ts []cloud.Taint) []*string {
	out := make([]*string, 0, len(ts))
	for _, t := range ts {
		s := t.Key
		if t.Value != "" {
			s += "=" + t.Value
		}
		out = append(out, ptr(s+":"+t.Effect))
	}
	return out
}

// pool names agent pool name of the cluster cr names.
func (p *Provider) pool(cr cloud.ClusterRef, name string) (ref, *clients, string, error) {
	r, ok := parseCluster(cr.ExternalID)
	if !ok {
		return ref{}, nil, "", cloud.Errorf(cloud.ErrNotFound, "agent pool %q: no managed cluster ID in reference %q", name, cr.ExternalID)
	}
	cl, err := p.in(r.sub)
	return r, cl, fmt.Sprintf("agent pool %q of %s", name, r), err
}

// CreateNodeGroup creates ng as a user agent pool and waits until it is ready. The
// system pool, made with the control plane, and a pool created with c's token are
// waited for rather than created again; any other pool of that name is
// ErrAlreadyExists.
func (p *Provider) CreateNodeGroup(ctx context.Context, c cloud.Call, cr cloud.ClusterRef, ng cloud.NodeGroupSpec) error {
	props, err := poolProperties(ng, armcontainerservice.AgentPoolModeUser, TagToken, c.Token)
	if err != nil {
		return err
	}
	r, cl, what, err := p.pool(cr, ng.Name)
	if err != nil {
		return err
	}
	got, err := cl.pools.Get(ctx, r.group, r.name, ng.Name, nil)
	switch {
	case err == nil:
		var tags map[string]*string
		if got.Properties != nil {
			tags = got.Properties.Tags
		}
		if str(tags[TagToken]) != c.Token && str(tags[TagPool]) != "system" {
			return cloud.Errorf(cloud.ErrAlreadyExists, "%s already exists and was not created by this operation", what)
		}
		ap, err := p.settledPool(ctx, c, r, cl, ng.Name, what)
		if err != nil {
			return err
		}
		c.Report(what + " was created by this operation")
		return poolOutcome(ap, what)
	case !notFound(err):
		return classify(err, "get "+what)
	}
	c.Report(fmt.Sprintf("creating %s: %s nodes between %d and %d", what, vmSize(props), ng.MinNode, ng.MaxNode))
	poller, err := cl.pools.BeginCreateOrUpdate(ctx, r.group, r.name, ng.Name, armcontainerservice.AgentPool{Properties: props}, nil)
	if err != nil {
		return classify(err, "create "+what)
	}
	res, err := await(ctx, p, c, "create "+what, poller)
	if err != nil {
		return classify(err, "create "+what)
	}
	return poolOutcome(res.AgentPool, what)
}

func vmSize(props *armcontainerservice.ManagedClusterAgentPoolProfileProperties) string {
	if props.VMSize == nil {
		return "default-size"
	}
	return *props.VMSize
}

// poolOutcome is the error of a pool whose operation ended in a failed state.
func poolOutcome(ap armcontainerservice.AgentPool, what string) error {
	if ap.Properties != nil && strings.EqualFold(str(ap.Properties.ProvisioningState), "Failed") {
		return cloud.Errorf(cloud.ErrFailed, "%s: provisioning failed", what)
	}
	return nil
}

// settledPool returns the agent pool once no operation runs on it (a retried call
// waits for the operation its first attempt started rather than colliding with it:
// AKS refuses a second one with 409).
func (p *Provider) settledPool(ctx context.Context, c cloud.Call, r ref, cl *clients, name, what string) (armcontainerservice.AgentPool, error) {
	for {
		got, err := cl.pools.Get(ctx, r.group, r.name, name, nil)
		if err != nil {
			return armcontainerservice.AgentPool{}, classify(err, "get "+what)
		}
		state := ""
		if got.Properties != nil {
			state = str(got.Properties.ProvisioningState)
		}
		if settled(state) {
			return got.AgentPool, nil
		}
		c.Report(fmt.Sprintf("%s: %s, waiting for it to finish", what, state))
		if err := p.sleep(ctx); err != nil {
			return armcontainerservice.AgentPool{}, err
		}
	}
}

// settled reports whether a provisioningState is final: Succeeded, Failed, Canceled
// (or unknown).
func settled(state string) bool {
	switch strings.ToLower(state) {
	case "", "succeeded", "failed", "canceled":
		return true
	}
	return false
}

// UpdateNodeGroup brings the agent pool to ng: size and autoscaling, labels, taints,
// orchestrator version (which rolls its nodes, maxSurge at a time) and max surge. With
// replace and no version change it rolls the nodes onto the latest node image. AKS
// cannot change a pool's VM size or spot priority: that is ErrInvalid (add a new node
// group instead).
func (p *Provider) UpdateNodeGroup(ctx context.Context, c cloud.Call, cr cloud.ClusterRef, ng cloud.NodeGroupSpec, replace bool, batches int) error {
	if err := validatePool(ng); err != nil {
		return err
	}
	r, cl, what, err := p.pool(cr, ng.Name)
	if err != nil {
		return err
	}
	ap, err := p.settledPool(ctx, c, r, cl, ng.Name, what)
	if err != nil {
		return err
	}
	if ap.Properties == nil {
		ap.Properties = &armcontainerservice.ManagedClusterAgentPoolProfileProperties{}
	}
	props := ap.Properties
	if props.Mode == nil {
		props.Mode = ptr(armcontainerservice.AgentPoolModeUser)
	}
	if len(ng.MachineTypes) > 0 && props.VMSize != nil && !strings.EqualFold(*props.VMSize, ng.MachineTypes[0]) {
		return cloud.Errorf(cloud.ErrInvalid, "%s runs %s: AKS cannot change an agent pool's VM size to %s; add a node group with the new size and delete this one",
			what, *props.VMSize, ng.MachineTypes[0])
	}
	spot := props.ScaleSetPriority != nil && *props.ScaleSetPriority == armcontainerservice.ScaleSetPrioritySpot
	if spot != ng.Spot() {
		return cloud.Errorf(cloud.ErrInvalid, "%s: AKS cannot switch an agent pool between spot and on-demand; add a node group instead", what)
	}
	cur := int32(0)
	if props.Count != nil {
		cur = *props.Count
	}
	scaling(props, ng, cur)
	labels := azureTags(ng.Labels)
	for k, v := range props.NodeLabels {
		if strings.HasPrefix(k, azureManaged) {
			labels[k] = v
		}
	}
	props.NodeLabels = labels
	ts := taints(ng.Taints)
	for _, t := range props.NodeTaints {
		if t != nil && strings.HasPrefix(*t, azureManaged) && !slices.ContainsFunc(ts, func(s *string) bool { return *s == *t }) {
			ts = append(ts, t)
		}
	}
	props.NodeTaints = ts
	upgrade := ng.Version != "" && !sameMinor(str(props.OrchestratorVersion), ng.Version)
	if upgrade {
		props.OrchestratorVersion = ptr(ng.Version)
	}
	surge := ""
	switch {
	case ng.Rollout != nil && ng.Rollout.MaxSurge != "":
		surge = ng.Rollout.MaxSurge
	case replace && batches > 0:
		surge = strconv.Itoa(max(1, (int(*props.Count)+batches-1)/batches))
	}
	if surge != "" {
		if props.UpgradeSettings == nil {
			props.UpgradeSettings = &armcontainerservice.AgentPoolUpgradeSettings{}
		}
		props.UpgradeSettings.MaxSurge = ptr(surge)
	}
	action := "update " + what
	if upgrade {
		action = fmt.Sprintf("upgrade %s to Kubernetes %s (max surge %s)", what, ng.Version, orDefault(surge))
	}
	poller, err := cl.pools.BeginCreateOrUpdate(ctx, r.group, r.name, ng.Name, ap, nil)
	if err != nil {
		return classify(err, action)
	}
	res, err := await(ctx, p, c, action, poller)
	if err != nil {
		return classify(err, action)
	}
	if err := poolOutcome(res.AgentPool, what); err != nil || !replace || upgrade {
		return err
	}
	// A retried upgrade finds the version set and lands here too: harmless, as AKS
	// answers a node image upgrade of nodes already on the latest image at once.
	action = fmt.Sprintf("roll the nodes of %s onto the latest node image (max surge %s)", what, orDefault(surge))
	roll, err := cl.pools.BeginUpgradeNodeImageVersion(ctx, r.group, r.name, ng.Name, nil)
	if err == nil {
		_, err = await(ctx, p, c, action, roll)
	}
	return classify(err, action)
}

func orDefault(surge string) string {
	if surge == "" {
		return "AKS's default"
	}
	return surge
}

// DeleteNodeGroup deletes the agent pool and waits until it is gone; one already gone
// is fine. The system pool goes with the managed cluster (AKS refuses to delete a
// cluster's last system pool).
func (p *Provider) DeleteNodeGroup(ctx context.Context, c cloud.Call, cr cloud.ClusterRef, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, ok := parseCluster(cr.ExternalID); !ok {
		c.Report(fmt.Sprintf("agent pool %q: no managed cluster in the reference, nothing to delete", name))
		return nil
	}
	r, cl, what, err := p.pool(cr, name)
	if err != nil {
		return err
	}
	got, err := cl.pools.Get(ctx, r.group, r.name, name, nil)
	if notFound(err) {
		c.Report(what + " is already gone")
		return nil
	}
	if err != nil {
		return classify(err, "get "+what)
	}
	if got.Properties != nil && got.Properties.Mode != nil && *got.Properties.Mode == armcontainerservice.AgentPoolModeSystem {
		c.Report(what + " is the system pool: it goes with the managed cluster")
		return nil
	}
	poller, err := cl.pools.BeginDelete(ctx, r.group, r.name, name, nil)
	if err == nil {
		_, err = await(ctx, p, c, "delete "+what, poller)
	}
	if err != nil && !notFound(err) {
		return classify(err, "delete "+what)
	}
	c.Report(what + " deleted")
	return nil
}
