package upgrade

import (
	"fmt"
	"strconv"
	"strings"
)

// defaultRollout is "1"/"1"; used when updateConfig is invalid so the plan still
// carries batch estimates.
var defaultRollout = rollout{unavailable: intOrPercent{n: 1}, surge: intOrPercent{n: 1}}

// intOrPercent is a parsed maxUnavailable or maxSurge value.
type intOrPercent struct {
	n       int
	percent bool
}

// parseIntOrPercent reads "3" or "25%"; signs, fractions and percentages above
// 100 are rejected.
func parseIntOrPercent(s string) (intOrPercent, error) {
	num, percent := strings.CutSuffix(s, "%")
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return intOrPercent{}, fmt.Errorf("%q: want a non-negative integer or a percentage 0-100%%", s)
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return intOrPercent{}, fmt.Errorf("%q: %w", s, err)
	}
	if percent && n > 100 {
		return intOrPercent{}, fmt.Errorf("%q: a percentage must be at most 100%%", s)
	}
	return intOrPercent{n: n, percent: percent}, nil
}

// resolve turns the value into a node count for a group of nodes.
func (v intOrPercent) resolve(nodes int, roundUp bool) int {
	if !v.percent {
		return v.n
	}
	if roundUp {
		return (nodes*v.n + 99) / 100
	}
	return nodes * v.n / 100
}

// rollout is a parsed updateConfig.
type rollout struct {
	unavailable, surge intOrPercent
}

// batches returns the batch size and the number of batches of a rolling
// replacement of nodes nodes (see the package doc for the formula).
func (r rollout) batches(nodes int) (size, batches int) {
	if nodes < 1 {
		// Nothing to roll, but the group's template still changes once.
		return 1, 1
	}
	// Surge rounds up and unavailable down, like Kubernetes Deployments: err on
	// the side of extra capacity rather than extra disruption.
	size = r.surge.resolve(nodes, true) + r.unavailable.resolve(nodes, false)
	size = max(1, min(size, nodes))
	return size, (nodes + size - 1) / size
}
