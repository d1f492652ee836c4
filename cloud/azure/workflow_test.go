package azure_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/azure"
	"github.com/astropulse/astroplane/internal/testflow"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// tokenSource gives every account the test's access token, as the worker's
// credential source would after a token exchange.
type tokenSource struct{}

func (tokenSource) Credentials(context.Context, cloud.AccountRef) (cloud.Credentials, error) {
	return cloud.Credentials{Values: map[string]string{azure.CredAccessToken: testToken}, Expires: time.Now().Add(time.Hour)}, nil
}

// stack is the real workflows and activities (testflow), with azure/aks served by
// the provider on a fake subscription.
type stack struct {
	*testflow.Stack
	f *fakeARM
}

func newStack(t *testing.T) *stack {
	t.Helper()
	f := newFakeARM(testSub)
	f.readyAfter = 3
	clouds := cloud.NewRegistry(tokenSource{})
	clouds.Register(cloud.Key{Provider: "azure", Provisioner: "aks"}, azure.Factory(azure.Options{Transport: f, PollInterval: time.Millisecond}))
	return &stack{Stack: testflow.Start(t, clouds), f: f}
}

// noSecrets fails when the histories of ops hold the access token or the kubeconfig.
func (s *stack) noSecrets(ops ...string) {
	s.T.Helper()
	s.NoSecrets(ops, testToken, s.f.secret)
}

func count(list []string, api string) int {
	n := 0
	for _, a := range list {
		if a == api {
			n++
		}
	}
	return n
}

