package catalog

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GKE release channels, as spec.provisioner.gke.releaseChannel spells them.
const (
	ChannelRapid   = "RAPID"
	ChannelRegular = "REGULAR"
	ChannelStable  = "STABLE"
)

// Build is a provider-form version of a minor, e.g. GKE's "1.30.5-gke.1443001",
// and the release channels offering it.
type Build struct {
	// Version is the full version in the provider's form.
	Version string
	// Channels are the GKE release channels offering the build.
	Channels []string
}

// Version is a supported Kubernetes minor version of a provisioner.
type Version struct {
	// Minor is the version in "1.30" form; manifests may also name it "v1.30",
	// "1.30.5" or, on GKE, "1.30.5-gke.1443001".
	Minor string
	// Default marks the provisioner's default version (exactly one per provisioner).
	Default bool
	// Channels are the GKE release channels offering the minor, fastest first; nil
	// for other provisioners.
	Channels []string
	// Builds are the GKE builds of the minor, newest first; nil for other
	// provisioners.
	Builds []Build
	// AutopilotCompatible reports whether GKE Autopilot clusters may run the minor;
	// false for other provisioners.
	AutopilotCompatible bool
	// EndOfStandardSupport is the (approximate, published) date standard support of
	// the minor ends on the provisioner; past it, managed services bill extended
	// support or force an upgrade.
	EndOfStandardSupport time.Time
}

// The supported window is the same five minors everywhere, so a cluster can move
// between provisioners without a version change; the default is the middle one.
const defaultMinor = "1.31"

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic("catalog: bad date " + s)
	}
	return t
}

func window(eos ...string) []Version {
	minors := []string{"1.33", "1.32", "1.31", "1.30", "1.29"}
	vs := make([]Version, len(minors))
	for i, m := range minors {
		vs[i] = Version{Minor: m, Default: m == defaultMinor, EndOfStandardSupport: day(eos[i])}
	}
	return vs
}

// versions lists each provisioner's supported minors, newest first.
var versions = map[string][]Version{
	EKS:        window("2026-07-29", "2026-03-23", "2025-11-26", "2025-07-23", "2025-03-23"),
	AKS:        window("2026-06-30", "2026-03-31", "2025-11-30", "2025-07-31", "2025-03-31"),
	SelfHosted: window("2026-06-28", "2026-02-28", "2025-10-28", "2025-06-28", "2025-02-28"),
	GKE: {
		{Minor: "1.33", AutopilotCompatible: true, EndOfStandardSupport: day("2026-08-03"),
			Builds: []Build{{Version: "1.33.1-gke.1107000", Channels: []string{ChannelRapid}}}},
		{Minor: "1.32", AutopilotCompatible: true, EndOfStandardSupport: day("2026-04-13"),
			Builds: []Build{{Version: "1.32.4-gke.1106006", Channels: []string{ChannelRapid, ChannelRegular}}}},
		{Minor: "1.31", Default: true, AutopilotCompatible: true, EndOfStandardSupport: day("2025-12-22"),
			Builds: []Build{
				{Version: "1.31.8-gke.1045000", Channels: []string{ChannelRegular}},
				{Version: "1.31.6-gke.1020000", Channels: []string{ChannelStable}},
			}},
		{Minor: "1.30", AutopilotCompatible: true, EndOfStandardSupport: day("2025-09-30"),
			Builds: []Build{
				{Version: "1.30.12-gke.1086000", Channels: []string{ChannelRegular}},
				{Version: "1.30.5-gke.1443001", Channels: []string{ChannelStable}},
			}},
		{Minor: "1.29", EndOfStandardSupport: day("2025-03-21"),
			Builds: []Build{{Version: "1.29.15-gke.1218000", Channels: []string{ChannelStable}}}},
	},
}

// channelDefaults is the build each GKE release channel gives a cluster that names
// no version. STABLE, the default channel, gives the provisioner's default minor.
var channelDefaults = map[string]string{
	ChannelRapid:   "1.33.1-gke.1107000",
	ChannelRegular: "1.32.4-gke.1106006",
	ChannelStable:  "1.31.6-gke.1020000",
}

// KubernetesVersions returns the provisioner type's supported minors, newest first;
// nil for an unknown type.
func KubernetesVersions(provisionerType string) []Version {
	vs := versions[provisionerType]
	if vs == nil {
		return nil
	}
	out := make([]Version, len(vs))
	for i, v := range vs {
		out[i] = v.clone()
	}
	return out
}

