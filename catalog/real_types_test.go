package catalog_test

import (
	"slices"
	"testing"

	"github.com/astropulse/astroplane/catalog"
)

// Real machine types the hand-written table lacked are known now, with the figures
// the clouds publish, and offered where the clouds offer them.
func TestRealTypesAreKnown(t *testing.T) {
	tests := []struct {
		provider, name string
		cpu, memory    string
		category       catalog.Category
		arch           catalog.Architecture
		gpus           int
		gpuType        string
		in, notIn      string // a region offering it, and one not ("" when every region does)
	}{
		{"aws", "m7i.48xlarge", "192", "768Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0, "", "us-east-1", "ca-west-1"},
		{"aws", "c7g.metal", "64", "128Gi", catalog.CategoryComputeOptimized, catalog.ArchARM64, 0, "", "eu-west-1", "ap-southeast-4"},
		{"aws", "p5.48xlarge", "192", "2048Gi", catalog.CategoryGPU, catalog.ArchX8664, 8, "nvidia-h100-80gb", "us-east-2", "af-south-1"},
		{"aws", "m7i.metal-24xl", "96", "384Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0, "", "us-west-2", ""},
		{"aws", "u-6tb1.56xlarge", "224", "6144Gi", catalog.CategoryMemoryOptimized, catalog.ArchX8664, 0, "", "us-east-1", ""},
		{"gcp", "n4-standard-80", "80", "320Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0, "", "us-central1", ""},
		{"gcp", "c3d-highmem-360", "360", "2880Gi", catalog.CategoryMemoryOptimized, catalog.ArchX8664, 0, "", "us-central1", ""},
		{"gcp", "c4a-standard-8", "8", "32Gi", catalog.CategoryGeneralPurpose, catalog.ArchARM64, 0, "", "us-central1", ""},
		{"gcp", "a3-highgpu-8g", "208", "1872Gi", catalog.CategoryAcceleratorOptimized, catalog.ArchX8664, 8, "nvidia-h100-80gb", "us-central1", "us-west2"},
		{"gcp", "g2-standard-24", "24", "96Gi", catalog.CategoryAcceleratorOptimized, catalog.ArchX8664, 2, "nvidia-l4", "us-central1", ""},
		{"azure", "Standard_E104ids_v5", "104", "672Gi", catalog.CategoryMemoryOptimized, catalog.ArchX8664, 0, "", "eastus", ""},
		{"azure", "Standard_ND96isr_H100_v5", "96", "1900Gi", catalog.CategoryGPU, catalog.ArchX8664, 8, "nvidia-h100-80gb", "eastus", ""},
		{"azure", "Standard_D4ps_v6", "4", "16Gi", catalog.CategoryGeneralPurpose, catalog.ArchARM64, 0, "", "westeurope", ""},
		{"azure", "Standard_B1ls", "1", "512Mi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0, "", "eastus", ""},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.name, func(t *testing.T) {
			m, regions, ok := catalog.MachineTypeAnyRegion(tt.provider, tt.name)
			if !ok {
				t.Fatalf("%s %s is not in the catalog", tt.provider, tt.name)
			}
			if m.CPU() != tt.cpu || m.Memory() != tt.memory || m.Category != tt.category || m.Architecture != tt.arch ||
				m.GPUs != tt.gpus || m.GPUType != tt.gpuType {
				t.Errorf("%s = %s vCPU, %s, %s, %s, %d × %q; want %s vCPU, %s, %s, %s, %d × %q", tt.name,
					m.CPU(), m.Memory(), m.Category, m.Architecture, m.GPUs, m.GPUType,
					tt.cpu, tt.memory, tt.category, tt.arch, tt.gpus, tt.gpuType)
			}
			if !slices.Contains(regions, tt.in) {
				t.Errorf("%s is not offered in %s: %v", tt.name, tt.in, regions)
			}
			if _, ok := catalog.MachineType(tt.provider, tt.in, tt.name); !ok {
				t.Errorf("MachineType(%s, %s, %s) not found", tt.provider, tt.in, tt.name)
			}
			if tt.notIn != "" {
				if slices.Contains(regions, tt.notIn) {
					t.Errorf("%s is offered in %s, which does not offer it", tt.name, tt.notIn)
				}
				if _, ok := catalog.MachineType(tt.provider, tt.notIn, tt.name); ok {
					t.Errorf("MachineType(%s, %s, %s) found", tt.provider, tt.notIn, tt.name)
				}
			} else if len(regions) != len(catalog.Regions(tt.provider)) && tt.provider == "azure" {
				t.Errorf("%s is offered in %d of %d regions", tt.name, len(regions), len(catalog.Regions(tt.provider)))
			}
		})
	}
}

// Every name the hand-written table had is still there with its price, so nothing
// that validated before is refused now.
func TestOldNamesStayValid(t *testing.T) {
	old := map[string][]string{
		"aws": {"t3.small", "t3.medium", "t3.large", "t3.xlarge", "m5.large", "m5.xlarge", "m5.2xlarge", "m6i.large", "m6g.large",
			"m6g.xlarge", "m7g.large", "c5.large", "c5.xlarge", "c6g.xlarge", "r5.large", "r5.xlarge", "g4dn.xlarge", "g5.xlarge",
			"p3.2xlarge", "inf2.xlarge"},
		"gcp": {"e2-medium", "e2-standard-2", "e2-standard-4", "e2-standard-8", "n2-standard-2", "n2-standard-4", "n2-standard-8",
			"t2a-standard-2", "t2a-standard-4", "n2-highcpu-8", "c2-standard-4", "c2-standard-8", "n2-highmem-4", "g2-standard-4",
			"a2-highgpu-1g"},
		"azure": {"Standard_B2s", "Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5", "Standard_D2s_v7", "Standard_D4s_v7",
			"Standard_D2ps_v5", "Standard_D4ps_v5", "Standard_F4s_v2", "Standard_E4s_v5", "Standard_NC4as_T4_v3", "Standard_NC6s_v3"},
	}
	for p, names := range old {
		for _, n := range names {
			m, _, ok := catalog.MachineTypeAnyRegion(p, n)
			if !ok {
				t.Errorf("%s %s is no longer in the catalog", p, n)
				continue
			}
			if m.PricePerHour <= 0 && n != "Standard_D2s_v7" && n != "Standard_D4s_v7" {
				t.Errorf("%s %s lost its price", p, n)
			}
		}
	}
	if m, _ := catalog.MachineType("aws", "us-east-1", "t3.medium"); m.PricePerHour != 0.0416 {
		t.Errorf("t3.medium costs %v, want 0.0416", m.PricePerHour)
	}
}

func TestMachineTypeNameFold(t *testing.T) {
	for _, tc := range []struct{ provider, name, want string }{
		{"azure", "standard_d2s_v5", "Standard_D2s_v5"},
		{"aws", "T3.Medium", "t3.medium"},
		{"gcp", "E2-STANDARD-2", "e2-standard-2"},
		{"aws", "t9.huge", ""},
		{"oracle", "t3.medium", ""},
	} {
		if got, ok := catalog.MachineTypeNameFold(tc.provider, tc.name); got != tc.want || ok != (tc.want != "") {
			t.Errorf("MachineTypeNameFold(%s, %s) = %q, %v; want %q", tc.provider, tc.name, got, ok, tc.want)
		}
	}
}
