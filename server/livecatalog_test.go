package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/internal/testtemporal"
	"github.com/astropulse/astroplane/server"
	"github.com/astropulse/astroplane/server/httpx"
	"github.com/astropulse/astroplane/server/livecatalog"
	"github.com/astropulse/astroplane/store"
	"github.com/astropulse/astroplane/workflows"
)

// startsCounted is a Temporal client that counts the workflows started through it.
type startsCounted struct {
	client.Client
	n *atomic.Int32
}

func (c startsCounted) ExecuteWorkflow(ctx context.Context, o client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	c.n.Add(1)
	return c.Client.ExecuteWorkflow(ctx, o, wf, args...)
}

// regionLive is a connected AWS account's catalog as the test's worker sees it:
// us-east-1 offers t3.medium and m9i.48xlarge (real, say, but not in the built-in
// catalog) and not p5.48xlarge; eu-central-1 refuses (AccessDenied); eu-west-1
// answers too late; ap-south-1 cannot be asked at all. Versions are never
// answered (as moto).
type regionLive struct{ region string }

func (r regionLive) MachineTypes(ctx context.Context, region string) ([]catalog.MachineTypeInfo, error) {
	switch region {
	case "ap-south-1":
		return nil, fmt.Errorf("DescribeInstanceTypeOfferings: %w", catalog.ErrLiveUnavailable)
	case "eu-central-1":
		return nil, errors.New("UnauthorizedOperation: not authorized to perform ec2:DescribeInstanceTypeOfferings")
	case "eu-west-1":
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
		}
		return nil, ctx.Err()
	}
	return []catalog.MachineTypeInfo{
		{Name: "t3.medium", CPUMillicores: 2000, MemoryMiB: 4096, Category: catalog.CategoryGeneralPurpose, Architecture: catalog.ArchX8664},
		{Name: "m9i.48xlarge", CPUMillicores: 192000, MemoryMiB: 786432, Category: catalog.CategoryGeneralPurpose, Architecture: catalog.ArchX8664},
	}, nil
}

// Zones: us-east-1 has three zones (not us-east-1f, which the built-in catalog
// lists); us-west-9 does not exist; eu-central-1 refuses; ap-south-1 cannot say.
func (r regionLive) Zones(_ context.Context, region string) ([]string, error) {
	switch region {
	case "us-west-9":
		return nil, fmt.Errorf("DescribeRegions does not list us-west-9: %w", catalog.ErrUnknownRegion)
	case "ap-south-1":
		return nil, fmt.Errorf("DescribeAvailabilityZones: %w", catalog.ErrLiveUnavailable)
	case "eu-central-1":
		return nil, errors.New("UnauthorizedOperation: not authorized to perform ec2:DescribeAvailabilityZones")
	}
	return []string{region + "a", region + "b", region + "c"}, nil
}

func (regionLive) KubernetesVersions(context.Context) ([]catalog.Version, error) {
	return nil, fmt.Errorf("DescribeClusterVersions: %w", catalog.ErrLiveUnavailable)
}

