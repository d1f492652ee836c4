package upgrade

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// supported is deliberately unordered and mixes forms.
var supported = []string{"1.32", "v1.29", "1.31", "1.30.4", "1.28"}

func ptr(n int) *int { return &n }

func eks(version string, groups ...NodeGroup) Cluster {
	return Cluster{Provider: "aws", ProvisionerType: "eks", Version: version, AmiFamily: "AL2023", NodeGroups: groups}
}

func group(name, version string, maxNode int) NodeGroup {
	return NodeGroup{Name: name, Version: version, MinNode: 1, MaxNode: maxNode, InstanceType: "ondemand", MachineTypes: []string{"m5.large"}}
}

// stepLine renders a step compactly so tests can assert whole sequences.
func stepLine(s Step) string {
	line := fmt.Sprintf("%d %s %s", s.Order, s.Kind, s.Target)
	if s.FromVersion != "" || s.ToVersion != "" {
		line += " " + s.FromVersion + "->" + s.ToVersion
	}
	if s.Batches > 0 {
		line += fmt.Sprintf(" batches=%d", s.Batches)
	}
	if s.Disruptive {
		line += " disruptive"
	}
	return line
}

func stepLines(p Plan) []string {
	lines := []string{}
	for _, s := range p.Steps {
		lines = append(lines, stepLine(s))
	}
	return lines
}

