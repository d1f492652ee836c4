package gcp_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	container "google.golang.org/api/container/v1"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/gcp/gkefake"
	"github.com/astropulse/astroplane/internal/testflow"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// stack is the real workflows and activities (testflow), with gcp/gke served by the
// provider on a GKE wire server.
type stack struct {
	*testflow.Stack
	fake *gkefake.Server
}

func newStack(t *testing.T) *stack {
	t.Helper()
	fake, url := startFake(t)
	fake.PollsToDone = 3
	return &stack{Stack: testflow.Start(t, registryOn(url, time.Millisecond)), fake: fake}
}

// noSecrets fails when the histories of ops hold the access token.
func (s *stack) noSecrets(ops ...string) {
	s.T.Helper()
	s.NoSecrets(ops, apiToken)
}

// body decodes the JSON body of the i-th request of method (negative: from the end).
func body[T any](t *testing.T, fake *gkefake.Server, method string, i int) T {
	t.Helper()
	calls := fake.Calls(method)
	if i < 0 {
		i += len(calls)
	}
	var v T
	if i < 0 || i >= len(calls) {
		t.Fatalf("no request %d of %s (%d made)", i, method, len(calls))
	}
	if err := json.Unmarshal(calls[i].Body, &v); err != nil {
		t.Fatalf("%s body: %v", method, err)
	}
	return v
}

