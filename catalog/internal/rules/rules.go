// Package rules classifies machine types the way the catalog does: the category of
// a type by its cloud's family grouping, and the name of a GPU in GKE's accelerator
// naming. The table generator (catalog/gen) and the live lookups (catalog/awscatalog)
// share them, so a type is described the same way whichever answers.
package rules

import (
	"regexp"
	"slices"
	"strings"
)

// The catalog's categories (the API's MachineTypeCategory enum); each provider's
// families map onto them by the provider's own grouping (EC2's instance families,
// GCE's machine families, Azure's VM series).
const (
	catGeneral     = "GeneralPurpose"
	catCompute     = "ComputeOptimized"
	catMemory      = "MemoryOptimized"
	catAccelerator = "AcceleratorOptimized"
	catGPU         = "GPU"
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

// AWS returns the category of an EC2 instance type with gpus GPUs.
func AWS(name string, gpus int) string {
	c := awsClass(name)
	switch {
	case gpus > 0:
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

// GCP returns the category of a GCE machine type with gpus GPUs.
func GCP(name string, gpus int) string {
	parts := strings.Split(name, "-")
	family := parts[0]
	switch {
	case gpus > 0 || slices.Contains([]string{"a2", "a3", "a4", "a4x", "g2", "g4", "tpu7x"}, family) || strings.HasPrefix(family, "ct"):
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

// Azure returns the category of an Azure VM size with gpus GPUs.
func Azure(name string, gpus int) string {
	if gpus > 0 {
		return catGPU
	}
	m := azureSeries.FindStringSubmatch(name)
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

// Category returns the category of a provider's ("aws", "gcp", "azure") machine type.
func Category(provider, name string, gpus int) string {
	switch provider {
	case "aws":
		return AWS(name, gpus)
	case "gcp":
		return GCP(name, gpus)
	}
	return Azure(name, gpus)
}

var digits = regexp.MustCompile(`[0-9]+`)

// FamilyKey groups a provider's types by family for the table's order: "m5" of
// m5.large, "n2-standard" of n2-standard-4, "Standard_Ds_v" of Standard_D4s_v5.
func FamilyKey(provider, name string) string {
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

// AWSGPU names an EC2 GPU the way GKE names accelerators ("nvidia-tesla-t4"),
// which is the catalog's GPUType form.
func AWSGPU(manufacturer, name string, memMiB int) string {
	known := map[string]string{
		"T4": "nvidia-tesla-t4", "T4g": "nvidia-t4g", "V100": "nvidia-tesla-v100", "K80": "nvidia-tesla-k80",
		"M60": "nvidia-tesla-m60", "A10G": "nvidia-a10g", "L4": "nvidia-l4", "L40S": "nvidia-l40s",
		"H100": "nvidia-h100-80gb", "H200": "nvidia-h200-141gb", "B200": "nvidia-b200", "B300": "nvidia-b300",
		"GB200": "nvidia-gb200", "Radeon Pro V520": "amd-radeon-pro-v520", "RTX PRO 6000": "nvidia-rtx-pro-6000",
	}
	if name == "A100" {
		if memMiB > 48*1024 {
			return "nvidia-a100-80gb"
		}
		return "nvidia-tesla-a100"
	}
	if m, ok := known[name]; ok {
		return m
	}
	return strings.ToLower(strings.ReplaceAll(manufacturer+"-"+name, " ", "-"))
}

// AzureGPU names the GPU of an Azure VM size by its SKU family, in GKE's
// accelerator naming.
func AzureGPU(family, name string) string {
	f := strings.ToLower(family)
	rules := []struct{ match, model string }{
		{"h200", "nvidia-h200-141gb"}, {"h100", "nvidia-h100-80gb"}, {"nccads2023", "nvidia-h100-80gb"},
		{"gb300", "nvidia-gb300"}, {"gb200", "nvidia-gb200"}, {"mi300x", "amd-mi300x"},
		{"ndamsv4_a100", "nvidia-a100-80gb"}, {"ncadsa100", "nvidia-a100-80gb"}, {"a100", "nvidia-tesla-a100"},
		{"t4", "nvidia-tesla-t4"}, {"a10", "nvidia-a10"}, {"v710", "amd-radeon-pro-v710"}, {"v620", "amd-radeon-pro-v620"},
		{"nvsv4", "amd-radeon-instinct-mi25"}, {"nvsv3", "nvidia-tesla-m60"}, {"nvsv2", "nvidia-tesla-m60"},
		{"standardnvfamily", "nvidia-tesla-m60"}, {"ncsv3", "nvidia-tesla-v100"}, {"ndsv2", "nvidia-tesla-v100"},
		{"ncsv2", "nvidia-tesla-p100"}, {"standardndsfamily", "nvidia-tesla-p40"}, {"standardncfamily", "nvidia-tesla-k80"},
	}
	for _, r := range rules {
		if strings.Contains(f, r.match) {
			return r.model
		}
	}
	return "gpu-of-" + strings.ToLower(name)
}
