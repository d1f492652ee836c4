package main

import (
	"regexp"
	"slices"
	"strings"
)

// The catalog's categories are the API's MachineTypeCategory enum; each provider's
// families map onto them by the provider's own grouping (EC2's instance families,
// GCE's machine families, Azure's VM series).
const (
	catGeneral     = "gp"
	catCompute     = "co"
	catMemory      = "mo"
	catAccelerator = "ao"
	catGPU         = "gu"
)

var awsFamily = regexp.MustCompile(`^([a-z]+?)(?:-[0-9a-z]+)?[0-9]`)

// awsClass is an EC2 type's class letters: "c" of c7gn.large, "u" of
// u-6tb1.56xlarge, "inf" of inf2.xlarge, "mac" of mac2-m2pro.metal.
func awsClass(name string) string {
	fam, _, _ := strings.Cut(name, ".")
	if strings.HasPrefix(fam, "u-") {
		return "u"
	}
	if m := awsFamily.FindStringSubmatch(fam); m != nil {
		return m[1]
	}
	return fam
}

func awsCategory(r machineRow) string {
	c := awsClass(r.name)
	switch {
	case r.gpus > 0:
		return catGPU
	case slices.Contains([]string{"inf", "trn", "dl", "f", "vt", "g", "gr", "p"}, c): // g, gr, p: fractional GPUs
		return catAccelerator
	case slices.Contains([]string{"c", "hpc"}, c):
		return catCompute
	case slices.Contains([]string{"r", "x", "u", "z"}, c):
		return catMemory
	}
	return catGeneral
}

func gcpCategory(r machineRow) string {
	parts := strings.Split(r.name, "-")
	family := parts[0]
	switch {
	case r.gpus > 0 || slices.Contains([]string{"a2", "a3", "a4", "a4x", "g2", "g4", "tpu7x"}, family) || strings.HasPrefix(family, "ct"):
		return catAccelerator
	case slices.Contains([]string{"m1", "m2", "m3", "m4", "m4n", "x4"}, family):
		return catMemory
	case slices.Contains([]string{"c2", "c2d", "h3", "h4d"}, family):
		return catCompute
	}
	if len(parts) > 1 {
		switch parts[1] {
		case "highcpu":
			return catCompute
		case "highmem", "megamem", "ultramem", "hypermem":
			return catMemory
		}
	}
	return catGeneral
}

var azureSeries = regexp.MustCompile(`^(?:Standard|Basic)_([A-Z]+)`)

func azureCategory(r machineRow) string {
	if r.gpus > 0 {
		return catGPU
	}
	m := azureSeries.FindStringSubmatch(r.name)
	if m == nil {
		return catGeneral
	}
	switch s := m[1]; {
	case strings.HasPrefix(s, "N"): // NP: FPGAs
		return catAccelerator
	case strings.HasPrefix(s, "F"), strings.HasPrefix(s, "H"):
		return catCompute
	case strings.HasPrefix(s, "E"), strings.HasPrefix(s, "M"), strings.HasPrefix(s, "G"), strings.HasPrefix(s, "X"):
		return catMemory
	}
	return catGeneral
}

var categoryOf = map[string]func(machineRow) string{
	"aws":   awsCategory,
	"gcp":   gcpCategory,
	"azure": azureCategory,
}

var digits = regexp.MustCompile(`[0-9]+`)

// familyKey groups a provider's types by family for the table's order: "m5" of
// m5.large, "n2-standard" of n2-standard-4, "Standard_Ds_v" of Standard_D4s_v5.
func familyKey(provider, name string) string {
	switch provider {
	case "aws":
		fam, _, _ := strings.Cut(name, ".")
		return fam
	case "gcp":
		parts := strings.Split(name, "-")
		if len(parts) >= 2 {
			return parts[0] + "-" + parts[1]
		}
		return name
	}
	if loc := digits.FindStringIndex(name); loc != nil {
		return name[:loc[0]] + name[loc[1]:]
	}
	return name
}
