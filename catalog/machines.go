package catalog

import (
	"slices"
	"strconv"
)

// Category is the family a machine type belongs to; the values are the API's
// MachineTypeCategory enum.
type Category string

// Machine type categories.
const (
	CategoryGeneralPurpose       Category = "GeneralPurpose"
	CategoryComputeOptimized     Category = "ComputeOptimized"
	CategoryMemoryOptimized      Category = "MemoryOptimized"
	CategoryAcceleratorOptimized Category = "AcceleratorOptimized"
	CategoryGPU                  Category = "GPU"
)

// Architecture is a machine type's CPU architecture; the values are the API's
// MachineTypeArchitecture enum.
type Architecture string

// CPU architectures.
const (
	ArchX8664 Architecture = "x86_64"
	ArchARM64 Architecture = "arm64"
)

// MachineTypeInfo is a machine (instance, VM size) type a region offers.
type MachineTypeInfo struct {
	// Name is the provider's name for the type, e.g. "t3.medium", "e2-standard-2",
	// "Standard_D2s_v5"; manifests list these in nodeGroups[].machineTypes.
	Name string
	// CPUMillicores is the vCPU count in millicores (2 vCPUs = 2000).
	CPUMillicores int
	// MemoryMiB is the memory in MiB.
	MemoryMiB int
	// Category is the machine family.
	Category Category
	// Architecture is the CPU architecture.
	Architecture Architecture
	// GPUs is the number of GPUs attached; zero for none.
	GPUs int
	// GPUType is the GPU model in GKE's accelerator naming (e.g. "nvidia-tesla-t4");
	// empty when GPUs is zero.
	GPUType string
	// PricePerHour is the approximate on-demand Linux list price in USD in the
	// provider's cheapest US region; zero when not known.
	PricePerHour float64
}

// CPU returns the vCPUs as a Kubernetes quantity: "2" for 2000 millicores, "500m"
// for 500.
func (m MachineTypeInfo) CPU() string {
	if m.CPUMillicores%1000 == 0 {
		return strconv.Itoa(m.CPUMillicores / 1000)
	}
	return strconv.Itoa(m.CPUMillicores) + "m"
}

// Memory returns the memory as a Kubernetes quantity: "4Gi" for 4096 MiB, "1536Mi"
// for 1536.
func (m MachineTypeInfo) Memory() string {
	if m.MemoryMiB%1024 == 0 {
		return strconv.Itoa(m.MemoryMiB/1024) + "Gi"
	}
	return strconv.Itoa(m.MemoryMiB) + "Mi"
}

// offering is a machine type and the regions that offer it.
type offering struct {
	MachineTypeInfo
	// regions offering the type; nil means every region of the provider.
	regions []string
}

// Region subsets for types that only some regions offer (GPUs, accelerators, Arm).
var (
	awsGPURegions   = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-southeast-1"}
	awsG5Regions    = []string{"us-east-1", "us-west-2", "eu-west-1"}
	awsP3Regions    = []string{"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"}
	awsInf2Regions  = []string{"us-east-1", "us-east-2", "us-west-2"}
	awsM7gRegions   = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"}
	gcpT2ARegions   = []string{"us-central1", "europe-west4", "asia-southeast1"}
	gcpG2Regions    = []string{"us-central1", "us-east1", "us-east4", "us-west1", "europe-west1", "europe-west4", "asia-southeast1"}
	gcpA2Regions    = []string{"us-central1", "us-east1", "europe-west4", "asia-southeast1"}
	azureArmRegions = []string{"eastus", "eastus2", "westus2", "westus3", "northeurope", "westeurope", "southeastasia", "japaneast", "australiaeast", "centralindia"}
	azureT4Regions  = []string{"eastus", "westus2", "westeurope", "southeastasia", "japaneast"}
	azureV100Region = []string{"eastus", "westus2", "westeurope", "southeastasia"}
)

// gib is MiB per GiB, for readable memory sizes below.
const gib = 1024

