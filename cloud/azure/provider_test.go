package azure_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerservice/armcontainerservice/v6"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/azure"
)

// call is a call of step with token whose progress reports go to *reports.
func call(token, step string, reports *[]string) cloud.Call {
	c := cloud.Call{Token: token, Step: step, Account: session().Account}
	if reports != nil {
		c.Progress = func(d string) { *reports = append(*reports, d) }
	}
	return c
}

// deployed is a cluster made by p with its network and control plane, ACTIVE.
func deployed(t *testing.T, p *azure.Provider, spec cloud.ClusterSpec) (cloud.NetworkRef, cloud.ClusterRef) {
	t.Helper()
	net, err := p.CreateNetwork(t.Context(), call("op-network", "network", nil), spec)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := p.CreateControlPlane(t.Context(), call("op-control-plane", "control-plane", nil), spec, net)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		state, err := p.ControlPlaneStatus(t.Context(), call("op-wait", "wait-active", nil), ref)
		if err != nil || state == cloud.StateActive {
			break
		}
		if i > 10 {
			t.Fatalf("not active: %s", state)
		}
	}
	return net, ref
}

func TestCreateControlPlaneRequest(t *testing.T) {
	p, f := newProvider(t)
	spec := aksSpec("web", "rg-web")
	spec.Tags = map[string]string{"team": "core"}
	_, ref := deployed(t, p, spec)
	var put request
	for _, r := range f.Requests() {
		if r.API == "ManagedClustersClient.BeginCreateOrUpdate" {
			put = r
		}
	}
	var body armcontainerservice.ManagedCluster
	if err := json.Unmarshal(put.Body, &body); err != nil {
		t.Fatalf("PUT body %q: %v", put.Body, err)
	}
	prof := body.Properties.AgentPoolProfiles
	if str(body.Location) != "eastus" || *body.Identity.Type != armcontainerservice.ResourceIdentityTypeSystemAssigned ||
		str(body.Properties.KubernetesVersion) != "1.31" || str(body.Properties.DNSPrefix) != "web" || !*body.Properties.EnableRBAC ||
		str(body.Tags[azure.TagToken]) != "op-control-plane" || str(body.Tags["team"]) != "core" ||
		len(prof) != 1 || str(prof[0].Name) != "systempool" || *prof[0].Mode != armcontainerservice.AgentPoolModeSystem ||
		str(prof[0].VMSize) != "Standard_D2s_v5" || *prof[0].MinCount != 1 || *prof[0].MaxCount != 3 {
		t.Fatalf("PUT managed cluster %s", put.Body)
	}
	if ref.ExternalID != clusterID(testSub, "rg-web", "web") || ref.CreatedAt.IsZero() {
		t.Fatalf("ref %+v", ref)
	}

	// The same name made by another token (or by someone else) is not ours.
	_, err := p.CreateControlPlane(t.Context(), call("another-op", "control-plane", nil), spec, cloud.NetworkRef{})
	if !errors.Is(err, cloud.ErrAlreadyExists) {
		t.Fatalf("create over another's cluster: %v, want ErrAlreadyExists", err)
	}
}

func TestSystemPoolMustBeOnDemand(t *testing.T) {
	p, f := newProvider(t)
	spec := aksSpec("web", "rg-web")
	spec.NodeGroups[0].InstanceType = cloud.InstanceSpot
	_, err := p.CreateControlPlane(t.Context(), call("op", "control-plane", nil), spec, cloud.NetworkRef{})
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "ondemand") {
		t.Fatalf("spot system pool: %v, want ErrInvalid saying ondemand", err)
	}
	spec = aksSpec("web", "rg-web")
	spec.NodeGroups[0].Name = "System-Pool"
	if _, err := p.CreateControlPlane(t.Context(), call("op", "control-plane", nil), spec, cloud.NetworkRef{}); !errors.Is(err, cloud.ErrInvalid) {
		t.Fatalf("pool name AKS refuses: %v, want ErrInvalid", err)
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d requests for invalid specs", n)
	}
}

