package upgrade

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Estimates in minutes; the package doc explains them.
const (
	minutesPerBatch = 4
	minutesCreate   = 10
	minutesScale    = 3
	minutesConfig   = 1
	minutesAddons   = 5
	minutesTags     = 1
	minutesSettings = 2
)

// maxKubeletSkew is how many minors a kubelet may lag the API server (n-3 since
// Kubernetes 1.28).
const maxKubeletSkew = 3

// Build plans the update of c to what r asks for. supported lists the Kubernetes
// versions the platform offers, in any order and any accepted form. Build never
// fails: problems become FAIL checks and Errors, and the plan keeps every step
// that is still valid (see the package doc).
func Build(c Cluster, r Request, supported []string) Plan {
	b := &builder{c: c, r: r, checks: map[string]*checkState{}, maxAfter: map[string]int{}}
	for _, name := range checkOrder {
		b.checks[name] = &checkState{}
	}
	// Node groups by name: the input order must not decide the step order.
	b.groups = slices.Clone(c.NodeGroups)
	slices.SortStableFunc(b.groups, func(x, y NodeGroup) int { return cmp.Compare(x.Name, y.Name) })
	for _, g := range b.groups {
		b.maxAfter[g.Name] = g.MaxNode
	}

	b.checkVersion(supported)
	b.checkRollout()
	b.checkProvisioner()
	b.planVersions()
	b.planNodeGroups()
	b.planAmiFamily()
	b.planTags()
	b.planSettings()
	return b.finish()
}

// checkState collects the findings of one preflight check.
type checkState struct {
	pass  string // message when nothing was found
	warns []string
	fails []string
}

func (s *checkState) warn(format string, args ...any) {
	s.warns = append(s.warns, fmt.Sprintf(format, args...))
}

func (s *checkState) fail(format string, args ...any) {
	s.fails = append(s.fails, fmt.Sprintf(format, args...))
}

// builder holds the inputs and the plan under construction.
type builder struct {
	c      Cluster
	r      Request
	checks map[string]*checkState // read only through checkOrder

	steps       []Step
	changes     []string
	disruptions []string
	warnings    []string // warnings that belong to a step, not to a check

	haveFrom bool // the current version parsed
	from, to int  // control-plane minors; to == from unless a valid change
	roll     rollout
	groups   []NodeGroup    // c.NodeGroups sorted by name
	maxAfter map[string]int // MaxNode once scale steps have run
}

// pending is a step waiting for its place in the kind order.
type pending struct {
	step       Step
	changes    []string
	disruption string
	warning    string
}

// add appends a step, numbering it, and records its disruption.
func (b *builder) add(s Step, disruption string) {
	s.Order = len(b.steps) + 1
	b.steps = append(b.steps, s)
	if s.Disruptive {
		b.disruptions = append(b.disruptions, fmt.Sprintf("step %d (%s %s): %s", s.Order, s.Kind, s.Target, disruption))
	}
}

func (b *builder) addPending(ps []pending) {
	for _, p := range ps {
		b.changes = append(b.changes, p.changes...)
		if p.warning != "" {
			b.warnings = append(b.warnings, p.warning)
		}
		b.add(p.step, p.disruption)
	}
}

