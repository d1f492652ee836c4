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
	size := 500
	if v := q.query["maxResults"]; len(v) == 1 && v[0] != "" {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 || n > 500 {
			return nil, invalid("Invalid value for field 'maxResults': '%s'. Must be less than or equal to 500", v[0])
		}
		if n > 0 {
			size = n
		}
	}
	start := 0
	if v := q.query["pageToken"]; len(v) == 1 && v[0] != "" {
		n, err := strconv.Atoi(v[0])
		if err != nil || n < 0 {
			return nil, invalid("Invalid value for field 'pageToken': '%s'", v[0])
		}
		start = n
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
		out.Items = append(out.Items, &compute.Zone{Kind: "compute#zone", Id: uint64(2000 + i), Name: z.Name, Description: z.Name,
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
