package gcp_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	container "google.golang.org/api/container/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/gcp"
	"github.com/astropulse/astroplane/cloud/gcp/gkefake"
)

// newProvider is the provider (without the registry) on a new fake.
func newProvider(t *testing.T, opts gcp.Options) (*gcp.Provider, *gkefake.Server) {
	t.Helper()
	fake, url := startFake(t)
	opts.Endpoint, opts.PollInterval = url, time.Millisecond
	p, err := gcp.New(t.Context(), &cloud.Session{Account: account,
		Credentials: cloud.Credentials{Values: map[string]string{gcp.AccessTokenKey: apiToken}, Expires: time.Now().Add(time.Hour)}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p, fake
}

func call(token string, reports *[]string) cloud.Call {
	c := cloud.Call{Token: token, Account: account}
	if reports != nil {
		c.Progress = func(d string) { *reports = append(*reports, d) }
	}
	return c
}

func TestFactoryNeedsAnAccessToken(t *testing.T) {
	_, err := gcp.Factory(gcp.Options{Endpoint: "http://127.0.0.1:1"})(t.Context(), &cloud.Session{Account: account})
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), gcp.AccessTokenKey) {
		t.Fatalf("factory without a token: %v, want ErrInvalid naming %s", err, gcp.AccessTokenKey)
	}
}

// TestErrorsAreTyped answers a call with each of Google's errors, in GKE's shape and
// in Compute's, and checks the provider's typed error: kind, retry delay and what
// the message tells the user to do.
func TestErrorsAreTyped(t *testing.T) {
	busy := &gkefake.Error{Code: 400, Status: "FAILED_PRECONDITION", Message: "Cluster is running incompatible operation operation-1."}
	conflict := &gkefake.Error{Code: 409, Status: "ABORTED", Message: "Concurrent update."}
	for _, tc := range []struct {
		name    string
		method  string
		err     *gkefake.Error
		kind    error // nil: transient
		retry   time.Duration
		message string
	}{
		{"gke not found", "clusters.get", gkefake.NotFound("Not found: cluster."), cloud.ErrNotFound, 0, "Not found"},
		{"gke throttled", "clusters.get", gkefake.Throttled(7 * time.Second), cloud.ErrThrottled, 7 * time.Second, "slow down"},
		{"gke quota", "clusters.get", gkefake.QuotaExceeded("CPUS"), cloud.ErrQuotaExceeded, 0, "raise the quota"},
		{"gke permission", "clusters.get", gkefake.PermissionDenied("Required 'container.clusters.get' permission."), cloud.ErrInvalid, 0, "roles/container.admin"},
		{"gke invalid", "clusters.get", gkefake.InvalidArgument("Invalid value."), cloud.ErrInvalid, 0, "Invalid value."},
		{"gke busy", "clusters.get", busy, nil, 0, "incompatible operation"},
		{"gke aborted", "clusters.get", conflict, nil, 0, "Concurrent update"},
		{"gke internal", "clusters.get", gkefake.Internal("Internal error."), nil, 0, "Internal error"},
		{"compute quota", "networks.get", gkefake.QuotaExceeded("NETWORKS"), cloud.ErrQuotaExceeded, 0, "raise the quota"},
		{"compute throttled", "networks.get", gkefake.Throttled(3 * time.Second), cloud.ErrThrottled, 3 * time.Second, "slow down"},
		{"compute permission", "networks.get", gkefake.PermissionDenied("Required 'compute.networks.get' permission."), cloud.ErrInvalid, 0, "roles/compute.networkAdmin"},
		{"compute in use", "networks.get", &gkefake.Error{Code: 400, Reason: "resourceInUseByAnotherResource", Message: "in use"}, nil, 0, "in use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, fake := newProvider(t, gcp.Options{})
			fake.AddCluster(parent, "c", "1.31")
			fake.Inject(gkefake.Fault{Method: tc.method, Err: tc.err})
			var err error
			if strings.HasPrefix(tc.method, "networks") {
				err = p.DeleteNetwork(t.Context(), call("t", nil), cloud.NetworkRef{ID: "projects/" + project + "/global/networks/n"})
			} else {
				_, err = p.ControlPlaneStatus(t.Context(), call("t", nil), cloud.ClusterRef{ExternalID: parent + "/clusters/c"})
			}
			if kind := cloud.KindOf(err); err == nil || (tc.kind == nil) != (kind == nil) || tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Fatalf("error %v of kind %v, want kind %v", err, kind, tc.kind)
			}
			if d, _ := cloud.RetryAfter(err); d != tc.retry {
				t.Errorf("retry after %s, want %s", d, tc.retry)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
		})
	}
	t.Run("a refused token", func(t *testing.T) {
		p, fake := newProvider(t, gcp.Options{})
		fake.Token = "another"
		_, err := p.ControlPlaneStatus(t.Context(), call("t", nil), cloud.ClusterRef{ExternalID: parent + "/clusters/c"})
		if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), apiToken) {
			t.Fatalf("error %v, want ErrInvalid about the credentials, without the token", err)
		}
	})
}