// checkVersion fills version-supported and downgrade-allowed and decides b.to.
func (b *builder) checkVersion(supported []string) {
	vs, da := b.checks[CheckVersionSupported], b.checks[CheckDowngradeAllowed]
	cur, err := parseMinor(b.c.Version)
	if err != nil {
		vs.fail("current control-plane version: %v", err)
		da.pass = "not evaluated: the current version is unknown"
		return
	}
	b.haveFrom, b.from, b.to = true, cur, cur
	supp := supportedMinors(supported)

	if b.r.KubernetesVersion == "" {
		vs.pass = fmt.Sprintf("kubernetesVersion not set: the control plane stays at %s", minorString(cur))
		if !slices.Contains(supp, cur) {
			vs.warn("the current version %s is no longer supported (supported: %s); plan an upgrade", minorString(cur), joinMinors(supp))
		}
		da.pass = "no version change"
		return
	}
	tgt, err := parseMinor(b.r.KubernetesVersion)
	if err != nil {
		vs.fail("kubernetesVersion: %v", err)
		da.pass = "not evaluated: the target version is malformed"
		return
	}

	ok := true
	switch {
	case !slices.Contains(supp, tgt):
		vs.fail("kubernetesVersion %s is not supported (supported: %s)", minorString(tgt), joinMinors(supp))
		ok = false
	case tgt == cur:
		vs.pass = fmt.Sprintf("kubernetesVersion %s is the current version: no version steps", minorString(tgt))
	default:
		vs.pass = fmt.Sprintf("kubernetesVersion %s is supported", minorString(tgt))
	}

	switch {
	case tgt >= cur:
		da.pass = "not a downgrade"
	case !b.r.AllowDowngrade:
		da.fail("kubernetesVersion %s is older than the current %s: a downgrade needs allowDowngrade", minorString(tgt), minorString(cur))
		ok = false
	default:
		msg := fmt.Sprintf("downgrading the control plane from %s to %s is risky: resources stored in API versions that %s does not serve become unreadable and add-ons may not run on the older version; back up etcd and workloads first",
			minorString(cur), minorString(tgt), minorString(tgt))
		if _, managed := providerOf[b.c.ProvisionerType]; managed {
			// EKS and AKS refuse minor downgrades, GKE allows them only in narrow cases.
			msg += fmt.Sprintf("; %s generally rejects control-plane minor downgrades", b.c.ProvisionerType)
		}
		da.warn("%s", msg)
	}
	if ok {
		b.to = tgt
	}
}

// checkRollout fills rolling-update-config and sets b.roll.
func (b *builder) checkRollout() {
	rc := b.checks[CheckRollingUpdate]
	b.roll = defaultRollout // keeps batch estimates when the config is invalid
	mu, ms := cmp.Or(b.r.MaxUnavailable, "1"), cmp.Or(b.r.MaxSurge, "1")
	u, errU := parseIntOrPercent(mu)
	s, errS := parseIntOrPercent(ms)
	if errU != nil {
		rc.fail("maxUnavailable %v", errU)
	}
	if errS != nil {
		rc.fail("maxSurge %v", errS)
	}
	if errU != nil || errS != nil {
		return
	}
	if u.n == 0 && s.n == 0 {
		rc.fail("maxUnavailable and maxSurge are both 0: the rolling update cannot make progress")
		return
	}
	b.roll = rollout{unavailable: u, surge: s}
	rc.pass = fmt.Sprintf("maxUnavailable %s, maxSurge %s: each batch replaces surge+unavailable nodes (at least 1)", mu, ms)
}

// checkProvisioner fills the cluster-level part of provider-specific-fields;
// node-group rules of a provider are added by planNodeGroups.
func (b *builder) checkProvisioner() {
	pc := b.checks[CheckProviderSpecific]
	prov := b.c.ProvisionerType
	want, managed := providerOf[prov]
	switch {
	case managed && b.c.Provider != want:
		pc.fail("provisioner %s runs on %s, but the cluster's provider is %q", prov, want, b.c.Provider)
	case !managed && prov != "selfHosted":
		pc.fail("unknown provisioner type %q: want eks, gke, aks or selfHosted", prov)
	}
	if b.r.AmiFamily != "" {
		if prov != "eks" {
			pc.fail("amiFamily is an eks field; this cluster is %s on %s", cmp.Or(prov, "unknown"), cmp.Or(b.c.Provider, "unknown"))
		} else if _, ok := canonicalAmiFamily(b.r.AmiFamily); !ok {
			pc.fail("amiFamily %q: want AL2023, AL2, Bottlerocket or Ubuntu", b.r.AmiFamily)
		}
	}
	if g := b.r.GKE; g != nil {
		if prov != "gke" {
			pc.fail("gke settings are gke fields; this cluster is %s on %s", cmp.Or(prov, "unknown"), cmp.Or(b.c.Provider, "unknown"))
		} else if _, ok := canonicalChannel(g.ReleaseChannel); g.ReleaseChannel != "" && !ok {
			pc.fail("gke.releaseChannel %q: want STABLE, REGULAR or RAPID", g.ReleaseChannel)
		}
	}
	pc.pass = fmt.Sprintf("provider-specific fields fit %s on %s", prov, b.c.Provider)
}

