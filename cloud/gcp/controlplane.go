package gcp

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	container "google.golang.org/api/container/v1"

	"github.com/astropulse/astroplane/cloud"
)

var (
	gkeName    = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$`)
	minorRE    = regexp.MustCompile(`^(\d+)\.(\d+)`)
	labelBad   = regexp.MustCompile(`[^a-z0-9_-]`)
	channels   = []string{"STABLE", "REGULAR", "RAPID", "EXTENDED"}
	hhmmRE     = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$`)
	defaultRel = "STABLE"
	// quotaResource finds the quota a GKE message says ran out.
	quotaResource = regexp.MustCompile(`quota[^"]*resource "([A-Z0-9_]+)"`)
)

// minorOf is the minor number of a version ("1.31", "1.31.6-gke.1020000"); -1 if none.
func minorOf(v string) int {
	m := minorRE.FindStringSubmatch(v)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[2])
	return n
}

// labelsFor turns tags into GCP resource labels (lowercase letters, digits, '_' and
// '-', at most 63 characters, keys starting with a letter) and adds the provider's.
func labelsFor(tags map[string]string, token string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		k = labelBad.ReplaceAllString(strings.ToLower(k), "_")
		if k == "" || k[0] < 'a' || k[0] > 'z' {
			k = "t" + k
		}
		out[trim63(k)] = trim63(labelBad.ReplaceAllString(strings.ToLower(v), "_"))
	}
	out[LabelManaged] = managedValue
	if token != "" {
		out[LabelToken] = token
	}
	return out
}

func trim63(s string) string {
	if len(s) > 63 {
		return s[:63]
	}
	return s
}

// resolve returns the resource name of a cluster reference: a resource name as it is,
// or a bare cluster name looked up in every location of the session's project.
func (p *Provider) resolve(ctx context.Context, id string) (string, error) {
	if id == "" {
		return "", cloud.Errorf(cloud.ErrNotFound, "the cluster reference is empty")
	}
	if strings.HasPrefix(id, "projects/") {
		return id, nil
	}
	found, err := p.findCluster(ctx, func(cl *container.Cluster) bool { return cl.Name == id })
	if err != nil {
		return "", err
	}
	if found == "" {
		return "", cloud.Errorf(cloud.ErrNotFound, "no cluster %q in project %s", id, p.project)
	}
	return found, nil
}

// findCluster returns the resource name of the first cluster of the session's project
// (any location) that match selects; "" if none does.
func (p *Provider) findCluster(ctx context.Context, match func(*container.Cluster) bool) (string, error) {
	list, err := p.gke.Projects.Locations.Clusters.List("projects/" + p.project + "/locations/-").Context(ctx).Do()
	if err != nil {
		return "", typed(ctx, "list clusters of project "+p.project, err)
	}
	for _, cl := range list.Clusters {
		if match(cl) {
			return fmt.Sprintf("projects/%s/locations/%s/clusters/%s", p.project, cl.Location, cl.Name), nil
		}
	}
	return "", nil
}

func (p *Provider) getCluster(ctx context.Context, path string) (*container.Cluster, error) {
	cl, err := p.gke.Projects.Locations.Clusters.Get(path).Context(ctx).Do()
	return cl, typed(ctx, fmt.Sprintf("get cluster %s", path), err)
}

