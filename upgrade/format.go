package upgrade

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Every helper here sorts: map iteration order must never reach the plan.

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sortedCopy returns s sorted, leaving s alone.
func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// listString formats a list as "[a, b]".
func listString(s []string) string {
	return "[" + strings.Join(s, ", ") + "]"
}

// mapString formats a map as "{a=1, b=2}".
func mapString(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// mapDiff describes how to turn from into to: "+added=v", "changed: a → b",
// "-removed", in key order.
func mapDiff(from, to map[string]string) string {
	keys := sortedKeys(from)
	for k := range to {
		if _, ok := from[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		old, hadOld := from[k]
		nu, hasNew := to[k]
		switch {
		case !hadOld:
			parts = append(parts, fmt.Sprintf("+%s=%s", k, nu))
		case !hasNew:
			parts = append(parts, "-"+k)
		case old != nu:
			parts = append(parts, fmt.Sprintf("%s: %s → %s", k, old, nu))
		}
	}
	return strings.Join(parts, ", ")
}

// taintString formats a taint the way kubectl does: key=value:Effect.
func taintString(t Taint) string {
	if t.Value == "" {
		return t.Key + ":" + t.Effect
	}
	return t.Key + "=" + t.Value + ":" + t.Effect
}

// sortedTaints returns taints ordered by key, effect, value.
func sortedTaints(ts []Taint) []Taint {
	c := slices.Clone(ts)
	slices.SortFunc(c, func(a, b Taint) int {
		return cmp.Or(cmp.Compare(a.Key, b.Key), cmp.Compare(a.Effect, b.Effect), cmp.Compare(a.Value, b.Value))
	})
	return c
}

// taintsString formats taints in sorted order, so equal sets format equally.
func taintsString(ts []Taint) string {
	parts := make([]string, 0, len(ts))
	for _, t := range sortedTaints(ts) {
		parts = append(parts, taintString(t))
	}
	return listString(parts)
}