func results(p Plan) map[string]Result {
	m := map[string]Result{}
	for _, c := range p.PreflightChecks {
		m[c.Name] = c.Result
	}
	return m
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name      string
		cluster   Cluster
		req       Request
		supported []string // nil means the package default
		steps     []string
		valid     bool
		checks    map[string]Result // only the listed checks are asserted
		changes   []string          // nil means not asserted
		minutes   int               // 0 means not asserted
		errs      []string          // substrings, one per error, in order
		warns     []string          // substrings, one per warning, in order
	}{
		{
			name:    "one hop 1.29 to 1.30",
			cluster: eks("1.29", group("default-pool", "1.29", 3)),
			req:     Request{KubernetesVersion: "1.30"},
			steps: []string{
				"1 control-plane-upgrade control-plane 1.29->1.30",
				"2 node-group-upgrade default-pool 1.29->1.30 batches=2 disruptive", // 3 nodes, 1+1 at a time
				"3 addons-upgrade control-plane 1.29->1.30",
			},
			valid:   true,
			checks:  map[string]Result{CheckVersionSupported: ResultPass, CheckVersionSkew: ResultPass, CheckDowngradeAllowed: ResultPass},
			changes: []string{"spec.kubernetesVersion: 1.29 → 1.30 (1 control-plane hop)", "spec.nodeGroups[default-pool].version: 1.29 → 1.30"},
			minutes: 12 + 2*4 + 5,
			warns:   []string{},
		},
		{
			name:    "three hops 1.28 to 1.31, node groups upgraded once at the end",
			cluster: eks("1.28", group("system", "1.28", 2), group("apps", "1.28", 4)),
			req:     Request{KubernetesVersion: "1.31"},
			steps: []string{
				"1 control-plane-upgrade control-plane 1.28->1.29",
				"2 control-plane-upgrade control-plane 1.29->1.30",
				"3 control-plane-upgrade control-plane 1.30->1.31",
				"4 node-group-upgrade apps 1.28->1.31 batches=2 disruptive",
				"5 node-group-upgrade system 1.28->1.31 batches=1 disruptive",
				"6 addons-upgrade control-plane 1.28->1.31",
			},
			valid:   true,
			checks:  map[string]Result{CheckVersionSkew: ResultPass},
			minutes: 3*12 + 2*4 + 1*4 + 5,
			warns:   []string{},
		},
		{
			name:    "node group at 1.26 on 1.28 is fine now but must move before the 1.30 hop",
			cluster: eks("1.28", group("apps", "1.28", 2), group("legacy", "1.26", 2)),
			req:     Request{KubernetesVersion: "1.31"},
			steps: []string{
				"1 control-plane-upgrade control-plane 1.28->1.29",
				"2 node-group-upgrade legacy 1.26->1.29 batches=1 disruptive",
				"3 control-plane-upgrade control-plane 1.29->1.30",
				"4 control-plane-upgrade control-plane 1.30->1.31",
				"5 node-group-upgrade apps 1.28->1.31 batches=1 disruptive",
				"6 node-group-upgrade legacy 1.29->1.31 batches=1 disruptive",
				"7 addons-upgrade control-plane 1.28->1.31",
			},
			valid:  true,
			checks: map[string]Result{CheckVersionSkew: ResultWarn},
			changes: []string{
				"spec.kubernetesVersion: 1.28 → 1.31 (3 control-plane hops)",
				"spec.nodeGroups[apps].version: 1.28 → 1.31",
				"spec.nodeGroups[legacy].version: 1.26 → 1.31",
			},
			warns: []string{"node group legacy (1.26) would fall more than 3 minors behind the control plane at 1.30; it is upgraded to 1.29 before that hop"},
		},
		{
			name:    "node group at 1.25 on 1.28 is upgraded before the 1.29 hop",
			cluster: eks("1.28", group("apps", "1.28", 2), group("legacy", "1.25", 2)),
			req:     Request{KubernetesVersion: "1.31"},
			steps: []string{
				"1 node-group-upgrade legacy 1.25->1.28 batches=1 disruptive",
				"2 control-plane-upgrade control-plane 1.28->1.29",
				"3 control-plane-upgrade control-plane 1.29->1.30",
				"4 control-plane-upgrade control-plane 1.30->1.31",
				"5 node-group-upgrade apps 1.28->1.31 batches=1 disruptive",
				"6 node-group-upgrade legacy 1.28->1.31 batches=1 disruptive",
				"7 addons-upgrade control-plane 1.28->1.31",
			},
			valid:  true,
			checks: map[string]Result{CheckVersionSkew: ResultWarn},
			warns:  []string{"node group legacy (1.25) would fall more than 3 minors behind the control plane at 1.29; it is upgraded to 1.28 before that hop"},
		},
		{
			name:    "downgrade 1.31 to 1.29 without allowDowngrade is blocked",
			cluster: eks("1.31", group("apps", "1.31", 2)),
			req:     Request{KubernetesVersion: "1.29"},
			steps:   []string{},
			valid:   false,
			checks:  map[string]Result{CheckVersionSupported: ResultPass, CheckDowngradeAllowed: ResultFail},
			errs:    []string{"kubernetesVersion 1.29 is older than the current 1.31: a downgrade needs allowDowngrade"},
			warns:   []string{}, // no "no changes" warning when blocked
		},
		{
			name:    "downgrade 1.31 to 1.29 with allowDowngrade: node groups first, one minor per hop",
			cluster: eks("1.31", group("apps", "1.31", 2), group("old", "1.29", 1)),
			req:     Request{KubernetesVersion: "1.29", AllowDowngrade: true},
			steps: []string{
				"1 node-group-upgrade apps 1.31->1.30 batches=1 disruptive",
				"2 control-plane-upgrade control-plane 1.31->1.30",
				"3 node-group-upgrade apps 1.30->1.29 batches=1 disruptive",
				"4 control-plane-upgrade control-plane 1.30->1.29",
				"5 addons-upgrade control-plane 1.31->1.29",
			},
			valid:  true,
			checks: map[string]Result{CheckDowngradeAllowed: ResultWarn, CheckVersionSkew: ResultPass},
			changes: []string{
				"spec.kubernetesVersion: 1.31 → 1.29 (2 control-plane hops)",
				"spec.nodeGroups[apps].version: 1.31 → 1.29",
			},
			warns: []string{"downgrading the control plane from 1.31 to 1.29 is risky"},
		},
		{
			name: "node groups ahead of the downgrade target move down before the hop, older ones stay",
			cluster: Cluster{Provider: "aws", ProvisionerType: "selfHosted", Version: "1.31",
				NodeGroups: []NodeGroup{group("a", "1.31", 1), group("b", "1.30", 1), group("c", "1.28", 1)}},
			req: Request{KubernetesVersion: "1.30", AllowDowngrade: true},
			steps: []string{
				"1 node-group-upgrade a 1.31->1.30 batches=1 disruptive",
				"2 control-plane-upgrade control-plane 1.31->1.30",
				"3 addons-upgrade control-plane 1.31->1.30",
			},
			valid:   true,
			minutes: 4 + 15 + 5,
			warns:   []string{"back up etcd and workloads first"}, // selfHosted: no provider refusal note
		},
		{
			name:    "unsupported target 1.35 fails but the rest of the request is planned",
			cluster: eks("1.31", group("apps", "1.31", 2)),
			req:     Request{KubernetesVersion: "1.35", Tags: map[string]string{"team": "platform"}},
			steps:   []string{"1 tags-update control-plane"},
			valid:   false,
			checks:  map[string]Result{CheckVersionSupported: ResultFail, CheckDowngradeAllowed: ResultPass},
			errs:    []string{"kubernetesVersion 1.35 is not supported (supported: 1.28, 1.29, 1.30, 1.31, 1.32)"},
		},
		{
			name:    "malformed target",
			cluster: eks("1.30"),
			req:     Request{KubernetesVersion: "latest"},
			steps:   []string{},
			valid:   false,
			checks:  map[string]Result{CheckVersionSupported: ResultFail},
			errs:    []string{`kubernetesVersion: version "latest"`},
		},
		{
			name:    "major version 2 is malformed",
			cluster: eks("1.30"),
			req:     Request{KubernetesVersion: "2.0"},
			steps:   []string{},
			valid:   false,
			errs:    []string{"only Kubernetes 1.x versions exist"},
		},
		{
			name:    "malformed current version",
			cluster: eks("one.thirty", group("apps", "1.30", 1)),
			req:     Request{KubernetesVersion: "1.31"},
			steps:   []string{},
			valid:   false,
			checks:  map[string]Result{CheckVersionSupported: ResultFail, CheckVersionSkew: ResultPass},
			errs:    []string{"current control-plane version"},
		},
		{
			name:    "same version: no steps and a warning",
			cluster: eks("1.30", group("apps", "1.30", 3)),
			req:     Request{KubernetesVersion: "v1.30"},
			steps:   []string{},
			valid:   true,
			checks:  map[string]Result{CheckVersionSupported: ResultPass, CheckVersionSkew: ResultPass},
			changes: []string{},
			minutes: 0,
			warns:   []string{"no changes: the cluster already matches the request"},
		},
		{
			name: "gke provider version form",
			cluster: Cluster{Provider: "gcp", ProvisionerType: "gke", Version: "1.30.5-gke.1443001",
				NodeGroups: []NodeGroup{group("pool-1", "1.30.5-gke.1443001", 6)}},
			req:       Request{KubernetesVersion: "1.31.2-gke.100", MaxSurge: "2", MaxUnavailable: "0"},
			supported: []string{"1.31.2-gke.100", "1.30.5-gke.1443001", "1.29.10-gke.1000"},
			steps: []string{
				"1 control-plane-upgrade control-plane 1.30->1.31",
				"2 node-group-upgrade pool-1 1.30->1.31 batches=3 disruptive", // 6 nodes, 2 surge at a time
				"3 addons-upgrade control-plane 1.30->1.31",
			},
			valid:   true,
			minutes: 8 + 3*4 + 5,
		},
		{
			name:    "kubelet newer than the control plane is reported",
			cluster: eks("1.29", group("apps", "1.30", 1)),
			req:     Request{KubernetesVersion: "1.31"},
			steps: []string{
				"1 control-plane-upgrade control-plane 1.29->1.30",
				"2 control-plane-upgrade control-plane 1.30->1.31",
				"3 node-group-upgrade apps 1.30->1.31 batches=1 disruptive",
				"4 addons-upgrade control-plane 1.29->1.31",
			},
			valid:  true,
			checks: map[string]Result{CheckVersionSkew: ResultWarn},
			warns:  []string{"node group apps (1.30) is newer than the control plane (1.29)"},
		},
		{
			name:    "scale only",
			cluster: eks("1.30", group("default-pool", "1.30", 5)),
			req:     Request{NodeGroups: []NodeGroupChange{{Name: "default-pool", MinNode: ptr(2), MaxNode: ptr(10)}}},
			steps:   []string{"1 node-group-scale default-pool"},
			valid:   true,
			changes: []string{
				"spec.nodeGroups[default-pool].minNode: 1 → 2",
				"spec.nodeGroups[default-pool].maxNode: 5 → 10",
			},
			minutes: 3,
			warns:   []string{},
		},
		{
			name:    "lowering maxNode is disruptive",
			cluster: eks("1.30", group("default-pool", "1.30", 5)),
			req:     Request{NodeGroups: []NodeGroupChange{{Name: "default-pool", MaxNode: ptr(3)}}},
			steps:   []string{"1 node-group-scale default-pool disruptive"},
			valid:   true,
		},
		{
			name:    "invalid size is rejected, the tags change is still planned",
			cluster: eks("1.30", group("default-pool", "1.30", 5)),
			req: Request{
				NodeGroups: []NodeGroupChange{{Name: "default-pool", MinNode: ptr(6)}},
				Tags:       map[string]string{"team": "platform"},
			},
			steps:  []string{"1 tags-update control-plane"},
			valid:  false,
			checks: map[string]Result{CheckNodeGroupSizes: ResultFail},
			errs:   []string{"node group default-pool: minNode 6, maxNode 5: want 0 ≤ minNode ≤ maxNode and maxNode ≥ 1"},
		},
		{
			name:    "machine type change, maxUnavailable 25% of 8 nodes plus default surge 1",
			cluster: eks("1.30", group("workers", "1.30", 8)),
			req: Request{MaxUnavailable: "25%", NodeGroups: []NodeGroupChange{
				{Name: "workers", MachineTypes: []string{"m6i.large"}},
			}},
			steps:   []string{"1 node-group-replace workers batches=3 disruptive"}, // batch 2+1=3, ceil(8/3)
			valid:   true,
			changes: []string{"spec.nodeGroups[workers].machineTypes: [m5.large] → [m6i.large]"},
			minutes: 3 * 4,
		},
		{
			name:    "machine type change, maxUnavailable 25% of 8 nodes and no surge",
			cluster: eks("1.30", group("workers", "1.30", 8)),
			req: Request{MaxUnavailable: "25%", MaxSurge: "0", NodeGroups: []NodeGroupChange{
				{Name: "workers", MachineTypes: []string{"m6i.large"}},
			}},
			steps: []string{"1 node-group-replace workers batches=4 disruptive"}, // batch 2, 8/2
			valid: true,
		},
		{
			name:    "replacement counts nodes after the scale step",
			cluster: eks("1.30", group("workers", "1.30", 4)),
			req: Request{NodeGroups: []NodeGroupChange{
				{Name: "workers", MaxNode: ptr(8), InstanceType: "spot"},
			}},
			steps: []string{
				"1 node-group-scale workers",
				"2 node-group-replace workers batches=4 disruptive", // 8 nodes, 1+1 at a time
			},
			valid:   true,
			changes: []string{"spec.nodeGroups[workers].maxNode: 4 → 8", "spec.nodeGroups[workers].instanceType: ondemand → spot"},
		},
		{
			name:    "reordered machine types replace nothing",
			cluster: eks("1.30", NodeGroup{Name: "workers", MinNode: 1, MaxNode: 2, MachineTypes: []string{"a", "b"}}),
			req:     Request{NodeGroups: []NodeGroupChange{{Name: "workers", MachineTypes: []string{"b", "a"}}}},
			steps:   []string{},
			valid:   true,
			warns:   []string{"no changes"},
		},
		{
			name:    "maxSurge and maxUnavailable both 0",
			cluster: eks("1.30", group("workers", "1.30", 3)),
			req:     Request{MaxSurge: "0", MaxUnavailable: "0%", KubernetesVersion: "1.31"},
			steps: []string{
				"1 control-plane-upgrade control-plane 1.30->1.31",
				"2 node-group-upgrade workers 1.30->1.31 batches=2 disruptive", // estimated with the defaults
				"3 addons-upgrade control-plane 1.30->1.31",
			},
			valid:  false,
			checks: map[string]Result{CheckRollingUpdate: ResultFail},
			errs:   []string{"maxUnavailable and maxSurge are both 0: the rolling update cannot make progress"},
		},
		{
			name:    "malformed rolling values",
			cluster: eks("1.30"),
			req:     Request{MaxSurge: "150%", MaxUnavailable: "-1"},
			steps:   []string{},
			valid:   false,
			checks:  map[string]Result{CheckRollingUpdate: ResultFail},
			errs:    []string{`maxUnavailable "-1"`, `maxSurge "150%": a percentage must be at most 100%`},
		},
		{
			name:    "new node group is created at the target after the version steps",
			cluster: eks("1.30", group("apps", "1.30", 2)),
			req: Request{KubernetesVersion: "1.31", NodeGroups: []NodeGroupChange{
				{Name: "gpu", MaxNode: ptr(4), MachineTypes: []string{"g5.xlarge"}, InstanceType: "spot",
					Taints: []Taint{{Key: "nvidia.com/gpu", Value: "true", Effect: "NoExecute"}}},
			}},
			steps: []string{
				"1 control-plane-upgrade control-plane 1.30->1.31",
				"2 node-group-upgrade apps 1.30->1.31 batches=1 disruptive",
				"3 addons-upgrade control-plane 1.30->1.31",
				"4 node-group-create gpu ->1.31",
			},
			valid: true,
			changes: []string{
				"spec.kubernetesVersion: 1.30 → 1.31 (1 control-plane hop)",
				"spec.nodeGroups[apps].version: 1.30 → 1.31",
				"spec.nodeGroups[gpu]: new node group (machineTypes [g5.xlarge], instanceType spot, minNode 0, maxNode 4, taints [nvidia.com/gpu=true:NoExecute])",
			},
			warns: []string{}, // NoExecute on a new group evicts nothing
		},
		{
			name:    "new node group without machineTypes or maxNode",
			cluster: eks("1.30", group("apps", "1.30", 2)),
			req:     Request{NodeGroups: []NodeGroupChange{{Name: "batch", MinNode: ptr(1)}}},
			steps:   []string{},
			valid:   false,
			checks:  map[string]Result{CheckNodeGroupSizes: ResultFail, CheckNodeGroupConfig: ResultFail},
			errs:    []string{"new node group batch needs maxNode ≥ 1", "new node group batch needs machineTypes"},
		},
		{
			name:    "invalid new node group name",
			cluster: eks("1.30"),
			req:     Request{NodeGroups: []NodeGroupChange{{Name: "GPU_pool", MaxNode: ptr(1), MachineTypes: []string{"g5.xlarge"}}}},
			steps:   []string{},
			valid:   false,
			checks:  map[string]Result{CheckNodeGroupNames: ResultFail},
			errs:    []string{`new node group "GPU_pool"`},
		},
		{
			name:    "duplicate node group entries",
			cluster: eks("1.30", group("apps", "1.30", 2)),
			req:     Request{NodeGroups: []NodeGroupChange{{Name: "apps", MaxNode: ptr(3)}, {Name: "apps", MaxNode: ptr(4)}}},
			steps:   []string{},
			valid:   false,
			checks:  map[string]Result{CheckNodeGroupNames: ResultFail},
			errs:    []string{`node group "apps" is listed 2 times`},
		},
		{
			name:    "adding a NoExecute taint is disruptive and warned",
			cluster: eks("1.30", group("apps", "1.30", 2)),
			req: Request{NodeGroups: []NodeGroupChange{{Name: "apps", Taints: []Taint{
				{Key: "dedicated", Value: "db", Effect: "NoExecute"},
				{Key: "spot", Effect: "NoSchedule"},
			}}}},
			steps:   []string{"1 node-group-update-config apps disruptive"},
			valid:   true,
			changes: []string{"spec.nodeGroups[apps].taints: [] → [dedicated=db:NoExecute, spot:NoSchedule]"},
			warns:   []string{"node group apps: adding NoExecute taint dedicated=db:NoExecute evicts running pods that do not tolerate it"},
		},
		{
			name:    "labels and NoSchedule taints update in place",
			cluster: eks("1.30", group("apps", "1.30", 2)),
			req: Request{NodeGroups: []NodeGroupChange{{Name: "apps",
				Labels: map[string]string{"environment": "production"},
				Taints: []Taint{{Key: "spot", Effect: "NoSchedule"}}}}},
			steps: []string{"1 node-group-update-config apps"},
			valid: true,
			warns: []string{},
		},
		{
			name:    "invalid taint effect and label",
			cluster: eks("1.30", group("apps", "1.30", 2)),
			req: Request{NodeGroups: []NodeGroupChange{{Name: "apps",
				Labels: map[string]string{"bad key": "x"},
				Taints: []Taint{{Key: "dedicated", Effect: "NoEvict"}}}}},
			steps:  []string{},
			valid:  false,
			checks: map[string]Result{CheckNodeGroupConfig: ResultFail},
			errs:   []string{`label key "bad key"`, `taint dedicated has effect "NoEvict"`},
		},
		{
			name: "amiFamily on gcp is rejected",
			cluster: Cluster{Provider: "gcp", ProvisionerType: "gke", Version: "1.30",
				NodeGroups: []NodeGroup{group("pool-1", "1.30", 3)}},
			req:    Request{AmiFamily: "Bottlerocket"},
			steps:  []string{},
			valid:  false,
			checks: map[string]Result{CheckProviderSpecific: ResultFail},
			errs:   []string{"amiFamily is an eks field; this cluster is gke on gcp"},
		},
		{
			name:    "amiFamily on eks replaces every group's nodes",
			cluster: eks("1.30", group("b", "1.30", 3), group("a", "1.30", 1)),
			req:     Request{AmiFamily: "bottlerocket"},
			steps: []string{
				"1 ami-family-update a batches=1 disruptive",
				"2 ami-family-update b batches=2 disruptive",
				"3 cluster-settings control-plane", // the cluster's family, for groups created later
			},
			valid:   true,
			changes: []string{"spec.eks.amiFamily: AL2023 → Bottlerocket"},
		},
		{
			name:    "unchanged amiFamily plans nothing",
			cluster: eks("1.30", group("a", "1.30", 1)),
			req:     Request{AmiFamily: "AL2023"},
			steps:   []string{},
			valid:   true,
		},
		{
			name:    "invalid amiFamily",
			cluster: eks("1.30", group("a", "1.30", 1)),
			req:     Request{AmiFamily: "Windows"},
			steps:   []string{},
			valid:   false,
			errs:    []string{`amiFamily "Windows"`},
		},
		{
			name: "aks pool names and the system pool",
			cluster: Cluster{Provider: "azure", ProvisionerType: "aks", Version: "1.30",
				NodeGroups: []NodeGroup{group("system", "1.30", 3), group("user", "1.30", 3)}},
			req: Request{NodeGroups: []NodeGroupChange{
				{Name: "system", InstanceType: "spot"},
				{Name: "user", InstanceType: "spot"},
				{Name: "gpu-pool", MaxNode: ptr(2), MachineTypes: []string{"Standard_NC6s_v3"}},
			}},
			steps:  []string{"1 node-group-replace user batches=2 disruptive"},
			valid:  false,
			checks: map[string]Result{CheckProviderSpecific: ResultFail},
			errs: []string{
				`new node group "gpu-pool": AKS node pool names are lowercase alphanumeric`,
				"node group system is the AKS system pool and must stay ondemand",
			},
		},
		{
			name:    "provisioner on the wrong provider",
			cluster: Cluster{Provider: "gcp", ProvisionerType: "eks", Version: "1.30"},
			req:     Request{},
			steps:   []string{},
			valid:   false,
			errs:    []string{`provisioner eks runs on aws, but the cluster's provider is "gcp"`},
		},
		{
			name: "the eks-update example manifest",
			cluster: Cluster{Provider: "aws", ProvisionerType: "eks", Version: "1.30", AmiFamily: "AL2023",
				NodeGroups: []NodeGroup{{Name: "default-pool", Version: "1.30", MinNode: 1, MaxNode: 5,
					MachineTypes: []string{"t3.large"}, Labels: map[string]string{"environment": "staging"}}},
				Tags: map[string]string{"environment": "staging", "owner": "alice"}},
			req: Request{
				NodeGroups: []NodeGroupChange{{Name: "default-pool", MinNode: ptr(2), MaxNode: ptr(10),
					Labels: map[string]string{"environment": "production", "updated": "true"}}},
				MaxUnavailable: "1", MaxSurge: "1",
				Tags: map[string]string{"environment": "production", "team": "platform", "updated-by": "astroctl"},
			},
			steps: []string{
				"1 node-group-scale default-pool",
				"2 node-group-update-config default-pool",
				"3 tags-update control-plane",
			},
			valid: true,
			changes: []string{
				"spec.nodeGroups[default-pool].minNode: 1 → 2",
				"spec.nodeGroups[default-pool].maxNode: 5 → 10",
				"spec.nodeGroups[default-pool].labels: environment: staging → production, +updated=true",
				"spec.tags: environment: staging → production, -owner, +team=platform, +updated-by=astroctl",
			},
			minutes: 3 + 1 + 1,
			warns:   []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sup := tt.supported
			if sup == nil {
				sup = supported
			}
			p := Build(tt.cluster, tt.req, sup)

			assert.Equal(t, tt.steps, stepLines(p))
			assert.Equal(t, tt.valid, p.ValidationPassed, "errors: %v", p.Errors)
			for name, want := range tt.checks {
				assert.Equal(t, want, results(p)[name], "check %s", name)
			}
			if tt.changes != nil {
				assert.Equal(t, tt.changes, p.Report.Changes)
			}
			if tt.minutes != 0 {
				assert.Equal(t, tt.minutes, p.Report.EstimatedMinutes)
			}
			assertContainsInOrder(t, "errors", tt.errs, p.Errors, tt.valid)
			if tt.warns != nil {
				assertContainsInOrder(t, "warnings", tt.warns, p.Warnings, true)
			}
			assertInvariants(t, p)
		})
	}
}