// planVersions adds the control-plane hops, the node-group version steps they
// need and the add-on step, and fills version-skew.
func (b *builder) planVersions() {
	sk := b.checks[CheckVersionSkew]
	if !b.haveFrom {
		sk.pass = "not evaluated: the current version is unknown"
		return
	}
	sk.pass = "every node group stays within 3 minors of the control plane and never newer"

	vers := make([]int, len(b.groups))
	warned := make([]bool, len(b.groups)) // one skew warning per group is enough
	for i, g := range b.groups {
		vers[i] = b.from // an unset kubelet version is taken to follow the control plane
		if g.Version != "" {
			m, err := parseMinor(g.Version)
			if err != nil {
				sk.fail("node group %s: %v", g.Name, err)
				continue
			}
			vers[i] = m
		}
		switch {
		case vers[i] > b.from:
			sk.warn("node group %s (%s) is newer than the control plane (%s), which the skew policy forbids",
				g.Name, minorString(vers[i]), minorString(b.from))
			warned[i] = true
		case b.from-vers[i] > maxKubeletSkew:
			sk.warn("node group %s (%s) is more than %d minors behind the control plane (%s)",
				g.Name, minorString(vers[i]), maxKubeletSkew, minorString(b.from))
			warned[i] = true
		}
	}
	if b.to == b.from {
		return
	}

	start := slices.Clone(vers)
	hops := b.to - b.from
	minutes := hopMinutes(b.c.ProvisionerType)
	if b.to > b.from {
		for next, hop := b.from+1, 1; next <= b.to; next, hop = next+1, hop+1 {
			cp := next - 1
			for i, g := range b.groups {
				if next-vers[i] <= maxKubeletSkew {
					continue
				}
				// Upgrade to the control plane's current minor, the highest allowed,
				// so the group lasts as many hops as possible before rolling again.
				if !warned[i] {
					sk.warn("node group %s (%s) would fall more than %d minors behind the control plane at %s; it is upgraded to %s before that hop",
						g.Name, minorString(vers[i]), maxKubeletSkew, minorString(next), minorString(cp))
					warned[i] = true
				}
				b.nodeVersionStep(g, vers[i], cp, fmt.Sprintf(" before the control plane moves to %s (kubelets may lag at most %d minors)", minorString(next), maxKubeletSkew))
				vers[i] = cp
			}
			b.add(Step{
				Kind: KindControlPlaneUpgrade, Target: TargetControlPlane,
				FromVersion: minorString(cp), ToVersion: minorString(next),
				Description:      fmt.Sprintf("Upgrade the control plane from %s to %s (hop %d of %d)", minorString(cp), minorString(next), hop, hops),
				EstimatedMinutes: minutes,
			}, "")
		}
		for i, g := range b.groups {
			if vers[i] < b.to {
				b.nodeVersionStep(g, vers[i], b.to, "")
				vers[i] = b.to
			}
		}
	} else {
		hops = -hops
		for next, hop := b.from-1, 1; next >= b.to; next, hop = next-1, hop+1 {
			cp := next + 1
			// Node groups first: a kubelet must never be newer than the API server.
			for i, g := range b.groups {
				if vers[i] > next {
					b.nodeVersionStep(g, vers[i], next, fmt.Sprintf(" before the control plane moves down to %s", minorString(next)))
					vers[i] = next
				}
			}
			b.add(Step{
				Kind: KindControlPlaneUpgrade, Target: TargetControlPlane,
				FromVersion: minorString(cp), ToVersion: minorString(next),
				Description:      fmt.Sprintf("Downgrade the control plane from %s to %s (hop %d of %d)", minorString(cp), minorString(next), hop, hops),
				EstimatedMinutes: minutes,
			}, "")
		}
	}

	b.changes = append(b.changes, fmt.Sprintf("spec.kubernetesVersion: %s → %s (%s)", minorString(b.from), minorString(b.to), plural(hops, "control-plane hop")))
	for i, g := range b.groups {
		if start[i] != vers[i] {
			b.changes = append(b.changes, fmt.Sprintf("spec.nodeGroups[%s].version: %s → %s", g.Name, minorString(start[i]), minorString(vers[i])))
		}
	}
	// Add-ons last: they must match the control plane, and kube-proxy must not be
	// newer than the kubelets beside it.
	b.add(Step{
		Kind: KindAddonsUpgrade, Target: TargetControlPlane,
		FromVersion: minorString(b.from), ToVersion: minorString(b.to),
		Description:      fmt.Sprintf("Move the cluster add-ons to the versions for %s", minorString(b.to)),
		EstimatedMinutes: minutesAddons,
	}, "")
}