// TestWorkflowsOnAKS runs deploy → update (a version hop and agent pool changes) →
// delete through the real workflows and activities, the real SDK client and pollers
// against the SDK's fake servers, and checks what Azure was asked and holds. Agent
// pool creation is throttled once (retried after Azure's Retry-After), and an agent
// pool vanishes while its delete runs.
func TestWorkflowsOnAKS(t *testing.T) {
	s := newStack(t)
	f := s.f
	spec := aksSpec("prod", "rg-prod")
	spec.Account.OrgID = s.OrgID
	spec.Tags = map[string]string{"team": "core"}
	spec.NodeGroups = append(spec.NodeGroups, cloud.NodeGroupSpec{Name: "spotpool", MinNode: 0, MaxNode: 5, InstanceType: cloud.InstanceSpot,
		MachineTypes: []string{"Standard_D4s_v5"}, Labels: map[string]string{"workload": "batch"},
		Taints: []cloud.Taint{{Key: "batch", Value: "true", Effect: "NoSchedule"}}})
	cl := store.Cluster{ID: store.NewID(), OrgID: s.OrgID, Name: "prod", Provider: "azure", ProvisionerType: "aks", Region: "eastus", Status: store.ClusterPending}

	// Deploy, with the agent pool's first create throttled for 2s (the activity retry's own first interval is 1s).
	f.Inject("AgentPoolsClient.BeginCreateOrUpdate", &armError{Status: 429, Code: "TooManyRequests", Message: "slow down", RetryAfter: 2 * time.Second}, 1)
	start := time.Now()
	deployID, err := s.Run(cl, workflows.OpDeploy, "DeployCluster", workflows.DeployClusterInput{Spec: spec})
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	got := s.Cluster(cl.ID)
	wantID := clusterID(testSub, "rg-prod", "prod")
	if got.Status != store.ClusterReady || got.ExternalID != wantID || got.NetworkID != groupID(testSub, "rg-prod") ||
		got.Endpoint != "https://prod-k7x2q9.hcp.eastus.azmk8s.io:443" {
		t.Fatalf("cluster after deploy: %s %q, ref %q, network %q, endpoint %q", got.Status, got.StatusMessage, got.ExternalID, got.NetworkID, got.Endpoint)
	}
	apis := f.APIs()
	if n := count(apis, "AgentPoolsClient.BeginCreateOrUpdate"); n != 2 {
		t.Errorf("agent pool creates %d, want 2 (one throttled, one retried): %v", n, apis)
	}
	if time.Since(start) < 2*time.Second {
		t.Errorf("deploy took %s: the throttled create was retried before Azure's Retry-After (2s)", time.Since(start))
	}
	for _, r := range f.Requests() {
		if r.Auth != "Bearer "+testToken {
			t.Fatalf("%s sent Authorization %q, want the session's bearer token", r.API, r.Auth)
		}
	}
	g, ok := f.Group("rg-prod")
	if !ok || str(g.Location) != "eastus" || str(g.Tags[azure.TagToken]) != deployID+"-network" || str(g.Tags["team"]) != "core" {
		t.Fatalf("resource group %+v (exists %v)", g, ok)
	}
	mc, pools, ok := f.Cluster("rg-prod", "prod")
	if !ok {
		t.Fatal("no managed cluster after deploy")
	}
	if str(mc.Properties.KubernetesVersion) != "1.31" || str(mc.Properties.ProvisioningState) != "Succeeded" ||
		mc.Identity == nil || *mc.Identity.Type != armcontainerservice.ResourceIdentityTypeSystemAssigned ||
		str(mc.Tags[azure.TagToken]) != deployID+"-control-plane" || str(mc.Tags["team"]) != "core" {
		t.Fatalf("managed cluster %s", js(mc))
	}
	sys, spot := pools["systempool"].Properties, pools["spotpool"].Properties
	if sys == nil || *sys.Mode != armcontainerservice.AgentPoolModeSystem || str(sys.VMSize) != "Standard_D2s_v5" ||
		!*sys.EnableAutoScaling || *sys.MinCount != 1 || *sys.MaxCount != 3 || str(sys.NodeLabels["environment"]) != "dev" {
		t.Fatalf("system pool %s", js(sys))
	}
	if spot == nil || *spot.Mode != armcontainerservice.AgentPoolModeUser || *spot.ScaleSetPriority != armcontainerservice.ScaleSetPrioritySpot ||
		*spot.ScaleSetEvictionPolicy != armcontainerservice.ScaleSetEvictionPolicyDelete || *spot.SpotMaxPrice != -1 ||
		str(spot.VMSize) != "Standard_D4s_v5" || *spot.MinCount != 0 || *spot.MaxCount != 5 ||
		len(spot.NodeTaints) != 1 || *spot.NodeTaints[0] != "batch=true:NoSchedule" || str(spot.NodeLabels["workload"]) != "batch" {
		t.Fatalf("spot pool %s", js(spot))
	}

	// Update: a version hop, the system pool's upgrade, the spot pool scaled and
	// relabelled, add-ons, tags.
	var state cloud.ClusterSpec
	if err := json.Unmarshal(got.State, &state); err != nil {
		t.Fatal(err)
	}
	scaled := state.NodeGroups[1]
	scaled.MinNode, scaled.MaxNode, scaled.Labels = 2, 8, map[string]string{"workload": "batch", "tier": "gold"}
	upgraded := state.NodeGroups[0]
	upgraded.Version, upgraded.Rollout = "1.32", &cloud.Rollout{MaxSurge: "33%"}
	ref := cloud.ClusterRef{Provider: "azure", ExternalID: got.ExternalID, Endpoint: got.Endpoint}
	updateID, err := s.Run(cl, workflows.OpUpdate, "UpdateCluster", workflows.UpdateClusterInput{Current: state, Ref: ref, Steps: []workflows.UpdateStep{
		{Name: "1-control-plane-upgrade", Kind: workflows.KindControlPlaneUpgrade, Version: "1.32"},
		{Name: "2-node-group-upgrade", Kind: workflows.KindNodeGroupUpgrade, Version: "1.32", NodeGroup: &upgraded, Batches: 1},
		{Name: "3-node-group-scale", Kind: workflows.KindNodeGroupScale, NodeGroup: &scaled},
		{Name: "4-addons-upgrade", Kind: workflows.KindAddonsUpgrade, Version: "1.32"},
		{Name: "5-tags", Kind: workflows.KindTagsUpdate, Tags: map[string]string{"team": "platform"}},
	}})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	got = s.Cluster(cl.ID)
	mc, pools, _ = f.Cluster("rg-prod", "prod")
	sys, spot = pools["systempool"].Properties, pools["spotpool"].Properties
	if got.Status != store.ClusterReady || got.KubernetesVersion != "1.32" || str(mc.Properties.KubernetesVersion) != "1.32" {
		t.Fatalf("after update: store %s %s %q, Azure %s", got.Status, got.KubernetesVersion, got.StatusMessage, str(mc.Properties.KubernetesVersion))
	}
	if str(sys.OrchestratorVersion) != "1.32" || sys.UpgradeSettings == nil || str(sys.UpgradeSettings.MaxSurge) != "33%" {
		t.Errorf("system pool after its upgrade %s", js(sys))
	}
	if *spot.MinCount != 2 || *spot.MaxCount != 8 || str(spot.NodeLabels["tier"]) != "gold" || str(spot.OrchestratorVersion) != "1.31" ||
		*spot.ScaleSetPriority != armcontainerservice.ScaleSetPrioritySpot {
		t.Errorf("spot pool after scaling %s", js(spot))
	}
	if str(mc.Tags["team"]) != "platform" || str(mc.Tags[azure.TagToken]) != deployID+"-control-plane" {
		t.Errorf("tags after update %v", js(mc.Tags))
	}

	// Delete; the spot pool vanishes while its delete runs.
	if err := json.Unmarshal(got.State, &state); err != nil {
		t.Fatal(err)
	}
	f.VanishOnDelete("spotpool")
	deleteID, err := s.Run(cl, workflows.OpDelete, "DeleteCluster", workflows.DeleteClusterInput{
		Spec: state, Ref: ref, Network: cloud.NetworkRef{ID: got.NetworkID}, CreateOperationID: deployID, PriorStatus: store.ClusterReady,
	})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got = s.Cluster(cl.ID); got.Status != store.ClusterDeleted {
		t.Fatalf("cluster after delete: %s %q", got.Status, got.StatusMessage)
	}
	if _, ok := f.Group("rg-prod"); ok || f.ClusterCount() != 0 {
		t.Fatalf("after delete: resource group left %v, clusters %d", ok, f.ClusterCount())
	}
	apis = f.APIs()
	want := []string{"AgentPoolsClient.Get", "AgentPoolsClient.Get", "AgentPoolsClient.BeginDelete", "ManagedClustersClient.BeginDelete",
		"ResourceGroupsClient.Get", "Client.NewListByResourceGroupPager", "ResourceGroupsClient.BeginDelete"}
	if tail := apis[len(apis)-len(want):]; !slices.Equal(tail, want) {
		t.Errorf("the delete called %v, want %v (the system pool goes with the cluster)", tail, want)
	}
	s.noSecrets(deployID, updateID, deleteID)
}