// buildCluster is the cluster a spec asks for, its first node group included.
func (p *Provider) buildCluster(spec cloud.ClusterSpec, net cloud.NetworkRef, token string) (*container.Cluster, error) {
	g := cloud.GKESpec{}
	if spec.GKE != nil {
		g = *spec.GKE
	}
	project := p.projectOf(spec)
	cl := &container.Cluster{
		Name:           spec.Name,
		Description:    "Managed by Astro Plane",
		ResourceLabels: labelsFor(spec.Tags, hashOf(token)),
		ReleaseChannel: &container.ReleaseChannel{Channel: defaultRel},
	}
	if g.ReleaseChannel != "" {
		if !slices.Contains(channels, g.ReleaseChannel) {
			return nil, cloud.Errorf(cloud.ErrInvalid, "unknown GKE release channel %q (want one of %v)", g.ReleaseChannel, channels)
		}
		cl.ReleaseChannel.Channel = g.ReleaseChannel
	}
	cl.InitialClusterVersion = spec.KubernetesVersion
	if g.KubernetesVersion != "" {
		cl.InitialClusterVersion = g.KubernetesVersion
	}
	autopilot := spec.Autopilot || g.Autopilot
	if autopilot {
		cl.Autopilot = &container.Autopilot{Enabled: true}
	}
	if g.EnableWorkloadIdentity || autopilot {
		cl.WorkloadIdentityConfig = &container.WorkloadIdentityConfig{WorkloadPool: project + ".svc.id.goog"}
	}
	switch {
	case g.NetworkID != "":
		cl.Network = shortName(g.NetworkID)
	case net.ID != "":
		cl.Network = shortName(net.ID)
	}
	cl.IpAllocationPolicy = &container.IPAllocationPolicy{UseIpAliases: true}
	if s := g.Subnet; s != nil {
		cl.Subnetwork = s.Name
		cl.IpAllocationPolicy.ClusterSecondaryRangeName = s.PodsRange
		cl.IpAllocationPolicy.ServicesSecondaryRangeName = s.ServicesRange
	}
	if g.MasterIPv4CIDRBlock != "" {
		cl.PrivateClusterConfig = &container.PrivateClusterConfig{EnablePrivateNodes: true, MasterIpv4CidrBlock: g.MasterIPv4CIDRBlock}
	}
	if len(g.AuthorizedNetworks) > 0 {
		cl.MasterAuthorizedNetworksConfig = authorizedNetworks(g.AuthorizedNetworks)
	}
	if g.MaintenanceWindow != nil {
		mp, err := maintenancePolicy(*g.MaintenanceWindow)
		if err != nil {
			return nil, err
		}
		cl.MaintenancePolicy = mp
	}
	if !autopilot {
		if len(spec.NodeGroups) == 0 {
			return nil, cloud.Errorf(cloud.ErrInvalid, "a Standard GKE cluster needs at least one node group (or autopilot)")
		}
		ng := spec.NodeGroups[0]
		if ng.ImageType == "" {
			ng.ImageType = g.ImageType
		}
		np, err := nodePool(ng, token, zonesIn(spec.Region))
		if err != nil {
			return nil, err
		}
		cl.NodePools = []*container.NodePool{np}
	}
	return cl, nil
}

// zonesIn is how many zones a location spreads node pools over by default: a zone
// is one, a region three.
func zonesIn(location string) int {
	if strings.Count(location, "-") >= 2 {
		return 1
	}
	return 3
}

func authorizedNetworks(cidrs []string) *container.MasterAuthorizedNetworksConfig {
	cfg := &container.MasterAuthorizedNetworksConfig{Enabled: len(cidrs) > 0, ForceSendFields: []string{"Enabled"}}
	for _, c := range cidrs {
		cfg.CidrBlocks = append(cfg.CidrBlocks, &container.CidrBlock{CidrBlock: c})
	}
	return cfg
}

// maintenancePolicy is a daily window: GKE's daily window (its duration GKE's
// choice) without a duration, else a daily recurring window of that length.
func maintenancePolicy(w cloud.MaintenanceWindow) (*container.MaintenancePolicy, error) {
	if !hhmmRE.MatchString(w.StartTime) {
		return nil, cloud.Errorf(cloud.ErrInvalid, "maintenance window start %q is not HH:MM (UTC)", w.StartTime)
	}
	if w.Duration == "" {
		return &container.MaintenancePolicy{Window: &container.MaintenanceWindow{
			DailyMaintenanceWindow: &container.DailyMaintenanceWindow{StartTime: w.StartTime}}}, nil
	}
	d, err := time.ParseDuration(w.Duration)
	if err != nil || d < time.Hour || d > 24*time.Hour {
		return nil, cloud.Errorf(cloud.ErrInvalid, "maintenance window duration %q is not between 1h and 24h", w.Duration)
	}
	start, _ := time.Parse("2006-01-02 15:04", "2025-01-01 "+w.StartTime)
	return &container.MaintenancePolicy{Window: &container.MaintenanceWindow{RecurringWindow: &container.RecurringTimeWindow{
		Recurrence: "FREQ=DAILY",
		Window:     &container.TimeWindow{StartTime: start.Format(time.RFC3339), EndTime: start.Add(d).Format(time.RFC3339)},
	}}}, nil
}

// ref is the reference of a created cluster: its resource name, endpoint and
// creation time (the same on every read, so a retried create returns the same).
func ref(path string, cl *container.Cluster) cloud.ClusterRef {
	r := cloud.ClusterRef{Provider: "gcp", ExternalID: path}
	if cl.Endpoint != "" {
		r.Endpoint = "https://" + cl.Endpoint
	}
	r.CreatedAt, _ = time.Parse(time.RFC3339Nano, cl.CreateTime)
	return r
}

