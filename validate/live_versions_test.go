package validate_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/validate"
)

// fakeLive is a connected account's catalog: the types it offers (in every
// region), the minors it offers, or errors.
type fakeLive struct {
	types              []string
	versions           []string
	typesErr, versErr  error
	typesAsked, vAsked int
}

func (f *fakeLive) MachineTypes(_ context.Context, _ string) ([]catalog.MachineTypeInfo, error) {
	f.typesAsked++
	if f.typesErr != nil {
		return nil, f.typesErr
	}
	var out []catalog.MachineTypeInfo
	for _, n := range f.types {
		out = append(out, catalog.MachineTypeInfo{Name: n, CPUMillicores: 2000, MemoryMiB: 4096, Architecture: catalog.ArchX8664})
	}
	return out, nil
}

func (f *fakeLive) KubernetesVersions(context.Context) ([]catalog.Version, error) {
	f.vAsked++
	if f.versErr != nil {
		return nil, f.versErr
	}
	var out []catalog.Version
	for i, v := range f.versions {
		out = append(out, catalog.Version{Minor: v, Default: i == 0})
	}
	return out, nil
}

// The live catalog settles Kubernetes versions as it settles machine types: a
// minor newer than the static table but offered is no warning; one it does not
// offer is a fault naming what it offers; when it cannot answer, the static table
// decides (a warning for a newer minor).
func TestCheckLiveVersions(t *testing.T) {
	const ver = "spec.kubernetesVersion"
	s := clusterSpec(t, eksExample, "us-east-1")
	next := ""
	for _, v := range catalog.KubernetesVersions(catalog.EKS) {
		if n := nextMinor(t, v.Minor); next == "" || minorNumber(t, n) > minorNumber(t, next) {
			next = n
		}
	}

	s.KubernetesVersion = &next
	if _, warnings := validate.Check(s); warnings[ver] == "" {
		t.Fatalf("static check of %s: no warning on %s (%v)", next, ver, warnings)
	}
	live := &fakeLive{types: []string{"t3.medium"}, versions: []string{next, "1.33"}}
	errs, warnings := validate.CheckLive(t.Context(), s, live)
	assertPaths(t, errs)
	if len(warnings) != 0 {
		t.Errorf("offered by the live catalog, still warnings: %v", warnings)
	}

	old := "1.33"
	live.versions = []string{next}
	s.KubernetesVersion = &old
	errs, _ = validate.CheckLive(t.Context(), s, live)
	assertPaths(t, errs, ver)
	if !strings.Contains(errs[ver], "not offered") || !strings.Contains(errs[ver], next) {
		t.Errorf("fault %q does not say what is offered", errs[ver])
	}
	if live.vAsked != 2 {
		t.Errorf("versions asked %d times in two checks", live.vAsked)
	}

	live.versErr = errors.New("throttled")
	s.KubernetesVersion = &next
	errs, warnings = validate.CheckLive(t.Context(), s, live)
	assertPaths(t, errs)
	if warnings[ver] == "" {
		t.Errorf("without an answer: warnings %v, want the static one on %s", warnings, ver)
	}
}

// An update is checked against the cluster's region with the live catalog: a node
// group's machine type or a version it does not offer is a fault; what it cannot
// answer, the static catalog decides.
func TestCheckUpdateLive(t *testing.T) {
	const mt0, ver = "spec.nodeGroups.0.machineTypes.0", "spec.kubernetesVersion"
	u := updateSpec(t, eksUpdateExample)
	(*u.NodeGroups)[0].MachineTypes = &[]string{"m7i.large"}
	v := "1.33"
	u.KubernetesVersion = &v
	live := &fakeLive{types: []string{"t3.medium"}, versions: []string{"1.34"}}
	errs, _ := validate.CheckUpdateLive(t.Context(), catalog.AWS, catalog.EKS, "ca-west-1", u, live)
	assertPaths(t, errs, mt0, ver)
	if !strings.Contains(errs[mt0], "not offered in ca-west-1") {
		t.Errorf("machine type fault %q does not name the region", errs[mt0])
	}

	live.types, live.versions = []string{"m7i.large"}, []string{"1.34", "1.33"}
	errs, warnings := validate.CheckUpdateLive(t.Context(), catalog.AWS, catalog.EKS, "ca-west-1", u, live)
	assertPaths(t, errs)
	if len(warnings) != 0 {
		t.Errorf("offered, still warnings: %v", warnings)
	}

	live.typesErr, live.versErr = errors.New("down"), errors.New("down")
	errs, _ = validate.CheckUpdateLive(t.Context(), catalog.AWS, catalog.EKS, "ca-west-1", u, live)
	assertPaths(t, errs)
}

func nextMinor(t *testing.T, minor string) string {
	t.Helper()
	var major, n int
	if _, err := fmtSscanf(minor, &major, &n); err != nil {
		t.Fatalf("minor %q: %v", minor, err)
	}
	return strings.Join([]string{itoa(major), itoa(n + 1)}, ".")
}

func fmtSscanf(minor string, major, n *int) (int, error) { return fmt.Sscanf(minor, "%d.%d", major, n) }

func itoa(i int) string { return strconv.Itoa(i) }

func minorNumber(t *testing.T, minor string) int {
	t.Helper()
	var major, n int
	if _, err := fmtSscanf(minor, &major, &n); err != nil {
		t.Fatalf("minor %q: %v", minor, err)
	}
	return major*1000 + n
}