// nodeVersionStep adds a rolling node-group-upgrade (or downgrade) step.
func (b *builder) nodeVersionStep(g NodeGroup, from, to int, why string) {
	size, batches := b.roll.batches(g.MaxNode)
	verb := "Upgrade"
	if to < from {
		verb = "Downgrade"
	}
	b.add(Step{
		Kind: KindNodeGroupUpgrade, Target: g.Name,
		FromVersion: minorString(from), ToVersion: minorString(to),
		Description: fmt.Sprintf("%s node group %s from %s to %s%s: %s",
			verb, g.Name, minorString(from), minorString(to), why, rollingString(size, batches)),
		Disruptive:       true,
		EstimatedMinutes: minutesPerBatch * batches,
		Batches:          batches,
	}, fmt.Sprintf("nodes replaced to move kubelets from %s to %s; pods are evicted and rescheduled", minorString(from), minorString(to)))
}

// planNodeGroups validates the node group changes and adds their steps in kind
// order: create, scale, update-config, replace.
func (b *builder) planNodeGroups() {
	names := b.checks[CheckNodeGroupNames]
	b.checks[CheckNodeGroupSizes].pass = "sizes satisfy 0 ≤ minNode ≤ maxNode and maxNode ≥ 1"
	b.checks[CheckNodeGroupConfig].pass = "machine types, instance types, labels and taints are valid"

	reqs := slices.Clone(b.r.NodeGroups)
	slices.SortStableFunc(reqs, func(x, y NodeGroupChange) int { return cmp.Compare(x.Name, y.Name) })
	count := map[string]int{}
	for _, ch := range reqs {
		count[ch.Name]++
	}
	existing := map[string]NodeGroup{}
	for _, g := range b.groups {
		existing[g.Name] = g
	}

	var creates, scales, configs, replaces []pending
	nExisting, nNew := 0, 0
	for i, ch := range reqs {
		if count[ch.Name] > 1 {
			// Drop every copy: which one wins would depend on input order.
			if i == 0 || reqs[i-1].Name != ch.Name {
				names.fail("node group %q is listed %d times; list each node group once", ch.Name, count[ch.Name])
			}
			continue
		}
		g, ok := existing[ch.Name]
		if !ok {
			nNew++
			if p, ok := b.planCreate(ch); ok {
				creates = append(creates, p)
			}
			continue
		}
		nExisting++
		if p, ok := b.planScale(g, ch); ok {
			scales = append(scales, p)
		}
		if p, ok := b.planConfig(g, ch); ok {
			configs = append(configs, p)
		}
		if p, ok := b.planReplace(g, ch); ok {
			replaces = append(replaces, p)
		}
	}
	if len(reqs) == 0 {
		names.pass = "no node group changes"
	} else {
		names.pass = fmt.Sprintf("changes to %s and %s; names valid and unique", plural(nExisting, "existing node group"), plural(nNew, "new node group"))
	}
	b.addPending(creates)
	b.addPending(scales)
	b.addPending(configs)
	b.addPending(replaces)
}

