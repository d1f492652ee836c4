package upgrade

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Label keys, prefixes and values are bounded inclusively, as Kubernetes bounds them.
func TestLabelLengthLimits(t *testing.T) {
	name63, prefix253 := strings.Repeat("n", 63), strings.Repeat("p", 63)+"."+strings.Repeat("p", 63)+"."+strings.Repeat("p", 63)+"."+strings.Repeat("p", 61)
	require.Len(t, prefix253, 253)
	assert.NoError(t, validLabelKey(name63))
	assert.Error(t, validLabelKey(name63+"n"))
	assert.NoError(t, validLabelKey(prefix253+"/"+name63))
	assert.Error(t, validLabelKey(prefix253+"p/"+name63))
	assert.Error(t, validLabelKey("/"+name63), "empty prefix")
	assert.NoError(t, validLabelValue(""))
	assert.NoError(t, validLabelValue(name63))
	assert.Error(t, validLabelValue(name63+"n"))
}

// A group may be pinned at one size (minNode = maxNode), and must allow a node.
func TestValidSize(t *testing.T) {
	for _, tc := range []struct {
		min, max int
		ok       bool
	}{
		{0, 1, true}, {3, 3, true}, {1, 1, true}, {0, 0, false}, {4, 3, false}, {-1, 3, false},
	} {
		assert.Equal(t, tc.ok, validSize(tc.min, tc.max), "min %d max %d", tc.min, tc.max)
	}
	p := Build(eks("1.30", group("apps", "1.30", 4)), Request{NodeGroups: []NodeGroupChange{{Name: "apps", MinNode: ptr(4)}}}, supported)
	require.True(t, p.ValidationPassed, p.Errors)
	assert.Equal(t, []string{"spec.nodeGroups[apps].minNode: 1 → 4"}, p.Report.Changes)
}

// An image family change replaces each group's nodes in batches, each batch taking
// its minutes.
func TestAmiFamilyChangeTakesMinutesPerBatch(t *testing.T) {
	c := eks("1.30", group("apps", "1.30", 4))
	c.AmiFamily = "AL2"
	p := Build(c, Request{AmiFamily: "Bottlerocket"}, supported)
	require.True(t, p.ValidationPassed, p.Errors)
	require.Len(t, p.Steps, 2)
	s := p.Steps[0]
	assert.Equal(t, KindAmiFamilyUpdate, s.Kind)
	assert.Equal(t, 2, s.Batches) // 4 nodes, 1 surge + 1 unavailable at a time
	assert.Equal(t, 2*minutesPerBatch, s.EstimatedMinutes)
	assert.Equal(t, KindClusterSettings, p.Steps[1].Kind)
	assert.Equal(t, minutesSettings, p.Steps[1].EstimatedMinutes)
	assert.False(t, p.Steps[1].Disruptive)
	assert.Equal(t, 2*minutesPerBatch+minutesSettings, p.Report.EstimatedMinutes)
}
