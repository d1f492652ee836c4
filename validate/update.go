package validate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/server/api"
)

// Limits of a GKE maintenance window.
const (
	minMaintenanceWindow = 4 * time.Hour
	maxMaintenanceWindow = 24 * time.Hour
)

// gkeImageTypes are the GKE node image types, matched case-insensitively as GKE does.
var gkeImageTypes = []string{"COS_CONTAINERD", "UBUNTU_CONTAINERD", "WINDOWS_LTSC_CONTAINERD"}

// ClusterUpdateSpec checks a K8sClusterUpdate manifest's spec for a cluster on the
// provider ("aws", "gcp", "azure") against the rules that need no state, and returns
// every fault by field ("spec.nodeGroups.0.maxNode"). It is empty when the spec
// passes.
//
// The update manifest names no region, so machine types are checked against the
// provider's whole catalog; whether the cluster's region offers them, whether a
// version is a valid upgrade path from the cluster's current one, and which node
// groups exist are the caller's to check against the stored cluster.
func ClusterUpdateSpec(provider string, spec api.K8sClusterUpdateSpec) Errors {
	errs, _ := CheckUpdate(provider, spec)
	return errs
}

// CheckUpdate is ClusterUpdateSpec that also returns the warnings: values the
// catalog does not list but that may be real, by field.
func CheckUpdate(provider string, spec api.K8sClusterUpdateSpec) (errs, warnings Errors) {
	return checkUpdate(provider, "", spec, nil)
}

// CheckUpdateLive is CheckUpdate for a cluster of the provisioner type ptype in
// region, with the connected account's own catalog of that region (see
// CheckLive): a machine type or Kubernetes version it does not offer there is a
// fault; what it cannot answer, the static catalog decides as in CheckUpdate.
func CheckUpdateLive(ctx context.Context, provider, ptype, region string, spec api.K8sClusterUpdateSpec, live catalog.Live) (errs, warnings Errors) {
	return checkUpdate(provider, ptype, spec, &liveTypes{ctx: ctx, source: live, region: region})
}

func checkUpdate(provider, ptype string, spec api.K8sClusterUpdateSpec, live *liveTypes) (errs, warnings Errors) {
	errs, warnings = Errors{}, Errors{}
	w := where{warns: warnings}
	if _, ok := catalog.ProviderByID(provider); ok {
		w.provider = provider
	}
	if live != nil && w.provider != "" && live.region != "" {
		w.live = live
		w.region = live.region
		_, listed := catalog.Region(w.provider, live.region)
		w.unlisted = !listed
	}

	if v := spec.KubernetesVersion; v != nil {
		decided := false
		if w.live != nil && ptype != "" && ptype != catalog.SelfHosted {
			if _, ok, offered, answered := w.live.version(ptype, *v); answered {
				decided = true
				if !ok {
					errs.addf("spec.kubernetesVersion", "%s", notOfferedVersion(ptype, *v, w, offered))
				}
			}
		}
		if !decided {
			checkUpdateVersion(errs, warnings, "spec.kubernetesVersion", w.provider, *v)
		}
	}

	if spec.Eks != nil {
		const path = "spec.eks"
		if provider != catalog.AWS {
			errs.addf(path, "eks settings apply to aws clusters only; this cluster runs on %s", providerName(provider))
		} else if a := spec.Eks.AmiFamily; a != nil && !a.Valid() {
			errs.addf(path+".amiFamily", "%q is not an AMI family; use AL2023, AL2, Bottlerocket or Ubuntu", *a)
		}
	}
	if spec.Gke != nil {
		if provider != catalog.GCP {
			errs.addf("spec.gke", "gke settings apply to gcp clusters only; this cluster runs on %s", providerName(provider))
		} else {
			checkUpdateGKE(errs, "spec.gke", *spec.Gke)
		}
	}

	if spec.NodeGroups != nil {
		groups := make([]nodeGroup, len(*spec.NodeGroups))
		for i, g := range *spec.NodeGroups {
			groups[i] = updateGroup(g)
		}
		checkNodeGroups(errs, "spec.nodeGroups", groups, w)
	}
	if spec.UpdateConfig != nil {
		checkUpdateConfig(errs, "spec.updateConfig", *spec.UpdateConfig)
	}
	checkTags(errs, "spec.tags", w.provider, deref(spec.Tags))
	return errs, warnings
}

func providerName(provider string) string {
	if provider == "" {
		return "an unknown provider"
	}
	return provider
}