// assertContainsInOrder checks got[i] contains want[i] for every i; with exact
// the lengths must match too (an empty want then means none).
func assertContainsInOrder(t *testing.T, what string, want, got []string, exact bool) {
	t.Helper()
	if !exact && len(want) == 0 {
		return
	}
	if exact || len(want) > 0 {
		require.Len(t, got, len(want), "%s: %q", what, got)
	}
	for i := range want {
		assert.Contains(t, got[i], want[i], "%s[%d]", what, i)
	}
}

// assertInvariants holds for every plan.
func assertInvariants(t *testing.T, p Plan) {
	t.Helper()
	var names []string
	fails := 0
	for _, c := range p.PreflightChecks {
		names = append(names, c.Name)
		assert.Contains(t, []Result{ResultPass, ResultWarn, ResultFail}, c.Result)
		assert.NotEmpty(t, c.Message, "check %s says why", c.Name)
		if c.Result == ResultFail {
			fails++
		}
	}
	assert.Equal(t, checkOrder, names, "every check, always, in order")
	assert.Equal(t, p.ValidationPassed, fails == 0)
	assert.Equal(t, p.ValidationPassed, len(p.Errors) == 0)

	total, disruptive := 0, 0
	for i, s := range p.Steps {
		assert.Equal(t, i+1, s.Order)
		assert.NotEmpty(t, s.Description)
		assert.Positive(t, s.EstimatedMinutes)
		total += s.EstimatedMinutes
		if s.Disruptive {
			disruptive++
		}
	}
	assert.Equal(t, total, p.Report.EstimatedMinutes)
	assert.Len(t, p.Report.Disruptions, disruptive)

	// Replaying the version steps never breaks the skew policy.
	cp := p.FromVersion
	for _, s := range p.Steps {
		switch s.Kind {
		case KindControlPlaneUpgrade:
			assert.Equal(t, cp, s.FromVersion, "hops are contiguous")
			assert.Equal(t, 1, abs(minor(t, s.ToVersion)-minor(t, s.FromVersion)), "one minor per hop")
			cp = s.ToVersion
		case KindNodeGroupUpgrade, KindNodeGroupCreate:
			assert.LessOrEqual(t, minor(t, s.ToVersion), minor(t, cp), "kubelet never newer than the control plane")
		}
	}
	if len(p.Steps) > 0 && p.FromVersion != "" {
		assert.Equal(t, p.ToVersion, cp)
	}
}