func TestCreateControlPlaneAsksForTheSpec(t *testing.T) {
	p, fake := newProvider(t, gcp.Options{})
	spec := gkeSpec("private")
	spec.GKE.ReleaseChannel, spec.GKE.KubernetesVersion = "RAPID", "1.32.1-gke.100"
	spec.GKE.MasterIPv4CIDRBlock, spec.GKE.AuthorizedNetworks = "172.16.0.32/28", []string{"203.0.113.0/24"}
	spec.GKE.NetworkID, spec.GKE.Subnet = "shared-vpc", &cloud.GKESubnet{Name: "nodes", PodsRange: "pods", ServicesRange: "svcs"}
	spec.GKE.MaintenanceWindow = &cloud.MaintenanceWindow{StartTime: "02:30"}
	spec.NodeGroups[0].Taints = []cloud.Taint{{Key: "dedicated", Value: "infra", Effect: "NoExecute"}}
	spec.NodeGroups[0].MinNode, spec.NodeGroups[0].MaxNode = 6, 6
	fake.AddNetwork(project, "shared-vpc")

	net, err := p.CreateNetwork(t.Context(), call("deploy-network", nil), spec)
	if err != nil || net.ID != "shared-vpc" || len(fake.Calls("networks.insert")) != 0 {
		t.Fatalf("network %+v (%v), inserts %d: the spec's own network is used as it is", net, err, len(fake.Calls("networks.insert")))
	}
	ref, err := p.CreateControlPlane(t.Context(), call("deploy-control-plane", nil), spec, net)
	if err != nil {
		t.Fatal(err)
	}
	if ref.ExternalID != parent+"/clusters/private" || !strings.HasPrefix(ref.Endpoint, "https://") || ref.CreatedAt.IsZero() {
		t.Errorf("ref %+v", ref)
	}
	cl := body[container.CreateClusterRequest](t, fake, "clusters.create", 0).Cluster
	np := cl.NodePools[0]
	if cl.ReleaseChannel.Channel != "RAPID" || cl.InitialClusterVersion != "1.32.1-gke.100" || cl.Network != "shared-vpc" || cl.Subnetwork != "nodes" ||
		cl.IpAllocationPolicy.ClusterSecondaryRangeName != "pods" || cl.IpAllocationPolicy.ServicesSecondaryRangeName != "svcs" ||
		!cl.PrivateClusterConfig.EnablePrivateNodes || cl.PrivateClusterConfig.MasterIpv4CidrBlock != "172.16.0.32/28" ||
		!cl.MasterAuthorizedNetworksConfig.Enabled || cl.MasterAuthorizedNetworksConfig.CidrBlocks[0].CidrBlock != "203.0.113.0/24" ||
		cl.MaintenancePolicy.Window.DailyMaintenanceWindow.StartTime != "02:30" ||
		np.Autoscaling.Enabled || np.InitialNodeCount != 2 || np.Config.Taints[0].Effect != "NO_EXECUTE" {
		t.Fatalf("clusters.create asked for %s", js(cl))
	}

	// Another operation creating a cluster of that name is refused.
	if _, err := p.CreateControlPlane(t.Context(), call("other-deploy", nil), spec, net); !errors.Is(err, cloud.ErrAlreadyExists) {
		t.Errorf("create by another token: %v, want ErrAlreadyExists", err)
	}
	// The spec's own network is never deleted.
	if err := p.DeleteNetwork(t.Context(), call("deploy-network", nil), net); err != nil || len(fake.Calls("networks.delete")) != 0 {
		t.Errorf("delete of the spec's network: %v, deletes %d", err, len(fake.Calls("networks.delete")))
	}
	// A network the spec names that does not exist is the spec's mistake.
	spec.GKE.NetworkID = "missing"
	if _, err := p.CreateNetwork(t.Context(), call("deploy-network", nil), spec); !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing network: %v", err)
	}
}

