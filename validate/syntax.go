package validate

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/astropulse/astroplane/catalog"
)

var (
	// dnsLabel is a name: lowercase alphanumerics and '-', starting with a letter and
	// ending with an alphanumeric; at most maxNameLen characters.
	dnsLabel = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)
	// aksPoolName is an AKS (Linux) node pool name.
	aksPoolName = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	// dnsSubdomain is a DNS-1123 subdomain: dot-separated DNS-1123 labels.
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// qualifiedNamePart is the name part of a Kubernetes qualified name.
	qualifiedNamePart = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	// labelValue is a Kubernetes label value; empty is allowed.
	labelValue = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)

	awsAccountID = regexp.MustCompile(`^[0-9]{12}$`)
	// AWS resource IDs carry 8 (older) or 17 hex digits.
	vpcID    = regexp.MustCompile(`^vpc-([0-9a-f]{8}|[0-9a-f]{17})$`)
	subnetID = regexp.MustCompile(`^subnet-([0-9a-f]{8}|[0-9a-f]{17})$`)
	// gcpProjectID: 6–30 lowercase letters, digits and hyphens, starting with a letter,
	// not ending with a hyphen.
	gcpProjectID = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	// azureResourceGroup: letters, digits, underscores, hyphens, periods and
	// parentheses, not ending with a period; at most 90 characters.
	azureResourceGroup = regexp.MustCompile(`^[-\p{L}\p{N}_.()]*[-\p{L}\p{N}_()]$`)

	// awsTagChars are the characters AWS allows in tag keys and values.
	awsTagChars = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	gcpLabelKey = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	gcpLabelVal = regexp.MustCompile(`^[a-z0-9_-]*$`)

	// clock is "HH:MM" in 24-hour form.
	clock = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	// days is a day count in a duration ("1d"), which Go's durations lack.
	days = regexp.MustCompile(`([0-9]+)d`)
	// intOrPercent is a rollout budget: "1" or "25%".
	intOrPercent = regexp.MustCompile(`^([0-9]+)(%?)$`)
)

const (
	maxNameLen        = 50
	maxLabelValueLen  = 63
	maxQualifiedName  = 63
	maxDNSSubdomain   = 253
	maxResourceGroup  = 90
	maxAuthorizedNets = 50
)

// checkName checks a DNS-1123 label name (cluster and node group names).
func checkName(errs Errors, path, name string) {
	switch {
	case name == "":
		errs.addf(path, "required")
	case len(name) > maxNameLen || !dnsLabel.MatchString(name):
		errs.addf(path, "%q is not a valid name: use 1–%d lowercase letters, digits and '-', starting with a letter and ending with a letter or digit", name, maxNameLen)
	}
}

// qualifiedNameFault explains why key is not a Kubernetes qualified name (label
// keys, taint keys: an optional DNS-subdomain prefix and '/', then a name), or
// returns "".
func qualifiedNameFault(key string) string {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		prefix, name = "", key
	}
	switch {
	case key == "":
		return "the key must not be empty"
	case strings.Count(key, "/") > 1:
		return fmt.Sprintf("key %q has more than one '/': use an optional DNS-subdomain prefix, '/', and a name", key)
	case hasPrefix && prefix == "":
		return fmt.Sprintf("key %q has an empty prefix before '/'", key)
	case hasPrefix && (len(prefix) > maxDNSSubdomain || !dnsSubdomain.MatchString(prefix)):
		return fmt.Sprintf("key %q: the prefix must be a DNS subdomain of at most %d characters (lowercase letters, digits, '-' and '.')", key, maxDNSSubdomain)
	case name == "":
		return fmt.Sprintf("key %q has an empty name", key)
	case len(name) > maxQualifiedName:
		return fmt.Sprintf("key %q: the name part must be at most %d characters", key, maxQualifiedName)
	case !qualifiedNamePart.MatchString(name):
		return fmt.Sprintf("key %q: the name part must be alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric", key)
	}
	return ""
}

// labelValueFault explains why v is not a Kubernetes label value, or returns "".
func labelValueFault(v string) string {
	switch {
	case len(v) > maxLabelValueLen:
		return fmt.Sprintf("the value must be at most %d characters", maxLabelValueLen)
	case !labelValue.MatchString(v):
		return fmt.Sprintf("value %q must be empty or alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric", v)
	}
	return ""
}

// checkLabels checks Kubernetes label syntax; each fault is reported under the label.
func checkLabels(errs Errors, path string, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		p := join(path, k)
		if k == "" {
			p = path
		}
		if f := qualifiedNameFault(k); f != "" {
			errs.addf(p, "%s", f)
		}
		if f := labelValueFault(labels[k]); f != "" {
			errs.addf(p, "%s", f)
		}
	}
}

// parseCIDR parses an IPv4 CIDR and explains a fault: not a CIDR, not IPv4, or host
// bits set (clouds reject "10.0.0.1/16"; the network is "10.0.0.0/16").
func parseCIDR(s string) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Sprintf("%q is not a CIDR block such as 10.0.0.0/16", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Sprintf("%q is not an IPv4 CIDR block", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Sprintf("%q has host bits set; the network is %s", s, p.Masked())
	}
	return p, ""
}

