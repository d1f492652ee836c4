// Package gcpcatalog is the live catalog of a connected GCP project: the machine
// types of a region's zones (Compute Engine regions.get and machineTypes.list) and
// the GKE versions of a location (projects.locations.getServerConfig), and the
// zones of a region (zones.list), through the official google.golang.org/api
// clients.
//
// Types are described as the static tables describe them (catalog/internal/rules),
// with the static table's price where it has one; a GKE build's minor, channels and
// default come from the server config, its end of standard support from the static
// table where that knows the minor.
package gcpcatalog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/api/compute/v1"
	"google.golang.org/api/container/v1"
	"google.golang.org/api/googleapi"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/catalog/internal/rules"
)

// Catalog answers catalog.Live for one GCP project, with the credentials the
// services carry. Safe for concurrent use.
type Catalog struct {
	compute   *compute.Service
	container *container.Service
	project   string
	location  string
}

// New returns the live catalog of project; versions are those GKE offers in
// location (a region, e.g. "us-central1").
func New(computeSvc *compute.Service, containerSvc *container.Service, project, location string) *Catalog {
	return &Catalog{compute: computeSvc, container: containerSvc, project: project, location: location}
}

var (
	_ catalog.Live         = (*Catalog)(nil)
	_ catalog.Zones        = (*Catalog)(nil)
	_ catalog.RegionLister = (*Catalog)(nil)
)

// Regions returns the project's Compute Engine regions, from regions.list (pages
// followed) less those DELETED, sorted. A region that is DOWN is still listed.
func (c *Catalog) Regions(ctx context.Context) ([]string, error) {
	var regions []string
	err := c.compute.Regions.List(c.project).Context(ctx).Pages(ctx, func(page *compute.RegionList) error {
		for _, r := range page.Items {
			if r.Name != "" && (r.Deprecated == nil || r.Deprecated.State != "DELETED") {
				regions = append(regions, r.Name)
			}
		}
		return nil
	})
	if err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusNotImplemented {
			err = fmt.Errorf("%w: %w", catalog.ErrLiveUnavailable, err)
		}
		return nil, fmt.Errorf("list regions of project %s: %w", c.project, err)
	}
	if len(regions) == 0 {
		return nil, fmt.Errorf("list regions of project %s: none listed: %w", c.project, catalog.ErrLiveUnavailable)
	}
	slices.Sort(regions)
	return slices.Compact(regions), nil
}

// Zones returns the region's zones, from zones.list (every zone of every region,
// pages followed; the region is matched here, as the list is small) less those
// DELETED. Google lists every public zone to every project, so a region none of
// them is in does not exist: an error wrapping catalog.ErrUnknownRegion. A zone
// that is DOWN is still a zone of the region.
func (c *Catalog) Zones(ctx context.Context, region string) ([]string, error) {
	var zones []string
	err := c.compute.Zones.List(c.project).Context(ctx).Pages(ctx, func(page *compute.ZoneList) error {
		for _, z := range page.Items {
			if path.Base(z.Region) == region && (z.Deprecated == nil || z.Deprecated.State != "DELETED") {
				zones = append(zones, z.Name)
			}
		}
		return nil
	})
	if err != nil {
		var ge *googleapi.Error
		if errors.As(err, &ge) && ge.Code == http.StatusNotImplemented {
			err = fmt.Errorf("%w: %w", catalog.ErrLiveUnavailable, err)
		}
		return nil, fmt.Errorf("list zones of project %s: %w", c.project, err)
	}
	if len(zones) == 0 {
		return nil, fmt.Errorf("%s is not a Compute Engine region: no zone of project %s lies in it: %w", region, c.project, catalog.ErrUnknownRegion)
	}
	slices.Sort(zones)
	return zones, nil
}

