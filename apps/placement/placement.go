// Package placement resolves an application profile's placement to one of the
// organization's clusters, and says why that cluster was chosen. It is pure: the
// caller passes the clusters (and how many applications each runs) it read.
//
// The strategies, as manifests.md states them: an explicit cluster name wins; else a
// provider (and optional region) picks the best READY cluster there; else the nearest
// READY cluster. "Best" ranks the candidates by fewest applications, then the newest
// Kubernetes version, then name, so equal inputs always give the same choice.
// "Nearest" has no caller location to measure from yet (the platform records none),
// so it is the best READY cluster of the organization by the same ranking, and its
// reason says so.
package placement

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Strategy is how a profile places applications.
type Strategy string

// Strategies, as the API names them (ApplicationProfile placement).
const (
	ByCluster  Strategy = "cluster"
	ByProvider Strategy = "cloudProvider"
	Nearest    Strategy = "nearest"
)

// Ready is the status of a cluster applications may be placed on.
const Ready = "READY"

// Want is a profile's placement.
type Want struct {
	ClusterName string
	Provider    string
	Region      string // only with Provider; empty: any region
}

// Strategy is the strategy the fields select.
func (w Want) Strategy() Strategy {
	switch {
	case w.ClusterName != "":
		return ByCluster
	case w.Provider != "":
		return ByProvider
	default:
		return Nearest
	}
}

// Cluster is what placement knows of a cluster.
type Cluster struct {
	ID, Name, Provider, Region, Status string
	KubernetesVersion                  string
	// Applications is how many applications run on it.
	Applications int
}

// Choice is the cluster a placement resolved to and why.
type Choice struct {
	Cluster Cluster
	Reason  string
}

// ErrNoCluster means no cluster fits the placement now; the error's text says why.
var ErrNoCluster = errors.New("no cluster fits the placement")

// Resolve picks the cluster for w among clusters (the organization's live ones).
// It fails with an error wrapping ErrNoCluster when none fits.
func Resolve(w Want, clusters []Cluster) (Choice, error) {
	switch w.Strategy() {
	case ByCluster:
		i := slices.IndexFunc(clusters, func(c Cluster) bool { return c.Name == w.ClusterName })
		if i < 0 {
			return Choice{}, fmt.Errorf("%w: the organization has no cluster named %q", ErrNoCluster, w.ClusterName)
		}
		c := clusters[i]
		if c.Status != Ready {
			return Choice{}, fmt.Errorf("%w: cluster %q is %s, not %s", ErrNoCluster, c.Name, c.Status, Ready)
		}
		return Choice{Cluster: c, Reason: fmt.Sprintf("the profile names cluster %q", c.Name)}, nil
	case ByProvider:
		where := w.Provider
		if w.Region != "" {
			where += " in " + w.Region
		}
		var there, ready []Cluster
		for _, c := range clusters {
			if c.Provider == w.Provider && (w.Region == "" || c.Region == w.Region) {
				there = append(there, c)
				if c.Status == Ready {
					ready = append(ready, c)
				}
			}
		}
		if len(ready) == 0 {
			if len(there) == 0 {
				return Choice{}, fmt.Errorf("%w: the organization has no cluster on %s", ErrNoCluster, where)
			}
			return Choice{}, fmt.Errorf("%w: none of the %d clusters on %s is %s", ErrNoCluster, len(there), where, Ready)
		}
		best := rank(ready)
		return Choice{Cluster: best, Reason: fmt.Sprintf("the best of %d %s clusters on %s: %s", len(ready), Ready, where, why(best, ready))}, nil
	default:
		var ready []Cluster
		for _, c := range clusters {
			if c.Status == Ready {
				ready = append(ready, c)
			}
		}
		if len(ready) == 0 {
			return Choice{}, fmt.Errorf("%w: the organization has no %s cluster", ErrNoCluster, Ready)
		}
		best := rank(ready)
		return Choice{Cluster: best, Reason: fmt.Sprintf("nearest placement without a known location: the best of the organization's %d %s clusters: %s",
			len(ready), Ready, why(best, ready))}, nil
	}
}

// rank returns the best of candidates (not empty): fewest applications, then newest
// Kubernetes version, then name.
func rank(candidates []Cluster) Cluster {
	return slices.MinFunc(candidates, func(a, b Cluster) int {
		return cmp.Or(
			cmp.Compare(a.Applications, b.Applications),
			-compareVersions(a.KubernetesVersion, b.KubernetesVersion),
			cmp.Compare(a.Name, b.Name))
	})
}

// why says what made best win over the others.
func why(best Cluster, candidates []Cluster) string {
	if len(candidates) == 1 {
		return fmt.Sprintf("%q is the only one", best.Name)
	}
	apps := fmt.Sprintf("%q runs the fewest applications (%d)", best.Name, best.Applications)
	tiedApps, tiedVersion := 0, 0
	for _, c := range candidates {
		if c.Applications == best.Applications {
			tiedApps++
			if compareVersions(c.KubernetesVersion, best.KubernetesVersion) == 0 {
				tiedVersion++
			}
		}
	}
	switch {
	case tiedApps == 1:
		return apps
	case tiedVersion == 1:
		return fmt.Sprintf("%s, with the newest Kubernetes version (%s) among those tied", apps, best.KubernetesVersion)
	default:
		return fmt.Sprintf("%s and the newest Kubernetes version; first by name among those tied", apps)
	}
}

// compareVersions compares dotted versions ("1.31", "1.31.2", "v1.30") numerically;
// an empty or unreadable part counts as 0.
func compareVersions(a, b string) int {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}
