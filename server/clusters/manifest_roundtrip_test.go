package clusters

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"gopkg.in/yaml.v3"

	"github.com/astropulse/astroplane/activities"
	"github.com/astropulse/astroplane/cloud"
	"github.com/astropulse/astroplane/cloud/sim"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/upgrade"
	"github.com/astropulse/astroplane/workflows"
)

// The manifest round trip: every field of every example manifest (and of the
// testdata manifests that together hold every field of manifests.md) reaches the
// provider. A manifest goes through the server's conversion (clusterSpec,
// upgradeRequest and updateSteps), into the workflow's input, through the workflow
// and the activity adapters, to a recording provider; then every leaf of the YAML
// must be found, with its value, where the rules below say the provider receives it.
// A field without a rule fails the test: carry it, or say here why it is not passed.

// toProvider maps a manifest field (its path under spec, "[]" for any index, "*" for
// any map key) to where the provider receives it, in the recorded calls ("$0", "$1"
// are the field's indices in order, "$k" its map key).
var toProvider = map[string]string{
	"clusterName":       "Spec.Name",
	"provider":          "Spec.Provider",
	"region":            "Spec.Region",
	"kubernetesVersion": "Spec.KubernetesVersion",
	"provisioner.type":  "Spec.ProvisionerType",
	"tags.*":            "Spec.Tags.$k",

	"provisioner.eks.accountId":               "Account.AccountID",
	"provisioner.eks.vpcId":                   "Spec.EKS.VPCID",
	"provisioner.eks.vpcCIDR":                 "Spec.EKS.VPCCIDR",
	"provisioner.eks.subnets.*[].type":        "Spec.EKS.Subnets.$k[$0].Type",
	"provisioner.eks.subnets.*[].id":          "Spec.EKS.Subnets.$k[$0].ID",
	"provisioner.eks.amiFamily":               "Spec.EKS.AMIFamily",
	"provisioner.eks.credentials.type":        "Account.CredentialsType",
	"provisioner.gke.projectId":               "Account.AccountID",
	"provisioner.gke.releaseChannel":          "Spec.GKE.ReleaseChannel",
	"provisioner.gke.kubernetesVersion":       "Spec.GKE.KubernetesVersion",
	"provisioner.gke.autopilot":               "Spec.GKE.Autopilot",
	"provisioner.gke.enableWorkloadIdentity":  "Spec.GKE.EnableWorkloadIdentity",
	"provisioner.gke.networkId":               "Spec.GKE.NetworkID",
	"provisioner.gke.subnet.name":             "Spec.GKE.Subnet.Name",
	"provisioner.gke.subnet.podsRange":        "Spec.GKE.Subnet.PodsRange",
	"provisioner.gke.subnet.servicesRange":    "Spec.GKE.Subnet.ServicesRange",
	"provisioner.gke.masterIPv4CidrBlock":     "Spec.GKE.MasterIPv4CIDRBlock",
	"provisioner.gke.authorizedNetworks[]":    "Spec.GKE.AuthorizedNetworks[$0]",
	"provisioner.gke.credentials.type":        "Account.CredentialsType",
	"provisioner.aks.subscriptionId":          "Account.AccountID",
	"provisioner.aks.resourceGroup":           "Spec.AKS.ResourceGroup",
	"provisioner.aks.credentials.type":        "Account.CredentialsType",
	"provisioner.selfHosted.accountId":        "Account.AccountID",
	"provisioner.selfHosted.bucketName":       "Spec.SelfHosted.BucketName",
	"provisioner.selfHosted.networkId":        "Spec.SelfHosted.NetworkID",
	"provisioner.selfHosted.credentials.type": "Account.CredentialsType",

	"clusterSpec.controlPlane.nodeGroup.name":            "Spec.ControlPlane.Name",
	"clusterSpec.controlPlane.nodeGroup.machineTypes[]":  "Spec.ControlPlane.MachineTypes[$0]",
	"clusterSpec.dataPlane.nodeGroups[].name":            "NodeGroups[$0].Name",
	"clusterSpec.dataPlane.nodeGroups[].minNode":         "NodeGroups[$0].MinNode",
	"clusterSpec.dataPlane.nodeGroups[].maxNode":         "NodeGroups[$0].MaxNode",
	"clusterSpec.dataPlane.nodeGroups[].instanceType":    "NodeGroups[$0].InstanceType",
	"clusterSpec.dataPlane.nodeGroups[].machineTypes[]":  "NodeGroups[$0].MachineTypes[$1]",
	"clusterSpec.dataPlane.nodeGroups[].labels.*":        "NodeGroups[$0].Labels.$k",
	"clusterSpec.dataPlane.nodeGroups[].taints[].key":    "NodeGroups[$0].Taints[$1].Key",
	"clusterSpec.dataPlane.nodeGroups[].taints[].value":  "NodeGroups[$0].Taints[$1].Value",
	"clusterSpec.dataPlane.nodeGroups[].taints[].effect": "NodeGroups[$0].Taints[$1].Effect",
}