// rfc1918 is the private IPv4 space.
var rfc1918 = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
}

// isPrivate reports whether p lies inside RFC 1918 space.
func isPrivate(p netip.Prefix) bool {
	for _, r := range rfc1918 {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// checkAuthorizedNetworks checks GKE's control-plane authorized networks.
func checkAuthorizedNetworks(errs Errors, path string, nets []string) {
	if len(nets) > maxAuthorizedNets {
		errs.addf(path, "at most %d authorized networks; got %d", maxAuthorizedNets, len(nets))
	}
	seen := map[string]int{}
	for i, n := range nets {
		p := join(path, i)
		if _, f := parseCIDR(n); f != "" {
			errs.addf(p, "%s", f)
			continue
		}
		if j, dup := seen[n]; dup {
			errs.addf(p, "%s is listed twice (also %s)", n, join(path, j))
			continue
		}
		seen[n] = i
	}
}

// tagLimits are a provider's limits on resource tags (labels on GCP).
type tagLimits struct {
	maxTags, maxKey, maxValue int
	noun                      string
	// fault explains why a key or value breaks the provider's syntax, or returns "".
	keyFault, valueFault func(string) string
}

var tagRules = map[string]tagLimits{
	catalog.AWS: {maxTags: 50, maxKey: 128, maxValue: 256, noun: "tags",
		keyFault: func(k string) string {
			if strings.HasPrefix(strings.ToLower(k), "aws:") {
				return "the aws: prefix is reserved for AWS"
			}
			return awsTagSyntax(k)
		},
		valueFault: awsTagSyntax,
	},
	catalog.GCP: {maxTags: 64, maxKey: 63, maxValue: 63, noun: "labels",
		keyFault: func(k string) string {
			if !gcpLabelKey.MatchString(k) {
				return "GCP label keys start with a lowercase letter and hold only lowercase letters, digits, '_' and '-'"
			}
			return ""
		},
		valueFault: func(v string) string {
			if !gcpLabelVal.MatchString(v) {
				return "GCP label values hold only lowercase letters, digits, '_' and '-'"
			}
			return ""
		},
	},
	catalog.Azure: {maxTags: 50, maxKey: 512, maxValue: 256, noun: "tags",
		keyFault: func(k string) string {
			if strings.ContainsAny(k, `<>%&\?/`) {
				return `Azure tag keys must not contain any of < > % & \ ? /`
			}
			return ""
		},
		valueFault: func(string) string { return "" },
	},
}

func awsTagSyntax(s string) string {
	if !awsTagChars.MatchString(s) {
		return "AWS allows only letters, digits, spaces and _ . : / = + - @"
	}
	return ""
}

// checkTags checks cloud tags against the provider's limits; an unknown provider
// gets only the checks every provider shares.
func checkTags(errs Errors, path, provider string, tags map[string]string) {
	rules, known := tagRules[provider]
	if known && len(tags) > rules.maxTags {
		errs.addf(path, "at most %d %s on %s; got %d", rules.maxTags, rules.noun, provider, len(tags))
	}
	for _, k := range sortedKeys(tags) {
		if k == "" {
			errs.addf(path, "tag keys must not be empty")
			continue
		}
		if !known {
			continue
		}
		p, v := join(path, k), tags[k]
		if n := utf8.RuneCountInString(k); n > rules.maxKey {
			errs.addf(p, "the key is %d characters; %s allows at most %d", n, provider, rules.maxKey)
		}
		if f := rules.keyFault(k); f != "" {
			errs.addf(p, "key: %s", f)
		}
		if n := utf8.RuneCountInString(v); n > rules.maxValue {
			errs.addf(p, "the value is %d characters; %s allows at most %d", n, provider, rules.maxValue)
		}
		if f := rules.valueFault(v); f != "" {
			errs.addf(p, "value: %s", f)
		}
	}
}

// bucketFault explains why name is not an S3 (aws) or GCS (gcp) bucket name, or
// returns "".
func bucketFault(provider, name string) string {
	allowed, what := "abcdefghijklmnopqrstuvwxyz0123456789.-", "lowercase letters, digits, '.' and '-'"
	maxLen := 63
	if provider == catalog.GCP {
		allowed, what = allowed+"_", "lowercase letters, digits, '.', '_' and '-'"
		if strings.Contains(name, ".") {
			maxLen = 222 // dotted GCS names may be longer; each part still ≤ 63
		}
	}
	isAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
	switch {
	case len(name) < 3 || len(name) > maxLen:
		return fmt.Sprintf("bucket names are 3–%d characters", maxLen)
	case strings.IndexFunc(name, func(r rune) bool { return !strings.ContainsRune(allowed, r) }) >= 0:
		return "bucket names hold only " + what
	case !isAlnum(name[0]) || !isAlnum(name[len(name)-1]):
		return "bucket names start and end with a lowercase letter or digit"
	case strings.Contains(name, ".."):
		return "bucket names must not contain '..'"
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return "bucket names must not be IP addresses"
	}
	for _, part := range strings.Split(name, ".") {
		if len(part) > 63 {
			return "each dot-separated part of a bucket name is at most 63 characters"
		}
	}
	return ""
}
