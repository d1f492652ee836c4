package validate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/server/api"
)

// where is where node groups run, as far as known. Both fields are empty when
// unknown or invalid; the fields naming them carry that fault.
type where struct {
	// provider is a catalog provider ID, or "".
	provider string
	// region is a catalog region of provider, or "" (gcp selfHosted clusters may
	// have none; update manifests do not name one). Machine types are then checked
	// against the provider's whole catalog.
	region string
	// unlisted means region has the shape of a region but the catalog does not list
	// it, so it lists no machine types there either.
	unlisted bool
	// warns collects the warnings of the checks; nil drops them.
	warns Errors
	// live, when set, is the connected account's own catalog of region's machine
	// types (CheckLive).
	live *liveTypes
}

// liveTypes is a live catalog's answer for one region, asked once per check.
type liveTypes struct {
	ctx    context.Context //nolint:containedctx // one check's context, held for its lazy lookup
	source catalog.Live
	// region is the cluster's region where the manifest names none (updates).
	region string
	asked  bool
	types  map[string]catalog.MachineTypeInfo // by name, in lower case where the provider ignores case
	err    error

	versionsAsked bool
	versions      []catalog.Version
	versionsErr   error

	zonesAsked bool
	zones      []string
	zonesErr   error
}

// zonesOf returns the live catalog's zones of region: answered is false when it
// could not answer or listed none (a live catalog that lists no zones says
// nothing of them); unknown means the provider says the region does not exist.
func (l *liveTypes) zonesOf(region string) (zones []string, answered, unknown bool) {
	if !l.zonesAsked {
		l.zonesAsked = true
		l.zones, l.zonesErr = catalog.LiveZones(l.ctx, l.source, region)
	}
	if l.zonesErr != nil {
		return nil, false, errors.Is(l.zonesErr, catalog.ErrUnknownRegion)
	}
	return l.zones, len(l.zones) > 0, false
}

// version returns the live catalog's answer for the minor v names: offered (ok),
// or not, with the minors it offers; answered is false when the live catalog
// could not answer or v names no minor.
func (l *liveTypes) version(ptype, v string) (ver catalog.Version, ok bool, offered []string, answered bool) {
	if !l.versionsAsked {
		l.versionsAsked = true
		l.versions, l.versionsErr = l.source.KubernetesVersions(l.ctx)
	}
	minor, standing := catalog.VersionStanding(ptype, v)
	if l.versionsErr != nil || len(l.versions) == 0 || standing == catalog.Malformed {
		return catalog.Version{}, false, nil, false
	}
	for _, lv := range l.versions {
		if lv.Minor == minor {
			return lv, true, nil, true
		}
		offered = append(offered, lv.Minor)
	}
	return catalog.Version{}, false, offered, true
}

// lookup returns the live answer for name in region: found, or not offered (ok
// false); answered is false when the live catalog could not answer.
func (l *liveTypes) lookup(provider, region, name string) (m catalog.MachineTypeInfo, ok, answered bool) {
	fold := catalog.MachineTypeNamesIgnoreCase(provider)
	if !l.asked {
		l.asked = true
		var ms []catalog.MachineTypeInfo
		ms, l.err = l.source.MachineTypes(l.ctx, region)
		l.types = make(map[string]catalog.MachineTypeInfo, len(ms))
		for _, m := range ms {
			key := m.Name
			if fold {
				key = strings.ToLower(key)
			}
			l.types[key] = m
		}
	}
	if l.err != nil {
		return catalog.MachineTypeInfo{}, false, false
	}
	if fold {
		name = strings.ToLower(name)
	}
	m, ok = l.types[name]
	return m, ok, true
}

// nodeGroup holds the fields the deploy and update manifests' node groups share;
// nil pointers are fields the manifest leaves out.
type nodeGroup struct {
	name         string
	minNode      *int
	maxNode      *int
	instanceType *api.NodeGroupSpecInstanceType
	machineTypes *[]string
	labels       map[string]string
	taints       []api.NodeGroupTaint
}