// updateToProvider is toProvider for K8sClusterUpdate manifests: node groups arrive
// whole in the node-group calls of the update (the last call of each group shows
// every change), tags in the tags call.
var updateToProvider = map[string]string{
	"kubernetesVersion":            "ControlPlaneVersions[-1]",
	"nodeGroups[].name":            "NodeGroups.$name.Name",
	"nodeGroups[].minNode":         "NodeGroups.$name.MinNode",
	"nodeGroups[].maxNode":         "NodeGroups.$name.MaxNode",
	"nodeGroups[].machineTypes[]":  "NodeGroups.$name.MachineTypes[$1]",
	"nodeGroups[].labels.*":        "NodeGroups.$name.Labels.$k",
	"nodeGroups[].taints[].key":    "NodeGroups.$name.Taints[$1].Key",
	"nodeGroups[].taints[].value":  "NodeGroups.$name.Taints[$1].Value",
	"nodeGroups[].taints[].effect": "NodeGroups.$name.Taints[$1].Effect",
	"updateConfig.maxUnavailable":  "NodeGroups.*.Rollout.MaxUnavailable",
	"updateConfig.maxSurge":        "NodeGroups.*.Rollout.MaxSurge",
	"eks.amiFamily":                "NodeGroups.*.ImageType & Settings.EKS.AMIFamily & Recorded.EKS.AMIFamily",
	"tags.*":                       "Tags.$k",
	// Cluster settings arrive in the cluster-settings step's call, and the cluster
	// records them (what GET …/spec shows).
	"gke.imageType":                   "Settings.GKE.ImageType & Recorded.GKE.ImageType",
	"gke.releaseChannel":              "Settings.GKE.ReleaseChannel & Recorded.GKE.ReleaseChannel",
	"gke.maintenanceWindow.startTime": "Settings.GKE.MaintenanceWindow.StartTime & Recorded.GKE.MaintenanceWindow.StartTime",
	"gke.maintenanceWindow.duration":  "Settings.GKE.MaintenanceWindow.Duration & Recorded.GKE.MaintenanceWindow.Duration",
	"gke.authorizedNetworks[]":        "Settings.GKE.AuthorizedNetworks[$0] & Recorded.GKE.AuthorizedNetworks[$0]",
}

// notPassed are the manifest fields deliberately not given to providers, and why.
var notPassed = map[string]string{
	"provisioner.eks.credentials.data.*":        "a secret: never leaves the API (not stored, not in workflow input); the worker loads credentials by account",
	"provisioner.gke.credentials.data.*":        "a secret: as above",
	"provisioner.aks.credentials.data.*":        "a secret: as above",
	"provisioner.selfHosted.credentials.data.*": "a secret: as above",
	// Update manifests: instructions to the API, not settings of the cluster.
	"updateConfig.dryRun": "asks the API for a plan only: nothing reaches a provider",
	"generateReport":      "asks the API for the report only: nothing reaches a provider",
	"allowDowngrade":      "lets the planner accept a lower version; the provider gets the hops it planned",
}