// machineTypes lists each provider's machine types, grouped by family.
var machineTypes = map[string][]offering{
	AWS: {
		general("t3.small", 2, 2*gib, 0.0208),
		general("t3.medium", 2, 4*gib, 0.0416),
		general("t3.large", 2, 8*gib, 0.0832),
		general("t3.xlarge", 4, 16*gib, 0.1664),
		general("m5.large", 2, 8*gib, 0.096),
		general("m5.xlarge", 4, 16*gib, 0.192),
		general("m5.2xlarge", 8, 32*gib, 0.384),
		general("m6i.large", 2, 8*gib, 0.096),
		arm(general("m6g.large", 2, 8*gib, 0.077)),
		arm(general("m6g.xlarge", 4, 16*gib, 0.154)),
		in(awsM7gRegions, arm(general("m7g.large", 2, 8*gib, 0.0816))),
		compute("c5.large", 2, 4*gib, 0.085),
		compute("c5.xlarge", 4, 8*gib, 0.17),
		arm(compute("c6g.xlarge", 4, 8*gib, 0.136)),
		memory("r5.large", 2, 16*gib, 0.126),
		memory("r5.xlarge", 4, 32*gib, 0.252),
		in(awsGPURegions, gpu("g4dn.xlarge", 4, 16*gib, 1, "nvidia-tesla-t4", 0.526)),
		in(awsG5Regions, gpu("g5.xlarge", 4, 16*gib, 1, "nvidia-a10g", 1.006)),
		in(awsP3Regions, gpu("p3.2xlarge", 8, 61*gib, 1, "nvidia-tesla-v100", 3.06)),
		in(awsInf2Regions, accelerator("inf2.xlarge", 4, 16*gib, 0, "", 0.7582)),
	},
	GCP: {
		general("e2-medium", 2, 4*gib, 0.0335),
		general("e2-standard-2", 2, 8*gib, 0.067),
		general("e2-standard-4", 4, 16*gib, 0.134),
		general("e2-standard-8", 8, 32*gib, 0.268),
		general("n2-standard-2", 2, 8*gib, 0.0971),
		general("n2-standard-4", 4, 16*gib, 0.1942),
		general("n2-standard-8", 8, 32*gib, 0.3885),
		in(gcpT2ARegions, arm(general("t2a-standard-2", 2, 8*gib, 0.077))),
		in(gcpT2ARegions, arm(general("t2a-standard-4", 4, 16*gib, 0.154))),
		compute("n2-highcpu-8", 8, 8*gib, 0.2868),
		compute("c2-standard-4", 4, 16*gib, 0.2088),
		compute("c2-standard-8", 8, 32*gib, 0.4176),
		memory("n2-highmem-4", 4, 32*gib, 0.262),
		in(gcpG2Regions, accelerator("g2-standard-4", 4, 16*gib, 1, "nvidia-l4", 0.7069)),
		in(gcpA2Regions, accelerator("a2-highgpu-1g", 12, 85*gib, 1, "nvidia-tesla-a100", 3.6734)),
	},
	Azure: {
		general("Standard_B2s", 2, 4*gib, 0.0416),
		general("Standard_D2s_v5", 2, 8*gib, 0.096),
		general("Standard_D4s_v5", 4, 16*gib, 0.192),
		general("Standard_D8s_v5", 8, 32*gib, 0.384),
		general("Standard_D2s_v7", 2, 8*gib, 0),
		general("Standard_D4s_v7", 4, 16*gib, 0),
		in(azureArmRegions, arm(general("Standard_D2ps_v5", 2, 8*gib, 0.077))),
		in(azureArmRegions, arm(general("Standard_D4ps_v5", 4, 16*gib, 0.154))),
		compute("Standard_F4s_v2", 4, 8*gib, 0.169),
		memory("Standard_E4s_v5", 4, 32*gib, 0.252),
		in(azureT4Regions, gpu("Standard_NC4as_T4_v3", 4, 28*gib, 1, "nvidia-tesla-t4", 0.526)),
		in(azureV100Region, gpu("Standard_NC6s_v3", 6, 112*gib, 1, "nvidia-tesla-v100", 3.06)),
	},
}

func general(name string, vcpus, mib int, price float64) offering {
	return offering{MachineTypeInfo: MachineTypeInfo{Name: name, CPUMillicores: vcpus * 1000, MemoryMiB: mib,
		Category: CategoryGeneralPurpose, Architecture: ArchX8664, PricePerHour: price}}
}

func compute(name string, vcpus, mib int, price float64) offering {
	o := general(name, vcpus, mib, price)
	o.Category = CategoryComputeOptimized
	return o
}

func memory(name string, vcpus, mib int, price float64) offering {
	o := general(name, vcpus, mib, price)
	o.Category = CategoryMemoryOptimized
	return o
}

func gpu(name string, vcpus, mib, gpus int, gpuType string, price float64) offering {
	o := general(name, vcpus, mib, price)
	o.Category, o.GPUs, o.GPUType = CategoryGPU, gpus, gpuType
	return o
}

func accelerator(name string, vcpus, mib, gpus int, gpuType string, price float64) offering {
	o := gpu(name, vcpus, mib, gpus, gpuType, price)
	o.Category = CategoryAcceleratorOptimized
	return o
}

func arm(o offering) offering {
	o.Architecture = ArchARM64
	return o
}

func in(regions []string, o offering) offering {
	o.regions = regions
	return o
}

func (o offering) offeredIn(region string) bool {
	return o.regions == nil || slices.Contains(o.regions, region)
}

// MachineTypes returns the machine types the provider offers in the region, grouped
// by family; nil when the provider or the region is unknown.
func MachineTypes(provider, region string) []MachineTypeInfo {
	if _, ok := Region(provider, region); !ok {
		return nil
	}
	var out []MachineTypeInfo
	for _, o := range machineTypes[provider] {
		if o.offeredIn(region) {
			out = append(out, o.MachineTypeInfo)
		}
	}
	return out
}

// MachineType returns the named machine type if the provider offers it in the
// region; ok is false when the provider, the region or the type is unknown, or the
// region does not offer the type.
func MachineType(provider, region, name string) (m MachineTypeInfo, ok bool) {
	if _, ok := Region(provider, region); !ok {
		return MachineTypeInfo{}, false
	}
	for _, o := range machineTypes[provider] {
		if o.Name == name && o.offeredIn(region) {
			return o.MachineTypeInfo, true
		}
	}
	return MachineTypeInfo{}, false
}

// MachineTypeAnyRegion returns the named machine type if some region of the
// provider offers it, with the IDs of the regions that do; ok is false otherwise.
// It serves checks that do not know the region (a gcp selfHosted cluster without
// one, an update manifest).
func MachineTypeAnyRegion(provider, name string) (m MachineTypeInfo, regionIDs []string, ok bool) {
	for _, o := range machineTypes[provider] {
		if o.Name != name {
			continue
		}
		for _, r := range regions[provider] {
			if o.offeredIn(r.ID) {
				regionIDs = append(regionIDs, r.ID)
			}
		}
		return o.MachineTypeInfo, regionIDs, true
	}
	return MachineTypeInfo{}, nil, false
}