// A deploy of an organization with a connected AWS account is checked against the
// account's live catalog, through the worker's LookupCatalog: a type the built-in
// catalog lacks but the account offers passes without a warning; one the account
// does not offer in the region is a 400 naming the field; a look-up that fails or
// does not answer in time falls back to the built-in catalog with a warning. An
// organization without a connection gets the built-in catalog's warning, and its
// deploys make no look-up at all (no workflow; one store query per half minute).
// The machine-type listing answers from the live catalog too, and says so.
func TestDeployChecksTheLiveCatalog(t *testing.T) {
	dev := testtemporal.Start(t)
	tc := dev.Client()
	var st *store.Store
	var queries, lookups atomic.Int32
	live := livecatalog.New(func(ctx context.Context, orgID string) ([]store.ConnectedAccountRef, error) {
		queries.Add(1)
		return st.ConnectedAccounts(ctx, orgID)
	}, startsCounted{Client: tc, n: &lookups}, workflows.TaskQueue)
	live.Wait = time.Second
	e := newEnvWith(t, tc, server.Options{LiveCatalog: live})
	st = e.store
	w := worker.New(tc, workflows.TaskQueue, worker.Options{})
	workflows.Register(w, workflows.Dependencies{
		Cluster:  &activities.Cluster{Store: st, Clouds: sim.Registry(sim.New(0)), PollInterval: 20 * time.Millisecond},
		Notifier: &activities.Notifier{Store: st},
		Catalog: &activities.Catalog{Live: map[string]activities.LiveFactory{
			"aws": func(_ context.Context, _ cloud.AccountRef, _ cloud.Credentials, region string) (catalog.Live, error) {
				return regionLive{region: region}, nil
			}}},
	})
	must(t, w.Start())
	t.Cleanup(w.Stop)

	const mt0 = "spec.clusterSpec.dataPlane.nodeGroups.0.machineTypes.0"
	manifest := func(name, region, machineType string) map[string]any {
		m := eksManifest(name)
		spec := m["spec"].(map[string]any)
		spec["region"] = region
		spec["clusterSpec"].(map[string]any)["dataPlane"].(map[string]any)["nodeGroups"].([]any)[0].(map[string]any)["machineTypes"] = []any{machineType}
		return m
	}
	warningsOf := func(a answer) string {
		t.Helper()
		v := e.data(a)
		ws, _ := v["warnings"].([]any)
		var out []string
		for _, w := range ws {
			out = append(out, fmt.Sprint(w))
		}
		return strings.Join(out, "\n")
	}

	// Without a connection: the built-in catalog's warning; no look-up workflow,
	// and one store query for three requests.
	a := e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", e.key, manifest("plain", "us-east-1", "m9i.48xlarge"))
	if a.Status != http.StatusOK || !strings.Contains(warningsOf(a), mt0+": ") {
		t.Fatalf("unconnected dry run of m9i.48xlarge: %d %s", a.Status, a.Body)
	}
	for _, name := range []string{"plain-1", "plain-2"} {
		if a := e.do(http.MethodPost, "/api/v1/clusters", e.key, manifest(name, "us-east-1", "m9i.48xlarge")); a.Status != http.StatusAccepted ||
			!strings.Contains(a.Envelope(t).Message, mt0) {
			t.Fatalf("unconnected deploy: %d %s", a.Status, a.Body)
		}
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("an organization without a connection started %d look-ups", n)
	}
	if n := queries.Load(); n != 1 {
		t.Errorf("three requests of an organization without a connection made %d connection queries, want 1 (then cached)", n)
	}

	// Connected: the account's own catalog decides.
	orgID, _, key := e.newOrg("globex", store.RoleAdmin)
	now := time.Now().UTC()
	must(t, st.CreateCloudConnection(context.Background(), &store.CloudConnection{ID: "globex.c.connect-aws.1", OrgID: orgID, Provider: "aws",
		ClusterName: "c", Level: "read", Status: store.ConnectionConnected, AccountID: "123456789012", ConnectedAt: &now, EndedAt: &now}))

	a = e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", key, manifest("live", "us-east-1", "m9i.48xlarge"))
	if a.Status != http.StatusOK || e.data(a)["validationPassed"] != true {
		t.Fatalf("connected dry run of an offered type: %d %s", a.Status, a.Body)
	}
	if w := warningsOf(a); strings.Contains(w, mt0) {
		t.Errorf("an offered type is still warned about: %s", w)
	}
	if msg := a.Envelope(t).Message; !strings.Contains(msg, "live catalog of aws account 123456789012") {
		t.Errorf("the dry run does not say the live catalog decided: %q", msg)
	}

	for _, dry := range []string{"?dryRun=true", ""} {
		a = e.do(http.MethodPost, "/api/v1/clusters"+dry, key, manifest("gpu", "us-east-1", "p5.48xlarge"))
		if a.Status != http.StatusBadRequest {
			t.Fatalf("deploy%s of a type the account does not offer: %d %s", dry, a.Status, a.Body)
		}
		if msg := fmt.Sprint(a.Error(t).Details[mt0]); !strings.Contains(msg, "not offered in us-east-1") {
			t.Errorf("deploy%s: fault of %s is %q; details %v", dry, mt0, msg, a.Error(t).Details)
		}
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("%d look-ups for three requests in one region, want 1 (then the API's cache)", n)
	}

	// An update of a cluster of the connected account is checked against its region.
	if a := e.do(http.MethodPost, "/api/v1/clusters", key, manifest("grow", "us-east-1", "t3.medium")); a.Status != http.StatusAccepted {
		t.Fatalf("deploy grow: %d %s", a.Status, a.Body)
	}
	waitFor(t, 30*time.Second, func() (string, bool) {
		a := e.do(http.MethodGet, "/api/v1/clusters/grow", key, nil)
		return string(a.Body), a.Status == http.StatusOK && e.data(a)["status"] == "READY"
	})
	update := func(machineType string, dryRun bool) answer {
		return e.do(http.MethodPut, "/api/v1/clusters/grow", key, map[string]any{"apiVersion": "platform.astropulse.io/v1", "kind": "K8sClusterUpdate",
			"spec": map[string]any{"nodeGroups": []any{map[string]any{"name": "default-pool", "machineTypes": []any{machineType}}},
				"updateConfig": map[string]any{"dryRun": dryRun}}})
	}
	if a := update("p5.48xlarge", false); a.Status != http.StatusBadRequest ||
		!strings.Contains(fmt.Sprint(a.Error(t).Details["spec.nodeGroups.0.machineTypes.0"]), "not offered in us-east-1") {
		t.Errorf("update to a type the account does not offer: %d %s", a.Status, a.Body)
	}
	if a := update("m9i.48xlarge", true); a.Status != http.StatusOK || !strings.Contains(string(a.Body), "live catalog of aws account 123456789012") ||
		strings.Contains(string(a.Body), "spec.nodeGroups.0.machineTypes.0") {
		t.Errorf("dry-run update to an offered type: %d %s", a.Status, a.Body)
	}

	// The account refuses the look-up, or the worker does not answer in time: the
	// built-in catalog decides, with a warning saying so.
	for _, region := range []string{"eu-central-1", "eu-west-1"} {
		start := time.Now()
		a = e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", key, manifest("fallback", region, "m9i.48xlarge"))
		if a.Status != http.StatusOK || e.data(a)["validationPassed"] != true {
			t.Fatalf("%s: a failed look-up refused the deploy: %d %s", region, a.Status, a.Body)
		}
		w := warningsOf(a)
		if !strings.Contains(w, "spec.region: the live catalog of connected aws account 123456789012") || !strings.Contains(w, mt0+": ") {
			t.Errorf("%s: warnings %s; want the fallback said and the built-in catalog's warning", region, w)
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("%s: the dry run took %s; the look-up is awaited %s", region, d, live.Wait)
		}
	}

	// A failure for a passing reason is asked again; "cannot answer at all" is kept.
	for _, tc := range []struct {
		region string
		asks   int32
	}{{"eu-central-1", 2}, {"ap-south-1", 1}} {
		before := lookups.Load()
		for range 2 {
			a = e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", key, manifest("again", tc.region, "m9i.48xlarge"))
			if a.Status != http.StatusOK || !strings.Contains(warningsOf(a), "spec.region: the live catalog of connected aws account") {
				t.Fatalf("%s: %d %s", tc.region, a.Status, a.Body)
			}
		}
		if n := lookups.Load() - before; n != tc.asks {
			t.Errorf("%s: two dry runs made %d look-ups, want %d", tc.region, n, tc.asks)
		}
	}

	// Zones and regions: the account's zones of the region decide an EKS subnet's
	// zone (a real one passes, one it does not list is a 400 naming the field);
	// a region it says does not exist is a 400 naming spec.region; a look-up that
	// fails falls back to the built-in catalog with a warning.
	withSubnets := func(name, region string, zones ...string) map[string]any {
		m := manifest(name, region, "t3.medium")
		eks := m["spec"].(map[string]any)["provisioner"].(map[string]any)["eks"].(map[string]any)
		subnets := map[string]any{}
		for i, z := range zones {
			subnets[z] = []any{map[string]any{"id": fmt.Sprintf("subnet-0123456789abcdef%d", i), "type": "private"}}
		}
		eks["vpcId"], eks["vpcCIDR"], eks["subnets"] = "vpc-0a1b2c3d4e5f67890", "10.0.0.0/16", subnets
		return m
	}
	const subnets = "spec.provisioner.eks.subnets."
	a = e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", key, withSubnets("zones", "us-east-1", "us-east-1a", "us-east-1b"))
	if a.Status != http.StatusOK || e.data(a)["validationPassed"] != true || strings.Contains(warningsOf(a), subnets) {
		t.Errorf("subnets in the account's zones: %d %s", a.Status, a.Body)
	}
	for _, dry := range []string{"?dryRun=true", ""} {
		a = e.do(http.MethodPost, "/api/v1/clusters"+dry, key, withSubnets("zones", "us-east-1", "us-east-1a", "us-east-1f"))
		if a.Status != http.StatusBadRequest || a.Error(t).Code != httpx.CodeValidationFailed ||
			!strings.Contains(fmt.Sprint(a.Error(t).Details[subnets+"us-east-1f"]), "not an availability zone of us-east-1: the connected aws account's catalog lists us-east-1a, us-east-1b, us-east-1c") {
			t.Errorf("deploy%s with a zone the account does not list: %d %s", dry, a.Status, a.Body)
		}
		a = e.do(http.MethodPost, "/api/v1/clusters"+dry, key, manifest("nowhere", "us-west-9", "t3.medium"))
		if a.Status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(a.Error(t).Details["spec.region"]), `"us-west-9" is not a region of aws: the connected aws account's catalog says so`) {
			t.Errorf("deploy%s in a region the account does not know: %d %s", dry, a.Status, a.Body)
		}
	}
	// The unconnected organization: us-west-9 has the shape of a region, a warning.
	if a := e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", e.key, manifest("nowhere", "us-west-9", "t3.medium")); a.Status != http.StatusOK ||
		!strings.Contains(warningsOf(a), "spec.region: ") {
		t.Errorf("unconnected dry run in us-west-9: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodPost, "/api/v1/clusters?dryRun=true", key, withSubnets("zones", "eu-central-1", "eu-central-1a", "eu-central-1x"))
	if w := warningsOf(a); a.Status != http.StatusOK || !strings.Contains(w, subnets+"eu-central-1x: ") ||
		!strings.Contains(w, "spec.region: the live catalog of connected aws account 123456789012") {
		t.Errorf("zones that cannot be looked up: %d %s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/providers/aws/regions/us-east-1/zones", key, nil)
	if a.Status != http.StatusOK || !strings.Contains(a.Envelope(t).Message, "3 zones (from the live catalog of aws account 123456789012)") {
		t.Errorf("connected zone listing: %d %.300s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/providers/aws/regions/us-west-9/zones", key, nil); a.Status != http.StatusNotFound {
		t.Errorf("zones of a region the account does not know: %d %.300s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/providers/aws/regions/eu-central-1/zones", key, nil); a.Status != http.StatusOK ||
		!strings.Contains(a.Envelope(t).Message, "(from the built-in catalog: the live catalog could not answer: UnauthorizedOperation") {
		t.Errorf("zones that cannot be looked up: %d %.300s", a.Status, a.Body)
	}
	if a := e.do(http.MethodGet, "/api/v1/providers/aws/regions/us-east-1/zones", e.key, nil); a.Status != http.StatusOK ||
		a.Envelope(t).Message != "6 zones" {
		t.Errorf("unconnected zone listing: %d %.300s", a.Status, a.Body)
	}

	// The listing answers from the live catalog and says so; the unconnected
	// organization's from the built-in one.
	a = e.do(http.MethodGet, "/api/v1/providers/aws/regions/us-east-1/zones/us-east-1a/machine-types", key, nil)
	if a.Status != http.StatusOK || !strings.Contains(a.Envelope(t).Message, "2 machine types (from the live catalog of aws account 123456789012)") {
		t.Fatalf("connected listing: %d %.300s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/providers/aws/regions/us-east-1/machine-types/p5.48xlarge", key, nil)
	if a.Status != http.StatusNotFound {
		t.Errorf("a type the account does not offer: %d %.300s", a.Status, a.Body)
	}
	// Versions the account cannot list (as moto): the built-in catalog's, said so.
	a = e.do(http.MethodGet, "/api/v1/cloud/kubernetes-versions?cloudProvider=aws&provisionerType=eks&region=us-east-1", key, nil)
	if a.Status != http.StatusOK || !strings.Contains(a.Envelope(t).Message, "(from the built-in catalog: the live catalog could not answer") {
		t.Errorf("connected version listing: %d %.300s", a.Status, a.Body)
	}
	a = e.do(http.MethodGet, "/api/v1/providers/aws/regions/us-east-1/zones/us-east-1a/machine-types", e.key, nil)
	if a.Status != http.StatusOK || strings.Contains(a.Envelope(t).Message, "live") {
		t.Fatalf("unconnected listing: %d %.300s", a.Status, a.Body)
	}
	// One look-up that answered, for the replay tests (make record-histories).
	resp, err := tc.ListWorkflow(t.Context(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: "WorkflowType = 'LookupCatalog' AND ExecutionStatus = 'Completed'", PageSize: 1})
	must(t, err)
	if len(resp.Executions) == 1 {
		recordHistory(t, tc, resp.Executions[0].GetExecution().GetWorkflowId(), "lookup-catalog")
	}
}