// examples says what each manifest in testdata/manifests is; the examples of
// ../shared/examples are copied there as they are.
var examples = map[string]string{
	"aws_eks_byoa.yaml":       "cluster",
	"azure_aks_byoa.yaml":     "cluster",
	"gcp_gke_cluster.yaml":    "cluster",
	"full_eks.yaml":           "cluster",
	"full_gke.yaml":           "cluster",
	"full_gke_autopilot.yaml": "cluster",
	"full_aks.yaml":           "cluster",
	"full_selfhosted.yaml":    "cluster",
	"aws_eks_eks-update.yaml": "update",
	"full_update_eks.yaml":    "update",
	"full_update_gke.yaml":    "update",
	// A K8sClusterRegistration registers an existing cluster through an agent: no
	// provider creates anything, so it has no provider spec to reach.
	"byok_register.yaml": "registration",
}

// updateBase is the cluster each update manifest is applied to: an EKS cluster,
// unless the update has GKE settings.
var updateBase = map[string]string{
	"aws_eks_eks-update.yaml": "aws_eks_byoa.yaml",
	"full_update_eks.yaml":    "aws_eks_byoa.yaml",
	"full_update_gke.yaml":    "full_gke.yaml",
}

// placeholders fill the examples' <YOUR_…> values as a client would.
var placeholders = map[string]string{
	"<YOUR_CLUSTER_NAME>": "demo", "<YOUR_AWS_ACCOUNT_ID>": "123456789012", "<YOUR_GCP_PROJECT_ID>": "my-project-123456",
	"<YOUR_SUBSCRIPTION_ID>": "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "<YOUR_RESOURCE_GROUP>": "rg-demo",
}

var regionOf = map[string]string{"aws": "us-east-1", "gcp": "us-central1", "azure": "eastus"}

func TestManifestsReachTheProvider(t *testing.T) {
	files, err := filepath.Glob("testdata/manifests/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, f := range files {
		name := filepath.Base(f)
		kind, ok := examples[name]
		if !ok {
			t.Errorf("%s: not classified in examples (cluster, update or registration)", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			doc := readManifest(t, f)
			switch kind {
			case "cluster":
				got := deployToProvider(t, doc)
				checkLeaves(t, doc, toProvider, got, used)
			case "update":
				base := readManifest(t, "testdata/manifests/"+updateBase[name])
				got := updateToProviderCalls(t, base, doc)
				checkLeaves(t, doc, updateToProvider, got, used)
			}
		})
	}
	// Every rule is exercised by some manifest: together they hold every field.
	for _, rules := range []map[string]string{toProvider, updateToProvider} {
		for pattern := range rules {
			if !used[pattern] {
				t.Errorf("no manifest in testdata/manifests has %s: add it to a full_*.yaml", pattern)
			}
		}
	}
}

// The examples in testdata are the shared ones, as they are (when the shared folder
// is beside the repository).
func TestExampleManifestsAreTheSharedOnes(t *testing.T) {
	shared, err := filepath.Glob("../../../shared/examples/*.yaml")
	if err != nil || len(shared) == 0 {
		t.Skip("no ../shared/examples beside the repository")
	}
	for _, f := range shared {
		name := filepath.Base(f)
		if _, ok := examples[name]; !ok {
			if strings.HasPrefix(name, "app") {
				continue // applications and profiles: no cluster provider involved
			}
			t.Errorf("%s: a shared example not copied to testdata/manifests and classified", name)
			continue
		}
		want, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join("testdata", "manifests", name))
		if err != nil || string(got) != string(want) {
			t.Errorf("testdata/manifests/%s differs from the shared example (%v)", name, err)
		}
	}
}

// Every field the API's manifest schemas have is either carried to the provider or
// listed as not passed, so a field added to openapi.yaml fails here until it is.
func TestEveryManifestFieldHasARule(t *testing.T) {
	for _, tc := range []struct {
		typ   reflect.Type
		rules map[string]string
	}{
		{reflect.TypeFor[api.K8sClusterSpec](), toProvider},
		{reflect.TypeFor[api.K8sClusterUpdateSpec](), updateToProvider},
	} {
		for _, path := range fieldPaths(tc.typ, "") {
			_, carried := tc.rules[path]
			_, skipped := notPassed[path]
			if !carried && !skipped {
				t.Errorf("%s.%s: reaches no provider and is not listed as deliberately not passed", tc.typ.Name(), path)
			}
		}
	}
}

