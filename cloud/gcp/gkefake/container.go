package gkefake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	container "google.golang.org/api/container/v1"
)

var (
	clusterName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)
	poolName    = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)
	versionRE   = regexp.MustCompile(`^1\.(\d+)(\.\d+(-gke\.\d+)?)?$`)
	labelKey    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValue  = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
	hhmm        = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$`)
)

// defaultMinor is the version a cluster gets when its create names none.
const defaultMinor = "1.31"

var (
	channels = []string{"UNSPECIFIED", "RAPID", "REGULAR", "STABLE", "EXTENDED"}
	effects  = []string{"NO_SCHEDULE", "PREFER_NO_SCHEDULE", "NO_EXECUTE"}
)

// gkeVersion resolves a version or alias ("1.31", "1.31.6", "-", "") to a full GKE
// version; "" when it is not one.
func gkeVersion(v string) string {
	switch v {
	case "", "-", "latest":
		v = defaultMinor
	}
	m := versionRE.FindStringSubmatch(v)
	switch {
	case m == nil:
		return ""
	case m[3] != "":
		return v
	case m[2] != "":
		return v + "-gke.1020000"
	}
	return v + ".6-gke.1020000"
}

// minor is the minor number of a GKE version (31 for 1.31.6-gke.1020000).
func minor(v string) int {
	m := versionRE.FindStringSubmatch(v)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func fingerprint(labels map[string]string) string {
	h := fnv.New64a()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		fmt.Fprintf(h, "%s=%s;", k, labels[k])
	}
	return strconv.FormatUint(h.Sum64(), 16)
}

func validLabels(labels map[string]string) *Error {
	for k, v := range labels {
		if !labelKey.MatchString(k) || !labelValue.MatchString(v) {
			return invalid("Invalid resource label %q: %q: keys and values must be lowercase letters, digits, '_' or '-' (keys start with a letter), at most 63 characters.", k, v)
		}
	}
	return nil
}

// locationOf is the location segment of a name under projects/P/locations/L.
func locationOf(name string) string { return strings.Split(name, "/")[3] }

func projectOf(name string) string { return strings.Split(name, "/")[1] }

// zonesOf lists the zones of a location: a region's three, or the zone itself.
func zonesOf(location string) []string {
	if strings.Count(location, "-") >= 2 {
		return []string{location}
	}
	return []string{location + "-a", location + "-b", location + "-c"}
}

// view is a deep copy of the cluster with its node pools, as the API answers it.
func (cl *cluster) view() *container.Cluster {
	c := *cl.c
	c.NodePools = cl.pools
	var out container.Cluster
	b, _ := json.Marshal(c)
	_ = json.Unmarshal(b, &out)
	return &out
}

func (cl *cluster) pool(name string) *container.NodePool {
	for _, p := range cl.pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (cl *cluster) removePool(name string) {
	cl.pools = slices.DeleteFunc(cl.pools, func(p *container.NodePool) bool { return p.Name == name })
}

// newCluster completes a cluster of a create request with what GKE fills in.
func (s *Server) newCluster(parent string, c *container.Cluster) *cluster {
	loc := locationOf(parent + "/x")
	name := parent + "/clusters/" + c.Name
	c.Location, c.Zone, c.Locations = loc, loc, zonesOf(loc)
	c.SelfLink = "https://container.googleapis.com/v1/" + name
	c.Id = fmt.Sprintf("%032x", s.next())
	c.CreateTime = now()
	c.Endpoint = fmt.Sprintf("34.118.%d.%d", s.seq/250, s.seq%250+1)
	c.MasterAuth = &container.MasterAuth{ClusterCaCertificate: base64.StdEncoding.EncodeToString(
		[]byte("-----BEGIN CERTIFICATE-----\nMIIBfake" + c.Name + "\n-----END CERTIFICATE-----\n"))}
	c.CurrentMasterVersion = gkeVersion(c.InitialClusterVersion)
	c.CurrentNodeVersion = c.CurrentMasterVersion
	if c.ResourceLabels == nil {
		c.ResourceLabels = map[string]string{}
	}
	c.LabelFingerprint = fingerprint(c.ResourceLabels)
	if c.Network == "" {
		c.Network = "default"
	}
	if c.ReleaseChannel == nil {
		c.ReleaseChannel = &container.ReleaseChannel{Channel: "REGULAR"}
	}
	if c.MaintenancePolicy == nil {
		c.MaintenancePolicy = &container.MaintenancePolicy{}
	}
	c.MaintenancePolicy.ResourceVersion = strconv.FormatUint(s.next(), 10)
	c.Status = "PROVISIONING"
	cl := &cluster{c: c}
	for _, p := range c.NodePools {
		s.completePool(name, c, p)
		cl.pools = append(cl.pools, p)
	}
	c.NodePools = nil
	return cl
}

func (s *Server) completePool(clusterName string, c *container.Cluster, p *container.NodePool) {
	if p.Config == nil {
		p.Config = &container.NodeConfig{}
	}
	if p.Config.MachineType == "" {
		p.Config.MachineType = "e2-medium"
	}
	if p.Config.ImageType == "" {
		p.Config.ImageType = "COS_CONTAINERD"
	}
	if p.Version == "" || p.Version == "-" {
		p.Version = c.CurrentMasterVersion
	} else {
		p.Version = gkeVersion(p.Version)
	}
	if p.Locations == nil {
		p.Locations = c.Locations
	}
	p.SelfLink = "https://container.googleapis.com/v1/" + clusterName + "/nodePools/" + p.Name
	p.Etag = strconv.FormatUint(s.next(), 10)
	p.Status = "PROVISIONING"
}

func validPool(p *container.NodePool, master string) *Error {
	if p == nil || !poolName.MatchString(p.Name) {
		return invalid("Invalid node pool name: must be 1-40 lowercase letters, digits or '-', starting with a letter.")
	}
	if p.Config != nil {
		for _, t := range p.Config.Taints {
			if !slices.Contains(effects, t.Effect) || t.Key == "" {
				return invalid("Invalid taint %+v of node pool %q: effect must be one of %v.", *t, p.Name, effects)
			}
		}
		if err := validLabels(p.Config.ResourceLabels); err != nil {
			return err
		}
	}
	if a := p.Autoscaling; a != nil && a.Enabled {
		if a.MinNodeCount > a.MaxNodeCount || a.TotalMinNodeCount > a.TotalMaxNodeCount || a.MinNodeCount < 0 || a.TotalMinNodeCount < 0 {
			return invalid("Invalid autoscaling of node pool %q: the minimum exceeds the maximum.", p.Name)
		}
	}
	if p.Version != "" && p.Version != "-" {
		v := gkeVersion(p.Version)
		if v == "" {
			return invalid("Node version %q is unsupported.", p.Version)
		}
		if minor(v) > minor(master) {
			return invalid("Node version %q must not be newer than the master version %q.", p.Version, master)
		}
	}
	return nil
}

// busy refuses a change of a cluster that has an operation running, as GKE does.
func (s *Server) busy(clusterName string) *Error {
	for _, name := range s.opOrder {
		op := s.ops[name]
		if op.gke != nil && op.cluster == clusterName && op.gke.Status != "DONE" {
			return precondition("Cluster is running incompatible operation %s.", op.gke.Name)
		}
	}
	return nil
}

// startOp records a running GKE operation of type typ on target in cluster.
func (s *Server) startOp(q *request, typ, clusterName, target string, deletes bool, apply func(ok bool)) *container.Operation {
	loc := locationOf(clusterName)
	id := fmt.Sprintf("operation-%d-%08x", time.Now().UnixMilli(), s.next())
	name := strings.Join(strings.Split(clusterName, "/")[:4], "/") + "/operations/" + id
	op := &container.Operation{Name: id, OperationType: typ, Status: "RUNNING", Location: loc, Zone: loc,
		SelfLink: "https://container.googleapis.com/v1/" + name, TargetLink: "https://container.googleapis.com/v1/" + target,
		StartTime: now(), Detail: strings.ToLower(strings.ReplaceAll(typ, "_", " ")) + " of " + target}
	s.ops[name] = &operation{gke: op, name: name, cluster: clusterName, target: target, fail: q.opFault, apply: apply, deletes: deletes}
	s.opOrder = append(s.opOrder, name)
	if s.PollsToDone <= 0 {
		s.finish(s.ops[name])
	}
	return op
}

// observe advances the running operations that fn selects by one observation.
func (s *Server) observe(fn func(op *operation) bool) {
	for _, name := range s.opOrder {
		if op := s.ops[name]; !op.done() && fn(op) {
			op.polls++
			if op.polls >= s.PollsToDone {
				s.finish(op)
			}
		}
	}
}

func (op *operation) done() bool {
	if op.gke != nil {
		return op.gke.Status == "DONE"
	}
	return op.gce.Status == "DONE"
}

// finish ends op: its effect, or its failure (a delete that fails NOT_FOUND leaves
// its resource gone all the same).
func (s *Server) finish(op *operation) {
	ok := op.fail == nil || (op.deletes && op.fail.Status == "NOT_FOUND")
	if op.apply != nil {
		op.apply(ok)
	}
	end := now()
	if op.gke != nil {
		op.gke.Status, op.gke.EndTime = "DONE", end
		if f := op.fail; f != nil {
			var details []json.RawMessage
			for _, d := range f.details() {
				b, _ := json.Marshal(d)
				details = append(details, b)
			}
			op.gke.Error = &container.Status{Code: grpcCodes[f.Status], Message: f.Message}
			for _, d := range details {
				op.gke.Error.Details = append(op.gke.Error.Details, []byte(d))
			}
			op.gke.StatusMessage = f.Message
		}
		return
	}
	op.gce.Status, op.gce.EndTime, op.gce.Progress = "DONE", end, 100
	if f := op.fail; f != nil {
		code := strings.ToUpper(f.Status)
		if f.Reason == "QUOTA_EXCEEDED" {
			code = "QUOTA_EXCEEDED"
		}
		op.gce.Error = computeOpError{Code: code, Message: f.Message}.build()
		op.gce.HttpErrorStatusCode, op.gce.HttpErrorMessage = int64(f.Code), strings.ToUpper(strings.ReplaceAll(f.Status, "_", " "))
	}
}

func (s *Server) cluster(name string) (*cluster, *Error) {
	cl := s.clusters[name]
	if cl == nil {
		return nil, notFound(name)
	}
	return cl, nil
}

func (s *Server) createCluster(q *request) (any, *Error) {
	var in container.CreateClusterRequest
	if err := q.decode(&in); err != nil {
		return nil, err
	}
	c := in.Cluster
	if c == nil || !clusterName.MatchString(c.Name) {
		return nil, invalid("Invalid cluster name: must be 1-40 lowercase letters, digits or '-', starting with a letter and ending with a letter or digit.")
	}
	name := q.rt.parent + "/clusters/" + c.Name
	if s.clusters[name] != nil {
		return nil, AlreadyExists(fmt.Sprintf("Already exists: %s.", name))
	}
	autopilot := c.Autopilot != nil && c.Autopilot.Enabled
	switch {
	case !autopilot && len(c.NodePools) == 0 && c.InitialNodeCount == 0:
		return nil, invalid("Cluster.initial_node_count must be greater than zero.")
	case autopilot && len(c.NodePools) > 0:
		return nil, invalid("Autopilot clusters cannot be created with node pools.")
	case c.InitialClusterVersion != "" && gkeVersion(c.InitialClusterVersion) == "":
		return nil, invalid("Master version %q is unsupported.", c.InitialClusterVersion)
	case c.ReleaseChannel != nil && !slices.Contains(channels, c.ReleaseChannel.Channel):
		return nil, invalid("Invalid release channel %q.", c.ReleaseChannel.Channel)
	case c.Network != "" && c.Network != "default" && s.networks[networkName(projectOf(name), c.Network)] == nil:
		return nil, invalid("Network %q does not exist.", c.Network)
	}
	if err := validLabels(c.ResourceLabels); err != nil {
		return nil, err
	}
	master := gkeVersion(c.InitialClusterVersion)
	for _, p := range c.NodePools {
		if err := validPool(p, master); err != nil {
			return nil, err
		}
	}
	cl := s.newCluster(q.rt.parent, c)
	s.clusters[name] = cl
	return s.startOp(q, "CREATE_CLUSTER", name, name, false, func(ok bool) {
		if s.clusters[name] != cl {
			return
		}
		status := "RUNNING"
		if !ok {
			status = "ERROR"
			cl.c.StatusMessage = q.opFault.Message
			cl.c.Conditions = []*container.StatusCondition{{Code: "GCE_QUOTA_EXCEEDED", CanonicalCode: q.opFault.Status, Message: q.opFault.Message}}
			if q.opFault.Status != "RESOURCE_EXHAUSTED" {
				cl.c.Conditions[0].Code = "UNKNOWN"
			}
		}
		cl.c.Status = status
		for _, p := range cl.pools {
			p.Status = status
		}
	}), nil
}

func (s *Server) getCluster(name string) (any, *Error) {
	if _, err := s.cluster(name); err != nil {
		return nil, err
	}
	s.observe(func(op *operation) bool { return op.cluster == name })
	cl := s.clusters[name]
	if cl == nil {
		return nil, notFound(name) // its delete just ended
	}
	return cl.view(), nil
}

func (s *Server) listClusters(parent string) (any, *Error) {
	all := strings.HasSuffix(parent, "/locations/-")
	prefix := parent + "/clusters/"
	if all {
		prefix = strings.TrimSuffix(parent, "-")
	}
	match := func(name string) bool {
		return strings.HasPrefix(name, prefix) && (!all || strings.Contains(strings.TrimPrefix(name, prefix), "/clusters/"))
	}
	s.observe(func(op *operation) bool { return op.gke != nil && match(op.cluster) })
	out := &container.ListClustersResponse{Clusters: []*container.Cluster{}}
	for _, name := range slices.Sorted(maps.Keys(s.clusters)) {
		if match(name) {
			out.Clusters = append(out.Clusters, s.clusters[name].view())
		}
	}
	return out, nil
}

func (s *Server) deleteCluster(q *request) (any, *Error) {
	name := q.rt.name
	cl, err := s.cluster(name)
	if err != nil {
		return nil, err
	}
	if cl.c.Status == "STOPPING" {
		return nil, precondition("Cluster %s is already being deleted.", cl.c.Name)
	}
	cl.c.Status = "STOPPING"
	return s.startOp(q, "DELETE_CLUSTER", name, name, true, func(ok bool) {
		if ok && s.clusters[name] == cl {
			delete(s.clusters, name)
		} else if !ok {
			cl.c.Status = "ERROR"
		}
	}), nil
}

func (s *Server) updateCluster(q *request) (any, *Error) {
	name := q.rt.name
	cl, err := s.cluster(name)
	if err != nil {
		return nil, err
	}
	var in container.UpdateClusterRequest
	if err := q.decode(&in); err != nil {
		return nil, err
	}
	u := in.Update
	if u == nil || (u.DesiredMasterVersion == "" && u.DesiredReleaseChannel == nil && u.DesiredMasterAuthorizedNetworksConfig == nil) {
		return nil, invalid("Update must set one of desiredMasterVersion, desiredReleaseChannel, desiredMasterAuthorizedNetworksConfig (the fields this fake serves).")
	}
	if err := s.busy(name); err != nil {
		return nil, err
	}
	typ, version := "UPDATE_CLUSTER", ""
	if u.DesiredMasterVersion != "" {
		version = gkeVersion(u.DesiredMasterVersion)
		cur := minor(cl.c.CurrentMasterVersion)
		switch {
		case version == "":
			return nil, invalid("Master version %q is unsupported.", u.DesiredMasterVersion)
		case minor(version) < cur:
			return nil, invalid("Master cannot be downgraded from %q to %q.", cl.c.CurrentMasterVersion, version)
		case minor(version) > cur+1:
			return nil, invalid("Master cannot be upgraded by more than one minor version: from %q to %q.", cl.c.CurrentMasterVersion, version)
		}
		typ = "UPGRADE_MASTER"
	}
	if rc := u.DesiredReleaseChannel; rc != nil {
		if !slices.Contains(channels, rc.Channel) {
			return nil, invalid("Invalid release channel %q.", rc.Channel)
		}
		cl.c.ReleaseChannel = rc
	}
	if man := u.DesiredMasterAuthorizedNetworksConfig; man != nil {
		cl.c.MasterAuthorizedNetworksConfig = man
	}
	cl.c.Status = "RECONCILING"
	return s.startOp(q, typ, name, name, false, func(ok bool) {
		if ok && version != "" {
			cl.c.CurrentMasterVersion = version
		}
		cl.c.Status = "RUNNING"
	}), nil
}

func (s *Server) setResourceLabels(q *request) (any, *Error) {
	name := q.rt.name
	cl, err := s.cluster(name)
	if err != nil {
		return nil, err
	}
	var in container.SetLabelsRequest
	if err := q.decode(&in); err != nil {
		return nil, err
	}
	if in.LabelFingerprint != cl.c.LabelFingerprint {
		return nil, precondition("Labels could not be set due to fingerprint mismatch: got %q, the cluster's is %q.", in.LabelFingerprint, cl.c.LabelFingerprint)
	}
	if err := validLabels(in.ResourceLabels); err != nil {
		return nil, err
	}
	if err := s.busy(name); err != nil {
		return nil, err
	}
	cl.c.ResourceLabels = in.ResourceLabels
	if cl.c.ResourceLabels == nil {
		cl.c.ResourceLabels = map[string]string{}
	}
	cl.c.LabelFingerprint = fingerprint(cl.c.ResourceLabels)
	return s.startOp(q, "UPDATE_CLUSTER", name, name, false, nil), nil
}

func (s *Server) setMaintenancePolicy(q *request) (any, *Error) {
	name := q.rt.name
	cl, err := s.cluster(name)
	if err != nil {
		return nil, err
	}
	var in container.SetMaintenancePolicyRequest
	if err := q.decode(&in); err != nil {
		return nil, err
	}
	mp := in.MaintenancePolicy
	if mp == nil {
		return nil, invalid("maintenancePolicy is required.")
	}
	if mp.ResourceVersion != "" && mp.ResourceVersion != cl.c.MaintenancePolicy.ResourceVersion {
		return nil, precondition("The maintenance policy was changed concurrently: resource version %q, the cluster's is %q.", mp.ResourceVersion, cl.c.MaintenancePolicy.ResourceVersion)
	}
	if w := mp.Window; w != nil {
		if d := w.DailyMaintenanceWindow; d != nil && !hhmm.MatchString(d.StartTime) {
			return nil, invalid("Invalid daily maintenance window start time %q: want HH:MM.", d.StartTime)
		}
		if r := w.RecurringWindow; r != nil {
			if r.Window == nil || r.Recurrence == "" {
				return nil, invalid("A recurring maintenance window needs a window and a recurrence.")
			}
			start, err1 := time.Parse(time.RFC3339, r.Window.StartTime)
			end, err2 := time.Parse(time.RFC3339, r.Window.EndTime)
			if err1 != nil || err2 != nil || !end.After(start) {
				return nil, invalid("Invalid recurring maintenance window %q to %q.", r.Window.StartTime, r.Window.EndTime)
			}
		}
		if d := w.DailyMaintenanceWindow; d != nil {
			d.Duration = "PT4H0M0S" // output only: GKE chooses it
		}
	}
	if err := s.busy(name); err != nil {
		return nil, err
	}
	mp.ResourceVersion = strconv.FormatUint(s.next(), 10)
	cl.c.MaintenancePolicy = mp
	return s.startOp(q, "UPDATE_CLUSTER", name, name, false, nil), nil
}

func (s *Server) createNodePool(q *request) (any, *Error) {
	cname := q.rt.parent
	cl, err := s.cluster(cname)
	if err != nil {
		return nil, err
	}
	var in container.CreateNodePoolRequest
	if err := q.decode(&in); err != nil {
		return nil, err
	}
	p := in.NodePool
	if err := validPool(p, cl.c.CurrentMasterVersion); err != nil {
		return nil, err
	}
	if cl.c.Autopilot != nil && cl.c.Autopilot.Enabled {
		return nil, invalid("Creating node pools is not supported on Autopilot clusters.")
	}
	pname := cname + "/nodePools/" + p.Name
	if cl.pool(p.Name) != nil {
		return nil, AlreadyExists(fmt.Sprintf("Already exists: %s.", pname))
	}
	if err := s.busy(cname); err != nil {
		return nil, err
	}
	s.completePool(cname, cl.c, p)
	cl.pools = append(cl.pools, p)
	return s.startOp(q, "CREATE_NODE_POOL", cname, pname, false, func(ok bool) {
		p.Status = "RUNNING"
		if !ok {
			p.Status, p.StatusMessage = "ERROR", q.opFault.Message
		}
	}), nil
}

// nodePool finds the node pool of a name projects/P/locations/L/clusters/C/nodePools/N.
func (s *Server) nodePool(name string) (*cluster, *container.NodePool, *Error) {
	i := strings.Index(name, "/nodePools/")
	cl, err := s.cluster(name[:i])
	if err != nil {
		return nil, nil, err
	}
	p := cl.pool(name[i+len("/nodePools/"):])
	if p == nil {
		return nil, nil, notFound(name)
	}
	return cl, p, nil
}

func (s *Server) getNodePool(name string) (any, *Error) {
	if _, _, err := s.nodePool(name); err != nil {
		return nil, err
	}
	s.observe(func(op *operation) bool { return op.target == name })
	_, p, err := s.nodePool(name)
	if err != nil {
		return nil, err // its delete just ended
	}
	var out container.NodePool
	b, _ := json.Marshal(p)
	_ = json.Unmarshal(b, &out)
	return &out, nil
}

func (s *Server) listNodePools(parent string) (any, *Error) {
	cl, err := s.cluster(parent)
	if err != nil {
		return nil, err
	}
	return &container.ListNodePoolsResponse{NodePools: cl.view().NodePools}, nil
}

func (s *Server) deleteNodePool(q *request) (any, *Error) {
	name := q.rt.name
	cl, p, err := s.nodePool(name)
	if err != nil {
		return nil, err
	}
	cname := strings.Split(name, "/nodePools/")[0]
	if err := s.busy(cname); err != nil {
		return nil, err
	}
	p.Status = "STOPPING"
	return s.startOp(q, "DELETE_NODE_POOL", cname, name, true, func(ok bool) {
		if ok {
			cl.removePool(p.Name)
		} else {
			p.Status = "ERROR"
		}
	}), nil
}

// NodeCount is the node count per zone a setSize last gave the pool (its initial
// count before any).
func (s *Server) NodeCount(poolName string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, p, err := s.nodePool(poolName)
	if err != nil {
		return 0, false
	}
	return p.InitialNodeCount, true
}

func (s *Server) changeNodePool(q *request) (any, *Error) {
	name := q.rt.name
	cl, p, err := s.nodePool(name)
	if err != nil {
		return nil, err
	}
	cname := strings.Split(name, "/nodePools/")[0]
	typ, version := "UPDATE_CLUSTER", ""
	var apply []func()
	switch q.rt.method {
	case "nodePools.update":
		var in container.UpdateNodePoolRequest
		if err := q.decode(&in); err != nil {
			return nil, err
		}
		if in.NodeVersion == "" && in.ImageType == "" && in.Labels == nil && in.Taints == nil && in.UpgradeSettings == nil && in.MachineType == "" {
			return nil, invalid("Update must set one of nodeVersion, imageType, labels, taints, upgradeSettings, machineType (the fields this fake serves).")
		}
		if in.NodeVersion != "" {
			if version = gkeVersion(in.NodeVersion); in.NodeVersion == "-" {
				version = cl.c.CurrentMasterVersion
			}
			if version == "" || minor(version) > minor(cl.c.CurrentMasterVersion) {
				return nil, invalid("Node version %q is unsupported or newer than the master version %q.", in.NodeVersion, cl.c.CurrentMasterVersion)
			}
			typ = "UPGRADE_NODES"
		}
		if in.Taints != nil {
			if err := validPool(&container.NodePool{Name: p.Name, Config: &container.NodeConfig{Taints: in.Taints.Taints}}, ""); err != nil {
				return nil, err
			}
			apply = append(apply, func() { p.Config.Taints = in.Taints.Taints })
		}
		if in.Labels != nil {
			apply = append(apply, func() { p.Config.Labels = in.Labels.Labels })
		}
		if in.ImageType != "" {
			apply = append(apply, func() { p.Config.ImageType = in.ImageType })
			typ = "UPGRADE_NODES"
		}
		if in.MachineType != "" {
			apply = append(apply, func() { p.Config.MachineType = in.MachineType })
			typ = "UPGRADE_NODES"
		}
		if in.UpgradeSettings != nil {
			apply = append(apply, func() { p.UpgradeSettings = in.UpgradeSettings })
		}
	case "nodePools.setAutoscaling":
		var in container.SetNodePoolAutoscalingRequest
		if err := q.decode(&in); err != nil {
			return nil, err
		}
		if err := validPool(&container.NodePool{Name: p.Name, Autoscaling: in.Autoscaling}, ""); err != nil {
			return nil, err
		}
		apply = append(apply, func() { p.Autoscaling = in.Autoscaling })
	case "nodePools.setSize":
		var in container.SetNodePoolSizeRequest
		if err := q.decode(&in); err != nil {
			return nil, err
		}
		if in.NodeCount < 0 {
			return nil, invalid("nodeCount must not be negative.")
		}
		apply = append(apply, func() { p.InitialNodeCount = in.NodeCount })
		typ = "SET_NODE_POOL_SIZE"
	}
	if err := s.busy(cname); err != nil {
		return nil, err
	}
	for _, fn := range apply {
		fn()
	}
	p.Status, p.Etag = "RECONCILING", strconv.FormatUint(s.next(), 10)
	return s.startOp(q, typ, cname, name, false, func(bool) {
		if version != "" {
			p.Version = version
		}
		p.Status = "RUNNING"
	}), nil
}

func (s *Server) getOperation(name string) (any, *Error) {
	op := s.ops[name]
	if op == nil {
		return nil, notFound(name)
	}
	s.observe(func(o *operation) bool { return o == op })
	if op.gke != nil {
		return op.gke, nil
	}
	return op.gce, nil
}

func (s *Server) listOperations(parent string) (any, *Error) {
	prefix := parent + "/operations/"
	all := strings.HasSuffix(parent, "/locations/-")
	match := func(op *operation) bool {
		return op.gke != nil && (strings.HasPrefix(op.name, prefix) || all && strings.HasPrefix(op.name, strings.TrimSuffix(parent, "-")))
	}
	s.observe(match)
	out := &container.ListOperationsResponse{Operations: []*container.Operation{}}
	for _, name := range s.opOrder {
		if op := s.ops[name]; match(op) {
			out.Operations = append(out.Operations, op.gke)
		}
	}
	return out, nil
}