func TestAutopilotHasNoNodePools(t *testing.T) {
	p, fake := newProvider(t, gcp.Options{})
	spec := gkeSpec("auto")
	spec.Autopilot, spec.NodeGroups, spec.GKE.EnableWorkloadIdentity = true, nil, false
	ref, err := p.CreateControlPlane(t.Context(), call("cp", nil), spec, cloud.NetworkRef{})
	if err != nil {
		t.Fatal(err)
	}
	cl := body[container.CreateClusterRequest](t, fake, "clusters.create", 0).Cluster
	if !cl.Autopilot.Enabled || len(cl.NodePools) != 0 || cl.WorkloadIdentityConfig.WorkloadPool != project+".svc.id.goog" {
		t.Fatalf("clusters.create asked for %s", js(cl))
	}
	err = p.CreateNodeGroup(t.Context(), call("ng", nil), ref, gkeSpec("x").NodeGroups[0])
	if !errors.Is(err, cloud.ErrInvalid) || !strings.Contains(err.Error(), "Autopilot") {
		t.Errorf("node group on Autopilot: %v", err)
	}
	spec.Autopilot = false
	if _, err := p.CreateControlPlane(t.Context(), call("cp2", nil), spec, cloud.NetworkRef{}); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("a Standard cluster without node groups: %v, want ErrInvalid", err)
	}
}

// TestChangesWaitForTheClusterToBeIdle: GKE refuses a change while another runs; a
// change made while one does waits for it instead.
func TestChangesWaitForTheClusterToBeIdle(t *testing.T) {
	p, fake := newProvider(t, gcp.Options{})
	fake.PollsToDone = 5
	ref, err := p.CreateControlPlane(t.Context(), call("cp", nil), gkeSpec("busy"), cloud.NetworkRef{})
	if err != nil {
		t.Fatal(err)
	}
	// The create's operation runs; labels now would be refused without the wait.
	var reports []string
	if err := p.UpdateTags(t.Context(), call("tags", &reports), ref, map[string]string{"team": "a"}); err != nil {
		t.Fatalf("tags while the create runs: %v", err)
	}
	if !strings.Contains(strings.Join(reports, "\n"), "waiting for the cluster's running operation") {
		t.Errorf("reports %q do not say it waited", reports)
	}
	cl, _ := fake.Cluster(ref.ExternalID)
	if cl.ResourceLabels["team"] != "a" || cl.ResourceLabels[gcp.LabelToken] == "" || cl.Status != "RUNNING" {
		t.Errorf("cluster %s", js(cl))
	}
	// Tags already set send nothing.
	n := len(fake.Calls("clusters.setResourceLabels"))
	if err := p.UpdateTags(t.Context(), call("tags", nil), ref, map[string]string{"team": "a"}); err != nil || len(fake.Calls("clusters.setResourceLabels")) != n {
		t.Errorf("tags again: %v, %d calls", err, len(fake.Calls("clusters.setResourceLabels"))-n)
	}
}

func TestUpgradesOneMinorAtATime(t *testing.T) {
	p, fake := newProvider(t, gcp.Options{})
	fake.AddCluster(parent, "c", "1.30")
	ref := cloud.ClusterRef{ExternalID: parent + "/clusters/c"}
	if err := p.UpgradeControlPlane(t.Context(), call("u", nil), ref, "1.32"); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("two minors at once: %v, want ErrInvalid", err)
	}
	if err := p.UpgradeControlPlane(t.Context(), call("u", nil), ref, "1.31"); err != nil {
		t.Fatal(err)
	}
	if err := p.UpgradeControlPlane(t.Context(), call("u", nil), ref, "1.31"); err != nil || len(fake.Calls("clusters.update")) != 1 {
		t.Errorf("the same hop again: %v, %d updates, want 1", err, len(fake.Calls("clusters.update")))
	}
	if cl, _ := fake.Cluster(ref.ExternalID); !strings.HasPrefix(cl.CurrentMasterVersion, "1.31.") {
		t.Errorf("control plane at %s", cl.CurrentMasterVersion)
	}
}

