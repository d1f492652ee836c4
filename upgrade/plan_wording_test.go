package upgrade

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// descriptions lists the steps' descriptions, in order.
func descriptions(p Plan) []string {
	out := []string{}
	for _, s := range p.Steps {
		out = append(out, s.Description)
	}
	return out
}

// Hops are counted from 1 to their number, up and down, and node-group steps say
// which way they move.
func TestStepDescriptionsCountHopsAndNameTheDirection(t *testing.T) {
	up := Build(eks("1.29", group("apps", "1.29", 2)), Request{KubernetesVersion: "1.31"}, supported)
	require.True(t, up.ValidationPassed, up.Errors)
	assert.Equal(t, []string{
		"Upgrade the control plane from 1.29 to 1.30 (hop 1 of 2)",
		"Upgrade the control plane from 1.30 to 1.31 (hop 2 of 2)",
		"Upgrade node group apps from 1.29 to 1.31: rolling, 1 batch of up to 2 nodes",
		"Move the cluster add-ons to the versions for 1.31",
	}, descriptions(up))

	down := Build(eks("1.31", group("apps", "1.31", 2)), Request{KubernetesVersion: "1.29", AllowDowngrade: true}, supported)
	require.True(t, down.ValidationPassed, down.Errors)
	assert.Equal(t, []string{
		"Downgrade node group apps from 1.31 to 1.30 before the control plane moves down to 1.30: rolling, 1 batch of up to 2 nodes",
		"Downgrade the control plane from 1.31 to 1.30 (hop 1 of 2)",
		"Downgrade node group apps from 1.30 to 1.29 before the control plane moves down to 1.29: rolling, 1 batch of up to 2 nodes",
		"Downgrade the control plane from 1.30 to 1.29 (hop 2 of 2)",
		"Move the cluster add-ons to the versions for 1.29",
	}, descriptions(down))
}

// A node group already at the target (ahead of the control plane, which the skew
// check warns about) gets no upgrade step to where it is.
func TestNodeGroupAtTargetIsNotUpgraded(t *testing.T) {
	p := Build(eks("1.30", group("ahead", "1.31", 2), group("apps", "1.30", 2)), Request{KubernetesVersion: "1.31"}, supported)
	assert.Equal(t, []string{
		"1 control-plane-upgrade control-plane 1.30->1.31",
		"2 node-group-upgrade apps 1.30->1.31 batches=1 disruptive",
		"3 addons-upgrade control-plane 1.30->1.31",
	}, stepLines(p))
	assert.Equal(t, ResultWarn, results(p)[CheckVersionSkew])
}

// The node-group-names check counts existing and new groups.
func TestNodeGroupNamesCheckCountsTheChanges(t *testing.T) {
	message := func(r Request) string {
		for _, c := range Build(eks("1.30", group("apps", "1.30", 2), group("web", "1.30", 2)), r, supported).PreflightChecks {
			if c.Name == CheckNodeGroupNames {
				return c.Message
			}
		}
		t.Fatal("no node-group-names check")
		return ""
	}
	newGroup := func(name string) NodeGroupChange {
		return NodeGroupChange{Name: name, MaxNode: ptr(3), MachineTypes: []string{"m5.large"}}
	}
	assert.Equal(t, "no node group changes", message(Request{}))
	assert.Equal(t, "changes to 1 existing node group and 1 new node group; names valid and unique",
		message(Request{NodeGroups: []NodeGroupChange{{Name: "apps", MinNode: ptr(2)}, newGroup("batch")}}))
	assert.Equal(t, "changes to 2 existing node groups and 0 new node groups; names valid and unique",
		message(Request{NodeGroups: []NodeGroupChange{{Name: "apps", MinNode: ptr(2)}, {Name: "web", MinNode: ptr(2)}}}))
	assert.Equal(t, "changes to 0 existing node groups and 3 new node groups; names valid and unique",
		message(Request{NodeGroups: []NodeGroupChange{newGroup("a"), newGroup("b"), newGroup("c")}}))
}

// A new group's step names the eks image family; its change lists taints only when
// it has some.
func TestCreateStepWording(t *testing.T) {
	ch := NodeGroupChange{Name: "batch", MaxNode: ptr(3), MachineTypes: []string{"m5.large"}}
	p := Build(eks("1.30"), Request{AmiFamily: "AL2023", NodeGroups: []NodeGroupChange{ch}}, supported)
	require.True(t, p.ValidationPassed, p.Errors)
	require.NotEmpty(t, p.Steps)
	assert.Equal(t, "Create node group batch at 1.30: ondemand [m5.large], 0-3 nodes, AL2023 images", p.Steps[0].Description)
	assert.Equal(t, "spec.nodeGroups[batch]: new node group (machineTypes [m5.large], instanceType ondemand, minNode 0, maxNode 3)", p.Report.Changes[0])

	gke := Cluster{Provider: "gcp", ProvisionerType: "gke", Version: "1.30"}
	p = Build(gke, Request{NodeGroups: []NodeGroupChange{{Name: "batch", MaxNode: ptr(3), MachineTypes: []string{"e2-standard-4"}}}}, supported)
	require.True(t, p.ValidationPassed, p.Errors)
	assert.NotContains(t, p.Steps[0].Description, "images")

	ch.Taints = []Taint{{Key: "dedicated", Value: "batch", Effect: "NoSchedule"}}
	p = Build(eks("1.30"), Request{NodeGroups: []NodeGroupChange{ch}}, supported)
	require.True(t, p.ValidationPassed, p.Errors)
	assert.True(t, strings.Contains(p.Report.Changes[0], ", taints "), p.Report.Changes[0])
	assert.NotContains(t, p.Steps[0].Description, "images", "no image family requested")
}

// Scaling is disruptive only when the maximum goes down.
func TestScaleIsDisruptiveOnlyWhenMaxGoesDown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		ch         NodeGroupChange
		disruptive bool
	}{
		{"min up", NodeGroupChange{Name: "apps", MinNode: ptr(2)}, false},
		{"max up", NodeGroupChange{Name: "apps", MaxNode: ptr(5)}, false},
		{"max down", NodeGroupChange{Name: "apps", MaxNode: ptr(3)}, true},
		{"min and max down", NodeGroupChange{Name: "apps", MinNode: ptr(0), MaxNode: ptr(1)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Build(eks("1.30", group("apps", "1.30", 4)), Request{NodeGroups: []NodeGroupChange{tc.ch}}, supported)
			require.True(t, p.ValidationPassed, p.Errors)
			require.Len(t, p.Steps, 1)
			assert.Equal(t, KindNodeGroupScale, p.Steps[0].Kind)
			assert.Equal(t, tc.disruptive, p.Steps[0].Disruptive)
		})
	}
}