// checkNodeGroups checks node groups and that their names are unique.
func checkNodeGroups(errs Errors, path string, groups []nodeGroup, w where) {
	first := map[string]int{}
	for i, g := range groups {
		p := join(path, i)
		checkNodeGroup(errs, p, g, w)
		if g.name == "" {
			continue
		}
		if j, dup := first[g.name]; dup {
			errs.addf(join(p, "name"), "node group names must be unique; %q is also %s", g.name, join(path, j, "name"))
			continue
		}
		first[g.name] = i
	}
}

// checkNodeGroup checks one node group's fields.
func checkNodeGroup(errs Errors, path string, g nodeGroup, w where) {
	if w.provider == catalog.Azure {
		checkAKSPoolName(errs, join(path, "name"), g.name)
	} else {
		checkName(errs, join(path, "name"), g.name)
	}
	if g.minNode != nil && *g.minNode < 0 {
		errs.addf(join(path, "minNode"), "must be 0 or more; got %d", *g.minNode)
	}
	if g.maxNode != nil && *g.maxNode < 1 {
		errs.addf(join(path, "maxNode"), "must be at least 1; got %d", *g.maxNode)
	}
	if g.minNode != nil && g.maxNode != nil && *g.minNode > *g.maxNode {
		errs.addf(join(path, "minNode"), "minNode %d exceeds maxNode %d", *g.minNode, *g.maxNode)
	}
	if g.instanceType != nil && !g.instanceType.Valid() {
		errs.addf(join(path, "instanceType"), "%q is not an instance type; use ondemand or spot", *g.instanceType)
	}
	if g.machineTypes != nil {
		checkMachineTypes(errs, join(path, "machineTypes"), *g.machineTypes, w)
	}
	checkLabels(errs, join(path, "labels"), g.labels)
	checkTaints(errs, join(path, "taints"), g.taints)
}

// checkAKSPoolName checks an AKS node pool name, which Azure limits further than a
// DNS label.
func checkAKSPoolName(errs Errors, path, name string) {
	switch {
	case name == "":
		errs.addf(path, "required")
	case !aksPoolName.MatchString(name):
		errs.addf(path, "%q is not a valid AKS node pool name: start with a lowercase letter, use only lowercase letters and digits, at most 12 characters", name)
	}
}