// A resource group that existed is used and kept; one we made is deleted only when
// nothing else is in it.
func TestResourceGroupOwnership(t *testing.T) {
	p, f := newProvider(t)
	f.AddGroup("users-rg", "westeurope")
	net, err := p.CreateNetwork(t.Context(), call("op-network", "network", nil), aksSpec("a", "users-rg"))
	if err != nil || net.ID != "existing:"+groupID(testSub, "users-rg") {
		t.Fatalf("existing group: %+v %v", net, err)
	}
	if err := p.DeleteNetwork(t.Context(), call("op-network", "delete-network", nil), net); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Group("users-rg"); !ok {
		t.Fatal("the user's resource group was deleted")
	}

	net, err = p.CreateNetwork(t.Context(), call("op-network", "network", nil), aksSpec("b", "ours-rg"))
	if err != nil || net.ID != groupID(testSub, "ours-rg") {
		t.Fatalf("new group: %+v %v", net, err)
	}
	f.AddGroupResource("ours-rg", "someones-storage")
	var reports []string
	if err := p.DeleteNetwork(t.Context(), call("op-network", "delete-network", &reports), net); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Group("ours-rg"); !ok || !strings.Contains(strings.Join(reports, "\n"), "someones-storage") {
		t.Fatalf("a group holding another resource was deleted, or the report does not say why it stays: %q", reports)
	}
	f.AddGroupResource("ours-rg")
	if err := p.DeleteNetwork(t.Context(), call("op-network", "delete-network", nil), net); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Group("ours-rg"); ok {
		t.Fatal("our empty resource group was kept")
	}

	// A deploy interrupted before it recorded its network: found by its token.
	if _, err := p.CreateNetwork(t.Context(), call("op2-network", "network", nil), aksSpec("c", "lost-rg")); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteNetwork(t.Context(), call("op2-network", "delete-network", nil), cloud.NetworkRef{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Group("lost-rg"); ok {
		t.Fatal("the group created with the token was not found and deleted")
	}
}

func TestAgentPools(t *testing.T) {
	p, f := newProvider(t)
	_, ref := deployed(t, p, aksSpec("web", "rg-web"))
	ng := cloud.NodeGroupSpec{Name: "batch", MinNode: 1, MaxNode: 4, InstanceType: cloud.InstanceSpot, Version: "1.31",
		MachineTypes: []string{"Standard_F8s_v2"}, Labels: map[string]string{"role": "batch"},
		Taints: []cloud.Taint{{Key: "dedicated", Value: "batch", Effect: "NoSchedule"}, {Key: "gpu", Effect: "NoExecute"}}}
	var reports []string
	if err := p.CreateNodeGroup(t.Context(), call("op-ng-batch", "node-groups", &reports), ref, ng); err != nil {
		t.Fatal(err)
	}
	_, pools, _ := f.Cluster("rg-web", "web")
	got := pools["batch"].Properties
	if *got.ScaleSetPriority != armcontainerservice.ScaleSetPrioritySpot || *got.ScaleSetEvictionPolicy != armcontainerservice.ScaleSetEvictionPolicyDelete ||
		*got.SpotMaxPrice != -1 || !*got.EnableAutoScaling || *got.MinCount != 1 || *got.MaxCount != 4 || str(got.VMSize) != "Standard_F8s_v2" ||
		str(got.OrchestratorVersion) != "1.31" || *got.Mode != armcontainerservice.AgentPoolModeUser ||
		js(got.NodeTaints) != `["dedicated=batch:NoSchedule","gpu:NoExecute"]` || str(got.NodeLabels["role"]) != "batch" ||
		str(got.Tags[azure.TagToken]) != "op-ng-batch" {
		t.Fatalf("agent pool %s", js(got))
	}
	if len(reports) < 3 { // accepted, two polls
		t.Errorf("progress %q: want a report per poll", reports)
	}
	// Retried with its token: waited for, not created again; with another token: not ours.
	before := count(f.APIs(), "AgentPoolsClient.BeginCreateOrUpdate")
	if err := p.CreateNodeGroup(t.Context(), call("op-ng-batch", "node-groups", nil), ref, ng); err != nil {
		t.Fatal(err)
	}
	if n := count(f.APIs(), "AgentPoolsClient.BeginCreateOrUpdate"); n != before {
		t.Fatalf("a retried create sent %d more PUTs", n-before)
	}
	if err := p.CreateNodeGroup(t.Context(), call("other", "node-groups", nil), ref, ng); !errors.Is(err, cloud.ErrAlreadyExists) {
		t.Fatalf("create over another's pool: %v", err)
	}

	// A fixed size, new labels and a node image roll, 2 batches of the 3 nodes.
	ng.MinNode, ng.MaxNode, ng.Labels = 3, 3, map[string]string{"role": "etl"}
	if err := p.UpdateNodeGroup(t.Context(), call("op-upd", "update", nil), ref, ng, true, 2); err != nil {
		t.Fatal(err)
	}
	_, pools, _ = f.Cluster("rg-web", "web")
	got = pools["batch"].Properties
	if *got.EnableAutoScaling || got.MinCount != nil || *got.Count != 3 || str(got.NodeLabels["role"]) != "etl" ||
		str(got.UpgradeSettings.MaxSurge) != "2" || str(got.NodeImageVersion) == "" {
		t.Fatalf("agent pool after update %s", js(got))
	}
	// AKS cannot change a pool's VM size.
	ng.MachineTypes = []string{"Standard_F16s_v2"}
	if err := p.UpdateNodeGroup(t.Context(), call("op-upd2", "update", nil), ref, ng, true, 1); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "add a node group") {
		t.Fatalf("VM size change: %v, want ErrInvalid saying what to do", err)
	}

	// The system pool goes with the cluster; a pool that vanishes while its delete
	// runs is deleted.
	if err := p.DeleteNodeGroup(t.Context(), call("op-del", "delete-node-groups", nil), ref, "systempool"); err != nil {
		t.Fatal(err)
	}
	f.VanishOnDelete("batch")
	if err := p.DeleteNodeGroup(t.Context(), call("op-del", "delete-node-groups", nil), ref, "batch"); err != nil {
		t.Fatalf("delete of a pool that vanished mid-delete: %v", err)
	}
	if n := count(f.APIs(), "AgentPoolsClient.BeginDelete"); n != 1 {
		t.Fatalf("agent pool deletes %d, want 1 (the system pool is not deleted)", n)
	}
	if err := p.DeleteNodeGroup(t.Context(), call("op-del", "delete-node-groups", nil), ref, "batch"); err != nil {
		t.Fatalf("delete of a pool already gone: %v", err)
	}
}

func TestUpgradeTagsKubeconfig(t *testing.T) {
	p, f := newProvider(t)
	_, ref := deployed(t, p, aksSpec("web", "rg-web"))
	var reports []string
	c := call("op-upgrade", "upgrade", &reports)
	if err := p.UpgradeControlPlane(t.Context(), c, ref, "1.32"); err != nil {
		t.Fatal(err)
	}
	if err := p.UpdateTags(t.Context(), c, ref, map[string]string{"env": "prod"}); err != nil {
		t.Fatal(err)
	}
	mc, pools, _ := f.Cluster("rg-web", "web")
	if str(mc.Properties.KubernetesVersion) != "1.32" || str(pools["systempool"].Properties.OrchestratorVersion) != "1.31" {
		t.Fatalf("after the upgrade: control plane %s, system pool %s (node pools upgrade on their own)",
			str(mc.Properties.KubernetesVersion), str(pools["systempool"].Properties.OrchestratorVersion))
	}
	if str(mc.Tags["env"]) != "prod" || str(mc.Tags[azure.TagToken]) != "op-control-plane" || len(mc.Tags) != 3 {
		t.Fatalf("tags %s: want env and the provider's own", js(mc.Tags))
	}
	// Upgrading again to the same minor is a no-op.
	before := count(f.APIs(), "ManagedClustersClient.BeginCreateOrUpdate")
	if err := p.UpgradeControlPlane(t.Context(), c, ref, "1.32"); err != nil || count(f.APIs(), "ManagedClustersClient.BeginCreateOrUpdate") != before {
		t.Fatalf("a repeated upgrade: %v", err)
	}
	kc, err := p.Kubeconfig(t.Context(), c, ref)
	if err != nil || !strings.Contains(kc, f.secret) || !strings.Contains(kc, "server: https://web-k7x2q9.hcp.eastus.azmk8s.io:443") {
		t.Fatalf("kubeconfig %q, %v", kc, err)
	}
	for _, r := range reports {
		if strings.Contains(r, f.secret) || strings.Contains(r, testToken) {
			t.Fatalf("progress report %q holds a secret", r)
		}
	}
	if err := p.UpdateClusterSettings(t.Context(), c, ref, cloud.ClusterSettings{GKE: &cloud.GKESettings{ImageType: "COS"}}); !errors.Is(err, cloud.ErrInvalid) {
		t.Fatalf("settings on AKS: %v", err)
	}

	// A control plane whose create never returned its reference is found by token.
	if err := p.DeleteControlPlane(t.Context(), call("op-control-plane", "delete-control-plane", nil), cloud.ClusterRef{}); err != nil {
		t.Fatal(err)
	}
	if f.ClusterCount() != 0 {
		t.Fatal("the cluster created with the token is still there")
	}
}

// Azure's answers become typed errors a user can act on.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer *armError
		kind   error // a kind of cloud's errors; nil for a transient error
		says   string
		after  time.Duration
	}{
		{"not found", &armError{Status: 404, Code: "ResourceNotFound", Message: "gone"}, cloud.ErrNotFound, "gone", 0},
		{"throttled", &armError{Status: 429, Code: "TooManyRequests", Message: "slow down", RetryAfter: 17 * time.Second}, cloud.ErrThrottled, "slow down", 17 * time.Second},
		{"quota", &armError{Status: 400, Code: "QuotaExceeded", Message: "exceeding approved Total Regional Cores quota"}, cloud.ErrQuotaExceeded, "ask for more quota", 0},
		{"quota in OperationNotAllowed", &armError{Status: 409, Code: "OperationNotAllowed", Message: "Provisioning of resource(s) would exceed the quota"}, cloud.ErrQuotaExceeded, "Quotas", 0},
		{"subnet too small", &armError{Status: 400, Code: "InsufficientSubnetSize", Message: "subnet too small"}, cloud.ErrQuotaExceeded, "larger subnet", 0},
		{"permission", &armError{Status: 403, Code: "AuthorizationFailed", Message: "no authorization to perform action"}, cloud.ErrInvalid, "Contributor", 0},
		{"bad request", &armError{Status: 400, Code: "InvalidParameter", Message: "The value of parameter orchestratorVersion is invalid."}, cloud.ErrInvalid, "orchestratorVersion", 0},
		{"failed operation", &armError{Status: 400, Code: "ResourceDeploymentFailure", Message: "terminal provisioning state 'Failed'"}, cloud.ErrFailed, "Failed", 0},
		{"another operation in progress", &armError{Status: 409, Code: "OperationNotAllowed", Message: "Operation is not allowed because there's an in progress update managed cluster operation"}, nil, "in progress", 0},
		{"conflict", &armError{Status: 409, Code: "Conflict", Message: "try later"}, nil, "try later", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, f := newProvider(t)
			f.Inject("ResourceGroupsClient.", tc.answer, 0)
			_, err := p.CreateNetwork(t.Context(), call("op", "network", nil), aksSpec("web", "rg-web"))
			if err == nil || !errors.Is(cloud.KindOf(err), tc.kind) || (tc.kind == nil) != (cloud.KindOf(err) == nil) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("%v (kind %v), want kind %v saying %q", err, cloud.KindOf(err), tc.kind, tc.says)
			}
			if d, _ := cloud.RetryAfter(err); d != tc.after {
				t.Errorf("retry after %s, want %s", d, tc.after)
			}
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != tc.answer.Status {
				t.Errorf("the SDK's error is not wrapped: %v", err)
			}
			want := 1
			if errors.Is(tc.kind, cloud.ErrNotFound) {
				want = 2 // a group not found is created: its create is refused too
			}
			if n := len(f.Requests()); n != want {
				t.Errorf("%d requests: the SDK retried an answer it should hand back", n)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	s := session()
	s.Credentials = cloud.Credentials{}
	if _, err := azure.New(s, azure.Options{}); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), azure.CredAccessToken) {
		t.Fatalf("no credentials: %v", err)
	}
	s.Credentials.Values = map[string]string{azure.CredAccessToken: "t", azure.CredExpiresOn: "tomorrow"}
	if _, err := azure.New(s, azure.Options{}); !errors.Is(err, cloud.ErrInvalid) {
		t.Fatalf("bad expiresOn: %v", err)
	}
	// An expired token never reaches Azure.
	f := newFakeARM(testSub)
	s.Credentials.Values = map[string]string{azure.CredAccessToken: testToken, azure.CredExpiresOn: time.Now().Add(-time.Minute).Format(time.RFC3339)}
	p, err := azure.New(s, azure.Options{Transport: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateNetwork(t.Context(), call("op", "network", nil), aksSpec("web", "rg-web")); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired token: %v", err)
	}
	if len(f.Requests()) != 0 {
		t.Fatal("a request went out with an expired token")
	}
}