// planCreate validates and plans a new node group.
func (b *builder) planCreate(ch NodeGroupChange) (pending, bool) {
	names, sizes := b.checks[CheckNodeGroupNames], b.checks[CheckNodeGroupSizes]
	cfg, pc := b.checks[CheckNodeGroupConfig], b.checks[CheckProviderSpecific]
	ok := true
	if !nameRE.MatchString(ch.Name) {
		names.fail("new node group %q: a name is a DNS-1123 label starting with a letter, 1-50 characters", ch.Name)
		ok = false
	} else if b.c.ProvisionerType == "aks" && !aksPoolRE.MatchString(ch.Name) {
		pc.fail("new node group %q: AKS node pool names are lowercase alphanumeric, start with a letter and have at most 12 characters", ch.Name)
		ok = false
	}
	if len(ch.MachineTypes) == 0 {
		cfg.fail("new node group %s needs machineTypes", ch.Name)
		ok = false
	}
	instanceType := cmp.Or(ch.InstanceType, "ondemand")
	var errs []string
	errs = append(errs, machineTypeErrors(ch.Name, ch.MachineTypes)...)
	if !slices.Contains(instanceTypes, instanceType) {
		errs = append(errs, fmt.Sprintf("node group %s: instanceType %q: want ondemand or spot", ch.Name, ch.InstanceType))
	}
	errs = append(errs, labelErrors(ch.Name, ch.Labels)...)
	errs = append(errs, taintErrors(ch.Name, ch.Taints)...)
	for _, e := range errs {
		cfg.fail("%s", e)
		ok = false
	}
	minNode := 0 // JSON omission means 0, which lets the autoscaler empty the group
	if ch.MinNode != nil {
		minNode = *ch.MinNode
	}
	if ch.MaxNode == nil {
		sizes.fail("new node group %s needs maxNode ≥ 1", ch.Name)
		ok = false
	} else if !validSize(minNode, *ch.MaxNode) {
		sizes.fail("new node group %s: minNode %d, maxNode %d: want 0 ≤ minNode ≤ maxNode and maxNode ≥ 1", ch.Name, minNode, *ch.MaxNode)
		ok = false
	}
	if !ok {
		return pending{}, false
	}

	at := ""
	if b.haveFrom {
		at = " at " + minorString(b.to)
	}
	desc := fmt.Sprintf("Create node group %s%s: %s %s, %d-%d nodes", ch.Name, at, instanceType, listString(ch.MachineTypes), minNode, *ch.MaxNode)
	if fam, ok := canonicalAmiFamily(b.r.AmiFamily); ok && b.c.ProvisionerType == "eks" {
		desc += ", " + fam + " images"
	}
	change := fmt.Sprintf("spec.nodeGroups[%s]: new node group (machineTypes %s, instanceType %s, minNode %d, maxNode %d",
		ch.Name, listString(ch.MachineTypes), instanceType, minNode, *ch.MaxNode)
	if len(ch.Labels) > 0 {
		change += ", labels " + mapString(ch.Labels)
	}
	if len(ch.Taints) > 0 {
		change += ", taints " + taintsString(ch.Taints)
	}
	change += ")"
	s := Step{Kind: KindNodeGroupCreate, Target: ch.Name, Description: desc, EstimatedMinutes: minutesCreate}
	if b.haveFrom {
		s.ToVersion = minorString(b.to)
	}
	return pending{step: s, changes: []string{change}}, true
}

// planScale plans a min/max change of an existing group.
func (b *builder) planScale(g NodeGroup, ch NodeGroupChange) (pending, bool) {
	newMin, newMax := g.MinNode, g.MaxNode
	if ch.MinNode != nil {
		newMin = *ch.MinNode
	}
	if ch.MaxNode != nil {
		newMax = *ch.MaxNode
	}
	if newMin == g.MinNode && newMax == g.MaxNode {
		return pending{}, false
	}
	if !validSize(newMin, newMax) {
		b.checks[CheckNodeGroupSizes].fail("node group %s: minNode %d, maxNode %d: want 0 ≤ minNode ≤ maxNode and maxNode ≥ 1", g.Name, newMin, newMax)
		return pending{}, false
	}
	b.maxAfter[g.Name] = newMax

	var parts, changes []string
	if newMin != g.MinNode {
		parts = append(parts, fmt.Sprintf("minNode %d → %d", g.MinNode, newMin))
		changes = append(changes, fmt.Sprintf("spec.nodeGroups[%s].minNode: %d → %d", g.Name, g.MinNode, newMin))
	}
	if newMax != g.MaxNode {
		parts = append(parts, fmt.Sprintf("maxNode %d → %d", g.MaxNode, newMax))
		changes = append(changes, fmt.Sprintf("spec.nodeGroups[%s].maxNode: %d → %d", g.Name, g.MaxNode, newMax))
	}
	p := pending{
		step: Step{
			Kind: KindNodeGroupScale, Target: g.Name,
			Description:      fmt.Sprintf("Scale node group %s: %s", g.Name, strings.Join(parts, ", ")),
			Disruptive:       newMax < g.MaxNode, // nodes above the new maximum are removed
			EstimatedMinutes: minutesScale,
		},
		changes: changes,
	}
	if p.step.Disruptive {
		p.disruption = fmt.Sprintf("lowering maxNode from %d to %d removes nodes above the new maximum; their pods are rescheduled", g.MaxNode, newMax)
	}
	return p, true
}