// fieldPaths lists the JSON leaf paths of t.
func fieldPaths(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.PkgPath() != "" && !strings.HasSuffix(t.PkgPath(), "server/api") {
			return []string{prefix} // a leaf type of another package (UUID)
		}
		var out []string
		for f := range t.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			out = append(out, fieldPaths(f.Type, p)...)
		}
		return out
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 { // UUID bytes
			return []string{prefix}
		}
		return fieldPaths(t.Elem(), prefix+"[]")
	case reflect.Array:
		return []string{prefix}
	case reflect.Map:
		return fieldPaths(t.Elem(), prefix+".*")
	default:
		return []string{prefix}
	}
}

func readManifest(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for k, v := range placeholders {
		text = strings.ReplaceAll(text, k, v)
	}
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	spec, _ := doc["spec"].(map[string]any)
	if r, ok := spec["region"].(string); ok && r == "<YOUR_REGION>" {
		spec["region"] = regionOf[spec["provider"].(string)]
	}
	if strings.Contains(fmt.Sprint(doc), "<YOUR_") {
		t.Fatalf("%s: a placeholder is left: %v", path, doc)
	}
	return doc
}

// decode turns a YAML document into the API's type, refusing unknown fields as the
// API does.
func decode[T any](t *testing.T, doc map[string]any) T {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
	return v
}

// recording is a provider that records what it receives.
type recording struct {
	*sim.Provider
	mu       sync.Mutex
	spec     *cloud.ClusterSpec
	account  cloud.AccountRef
	groups   []cloud.NodeGroupSpec
	tags     map[string]string
	versions []string
	settings *cloud.ClusterSettings
	recorded *cloud.ClusterSpec // the spec the update's FinishOperation records
}

func (r *recording) CreateNetwork(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec) (cloud.NetworkRef, error) {
	r.mu.Lock()
	r.account = c.Account
	r.mu.Unlock()
	return r.Provider.CreateNetwork(ctx, c, spec)
}

func (r *recording) CreateControlPlane(ctx context.Context, c cloud.Call, spec cloud.ClusterSpec, net cloud.NetworkRef) (cloud.ClusterRef, error) {
	r.mu.Lock()
	r.spec = &spec
	r.mu.Unlock()
	return r.Provider.CreateControlPlane(ctx, c, spec, net)
}

func (r *recording) CreateNodeGroup(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, ng cloud.NodeGroupSpec) error {
	r.mu.Lock()
	r.groups = append(r.groups, ng)
	r.account = c.Account
	r.mu.Unlock()
	return r.Provider.CreateNodeGroup(ctx, c, ref, ng)
}

func (r *recording) UpdateNodeGroup(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, ng cloud.NodeGroupSpec, replace bool, batches int) error {
	r.mu.Lock()
	r.groups = append(r.groups, ng)
	r.mu.Unlock()
	return r.Provider.UpdateNodeGroup(ctx, c, ref, ng, replace, batches)
}

func (r *recording) UpdateTags(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, tags map[string]string) error {
	r.mu.Lock()
	r.tags = tags
	r.mu.Unlock()
	return r.Provider.UpdateTags(ctx, c, ref, tags)
}

func (r *recording) UpdateClusterSettings(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, settings cloud.ClusterSettings) error {
	r.mu.Lock()
	r.settings = &settings
	r.mu.Unlock()
	return r.Provider.UpdateClusterSettings(ctx, c, ref, settings)
}

func (r *recording) UpgradeControlPlane(ctx context.Context, c cloud.Call, ref cloud.ClusterRef, version string) error {
	r.mu.Lock()
	r.versions = append(r.versions, version)
	r.mu.Unlock()
	return r.Provider.UpgradeControlPlane(ctx, c, ref, version)
}