func minor(t *testing.T, v string) int {
	t.Helper()
	m, err := parseMinor(v)
	require.NoError(t, err)
	return m
}

func abs(n int) int { return max(n, -n) }

func TestBuildDeterministic(t *testing.T) {
	groups := []NodeGroup{
		{Name: "zeta", Version: "1.25", MinNode: 1, MaxNode: 3, MachineTypes: []string{"m5.large"},
			Labels: map[string]string{"b": "2", "a": "1", "c": "3"}},
		{Name: "alpha", Version: "1.28", MinNode: 1, MaxNode: 8, MachineTypes: []string{"m5.large"}},
		{Name: "mid", Version: "1.27", MinNode: 0, MaxNode: 2, MachineTypes: []string{"c5.large"}},
	}
	changes := []NodeGroupChange{
		{Name: "zeta", Labels: map[string]string{"z": "9", "y": "8", "x": "7", "a": "0"},
			Taints: []Taint{{Key: "k2", Effect: "NoExecute"}, {Key: "k1", Value: "v", Effect: "NoExecute"}}},
		{Name: "new-b", MaxNode: ptr(2), MachineTypes: []string{"t3.small"}},
		{Name: "alpha", MachineTypes: []string{"m6i.large"}, MaxNode: ptr(9)},
		{Name: "new-a", MaxNode: ptr(1), MachineTypes: []string{"t3.small"}, Labels: map[string]string{"q": "1", "p": "2"}},
	}
	tags := map[string]string{"e": "5", "d": "4", "c": "3", "b": "2", "a": "1"}
	build := func(gs []NodeGroup, cs []NodeGroupChange) Plan {
		c := Cluster{Provider: "aws", ProvisionerType: "eks", Version: "1.28", NodeGroups: gs,
			Tags: map[string]string{"old": "x", "a": "0"}}
		r := Request{KubernetesVersion: "1.31", NodeGroups: cs, Tags: tags, AmiFamily: "AL2", MaxUnavailable: "25%"}
		return Build(c, r, []string{"1.31", "1.28", "1.30", "1.29"})
	}
	want := build(groups, changes)
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)

	assert.Equal(t, []string{
		"1 node-group-upgrade zeta 1.25->1.28 batches=3 disruptive", // 3 nodes: 25% rounds down to 0, +1 surge
		"2 control-plane-upgrade control-plane 1.28->1.29",
		"3 control-plane-upgrade control-plane 1.29->1.30",
		"4 node-group-upgrade mid 1.27->1.30 batches=2 disruptive", // 1.27 must not meet 1.31
		"5 control-plane-upgrade control-plane 1.30->1.31",
		"6 node-group-upgrade alpha 1.28->1.31 batches=3 disruptive", // 8 nodes: 2 + 1 at a time
		"7 node-group-upgrade mid 1.30->1.31 batches=2 disruptive",
		"8 node-group-upgrade zeta 1.28->1.31 batches=3 disruptive",
		"9 addons-upgrade control-plane 1.28->1.31",
		"10 node-group-create new-a ->1.31",
		"11 node-group-create new-b ->1.31",
		"12 node-group-scale alpha",
		"13 node-group-update-config zeta disruptive",
		"14 node-group-replace alpha batches=3 disruptive", // 9 nodes after scaling: 2 + 1 at a time
		"15 ami-family-update alpha batches=3 disruptive",
		"16 ami-family-update mid batches=2 disruptive",
		"17 ami-family-update zeta batches=3 disruptive",
		"18 tags-update control-plane",
		"19 cluster-settings control-plane",
	}, stepLines(want))
	assert.Contains(t, want.Report.Changes, "spec.nodeGroups[zeta].labels: a: 1 → 0, -b, -c, +x=7, +y=8, +z=9")
	assert.Contains(t, want.Warnings,
		"node group zeta: adding NoExecute taint k1=v:NoExecute, k2:NoExecute evicts running pods that do not tolerate it")

	// Every permutation of both lists gives the same bytes; maps are rebuilt per
	// run so their iteration order varies too.
	for i, gs := range permutations(groups) {
		for j, cs := range permutations(changes) {
			got, err := json.Marshal(build(gs, cs))
			require.NoError(t, err)
			require.JSONEq(t, string(wantJSON), string(got), "groups perm %d, changes perm %d", i, j)
			require.Equal(t, string(wantJSON), string(got))
		}
	}
}