// planConfig plans an in-place label/taint change of an existing group.
func (b *builder) planConfig(g NodeGroup, ch NodeGroupChange) (pending, bool) {
	cfg := b.checks[CheckNodeGroupConfig]
	// Non-nil replaces; maps.Equal treats nil and empty alike, which is right here.
	labels := ch.Labels != nil && !maps.Equal(ch.Labels, g.Labels)
	taints := ch.Taints != nil && taintsString(ch.Taints) != taintsString(g.Taints)
	if labels {
		if errs := labelErrors(g.Name, ch.Labels); len(errs) > 0 {
			for _, e := range errs {
				cfg.fail("%s", e)
			}
			labels = false
		}
	}
	if taints {
		if errs := taintErrors(g.Name, ch.Taints); len(errs) > 0 {
			for _, e := range errs {
				cfg.fail("%s", e)
			}
			taints = false
		}
	}
	if !labels && !taints {
		return pending{}, false
	}

	var what, changes []string
	if labels {
		what = append(what, "labels")
		changes = append(changes, fmt.Sprintf("spec.nodeGroups[%s].labels: %s", g.Name, mapDiff(g.Labels, ch.Labels)))
	}
	var noExecute []string
	if taints {
		what = append(what, "taints")
		changes = append(changes, fmt.Sprintf("spec.nodeGroups[%s].taints: %s → %s", g.Name, taintsString(g.Taints), taintsString(ch.Taints)))
		for _, t := range sortedTaints(ch.Taints) {
			if t.Effect == "NoExecute" && !slices.Contains(g.Taints, t) {
				noExecute = append(noExecute, taintString(t))
			}
		}
	}
	p := pending{
		step: Step{
			Kind: KindNodeGroupConfig, Target: g.Name,
			Description:      fmt.Sprintf("Update the %s of node group %s in place (no node replacement)", strings.Join(what, " and "), g.Name),
			EstimatedMinutes: minutesConfig,
		},
		changes: changes,
	}
	if len(noExecute) > 0 {
		// NoExecute evicts running pods without a matching toleration at once.
		list := strings.Join(noExecute, ", ")
		p.step.Disruptive = true
		p.disruption = fmt.Sprintf("NoExecute taint %s evicts running pods that do not tolerate it", list)
		p.warning = fmt.Sprintf("node group %s: adding NoExecute taint %s evicts running pods that do not tolerate it", g.Name, list)
	}
	return p, true
}

// planReplace plans a rolling replacement for a machine type or instance type
// change of an existing group.
func (b *builder) planReplace(g NodeGroup, ch NodeGroupChange) (pending, bool) {
	cfg := b.checks[CheckNodeGroupConfig]
	machines := len(ch.MachineTypes) > 0 && listString(sortedCopy(ch.MachineTypes)) != listString(sortedCopy(g.MachineTypes))
	if machines {
		if errs := machineTypeErrors(g.Name, ch.MachineTypes); len(errs) > 0 {
			for _, e := range errs {
				cfg.fail("%s", e)
			}
			machines = false
		}
	}
	curType := cmp.Or(g.InstanceType, "ondemand")
	instance := ch.InstanceType != "" && ch.InstanceType != curType
	switch {
	case !instance:
	case !slices.Contains(instanceTypes, ch.InstanceType):
		cfg.fail("node group %s: instanceType %q: want ondemand or spot", g.Name, ch.InstanceType)
		instance = false
	case b.c.ProvisionerType == "aks" && len(b.c.NodeGroups) > 0 && b.c.NodeGroups[0].Name == g.Name && ch.InstanceType == "spot":
		// The first AKS node group is the system pool, which Azure requires on demand.
		b.checks[CheckProviderSpecific].fail("node group %s is the AKS system pool and must stay ondemand", g.Name)
		instance = false
	}
	if !machines && !instance {
		return pending{}, false
	}

	var what, changes []string
	if machines {
		what = append(what, fmt.Sprintf("machineTypes %s → %s", listString(g.MachineTypes), listString(ch.MachineTypes)))
		changes = append(changes, fmt.Sprintf("spec.nodeGroups[%s].machineTypes: %s → %s", g.Name, listString(g.MachineTypes), listString(ch.MachineTypes)))
	}
	if instance {
		what = append(what, fmt.Sprintf("instanceType %s → %s", curType, ch.InstanceType))
		changes = append(changes, fmt.Sprintf("spec.nodeGroups[%s].instanceType: %s → %s", g.Name, curType, ch.InstanceType))
	}
	nodes := b.maxAfter[g.Name]
	size, batches := b.roll.batches(nodes)
	return pending{
		step: Step{
			Kind: KindNodeGroupReplace, Target: g.Name,
			Description: fmt.Sprintf("Replace the nodes of group %s (%s): %s",
				g.Name, strings.Join(what, "; "), rollingString(size, batches)),
			Disruptive:       true,
			EstimatedMinutes: minutesPerBatch * batches,
			Batches:          batches,
		},
		changes:    changes,
		disruption: fmt.Sprintf("up to %s replaced in %s; pods are evicted and rescheduled", plural(nodes, "node"), plural(batches, "batch")),
	}, true
}