// workflowEnv runs the workflows with the real provider activities (the adapters)
// over rec, and the store's and notifications' activities mocked.
func workflowEnv(rec *recording) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	r := cloud.NewRegistry(nil)
	for _, k := range cloud.Keys() {
		r.Register(k, func(context.Context, *cloud.Session) (cloud.Provider, error) { return rec, nil })
	}
	a := &activities.Cluster{Clouds: r}
	env.RegisterActivity(a)
	env.OnActivity(a.BeginOperation, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.FinishOperation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishOperationInput) error {
		rec.mu.Lock()
		rec.recorded = in.Spec
		rec.mu.Unlock()
		return nil
	})
	n := &activities.Notifier{}
	env.RegisterActivity(n)
	env.RegisterWorkflow(workflows.NotifyTopic)
	env.OnActivity(n.DeliverTopic, mock.Anything, mock.Anything).Return(nil)
	return env
}

// deployToProvider deploys doc and returns what the provider received, flattened.
func deployToProvider(t *testing.T, doc map[string]any) map[string]string {
	m := decode[api.K8sClusterManifest](t, doc)
	rec := &recording{Provider: sim.New(0)}
	env := workflowEnv(rec)
	env.ExecuteWorkflow(workflows.DeployCluster, workflows.DeployClusterInput{
		Op: workflows.Operation{OrgID: "org-1", ClusterID: "cl-1", OperationID: "acme.demo.deploy.1"}, Spec: clusterSpec(m.Spec)})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if rec.spec == nil {
		t.Fatal("the provider was never asked for a control plane")
	}
	return flatten(t, map[string]any{"Spec": rec.spec, "NodeGroups": rec.groups, "Account": rec.account})
}

// updateToProviderCalls deploys base's cluster (as the store would hold it), updates
// it with doc and returns what the provider received in the update, flattened.
func updateToProviderCalls(t *testing.T, base, doc map[string]any) map[string]string {
	current := clusterSpec(decode[api.K8sClusterManifest](t, base).Spec)
	m := decode[api.K8sClusterUpdateManifest](t, doc)
	req := upgradeRequest(m.Spec)
	plan := upgrade.Build(upgradeCluster(current), req, supportedVersions(current.ProvisionerType))
	if !plan.ValidationPassed {
		t.Fatalf("plan blocked: %v", plan.Errors)
	}
	rec := &recording{Provider: sim.New(0)}
	env := workflowEnv(rec)
	env.ExecuteWorkflow(workflows.UpdateCluster, workflows.UpdateClusterInput{
		Op:      workflows.Operation{OrgID: "org-1", ClusterID: "cl-1", OperationID: "acme.demo.update.1"},
		Current: current, Ref: activities.ClusterRef{Provider: current.Provider, ExternalID: "cp-1"}, Steps: updateSteps(current, req, plan)})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("update: %v", err)
	}
	groups := map[string]cloud.NodeGroupSpec{}
	for _, ng := range rec.groups {
		groups[ng.Name] = ng // the last call of each group has every change
	}
	return flatten(t, map[string]any{"NodeGroups": groups, "Tags": rec.tags, "ControlPlaneVersions": rec.versions,
		"Settings": rec.settings, "Recorded": recordedSettings(t, rec.recorded)})
}

// recordedSettings is the part of the recorded spec cluster settings land in: the
// provisioner's sub-spec.
func recordedSettings(t *testing.T, spec *cloud.ClusterSpec) map[string]any {
	t.Helper()
	if spec == nil {
		t.Fatal("the update recorded no spec")
	}
	return map[string]any{"EKS": spec.EKS, "GKE": spec.GKE}
}

// flatten turns v into leaf paths (Spec.EKS.Subnets.us-east-1a[0].ID) and their values.
func flatten(t *testing.T, v any) map[string]string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", prefix, i), x)
			}
			if len(v) > 0 {
				walk(prefix+"[-1]", v[len(v)-1])
			}
		default:
			out[prefix] = fmt.Sprint(v)
		}
	}
	walk("", doc)
	return out
}

// leaf is one value of a manifest: its concrete path, the pattern of rules it falls
// under, its indices and map key, and the name of the node group it is in.
type leaf struct {
	path, pattern, key, group string
	indices                   []int
	value                     string
}