// TestDeployOverQuotaRollsBack: Azure refuses the agent pool for quota; the deploy
// fails at once (no retries) with Azure's words and what to do, and its rollback
// removes the managed cluster and the resource group it created.
func TestDeployOverQuotaRollsBack(t *testing.T) {
	s := newStack(t)
	f := s.f
	spec := aksSpec("big", "rg-big")
	spec.Account.OrgID = s.OrgID
	spec.NodeGroups = append(spec.NodeGroups, cloud.NodeGroupSpec{Name: "gpu", MinNode: 4, MaxNode: 8, InstanceType: cloud.InstanceOnDemand,
		MachineTypes: []string{"Standard_NC24ads_A100_v4"}})
	f.Inject("AgentPoolsClient.BeginCreateOrUpdate", &armError{Status: 400, Code: "QuotaExceeded",
		Message: "Operation could not be completed as it results in exceeding approved standardNCADSA100v4Family Cores quota. Current Limit: 24, Current Usage: 0, Additional Required: 96."}, 0)
	cl := store.Cluster{ID: store.NewID(), OrgID: s.OrgID, Name: "big", Provider: "azure", ProvisionerType: "aks", Region: "eastus", Status: store.ClusterPending}
	deployID, err := s.Run(cl, workflows.OpDeploy, "DeployCluster", workflows.DeployClusterInput{Spec: spec})
	if err == nil {
		t.Fatal("deploy over quota succeeded")
	}
	got := s.Cluster(cl.ID)
	for _, want := range []string{"failed at node-groups", "Azure QuotaExceeded", "standardNCADSA100v4Family Cores quota", "ask for more quota", "rolled back"} {
		if !strings.Contains(got.StatusMessage, want) {
			t.Errorf("outcome %q does not say %q", got.StatusMessage, want)
		}
	}
	if got.Status != store.ClusterFailed {
		t.Errorf("cluster %s, want FAILED", got.Status)
	}
	if n := count(f.APIs(), "AgentPoolsClient.BeginCreateOrUpdate"); n != 1 {
		t.Errorf("agent pool creates %d, want 1: quota is not retried", n)
	}
	if _, ok := f.Group("rg-big"); ok || f.ClusterCount() != 0 {
		t.Errorf("after the rollback: resource group left %v, clusters %d", ok, f.ClusterCount())
	}
	s.noSecrets(deployID)
	t.Log("outcome:", got.StatusMessage)
}

func js(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}