// checkTaints checks taint keys, values and effects, and that no key and effect
// repeats (a node carries one taint per key and effect).
func checkTaints(errs Errors, path string, taints []api.NodeGroupTaint) {
	first := map[[2]string]int{}
	for i, t := range taints {
		p := join(path, i)
		if f := qualifiedNameFault(t.Key); f != "" {
			errs.addf(join(p, "key"), "%s", f)
		}
		if t.Value != nil {
			if f := labelValueFault(*t.Value); f != "" {
				errs.addf(join(p, "value"), "%s", f)
			}
		}
		switch {
		case t.Effect == "":
			errs.addf(join(p, "effect"), "required: NoSchedule, PreferNoSchedule or NoExecute")
		case !t.Effect.Valid():
			errs.addf(join(p, "effect"), "%q is not a taint effect; use NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
		}
		if t.Key == "" || t.Effect == "" {
			continue
		}
		id := [2]string{t.Key, string(t.Effect)}
		if j, dup := first[id]; dup {
			errs.addf(p, "repeats the key and effect of %s", join(path, j))
			continue
		}
		first[id] = i
	}
}

// checkMachineTypes checks that a node group lists machine types, each once, each
// offered where the group runs, all of one CPU architecture (a node group runs one
// node image).
func checkMachineTypes(errs Errors, path string, types []string, w where) {
	if len(types) == 0 {
		errs.addf(path, "at least one machine type is required")
		return
	}
	first := map[string]int{}
	byArch := map[catalog.Architecture][]string{}
	for i, name := range types {
		p := join(path, i)
		if name == "" {
			errs.addf(p, "must not be empty")
			continue
		}
		if j, dup := first[name]; dup {
			errs.addf(p, "%s is listed twice (also %s)", name, join(path, j))
			continue
		}
		first[name] = i
		if w.provider == "" {
			continue
		}
		m, fault, warning := lookupMachineType(w, name)
		if fault != "" {
			errs.addf(p, "%s", fault)
			continue
		}
		if warning != "" && w.warns != nil {
			w.warns.addf(p, "%s", warning)
		}
		if m.Name != "" {
			byArch[m.Architecture] = append(byArch[m.Architecture], name)
		}
	}
	if len(byArch) > 1 {
		var parts []string
		for _, a := range []catalog.Architecture{catalog.ArchX8664, catalog.ArchARM64} {
			if names := byArch[a]; len(names) > 0 {
				parts = append(parts, fmt.Sprintf("%s: %s", a, strings.Join(names, ", ")))
			}
		}
		errs.addf(path, "mixes CPU architectures (%s); a node group runs one node image, so its machine types must share an architecture", strings.Join(parts, "; "))
	}
}

// lookupMachineType finds a machine type where the group runs. It returns a fault
// when the name cannot be one of the provider's, and a warning when the catalog does
// not list it there but it may be real; m is empty when the catalog does not know it.
func lookupMachineType(w where, name string) (m catalog.MachineTypeInfo, fault, warning string) {
	if w.live != nil && w.region != "" {
		// The connected account's own catalog settles it; when it cannot answer,
		// the static catalog decides as without one.
		if m, ok, answered := w.live.lookup(w.provider, w.region, name); answered {
			if !ok {
				return m, fmt.Sprintf("%s is not offered in %s: the connected %s account's catalog of %s does not list it", name, w.region, w.provider, w.region), ""
			}
			return m, "", ""
		}
	}
	if w.region != "" {
		if m, ok := catalog.MachineType(w.provider, w.region, name); ok {
			return m, "", ""
		}
	}
	m, regions, ok := catalog.MachineTypeAnyRegion(w.provider, name)
	switch {
	case ok && w.region != "" && !w.unlisted:
		return m, "", fmt.Sprintf("the catalog does not list %s in %s (it does in %s): the cloud will say whether it is offered there", name, w.region, strings.Join(regions, ", "))
	case ok:
		return m, "", ""
	}
	s := suggestMachineType(w.provider, name)
	switch {
	case s != "" && catalog.MachineTypeNamesIgnoreCase(w.provider):
		m, _, warning = lookupMachineType(w, s)
		if warning == "" {
			warning = fmt.Sprintf("%s is %s in other case; %s accepts either", name, s, w.provider)
		}
		return m, "", warning
	case s != "":
		return m, fmt.Sprintf("%s is not a machine type of %s; did you mean %s?", name, w.provider, s), ""
	case catalog.LooksLikeMachineType(w.provider, name):
		return m, "", fmt.Sprintf("%s is not in the catalog of %s machine types, but has the shape of one: the cloud will say whether it exists", name, w.provider)
	}
	return m, fmt.Sprintf("%s is not a machine type of %s", name, w.provider), ""
}

// suggestMachineType returns the provider's machine type that differs from name
// only in case, or "".
func suggestMachineType(provider, name string) string {
	s, _ := catalog.MachineTypeNameFold(provider, name)
	return s
}

// deployGroup adapts a deploy manifest's node group.
func deployGroup(g api.NodeGroupSpec) nodeGroup {
	return nodeGroup{
		name:         g.Name,
		minNode:      &g.MinNode,
		maxNode:      &g.MaxNode,
		instanceType: g.InstanceType,
		machineTypes: &g.MachineTypes,
		labels:       deref(g.Labels),
		taints:       deref(g.Taints),
	}
}

// updateGroup adapts an update manifest's node group.
func updateGroup(g api.NodeGroupUpdate) nodeGroup {
	return nodeGroup{
		name:         g.Name,
		minNode:      g.MinNode,
		maxNode:      g.MaxNode,
		machineTypes: g.MachineTypes,
		labels:       deref(g.Labels),
		taints:       deref(g.Taints),
	}
}

// provisionerTypes are the valid spec.provisioner.type values, in the order
// messages list them.
var provisionerTypes = []string{catalog.EKS, catalog.GKE, catalog.AKS, catalog.SelfHosted}

func isProvisionerType(t string) bool { return slices.Contains(provisionerTypes, t) }
