// Package validate checks the rules of the cluster manifests (shared/manifests.md)
// that the JSON schema cannot express: rules across fields, rules that depend on the
// provider, and membership in the cloud catalog.
//
// The server checks types, enums, required fields, patterns and unknown fields
// against openapi.yaml first, then calls this package; it is nonetheless robust to
// zero values and re-checks the shapes it relies on. It reports every fault, not just
// the first, each under the manifest field it concerns, as a dot-separated path from
// the manifest root with indices as path segments:
//
//	spec.clusterSpec.dataPlane.nodeGroups.0.machineTypes.1
//	spec.provisioner.eks.subnets.us-east-1a.0.id
//
// the form the server's schema errors use. The legacy flat deploy body carries the
// spec's fields at the top level; a caller validating one strips the "spec." prefix.
//
// A value the catalog does not list is not a fault when the catalog may simply be
// behind the cloud: a region or machine type with the shape of the provider's names,
// a Kubernetes version newer than every listed one, a machine type listed elsewhere
// but not in the region. Those are warnings (Check), for the cloud to settle; a
// value that cannot be right (another provider's name, a retired version) is a fault.
// With the connected account's own catalog (CheckLive), the cloud settles machine
// types at once: one it does not offer in the region is a fault naming the region;
// likewise an EKS subnet's zone it does not list, and a region it says does not
// exist (a fault of spec.region).
//
// Messages never echo credential data. Checks that need the store or a cloud (name
// uniqueness, connected accounts, the current version of an updated cluster) are the
// caller's.
package validate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Errors maps a manifest field path ("spec.region") to what is wrong with it. It is
// empty when the manifest passes. Two faults of one field share its entry, joined by
// "; ".
type Errors map[string]string

// Paths returns the fields at fault, sorted.
func (e Errors) Paths() []string {
	paths := make([]string, 0, len(e))
	for p := range e {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

// String lists the faults one per line, sorted by field, for logs and test output.
func (e Errors) String() string {
	var b strings.Builder
	for _, p := range e.Paths() {
		fmt.Fprintf(&b, "%s: %s\n", p, e[p])
	}
	return b.String()
}

// addf records a fault of the field at path.
func (e Errors) addf(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	old, ok := e[path]
	switch {
	case !ok:
		e[path] = msg
	case !strings.Contains(old, msg):
		e[path] = old + "; " + msg
	}
}

// join appends path segments: field names, map keys or indices.
func join(path string, segments ...any) string {
	var b strings.Builder
	b.WriteString(path)
	for _, s := range segments {
		b.WriteByte('.')
		switch s := s.(type) {
		case int:
			b.WriteString(strconv.Itoa(s))
		case string:
			b.WriteString(s)
		default:
			fmt.Fprint(&b, s)
		}
	}
	return b.String()
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// sortedKeys returns m's keys sorted, so faults are found in a stable order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// list renders values for a message: "a, b or c".
func list(values []string, conj string) string {
	switch len(values) {
	case 0:
		return ""
	case 1:
		return values[0]
	}
	return strings.Join(values[:len(values)-1], ", ") + " " + conj + " " + values[len(values)-1]
}