// CreateControlPlane asks GKE for the cluster and returns once GKE accepted it.
func (p *Provider) CreateControlPlane(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec, net cloud.NetworkRef) (cloud.ClusterRef, error) {
	if !gkeName.MatchString(spec.Name) {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "cluster name %q: GKE wants 1-40 lowercase letters, digits or '-', starting with a letter", spec.Name)
	}
	if spec.Region == "" {
		return cloud.ClusterRef{}, cloud.Errorf(cloud.ErrInvalid, "cluster %q names no region", spec.Name)
	}
	cl, err := p.buildCluster(spec, net, c.Token)
	if err != nil {
		return cloud.ClusterRef{}, err
	}
	if err := ctx.Err(); err != nil {
		return cloud.ClusterRef{}, err
	}
	path := p.clusterPath(spec)
	what := fmt.Sprintf("create GKE cluster %q in %s", spec.Name, parentOf(path))
	c.Report(fmt.Sprintf("asking GKE for cluster %s (%s channel, version %s)", spec.Name, cl.ReleaseChannel.Channel, cl.InitialClusterVersion))
	op, err := p.gke.Projects.Locations.Clusters.Create(parentOf(path), &container.CreateClusterRequest{Cluster: cl}).Context(ctx).Do()
	if err != nil {
		err = typed(ctx, what, err)
		if !errors.Is(err, cloud.ErrAlreadyExists) {
			return cloud.ClusterRef{}, err
		}
		existing, gerr := p.getCluster(ctx, path)
		if gerr != nil || existing.ResourceLabels[LabelToken] != hashOf(c.Token) {
			return cloud.ClusterRef{}, &cloud.Error{Kind: cloud.ErrAlreadyExists, Msg: fmt.Sprintf(
				"a cluster %q already exists in %s and was not created by this operation", spec.Name, parentOf(path)), Err: err}
		}
		c.Report(fmt.Sprintf("cluster %s was already created with this token (%s)", spec.Name, existing.Status))
		return ref(path, existing), nil
	}
	c.Report(fmt.Sprintf("GKE accepted cluster %s (operation %s)", spec.Name, op.Name))
	created, err := p.getCluster(ctx, path)
	if err != nil {
		return cloud.ClusterRef{}, err
	}
	return ref(path, created), nil
}

// ControlPlaneStatus maps the cluster's GKE status: PROVISIONING → CREATING;
// RUNNING, RECONCILING, DEGRADED → ACTIVE; STOPPING → FAILED. A cluster in ERROR is
// an error typed by GKE's reason (a quota that ran out, …), so the failure says why.
func (p *Provider) ControlPlaneStatus(ctx context.Context, c cloud.Call, r cloud.ClusterRef) (string, error) {
	path, err := p.resolve(ctx, r.ExternalID)
	if err != nil {
		return "", err
	}
	cl, err := p.getCluster(ctx, path)
	if err != nil {
		return "", err
	}
	c.Report(fmt.Sprintf("cluster %s is %s %s", cl.Name, cl.Status, cl.StatusMessage))
	switch cl.Status {
	case "RUNNING", "RECONCILING", "DEGRADED":
		return cloud.StateActive, nil
	case "ERROR":
		a := &apiError{message: cl.StatusMessage, status: "INTERNAL"}
		for _, cond := range cl.Conditions {
			if cond.CanonicalCode != "" {
				a.status = cond.CanonicalCode
			}
			if a.message == "" {
				a.message = cond.Message
			}
			a.reasons = append(a.reasons, cond.Code)
		}
		if a.message == "" {
			a.message = "the cluster is in ERROR"
		}
		if m := quotaResource.FindStringSubmatch(a.message); m != nil {
			a.quota = append(a.quota, m[1]) // GKE names the exhausted quota: resource "CPUS"
		}
		return "", classify(fmt.Sprintf("GKE cluster %q failed", cl.Name), a, nil)
	case "STOPPING":
		return cloud.StateFailed, nil
	}
	return cloud.StateCreating, nil
}

// DeleteControlPlane deletes the cluster (and with it its node pools), found by the
// create's token when r is empty, and waits until it is gone.
func (p *Provider) DeleteControlPlane(ctx context.Context, c cloud.Call, r cloud.ClusterRef) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path := r.ExternalID
	var err error
	if path == "" {
		h := hashOf(c.Token)
		path, err = p.findCluster(ctx, func(cl *container.Cluster) bool { return cl.ResourceLabels[LabelToken] == h })
		if err != nil {
			return err
		}
		if path == "" {
			c.Report("no cluster was created with this token: nothing to delete")
			return nil
		}
	} else if path, err = p.resolve(ctx, path); errors.Is(err, cloud.ErrNotFound) {
		c.Report(fmt.Sprintf("cluster %s is already gone", r.ExternalID))
		return nil
	} else if err != nil {
		return err
	}
	what := fmt.Sprintf("delete GKE cluster %s", path)
	c.Report(fmt.Sprintf("deleting GKE cluster %s", shortName(path)))
	op, err := p.gke.Projects.Locations.Clusters.Delete(path).Context(ctx).Do()
	if err != nil {
		err = typed(ctx, what, err)
		if errors.Is(err, cloud.ErrNotFound) {
			c.Report(fmt.Sprintf("cluster %s is already gone", shortName(path)))
			return nil
		}
		if cloud.KindOf(err) != nil {
			return err
		}
		// Busy (an earlier attempt's delete is running): wait until it is gone.
		return p.waitGone(ctx, c, path, what, err)
	}
	if err := p.waitOp(ctx, c, parentOf(path), what, op); err != nil && !errors.Is(err, cloud.ErrNotFound) {
		return err
	}
	return nil
}