// planAmiFamily plans the eks node image change: one rolling replacement per
// existing node group (new groups are created with the new family).
func (b *builder) planAmiFamily() {
	if b.r.AmiFamily == "" || b.c.ProvisionerType != "eks" {
		return
	}
	fam, ok := canonicalAmiFamily(b.r.AmiFamily)
	if !ok {
		return // reported by checkProvisioner
	}
	if cur, known := canonicalAmiFamily(b.c.AmiFamily); known && cur == fam {
		return
	}
	b.changes = append(b.changes, fmt.Sprintf("spec.eks.amiFamily: %s → %s", cmp.Or(b.c.AmiFamily, "unknown"), fam))
	for _, g := range b.groups {
		nodes := b.maxAfter[g.Name]
		size, batches := b.roll.batches(nodes)
		b.add(Step{
			Kind: KindAmiFamilyUpdate, Target: g.Name,
			Description:      fmt.Sprintf("Replace the nodes of group %s with %s images: %s", g.Name, fam, rollingString(size, batches)),
			Disruptive:       true,
			EstimatedMinutes: minutesPerBatch * batches,
			Batches:          batches,
		}, fmt.Sprintf("up to %s replaced with %s images in %s; pods are evicted and rescheduled", plural(nodes, "node"), fam, plural(batches, "batch")))
	}
}

// planTags plans the tag replacement.
func (b *builder) planTags() {
	if b.r.Tags == nil || maps.Equal(b.r.Tags, b.c.Tags) {
		return
	}
	diff := mapDiff(b.c.Tags, b.r.Tags)
	b.changes = append(b.changes, "spec.tags: "+diff)
	b.add(Step{
		Kind: KindTagsUpdate, Target: TargetControlPlane,
		Description:      "Update the cluster's cloud tags: " + diff,
		EstimatedMinutes: minutesTags,
	}, "")
}