func TestNodePoolChanges(t *testing.T) {
	p, fake := newProvider(t, gcp.Options{})
	spec := gkeSpec("np")
	ref, err := p.CreateControlPlane(t.Context(), call("cp", nil), spec, cloud.NetworkRef{})
	if err != nil {
		t.Fatal(err)
	}
	ng := spec.NodeGroups[0]
	if err := p.CreateNodeGroup(t.Context(), call("ng", nil), ref, ng); err != nil || len(fake.Calls("nodePools.create")) != 0 {
		t.Fatalf("the first node group (made with the cluster): %v, creates %d", err, len(fake.Calls("nodePools.create")))
	}
	// Image type and taints; a spot switch is refused.
	ng.ImageType, ng.Taints = "UBUNTU_CONTAINERD", []cloud.Taint{{Key: "k", Value: "v", Effect: "PreferNoSchedule"}}
	if err := p.UpdateNodeGroup(t.Context(), call("u1", nil), ref, ng, true, 2); err != nil {
		t.Fatal(err)
	}
	cl, _ := fake.Cluster(ref.ExternalID)
	if c := cl.NodePools[0].Config; c.ImageType != "UBUNTU_CONTAINERD" || len(c.Taints) != 1 || c.Taints[0].Effect != "PREFER_NO_SCHEDULE" {
		t.Errorf("pool after update %s", js(cl.NodePools[0]))
	}
	spot := ng
	spot.InstanceType = cloud.InstanceSpot
	if err := p.UpdateNodeGroup(t.Context(), call("u2", nil), ref, spot, false, 0); !errors.Is(err, cloud.ErrInvalid) {
		t.Errorf("spot switch: %v, want ErrInvalid", err)
	}
	// A pool vanishing while its delete runs is deleted.
	fake.Inject(gkefake.Fault{Method: "nodePools.delete", InOperation: true, Err: gkefake.NotFound("Not found: node pool.")})
	var reports []string
	if err := p.DeleteNodeGroup(t.Context(), call("d", &reports), ref, ng.Name); err != nil {
		t.Fatalf("delete of a pool that vanished: %v", err)
	}
	if !strings.Contains(strings.Join(reports, "\n"), "vanished") {
		t.Errorf("reports %q", reports)
	}
	if err := p.DeleteNodeGroup(t.Context(), call("d", nil), ref, ng.Name); err != nil {
		t.Errorf("delete of a pool already gone: %v", err)
	}
}

func TestKubeconfig(t *testing.T) {
	for _, token := range []bool{false, true} {
		p, fake := newProvider(t, gcp.Options{KubeconfigToken: token})
		fake.AddCluster(parent, "c", "1.31")
		kc, err := p.Kubeconfig(context.Background(), call("k", nil), cloud.ClusterRef{ExternalID: "c"})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.Load([]byte(kc))
		if err != nil {
			t.Fatalf("kubeconfig does not load: %v", err)
		}
		gke, _ := fake.Cluster(parent + "/clusters/c")
		name := "gke_" + project + "_" + region + "_c"
		ca, _ := base64.StdEncoding.DecodeString(gke.MasterAuth.ClusterCaCertificate)
		if cfg.CurrentContext != name || cfg.Clusters[name].Server != "https://"+gke.Endpoint || string(cfg.Clusters[name].CertificateAuthorityData) != string(ca) {
			t.Fatalf("kubeconfig %s", kc)
		}
		user := cfg.AuthInfos[name]
		if token && user.Token != apiToken || !token && (user.Exec == nil || user.Exec.Command != "gke-gcloud-auth-plugin" || user.Token != "") {
			t.Errorf("token mode %v: user %s", token, js(user))
		}
	}
}

// TestNoSDKDebugLogs: the SDK's debug logging, which logs requests and answers whole,
// stays off even when its variable asks for it.
func TestNoSDKDebugLogs(t *testing.T) {
	t.Setenv("GOOGLE_SDK_GO_LOGGING_LEVEL", "debug")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	p, fake := newProvider(t, gcp.Options{})
	fake.AddCluster(parent, "c", "1.31")
	_, err = p.ControlPlaneStatus(t.Context(), call("t", nil), cloud.ClusterRef{ExternalID: parent + "/clusters/c"})
	os.Stderr = stderr
	_ = w.Close()
	out, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 {
		t.Fatalf("the SDK logged:\n%s", out)
	}
}
