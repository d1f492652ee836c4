package gkefake

import (
	"slices"
	"strconv"
	"strings"

	compute "google.golang.org/api/compute/v1"
)

// defaultZones are the zones a new fake lists (name → region), a few of Google's
// real ones; SetZones replaces them.
var defaultZones = map[string]string{
	"us-central1-a": "us-central1", "us-central1-b": "us-central1", "us-central1-c": "us-central1", "us-central1-f": "us-central1",
	"us-east1-b": "us-east1", "us-east1-c": "us-east1", "us-east1-d": "us-east1",
	"europe-west4-a": "europe-west4", "europe-west4-b": "europe-west4", "europe-west4-c": "europe-west4",
}

// Zone is a Compute Engine zone the fake lists: its name, its region's name, its
// status (UP or DOWN; empty is UP) and, when set, its deprecation state
// (DEPRECATED, OBSOLETE or DELETED).
type Zone struct {
	Name, Region, Status, Deprecated string
}

// SetZones replaces the zones zones.list answers (by default a few of Google's:
// us-central1-a/b/c/f, us-east1-b/c/d, europe-west4-a/b/c). Every project sees the
// same zones, as on Google.
func (s *Server) SetZones(zones ...Zone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones = slices.Clone(zones)
}

func zoneList(m map[string]string) []Zone {
	out := make([]Zone, 0, len(m))
	for name, region := range m {
		out = append(out, Zone{Name: name, Region: region})
	}
	return out
}

// listZones answers zones.list (GET compute/v1/projects/{project}/zones) as Compute
// Engine does: a compute#zoneList of compute#zone items, each with its name,
// status and region (a URL), ordered by name, maxResults (default and most 500) a
// page with nextPageToken. It does not implement filter and says so.
func (s *Server) listZones(q *request) (any, *Error) {
	project := strings.Split(q.rt.parent, "/")[1]
	if f := q.query["filter"]; len(f) > 0 && f[0] != "" {
		return nil, &Error{Code: 501, Status: "UNIMPLEMENTED", Message: "zones.list: the fake does not implement filter"}
	}
	start, size, perr := pageOf(q)
	if perr != nil {
		return nil, perr
	}
	zones := slices.Clone(s.zones)
	slices.SortFunc(zones, func(a, b Zone) int { return strings.Compare(a.Name, b.Name) })
	base := "https://www.googleapis.com/compute/v1/projects/" + project
	out := &compute.ZoneList{Kind: "compute#zoneList", Id: "projects/" + project + "/zones", SelfLink: base + "/zones", Items: []*compute.Zone{}}
	for i := start; i < len(zones) && i < start+size; i++ {
		z := zones[i]
		status := z.Status
		if status == "" {
			status = "UP"
		}
		out.Items = append(out.Items, &compute.Zone{Kind: "compute#zone", Id: uint64(2000 + i), Name: z.Name, Description: z.Name, //nolint:gosec // i is an index of a list of a few hundred
			Status: status, Region: base + "/regions/" + z.Region, SelfLink: base + "/zones/" + z.Name,
			CreationTimestamp: "1969-12-31T16:00:00.000-08:00"})
		if z.Deprecated != "" {
			out.Items[len(out.Items)-1].Deprecated = &compute.DeprecationStatus{State: z.Deprecated}
		}
	}
	if start+size < len(zones) {
		out.NextPageToken = strconv.Itoa(start + size)
	}
	return out, nil
}

// pageOf reads a list's maxResults (default and most 500) and pageToken (the
// offset this fake gives as nextPageToken).
func pageOf(q *request) (start, size int, _ *Error) {
	size = 500
	if v := q.query["maxResults"]; len(v) == 1 && v[0] != "" {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 || n > 500 {
			return 0, 0, invalid("Invalid value for field 'maxResults': '%s'. Must be less than or equal to 500", v[0])
		}
		if n > 0 {
			size = n
		}
	}
	start = 0
	if v := q.query["pageToken"]; len(v) == 1 && v[0] != "" {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return 0, 0, invalid("Invalid value for field 'pageToken': '%s'", v[0])
		}
		start = n
	}
	return start, size, nil
}

// listRegions answers regions.list (GET compute/v1/projects/{project}/regions) as
// Compute Engine does: a compute#regionList of compute#region items, each with its
// name, status (UP) and zones (URLs), ordered by name, paged as zones.list. The
// regions are those of the fake's zones (SetZones). It does not implement filter.
func (s *Server) listRegions(q *request) (any, *Error) {
	project := strings.Split(q.rt.parent, "/")[1]
	if f := q.query["filter"]; len(f) > 0 && f[0] != "" {
		return nil, &Error{Code: 501, Status: "UNIMPLEMENTED", Message: "regions.list: the fake does not implement filter"}
	}
	start, size, perr := pageOf(q)
	if perr != nil {
		return nil, perr
	}
	base := "https://www.googleapis.com/compute/v1/projects/" + project
	zonesOf := map[string][]string{}
	for _, z := range s.zones {
		zonesOf[z.Region] = append(zonesOf[z.Region], base+"/zones/"+z.Name)
	}
	names := make([]string, 0, len(zonesOf))
	for r := range zonesOf {
		names = append(names, r)
	}
	slices.Sort(names)
	out := &compute.RegionList{Kind: "compute#regionList", Id: "projects/" + project + "/regions", SelfLink: base + "/regions", Items: []*compute.Region{}}
	for i := start; i < len(names) && i < start+size; i++ {
		zones := zonesOf[names[i]]
		slices.Sort(zones)
		out.Items = append(out.Items, &compute.Region{Kind: "compute#region", Id: uint64(1000 + i), Name: names[i], Description: names[i], //nolint:gosec // i is an index of a list of a few hundred
			Status: "UP", Zones: zones, SelfLink: base + "/regions/" + names[i], CreationTimestamp: "1969-12-31T16:00:00.000-08:00"})
	}
	if start+size < len(names) {
		out.NextPageToken = strconv.Itoa(start + size)
	}
	return out, nil
}
