package upgrade

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// versionRE accepts a minor ("1.31"), a patch ("v1.31.2") and provider builds
// ("1.31.2-gke.100", "1.31.2-eks-1234"); only major and minor are kept.
var versionRE = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+][0-9A-Za-z.+-]+)?$`)

// parseMinor returns the minor of a Kubernetes 1.x version.
func parseMinor(s string) (int, error) {
	m := versionRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("version %q: want 1.<minor>, optionally with patch and provider suffix", s)
	}
	major, err1 := strconv.Atoi(m[1])
	minor, err2 := strconv.Atoi(m[2])
	if err1 != nil || err2 != nil || major != 1 {
		// Hop arithmetic only works inside one major; Kubernetes has only 1.x.
		return 0, fmt.Errorf("version %q: only Kubernetes 1.x versions exist", s)
	}
	return minor, nil
}

// minorString formats a minor as "1.<minor>".
func minorString(minor int) string { return "1." + strconv.Itoa(minor) }

// supportedMinors normalises the supported list; malformed entries are ignored
// because they can never match a valid target.
func supportedMinors(supported []string) []int {
	var out []int
	for _, s := range supported {
		if m, err := parseMinor(s); err == nil && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// joinMinors lists minors for messages.
func joinMinors(ms []int) string {
	if len(ms) == 0 {
		return "none"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = minorString(m)
	}
	return strings.Join(parts, ", ")
}