// checkUpdateVersion checks a target version that some provisioner of the provider
// supports (the update manifest does not say which one the cluster uses; the
// caller checks the upgrade path).
func checkUpdateVersion(errs, warns Errors, path, provider, v string) {
	types := []string{catalog.EKS, catalog.GKE, catalog.AKS, catalog.SelfHosted}
	if p, ok := catalog.ProviderByID(provider); ok {
		types = p.ProvisionerTypes
	}
	newer := ""
	for _, t := range types {
		switch minor, standing := catalog.VersionStanding(t, v); standing {
		case catalog.Supported:
			return
		case catalog.Newer:
			newer = newerVersion(t, minor)
		}
	}
	if newer != "" {
		warns.addf(path, "%s", newer)
		return
	}
	errs.addf(path, "%s", unsupportedVersion(types[0], v))
}

func checkUpdateGKE(errs Errors, path string, g api.ClusterUpdateGke) {
	if g.ReleaseChannel != nil && !g.ReleaseChannel.Valid() {
		errs.addf(path+".releaseChannel", "%q is not a release channel; use STABLE, REGULAR or RAPID", *g.ReleaseChannel)
	}
	if g.ImageType != nil {
		known := false
		for _, t := range gkeImageTypes {
			known = known || strings.EqualFold(t, *g.ImageType)
		}
		if !known {
			errs.addf(path+".imageType", "%q is not a GKE node image type; use %s", *g.ImageType, list(gkeImageTypes, "or"))
		}
	}
	if mw := g.MaintenanceWindow; mw != nil {
		p := path + ".maintenanceWindow"
		if !clock.MatchString(mw.StartTime) {
			errs.addf(p+".startTime", "%q is not a time of day; use HH:MM in UTC, e.g. 03:00", mw.StartTime)
		}
		if mw.Duration != nil {
			d, err := parseDuration(*mw.Duration)
			switch {
			case err != nil:
				errs.addf(p+".duration", "%q is not a duration such as 4h or 6h30m", *mw.Duration)
			case d < minMaintenanceWindow:
				errs.addf(p+".duration", "GKE needs a maintenance window of at least 4h; got %s", d)
			case d > maxMaintenanceWindow:
				errs.addf(p+".duration", "a daily maintenance window lasts at most 24h; got %s", d)
			}
		}
	}
	if g.AuthorizedNetworks != nil {
		checkAuthorizedNetworks(errs, path+".authorizedNetworks", *g.AuthorizedNetworks)
	}
}

// parseDuration parses a Go duration that may also count days ("1d", "1d12h"), as
// the schema's pattern allows.
func parseDuration(s string) (time.Duration, error) {
	var bad error
	s = days.ReplaceAllStringFunc(s, func(m string) string {
		n, err := strconv.Atoi(strings.TrimSuffix(m, "d"))
		if err != nil || n > 10000 {
			bad = fmt.Errorf("day count %q out of range", m)
			return m
		}
		return strconv.Itoa(24*n) + "h"
	})
	if bad != nil {
		return 0, bad
	}
	return time.ParseDuration(s)
}

// checkUpdateConfig checks the rollout budget: each a non-negative integer or a
// percentage up to 100%, not both zero (the rollout could not progress).
func checkUpdateConfig(errs Errors, path string, uc api.ClusterUpdateConfig) {
	unavailable, ok1 := checkBudget(errs, path+".maxUnavailable", uc.MaxUnavailable)
	surge, ok2 := checkBudget(errs, path+".maxSurge", uc.MaxSurge)
	if ok1 && ok2 && uc.MaxUnavailable != nil && uc.MaxSurge != nil && unavailable == 0 && surge == 0 {
		errs.addf(path, "maxUnavailable and maxSurge must not both be zero: the rollout could never replace a node")
	}
}

// checkBudget parses a rollout budget ("1", "25%"), returning its number and whether
// it is valid; nil is valid.
func checkBudget(errs Errors, path string, s *string) (int, bool) {
	if s == nil {
		return 0, true
	}
	m := intOrPercent.FindStringSubmatch(*s)
	var n int
	var err error
	if m != nil {
		n, err = strconv.Atoi(m[1])
	}
	switch {
	case m == nil || err != nil:
		errs.addf(path, "%q is not a node count or a percentage such as \"1\" or \"25%%\"", *s)
		return 0, false
	case m[2] == "%" && n > 100:
		errs.addf(path, "%q: a percentage is between 0%% and 100%%", *s)
		return 0, false
	}
	return n, true
}