func pool(cl *container.Cluster, name string) *container.NodePool {
	for _, p := range cl.NodePools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// TestWorkflowsOnGKE runs deploy → update (a version hop, a node pool upgrade with
// surge settings, a spot pool scaled to a fixed size and relabelled, tags, cluster
// settings) → delete through the real workflows and activities, the official GKE
// client against the wire server, and checks what GKE was asked and holds. The spot
// pool's create is throttled once (retried after GKE's retry delay), and the pool
// vanishes while its delete runs.
func TestWorkflowsOnGKE(t *testing.T) {
	s := newStack(t)
	fake := s.fake
	spec := gkeSpec("prod")
	spec.Account.OrgID = s.OrgID
	spec.Tags = map[string]string{"team": "core", "Cost-Center": "R&D 42"}
	spec.NodeGroups = append(spec.NodeGroups, cloud.NodeGroupSpec{Name: "spot", MinNode: 0, MaxNode: 5, InstanceType: cloud.InstanceSpot,
		MachineTypes: []string{"n2-standard-8"}, Labels: map[string]string{"workload": "batch"},
		Taints: []cloud.Taint{{Key: "batch", Value: "true", Effect: "NoSchedule"}}})
	cl := store.Cluster{ID: store.NewID(), OrgID: s.OrgID, Name: "prod", Provider: "gcp", ProvisionerType: "gke", Region: region, Status: store.ClusterPending}

	fake.Inject(gkefake.Fault{Method: "nodePools.create", Times: 1, Err: gkefake.Throttled(2500 * time.Millisecond)})
	deployID, err := s.Run(cl, workflows.OpDeploy, "DeployCluster", workflows.DeployClusterInput{Spec: spec})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	got := s.Cluster(cl.ID)
	path := parent + "/clusters/prod"
	if got.Status != store.ClusterReady || got.ExternalID != path || !strings.HasPrefix(got.NetworkID, "projects/"+project+"/global/networks/astro-") ||
		!strings.HasPrefix(got.Endpoint, "https://34.118.") {
		t.Fatalf("cluster after deploy: %s %q, ref %q, network %q, endpoint %q", got.Status, got.StatusMessage, got.ExternalID, got.NetworkID, got.Endpoint)
	}
	creates := fake.Calls("nodePools.create")
	if len(creates) != 2 {
		t.Fatalf("node pool creates %d, want 2 (the spot pool throttled, then retried; the first pool comes with the cluster)", len(creates))
	}
	if gap := creates[1].At.Sub(creates[0].At); gap < 2500*time.Millisecond {
		t.Errorf("the throttled create was retried after %s, before GKE's retry delay (2.5s; the retry policy's own is 1s)", gap)
	}
	insert := fake.Calls("networks.insert")
	if len(insert) != 1 || fake.Networks()[0] != got.NetworkID {
		t.Fatalf("network inserts %d, networks %v, want one: %s", len(insert), fake.Networks(), got.NetworkID)
	}
	create := body[container.CreateClusterRequest](t, fake, "clusters.create", 0).Cluster
	np := create.NodePools[0]
	if create.ReleaseChannel.Channel != "STABLE" || create.InitialClusterVersion != "1.31" ||
		create.WorkloadIdentityConfig.WorkloadPool != project+".svc.id.goog" || "projects/"+project+"/global/networks/"+create.Network != got.NetworkID ||
		create.ResourceLabels["team"] != "core" || create.ResourceLabels["cost-center"] != "r_d_42" || create.ResourceLabels["astro-token"] == "" ||
		len(create.NodePools) != 1 || np.Name != "default-pool" || np.Config.MachineType != "e2-standard-4" ||
		!np.Autoscaling.Enabled || np.Autoscaling.TotalMinNodeCount != 1 || np.Autoscaling.TotalMaxNodeCount != 3 {
		t.Fatalf("clusters.create asked for %s", js(create))
	}
	spot := body[container.CreateNodePoolRequest](t, fake, "nodePools.create", -1).NodePool
	if !spot.Config.Spot || spot.Config.MachineType != "n2-standard-8" || spot.Config.Labels["workload"] != "batch" ||
		len(spot.Config.Taints) != 1 || spot.Config.Taints[0].Effect != "NO_SCHEDULE" || spot.Autoscaling.TotalMaxNodeCount != 5 ||
		spot.UpgradeSettings.MaxSurge != 1 || spot.UpgradeSettings.MaxUnavailable != 1 {
		t.Fatalf("nodePools.create asked for %s", js(spot))
	}
	gke, _ := fake.Cluster(path)
	if gke.Status != "RUNNING" || len(gke.NodePools) != 2 || gke.NodePools[0].Status != "RUNNING" || gke.NodePools[1].Status != "RUNNING" {
		t.Fatalf("GKE holds %s", js(gke))
	}

	// Update: a version hop, the default pool's upgrade with surge settings, the spot
	// pool scaled to a fixed size and relabelled, tags, settings.
	var state cloud.ClusterSpec
	if err := json.Unmarshal(got.State, &state); err != nil {
		t.Fatal(err)
	}
	upgraded := state.NodeGroups[0]
	upgraded.Version, upgraded.Rollout = "1.32", &cloud.Rollout{MaxSurge: "2", MaxUnavailable: "0"}
	scaled := state.NodeGroups[1]
	scaled.MinNode, scaled.MaxNode, scaled.Labels = 3, 3, map[string]string{"workload": "batch", "tier": "gold"}
	ref := cloud.ClusterRef{Provider: "gcp", ExternalID: got.ExternalID, Endpoint: got.Endpoint}
	settings := &cloud.ClusterSettings{GKE: &cloud.GKESettings{ReleaseChannel: "REGULAR",
		MaintenanceWindow: &cloud.MaintenanceWindow{StartTime: "03:00", Duration: "4h"}, AuthorizedNetworks: []string{"10.0.0.0/8"}}}
	updateID, err := s.Run(cl, workflows.OpUpdate, "UpdateCluster", workflows.UpdateClusterInput{Current: state, Ref: ref, Steps: []workflows.UpdateStep{
		{Name: "1-control-plane-upgrade", Kind: workflows.KindControlPlaneUpgrade, Version: "1.32"},
		{Name: "2-node-group-upgrade", Kind: workflows.KindNodeGroupUpgrade, Version: "1.32", NodeGroup: &upgraded, Batches: 1},
		{Name: "3-node-group-scale", Kind: workflows.KindNodeGroupScale, NodeGroup: &scaled},
		{Name: "4-tags", Kind: workflows.KindTagsUpdate, Tags: map[string]string{"team": "platform"}},
		{Name: "5-cluster-settings", Kind: workflows.KindClusterSettings, Settings: settings},
	}})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	got = s.Cluster(cl.ID)
	gke, _ = fake.Cluster(path)
	if got.Status != store.ClusterReady || got.KubernetesVersion != "1.32" || !strings.HasPrefix(gke.CurrentMasterVersion, "1.32.") {
		t.Fatalf("after update: store %s %s %q, GKE %s", got.Status, got.KubernetesVersion, got.StatusMessage, gke.CurrentMasterVersion)
	}
	if u := body[container.UpdateClusterRequest](t, fake, "clusters.update", 0).Update; u.DesiredMasterVersion != "1.32" {
		t.Errorf("first clusters.update %s, want the hop to 1.32", js(u))
	}
	def, sp := pool(gke, "default-pool"), pool(gke, "spot")
	if !strings.HasPrefix(def.Version, "1.32.") || def.UpgradeSettings.MaxSurge != 2 || def.UpgradeSettings.MaxUnavailable != 0 {
		t.Errorf("default pool after its upgrade %s", js(def))
	}
	if sp.Autoscaling.Enabled || sp.Config.Labels["tier"] != "gold" || !strings.HasPrefix(sp.Version, "1.31.") || !sp.Config.Spot {
		t.Errorf("spot pool after scaling %s", js(sp))
	}
	if size := body[container.SetNodePoolSizeRequest](t, fake, "nodePools.setSize", -1); size.NodeCount != 1 {
		t.Errorf("setSize %s, want 1 node in each of 3 zones", js(size))
	}
	if n, _ := fake.NodeCount(path + "/nodePools/spot"); n != 1 {
		t.Errorf("spot pool has %d nodes a zone, want 1", n)
	}
	if gke.ResourceLabels["team"] != "platform" || gke.ResourceLabels["astro-token"] != create.ResourceLabels["astro-token"] {
		t.Errorf("labels after update %v", gke.ResourceLabels)
	}
	if gke.ReleaseChannel.Channel != "REGULAR" || gke.MasterAuthorizedNetworksConfig == nil || !gke.MasterAuthorizedNetworksConfig.Enabled ||
		gke.MaintenancePolicy.Window.RecurringWindow == nil || gke.MaintenancePolicy.Window.RecurringWindow.Recurrence != "FREQ=DAILY" {
		t.Errorf("settings after update: channel %s, networks %s, maintenance %s", js(gke.ReleaseChannel), js(gke.MasterAuthorizedNetworksConfig), js(gke.MaintenancePolicy))
	}

	// Delete; the spot pool vanishes while its delete runs (its operation fails NOT_FOUND).
	if err := json.Unmarshal(got.State, &state); err != nil {
		t.Fatal(err)
	}
	fake.Inject(gkefake.Fault{Method: "nodePools.delete", Name: "/nodePools/spot", InOperation: true, Err: gkefake.NotFound("Not found: node pool spot.")})
	deleteID, err := s.Run(cl, workflows.OpDelete, "DeleteCluster", workflows.DeleteClusterInput{
		Spec: state, Ref: ref, Network: cloud.NetworkRef{ID: got.NetworkID}, CreateOperationID: deployID, PriorStatus: store.ClusterReady,
	})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got = s.Cluster(cl.ID); got.Status != store.ClusterDeleted {
		t.Fatalf("cluster after delete: %s %q", got.Status, got.StatusMessage)
	}
	if len(fake.Clusters()) != 0 || len(fake.Networks()) != 0 {
		t.Fatalf("after delete GKE holds clusters %v, networks %v", fake.Clusters(), fake.Networks())
	}
	var deletes []string
	for _, r := range fake.Requests() {
		if strings.HasSuffix(r.Method, ".delete") {
			deletes = append(deletes, r.Method+" "+r.Name[strings.LastIndex(r.Name, "/")+1:])
		}
	}
	if want := "nodePools.delete default-pool,nodePools.delete spot,clusters.delete prod,networks.delete " + got.NetworkID[strings.LastIndex(got.NetworkID, "/")+1:]; strings.Join(deletes, ",") != want {
		t.Errorf("deletes %v, want %s", deletes, want)
	}
	s.noSecrets(deployID, updateID, deleteID)
}

// TestDeployOverQuotaRollsBack: GKE accepts the cluster but its creation fails for
// want of CPU quota; the deploy fails at once with GKE's words and what to do, and
// its rollback deletes the cluster and the network it made.
func TestDeployOverQuotaRollsBack(t *testing.T) {
	s := newStack(t)
	fake := s.fake
	spec := gkeSpec("big")
	spec.Account.OrgID = s.OrgID
	fake.Inject(gkefake.Fault{Method: "clusters.create", InOperation: true, Err: gkefake.QuotaExceeded("CPUS")})
	cl := store.Cluster{ID: store.NewID(), OrgID: s.OrgID, Name: "big", Provider: "gcp", ProvisionerType: "gke", Region: region, Status: store.ClusterPending}
	deployID, err := s.Run(cl, workflows.OpDeploy, "DeployCluster", workflows.DeployClusterInput{Spec: spec})
	if err == nil {
		t.Fatal("deploy over quota succeeded")
	}
	got := s.Cluster(cl.ID)
	for _, want := range []string{"failed at wait-active", "quota is exhausted (CPUS)", `Insufficient regional quota to satisfy request: resource "CPUS"`, "raise the quota", "rolled back"} {
		if !strings.Contains(got.StatusMessage, want) {
			t.Errorf("outcome %q does not say %q", got.StatusMessage, want)
		}
	}
	if got.Status != store.ClusterFailed {
		t.Errorf("cluster %s, want FAILED", got.Status)
	}
	if n := len(fake.Calls("clusters.create")); n != 1 {
		t.Errorf("cluster creates %d, want 1: quota is not retried", n)
	}
	if len(fake.Clusters()) != 0 || len(fake.Networks()) != 0 {
		t.Errorf("after the rollback GKE holds clusters %v, networks %v", fake.Clusters(), fake.Networks())
	}
	s.noSecrets(deployID)
	t.Log("outcome:", got.StatusMessage)
}

func js(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