// MachineTypes returns every machine type some zone of the region offers
// (OBSOLETE and DELETED ones left out).
func (c *Catalog) MachineTypes(ctx context.Context, region string) ([]catalog.MachineTypeInfo, error) {
	r, err := c.compute.Regions.Get(c.project, region).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("get region %s: %w", region, err)
	}
	seen := map[string]bool{}
	var out []catalog.MachineTypeInfo
	for _, zoneURL := range r.Zones {
		zone := path.Base(zoneURL)
		err := c.compute.MachineTypes.List(c.project, zone).Context(ctx).Pages(ctx, func(page *compute.MachineTypeList) error {
			for _, m := range page.Items {
				if seen[m.Name] || (m.Deprecated != nil && (m.Deprecated.State == "OBSOLETE" || m.Deprecated.State == "DELETED")) {
					continue
				}
				seen[m.Name] = true
				out = append(out, describe(m))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list machine types of %s: %w", zone, err)
		}
	}
	slices.SortFunc(out, func(a, b catalog.MachineTypeInfo) int {
		if fa, fb := rules.FamilyKey("gcp", a.Name), rules.FamilyKey("gcp", b.Name); fa != fb {
			return strings.Compare(fa, fb)
		}
		if a.CPUMillicores != b.CPUMillicores {
			return a.CPUMillicores - b.CPUMillicores
		}
		if a.MemoryMiB != b.MemoryMiB {
			return a.MemoryMiB - b.MemoryMiB
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// describe turns a Compute Engine machine type into the catalog's form. Its GPUs
// are those built in (accelerators), named as GKE names them, which Compute
// Engine's accelerator types already are.
func describe(m *compute.MachineType) catalog.MachineTypeInfo {
	info := catalog.MachineTypeInfo{Name: m.Name, CPUMillicores: int(m.GuestCpus) * 1000, MemoryMiB: int(m.MemoryMb),
		Architecture: catalog.ArchX8664}
	if m.Architecture == "ARM64" {
		info.Architecture = catalog.ArchARM64
	}
	for _, a := range m.Accelerators {
		if a.GuestAcceleratorCount > 0 {
			info.GPUs += int(a.GuestAcceleratorCount)
			info.GPUType = a.GuestAcceleratorType
		}
	}
	info.Category = catalog.Category(rules.GCP(m.Name, info.GPUs))
	if static, _, ok := catalog.MachineTypeAnyRegion(catalog.GCP, m.Name); ok {
		info.PricePerHour = static.PricePerHour
	}
	return info
}

// KubernetesVersions returns the GKE minors the location offers, newest first, each
// with its builds (newest first) and the release channels offering them; the
// default is the minor of the default cluster version.
func (c *Catalog) KubernetesVersions(ctx context.Context) ([]catalog.Version, error) {
	name := "projects/" + c.project + "/locations/" + c.location
	sc, err := c.container.Projects.Locations.GetServerConfig(name).Context(ctx).Do()
	if err != nil {
		return nil, fmt.Errorf("get gke server config of %s: %w", c.location, err)
	}
	channelsOf := map[string][]string{}
	for _, ch := range sc.Channels {
		for _, v := range ch.ValidVersions {
			channelsOf[v] = append(channelsOf[v], ch.Channel)
		}
	}
	byMinor := map[string]*catalog.Version{}
	var minors []string
	builds := slices.Clone(sc.ValidMasterVersions)
	for v := range channelsOf {
		if !slices.Contains(builds, v) {
			builds = append(builds, v)
		}
	}
	slices.SortFunc(builds, func(a, b string) int { return compareBuild(b, a) })
	for _, b := range builds {
		minor := minorOf(b)
		if minor == "" {
			continue
		}
		v := byMinor[minor]
		if v == nil {
			v = &catalog.Version{Minor: minor}
			if static, ok := catalog.KubernetesVersion(catalog.GKE, minor); ok {
				v.EndOfStandardSupport = static.EndOfStandardSupport
			}
			byMinor[minor] = v
			minors = append(minors, minor)
		}
		chs := slices.Clone(channelsOf[b])
		slices.Sort(chs)
		v.Builds = append(v.Builds, catalog.Build{Version: b, Channels: chs})
		for _, ch := range chs {
			if !slices.Contains(v.Channels, ch) {
				v.Channels = append(v.Channels, ch)
			}
			v.AutopilotCompatible = true // Autopilot runs the versions of a release channel
		}
	}
	if len(minors) == 0 {
		return nil, fmt.Errorf("gke server config of %s lists no version: %w", c.location, catalog.ErrLiveUnavailable)
	}
	def := minorOf(sc.DefaultClusterVersion)
	out := make([]catalog.Version, 0, len(minors))
	for _, m := range minors {
		v := byMinor[m]
		v.Default = m == def
		out = append(out, *v)
	}
	return out, nil
}

var buildForm = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?(?:-gke\.(\d+))?`)

// minorOf returns "1.33" of "1.33.1-gke.1107000"; "" when v is no version.
func minorOf(v string) string {
	m := buildForm.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	return m[1] + "." + m[2]
}

// compareBuild orders GKE builds by major, minor, patch and gke number.
func compareBuild(a, b string) int {
	pa, pb := buildForm.FindStringSubmatch(a), buildForm.FindStringSubmatch(b)
	if pa == nil || pb == nil {
		return strings.Compare(a, b)
	}
	for i := 1; i <= 4; i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x - y
		}
	}
	return 0
}