// KubernetesVersion returns the supported minor v names, in any form
// NormalizeVersion accepts; ok is false when v is malformed or not supported.
func KubernetesVersion(provisionerType, v string) (ver Version, ok bool) {
	minor, ok := NormalizeVersion(provisionerType, v)
	if !ok {
		return Version{}, false
	}
	for _, ver := range versions[provisionerType] {
		if ver.Minor == minor {
			return ver.clone(), true
		}
	}
	return Version{}, false
}

// DefaultVersion returns the provisioner type's default minor ("1.31"), the one a
// cluster gets when its manifest names none; "" for an unknown type.
func DefaultVersion(provisionerType string) string {
	for _, v := range versions[provisionerType] {
		if v.Default {
			return v.Minor
		}
	}
	return ""
}

// ChannelDefault returns the GKE build a release channel gives a cluster that names
// no version; ok is false for an unknown channel.
func ChannelDefault(channel string) (version string, ok bool) {
	version, ok = channelDefaults[channel]
	return version, ok
}

// versionForm is "1.30", "1.30.5" or "1.30.5-gke.1443001", optionally prefixed "v".
var versionForm = regexp.MustCompile(`^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*)(-gke\.[0-9]+)?)?$`)

// NormalizeVersion returns the minor ("1.30") a manifest's version names, and
// whether the provisioner type supports it. It accepts "1.30", "v1.30", "1.30.5",
// "v1.30.5" and, for gke only, GKE's build form "1.30.5-gke.1443001". Any patch of
// a supported minor is accepted: patches are the provider's to pick.
func NormalizeVersion(provisionerType, v string) (minor string, ok bool) {
	m := versionForm.FindStringSubmatch(v)
	if m == nil {
		return "", false
	}
	if m[4] != "" && provisionerType != GKE {
		return "", false
	}
	major, _ := strconv.Atoi(m[1])
	mnr, _ := strconv.Atoi(m[2])
	minor = strconv.Itoa(major) + "." + strconv.Itoa(mnr)
	for _, ver := range versions[provisionerType] {
		if ver.Minor == minor {
			return minor, true
		}
	}
	return "", false
}

// Standing is what the catalog knows of a version a manifest names.
type Standing int

const (
	// Malformed: not a version in any form NormalizeVersion accepts.
	Malformed Standing = iota
	// Supported: a minor the catalog lists.
	Supported
	// Newer: well formed and newer than every minor the catalog lists. The catalog
	// may simply be behind the provider, so this is no reason to refuse it.
	Newer
	// Retired: well formed but not listed, and not newer than what is: past its end
	// of support.
	Retired
)

// VersionStanding returns the minor v names and what the catalog knows of it.
func VersionStanding(provisionerType, v string) (minor string, s Standing) {
	m := versionForm.FindStringSubmatch(v)
	if len(m) < 5 || (m[4] != "" && provisionerType != GKE) {
		return "", Malformed
	}
	major, _ := strconv.Atoi(m[1])
	mnr, _ := strconv.Atoi(m[2])
	minor = strconv.Itoa(major) + "." + strconv.Itoa(mnr)
	newer := len(versions[provisionerType]) > 0
	for _, ver := range versions[provisionerType] {
		if ver.Minor == minor {
			return minor, Supported
		}
		vMajor, vMinor := splitMinor(ver.Minor)
		if major < vMajor || (major == vMajor && mnr <= vMinor) {
			newer = false
		}
	}
	if newer {
		return minor, Newer
	}
	return minor, Retired
}

// splitMinor splits "1.31" into 1 and 31.
func splitMinor(minor string) (major, mnr int) {
	a, b, _ := strings.Cut(minor, ".")
	major, _ = strconv.Atoi(a)
	mnr, _ = strconv.Atoi(b)
	return major, mnr
}

// clone deep-copies v and fills Channels from the builds.
func (v Version) clone() Version {
	builds := make([]Build, len(v.Builds))
	var channels []string
	for i, b := range v.Builds {
		builds[i] = Build{Version: b.Version, Channels: slices.Clone(b.Channels)}
		for _, c := range b.Channels {
			if !slices.Contains(channels, c) {
				channels = append(channels, c)
			}
		}
	}
	if v.Builds == nil {
		builds = nil
	}
	slices.SortFunc(channels, func(a, b string) int { return channelRank(a) - channelRank(b) })
	v.Builds, v.Channels = builds, channels
	return v
}

// channelRank orders release channels fastest first.
func channelRank(c string) int {
	return slices.Index([]string{ChannelRapid, ChannelRegular, ChannelStable}, c)
}
