package upgrade

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var (
	// nameRE is the manifests' name rule: a DNS-1123 label starting with a letter,
	// 1–50 characters.
	nameRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,48}[a-z0-9])?$`)
	// aksPoolRE is AKS's node pool rule: lowercase alphanumeric, starting with a
	// letter, at most 12 characters.
	aksPoolRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)
	// labelNameRE is a Kubernetes qualified name's name part and a label value.
	labelNameRE = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	// dnsSubdomainRE is a label key prefix.
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// instanceTypes are the accepted node group instance types.
var instanceTypes = []string{"ondemand", "spot"}

// taintEffects are the Kubernetes taint effects.
var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// amiFamilies are the eks node image families, in their canonical spelling.
var amiFamilies = []string{"AL2023", "AL2", "Bottlerocket", "Ubuntu"}

// validLabelKey checks Kubernetes label (and taint) key syntax: [prefix/]name.
func validLabelKey(k string) error {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	if hasPrefix && (prefix == "" || len(prefix) > 253 || !dnsSubdomainRE.MatchString(prefix)) {
		return fmt.Errorf("key %q: prefix must be a DNS subdomain", k)
	}
	if len(name) > 63 || !labelNameRE.MatchString(name) {
		return fmt.Errorf("key %q: name must be 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric", k)
	}
	return nil
}

// validLabelValue checks Kubernetes label (and taint) value syntax.
func validLabelValue(v string) error {
	if v != "" && (len(v) > 63 || !labelNameRE.MatchString(v)) {
		return fmt.Errorf("value %q: must be at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric", v)
	}
	return nil
}

// labelErrors validates a label map in key order.
func labelErrors(group string, labels map[string]string) []string {
	var errs []string
	for _, k := range sortedKeys(labels) {
		if err := validLabelKey(k); err != nil {
			errs = append(errs, fmt.Sprintf("node group %s: label %v", group, err))
		}
		if err := validLabelValue(labels[k]); err != nil {
			errs = append(errs, fmt.Sprintf("node group %s: label %s %v", group, k, err))
		}
	}
	return errs
}

// taintErrors validates taints, including duplicate key/effect pairs, which
// Kubernetes rejects.
func taintErrors(group string, taints []Taint) []string {
	var errs []string
	seen := map[string]bool{}
	for _, t := range taints {
		if err := validLabelKey(t.Key); err != nil {
			errs = append(errs, fmt.Sprintf("node group %s: taint %v", group, err))
		}
		if err := validLabelValue(t.Value); err != nil {
			errs = append(errs, fmt.Sprintf("node group %s: taint %s %v", group, t.Key, err))
		}
		if !slices.Contains(taintEffects, t.Effect) {
			errs = append(errs, fmt.Sprintf("node group %s: taint %s has effect %q; want NoSchedule, PreferNoSchedule or NoExecute", group, t.Key, t.Effect))
		}
		id := t.Key + ":" + t.Effect
		if seen[id] {
			errs = append(errs, fmt.Sprintf("node group %s: taint %s appears twice", group, id))
		}
		seen[id] = true
	}
	return errs
}

// machineTypeErrors rejects blank machine types; whether a type exists in the
// region's catalog is the provider's call, not the planner's.
func machineTypeErrors(group string, types []string) []string {
	for _, m := range types {
		if strings.TrimSpace(m) == "" {
			return []string{fmt.Sprintf("node group %s: machineTypes must not contain empty names", group)}
		}
	}
	return nil
}

// canonicalAmiFamily returns the canonical spelling of an AMI family, accepting
// any case.
func canonicalAmiFamily(s string) (string, bool) {
	for _, f := range amiFamilies {
		if strings.EqualFold(f, s) {
			return f, true
		}
	}
	return "", false
}

// releaseChannels are the gke release channels.
var releaseChannels = []string{"STABLE", "REGULAR", "RAPID"}

// canonicalChannel returns the canonical spelling of a gke release channel.
func canonicalChannel(s string) (string, bool) {
	for _, c := range releaseChannels {
		if strings.EqualFold(c, s) {
			return c, true
		}
	}
	return "", false
}

// providerOf is the cloud each managed provisioner runs on.
var providerOf = map[string]string{"eks": "aws", "gke": "gcp", "aks": "azure"}

// hopMinutes is the estimate of one control-plane hop per provisioner.
func hopMinutes(provisioner string) int {
	switch provisioner {
	case "eks":
		return 12
	case "gke":
		return 8
	case "aks":
		return 10
	default: // selfHosted: kubeadm-style, one control-plane node after another
		return 15
	}
}