func leaves(doc map[string]any) []leaf {
	var out []leaf
	var walk func(l leaf, v any)
	walk = func(l leaf, v any) {
		join := func(s, part string) string {
			if s == "" {
				return part
			}
			return s + "." + part
		}
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				n := l
				n.path = join(l.path, k)
				if isFreeMap(l.pattern) {
					n.pattern, n.key = join(l.pattern, "*"), k
				} else {
					n.pattern = join(l.pattern, k)
				}
				if k == "name" && strings.HasSuffix(l.pattern, "nodeGroups[]") {
					n.group, _ = x.(string)
				}
				walk(n, x)
			}
		case []any:
			for i, x := range v {
				n := l
				n.path = fmt.Sprintf("%s[%d]", l.path, i)
				n.pattern = l.pattern + "[]"
				n.indices = append(slices.Clone(l.indices), i)
				if m, ok := x.(map[string]any); ok && strings.HasSuffix(n.pattern, "nodeGroups[]") {
					n.group, _ = m["name"].(string)
				}
				walk(n, x)
			}
		default:
			l.value = fmt.Sprint(v)
			out = append(out, l)
		}
	}
	walk(leaf{}, doc["spec"])
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// isFreeMap reports whether the object at pattern is a map of free keys (tags,
// labels, subnets by zone, credential data) rather than a struct.
func isFreeMap(pattern string) bool {
	for _, suffix := range []string{"tags", "labels", "subnets", "credentials.data"} {
		if pattern == suffix || strings.HasSuffix(pattern, "."+suffix) {
			return true
		}
	}
	return false
}

var index = regexp.MustCompile(`\$(\d)`)

func checkLeaves(t *testing.T, doc map[string]any, rules map[string]string, got map[string]string, used map[string]bool) {
	t.Helper()
	for _, l := range leaves(doc) {
		if _, ok := notPassed[l.pattern]; ok {
			assertAbsent(t, l, got)
			continue
		}
		target, ok := rules[l.pattern]
		if !ok {
			t.Errorf("spec.%s = %q is dropped: no provider call receives it (add it to the provider spec and a rule, or to notPassed with why)", l.path, l.value)
			continue
		}
		used[l.pattern] = true
		for _, target := range strings.Split(target, " & ") {
			checkLeaf(t, l, target, got)
		}
	}
}

// checkLeaf checks that l arrives where target says, with its value.
func checkLeaf(t *testing.T, l leaf, target string, got map[string]string) {
	t.Helper()
	{
		path := strings.ReplaceAll(target, "$k", l.key)
		path = strings.ReplaceAll(path, "$name", l.group)
		path = index.ReplaceAllStringFunc(path, func(m string) string {
			i := int(m[1] - '0')
			if i >= len(l.indices) {
				return m
			}
			return fmt.Sprint(l.indices[i])
		})
		if strings.Contains(path, "*") {
			// The value reaches every node group the update touched.
			found := false
			for p, v := range got {
				if ok, _ := filepath.Match(strings.ReplaceAll(path, ".", "/"), strings.ReplaceAll(p, ".", "/")); ok {
					found = true
					if v != l.value {
						t.Errorf("spec.%s = %q reaches the provider as %s = %q", l.path, l.value, p, v)
					}
				}
			}
			if !found {
				t.Errorf("spec.%s = %q is dropped: no provider call has %s", l.path, l.value, path)
			}
			return
		}
		if v, ok := got[path]; !ok {
			t.Errorf("spec.%s = %q is dropped: the provider received no %s", l.path, l.value, path)
		} else if v != l.value {
			t.Errorf("spec.%s = %q reaches the provider as %s = %q", l.path, l.value, path, v)
		}
	}
}

// assertAbsent checks that a value deliberately not passed (a secret) is nowhere in
// what the provider received.
func assertAbsent(t *testing.T, l leaf, got map[string]string) {
	t.Helper()
	for p, v := range got {
		if v == l.value && len(v) > 4 {
			t.Errorf("spec.%s (not to be passed) reached the provider as %s", l.path, p)
		}
	}
}