// waitGone waits for a cluster being deleted to be gone; a cluster not being
// deleted returns cause.
func (p *Provider) waitGone(ctx context.Context, c cloud.Call, path, what string, cause error) error {
	for {
		cl, err := p.getCluster(ctx, path)
		if errors.Is(err, cloud.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if cl.Status != "STOPPING" {
			return cause
		}
		c.Report(fmt.Sprintf("%s: the cluster is being deleted", what))
		if err := sleep(ctx, p.poll); err != nil {
			return err
		}
	}
}

// UpgradeControlPlane moves the control plane to version, one minor above its own
// (the same minor again is done already).
func (p *Provider) UpgradeControlPlane(ctx context.Context, c cloud.Call, r cloud.ClusterRef, version string) error {
	path, err := p.resolve(ctx, r.ExternalID)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("upgrade GKE cluster %s to %s", shortName(path), version)
	if err := p.waitIdle(ctx, c, path, what); err != nil {
		return err
	}
	cl, err := p.getCluster(ctx, path)
	if err != nil {
		return err
	}
	cur, want := minorOf(cl.CurrentMasterVersion), minorOf(version)
	switch {
	case want < 0:
		return cloud.Errorf(cloud.ErrInvalid, "%s: %q is not a Kubernetes version", what, version)
	case want <= cur:
		c.Report(fmt.Sprintf("control plane of %s is already at %s", cl.Name, cl.CurrentMasterVersion))
		return nil
	case want > cur+1:
		return cloud.Errorf(cloud.ErrInvalid, "%s: GKE upgrades one minor version at a time, the control plane is at %s", what, cl.CurrentMasterVersion)
	}
	c.Report(fmt.Sprintf("upgrading the control plane of %s from %s to %s", cl.Name, cl.CurrentMasterVersion, version))
	op, err := p.gke.Projects.Locations.Clusters.Update(path, &container.UpdateClusterRequest{
		Update: &container.ClusterUpdate{DesiredMasterVersion: version}}).Context(ctx).Do()
	if err != nil {
		return typed(ctx, what, err)
	}
	return p.waitOp(ctx, c, parentOf(path), what, op)
}

// UpdateTags sets the cluster's resource labels to tags (as labels), keeping the
// provider's own.
func (p *Provider) UpdateTags(ctx context.Context, c cloud.Call, r cloud.ClusterRef, tags map[string]string) error {
	path, err := p.resolve(ctx, r.ExternalID)
	if err != nil {
		return err
	}
	what := fmt.Sprintf("set the labels of GKE cluster %s", shortName(path))
	for attempt := 1; ; attempt++ {
		if err := p.waitIdle(ctx, c, path, what); err != nil {
			return err
		}
		cl, err := p.getCluster(ctx, path)
		if err != nil {
			return err
		}
		want := labelsFor(tags, cl.ResourceLabels[LabelToken])
		if maps.Equal(want, cl.ResourceLabels) {
			c.Report(fmt.Sprintf("cluster %s already has these labels", cl.Name))
			return nil
		}
		c.Report(fmt.Sprintf("setting %d labels on cluster %s", len(want), cl.Name))
		op, err := p.gke.Projects.Locations.Clusters.SetResourceLabels(path, &container.SetLabelsRequest{
			ResourceLabels: want, LabelFingerprint: cl.LabelFingerprint}).Context(ctx).Do()
		if err != nil {
			err = typed(ctx, what, err)
			if cloud.KindOf(err) == nil && attempt < 3 {
				continue // labels changed meanwhile (fingerprint) or busy: read them again
			}
			return err
		}
		return p.waitOp(ctx, c, parentOf(path), what, op)
	}
}

// InstallAddons has nothing to install: GKE manages the cluster's add-ons (kube-dns,
// metrics, CSI drivers, load balancing) for each version itself. It checks the
// cluster is there and reports which are on.
func (p *Provider) InstallAddons(ctx context.Context, c cloud.Call, r cloud.ClusterRef, version string) error {
	path, err := p.resolve(ctx, r.ExternalID)
	if err != nil {
		return err
	}
	cl, err := p.getCluster(ctx, path)
	if err != nil {
		return err
	}
	c.Report(fmt.Sprintf("GKE manages the add-ons of cluster %s for %s (control plane %s): nothing to install", cl.Name, version, cl.CurrentMasterVersion))
	return nil
}