func permutations[T any](s []T) [][]T {
	if len(s) <= 1 {
		return [][]T{slices.Clone(s)}
	}
	var out [][]T
	for i := range s {
		rest := append(slices.Clone(s[:i]), s[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]T{s[i]}, p...))
		}
	}
	return out
}

func TestBuildDoesNotMutateInputs(t *testing.T) {
	c := eks("1.28", group("b", "1.28", 2), group("a", "1.28", 2))
	r := Request{KubernetesVersion: "1.30", NodeGroups: []NodeGroupChange{{Name: "z", MaxNode: ptr(1), MachineTypes: []string{"y", "x"}}, {Name: "a", MachineTypes: []string{"q", "p"}}}}
	Build(c, r, []string{"1.30", "1.29"})
	assert.Equal(t, "b", c.NodeGroups[0].Name)
	assert.Equal(t, "z", r.NodeGroups[0].Name)
	assert.Equal(t, []string{"q", "p"}, r.NodeGroups[1].MachineTypes)
}

func TestPlanJSON(t *testing.T) {
	p := Build(eks("1.29", group("apps", "1.29", 2)), Request{KubernetesVersion: "1.30"}, supported)
	raw, err := json.Marshal(p)
	require.NoError(t, err)
	var top map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &top))
	assert.ElementsMatch(t, []string{"validationPassed", "fromVersion", "toVersion", "preflightChecks", "steps", "report", "warnings", "errors"}, keys(top))

	var doc struct {
		PreflightChecks []map[string]any `json:"preflightChecks"`
		Steps           []map[string]any `json:"steps"`
		Report          map[string]any   `json:"report"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	assert.ElementsMatch(t, []string{"name", "result", "message"}, keys(doc.PreflightChecks[0]))
	assert.ElementsMatch(t, []string{"order", "kind", "target", "fromVersion", "toVersion", "description", "disruptive", "estimatedMinutes", "batches"}, keys(doc.Steps[1]))
	assert.ElementsMatch(t, []string{"changes", "disruptions", "estimatedMinutes"}, keys(doc.Report))

	// Empty lists are [] for API clients, never null.
	empty, err := json.Marshal(Build(eks("1.29"), Request{}, supported))
	require.NoError(t, err)
	assert.Contains(t, string(empty), `"steps":[]`)
	assert.Contains(t, string(empty), `"errors":[]`)
	assert.Contains(t, string(empty), `"disruptions":[]`)
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestUnsetVersionOnUnsupportedCluster(t *testing.T) {
	p := Build(eks("1.27"), Request{Tags: map[string]string{"a": "b"}}, supported)
	assert.True(t, p.ValidationPassed)
	assert.Equal(t, ResultWarn, results(p)[CheckVersionSupported])
	require.NotEmpty(t, p.Warnings)
	assert.True(t, strings.HasPrefix(p.Warnings[0], "the current version 1.27 is no longer supported"))
}