// A service principal signs in with Microsoft Entra ID (through the same transport)
// and calls Azure with the token it was given; a wrong secret is ErrInvalid saying
// what to check, without the secret.
func TestServicePrincipal(t *testing.T) {
	f := newFakeARM(testSub)
	s := session()
	s.Credentials = cloud.Credentials{Values: map[string]string{azure.CredTenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47",
		azure.CredClientID: spClientID, azure.CredClientSecret: spClientSecret}}
	p, err := azure.New(s, azure.Options{Transport: f})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateNetwork(t.Context(), call("op", "network", nil), aksSpec("web", "rg-web")); err != nil {
		t.Fatal(err)
	}
	if r := f.Requests(); len(r) == 0 || r[0].Auth != "Bearer "+spToken {
		t.Fatalf("requests %v: want the token Entra ID issued", r)
	}

	s.Credentials.Values[azure.CredClientSecret] = "wrong-secret-value"
	p, err = azure.New(s, azure.Options{Transport: f})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.CreateNetwork(t.Context(), call("op", "network", nil), aksSpec("web", "rg-web"))
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "check the tenant ID, client ID and secret") || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatalf("wrong secret: %v", err)
	}
}

// A retried call finds its first attempt's operation still running: it waits for it
// to end instead of starting a second one, which AKS would refuse (409).
func TestRetriesWaitForRunningOperations(t *testing.T) {
	p, f := newProvider(t)
	_, ref := deployed(t, p, aksSpec("web", "rg-web"))
	c := call("op-upgrade", "upgrade", nil)
	if err := p.UpgradeControlPlane(t.Context(), c, ref, "1.32"); err != nil {
		t.Fatal(err)
	}
	f.Busy("rg-web", "web", "", "Upgrading", 3)
	before := count(f.APIs(), "ManagedClustersClient.BeginCreateOrUpdate")
	var reports []string
	if err := p.UpgradeControlPlane(t.Context(), call("op-upgrade", "upgrade", &reports), ref, "1.32"); err != nil {
		t.Fatal(err)
	}
	if n := count(f.APIs(), "ManagedClustersClient.BeginCreateOrUpdate") - before; n != 0 || count(f.APIs(), "ManagedClustersClient.Get") < 7 {
		t.Fatalf("a retried upgrade sent %d PUTs while the first ran (calls %v)", n, f.APIs())
	}
	if !strings.Contains(strings.Join(reports, "\n"), "Upgrading, waiting") {
		t.Errorf("progress %q does not say it waits", reports)
	}

	ng := aksSpec("web", "rg-web").NodeGroups[0]
	f.Busy("rg-web", "web", ng.Name, "Scaling", 2)
	ng.MaxNode = 6
	if err := p.UpdateNodeGroup(t.Context(), call("op-scale", "scale", nil), ref, ng, false, 0); err != nil {
		t.Fatal(err)
	}
	_, pools, _ := f.Cluster("rg-web", "web")
	if got := pools[ng.Name].Properties; *got.MaxCount != 6 || count(f.APIs(), "AgentPoolsClient.Get") < 2 {
		t.Fatalf("pool %s after waiting (calls %v)", js(got), f.APIs())
	}
}

// Options.Endpoint points the clients at another Resource Manager (a sovereign cloud,
// a test server).
func TestEndpoint(t *testing.T) {
	f := newFakeARM(testSub)
	p, err := azure.New(session(), azure.Options{Transport: f, Endpoint: "https://management.sovereign.example"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateNetwork(t.Context(), call("op", "network", nil), aksSpec("web", "rg-web")); err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Requests() {
		if r.Host != "management.sovereign.example" {
			t.Fatalf("%s went to %s", r.API, r.Host)
		}
	}
	if f.Requests()[0].Host == "" {
		t.Fatal("no request recorded")
	}
}