// planSettings plans the in-place change of cluster-wide settings, last, once the
// node groups run what they should: the eks AMI family (recorded on the cluster, for
// node groups created later; the groups themselves roll in ami-family-update
// steps), gke's release channel, maintenance window, authorized networks and node
// image type (which recreates every node pool's nodes).
func (b *builder) planSettings() {
	var what []string
	if fam, ok := canonicalAmiFamily(b.r.AmiFamily); ok && b.c.ProvisionerType == "eks" {
		if cur, _ := canonicalAmiFamily(b.c.AmiFamily); cur != fam {
			what = append(what, "node image family "+fam+" for node groups created from now on")
		}
	}
	image := ""
	if g := b.r.GKE; g != nil && b.c.ProvisionerType == "gke" {
		cur := GKESettings{}
		if b.c.GKE != nil {
			cur = *b.c.GKE
		}
		if ch, ok := canonicalChannel(g.ReleaseChannel); ok && ch != cur.ReleaseChannel {
			what = append(what, fmt.Sprintf("releaseChannel %s → %s", cmp.Or(cur.ReleaseChannel, "unknown"), ch))
		}
		if w := g.MaintenanceWindow; w != nil && (cur.MaintenanceWindow == nil || *w != *cur.MaintenanceWindow) {
			what = append(what, fmt.Sprintf("maintenanceWindow %s → %s", windowString(cur.MaintenanceWindow), windowString(w)))
		}
		if g.AuthorizedNetworks != nil && !slices.Equal(sortedCopy(g.AuthorizedNetworks), sortedCopy(cur.AuthorizedNetworks)) {
			what = append(what, fmt.Sprintf("authorizedNetworks %s → %s", listString(cur.AuthorizedNetworks), listString(g.AuthorizedNetworks)))
		}
		if g.ImageType != "" && !strings.EqualFold(g.ImageType, cur.ImageType) {
			image = strings.ToUpper(g.ImageType)
			what = append(what, fmt.Sprintf("imageType %s → %s", cmp.Or(cur.ImageType, "default"), image))
		}
		for _, w := range what {
			b.changes = append(b.changes, "spec.gke."+strings.Replace(w, " ", ": ", 1))
		}
	}
	if len(what) == 0 {
		return
	}
	s := Step{
		Kind: KindClusterSettings, Target: TargetControlPlane,
		Description:      "Change the cluster's settings in place: " + strings.Join(what, "; "),
		EstimatedMinutes: minutesSettings,
	}
	disruption := ""
	if image != "" {
		nodes := 0
		for _, g := range b.groups {
			_, batches := b.roll.batches(b.maxAfter[g.Name])
			s.Batches += batches
			nodes += b.maxAfter[g.Name]
		}
		s.Disruptive = true
		s.EstimatedMinutes += minutesPerBatch * s.Batches
		s.Description += fmt.Sprintf(": every node pool is recreated with %s images, rolling, %s in all", image, plural(s.Batches, "batch"))
		disruption = fmt.Sprintf("up to %s recreated with %s images; pods are evicted and rescheduled", plural(nodes, "node"), image)
	}
	b.add(s, disruption)
}

// windowString formats a maintenance window: "03:00 UTC for 4h", or "none".
func windowString(w *MaintenanceWindow) string {
	switch {
	case w == nil:
		return "none"
	case w.Duration == "":
		return w.StartTime + " UTC"
	default:
		return w.StartTime + " UTC for " + w.Duration
	}
}

// finish assembles the plan: checks in checkOrder, their findings into Errors
// and Warnings, then the step warnings.
func (b *builder) finish() Plan {
	p := Plan{
		PreflightChecks: make([]Check, 0, len(checkOrder)),
		Steps:           append([]Step{}, b.steps...),
		Report: Report{
			Changes:     append([]string{}, b.changes...),
			Disruptions: append([]string{}, b.disruptions...),
		},
		Warnings: []string{},
		Errors:   []string{},
	}
	for _, name := range checkOrder {
		s := b.checks[name]
		c := Check{Name: name, Result: ResultPass, Message: s.pass}
		switch {
		case len(s.fails) > 0:
			c.Result, c.Message = ResultFail, strings.Join(append(slices.Clone(s.fails), s.warns...), "; ")
		case len(s.warns) > 0:
			c.Result, c.Message = ResultWarn, strings.Join(s.warns, "; ")
		}
		p.PreflightChecks = append(p.PreflightChecks, c)
		p.Errors = append(p.Errors, s.fails...)
		p.Warnings = append(p.Warnings, s.warns...)
	}
	p.Warnings = append(p.Warnings, b.warnings...)
	if len(p.Steps) == 0 && len(p.Report.Changes) == 0 && len(p.Errors) == 0 {
		p.Warnings = append(p.Warnings, "no changes: the cluster already matches the request")
	}
	for _, s := range p.Steps {
		p.Report.EstimatedMinutes += s.EstimatedMinutes
	}
	p.ValidationPassed = len(p.Errors) == 0
	if b.haveFrom {
		p.FromVersion, p.ToVersion = minorString(b.from), minorString(b.to)
	}
	return p
}

// validSize is the manifests' size rule.
func validSize(minNode, maxNode int) bool {
	return minNode >= 0 && minNode <= maxNode && maxNode >= 1
}

// plural formats a count with its noun: "1 batch", "3 batches".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ch") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// rollingString describes a rolling replacement.
func rollingString(size, batches int) string {
	return fmt.Sprintf("rolling, %s of up to %s", plural(batches, "batch"), plural(size, "node"))
}
