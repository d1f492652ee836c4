package catalog

import (
	"strconv"
	"strings"
	"sync"
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

// typeRow is one machine type of the generated tables (zz_*_gen.go): compact, so
// the thousands of types the clouds offer cost little in the binary.
type typeRow struct {
	name    string
	milli   int32   // vCPUs in millicores
	mib     int32   // memory in MiB
	regions uint64  // bit i set: regions[provider][i] offers the type
	price   float64 // USD per hour, 0 when unknown
	cat     uint8   // index into categories
	arch    uint8   // index into architectures
	gpus    uint8   // GPUs attached
	gpu     uint8   // index into gpuModels
}

// Category and architecture codes of the generated tables.
const (
	gp uint8 = iota // GeneralPurpose
	co              // ComputeOptimized
	mo              // MemoryOptimized
	ao              // AcceleratorOptimized
	gu              // GPU
)

const (
	x86 uint8 = iota
	arm
)

var (
	categories    = [...]Category{CategoryGeneralPurpose, CategoryComputeOptimized, CategoryMemoryOptimized, CategoryAcceleratorOptimized, CategoryGPU}
	architectures = [...]Architecture{ArchX8664, ArchARM64}
)

func (r *typeRow) info() MachineTypeInfo {
	return MachineTypeInfo{Name: r.name, CPUMillicores: int(r.milli), MemoryMiB: int(r.mib), Category: categories[r.cat],
		Architecture: architectures[r.arch], GPUs: int(r.gpus), GPUType: gpuModels[r.gpu], PricePerHour: r.price}
}

// index maps each provider's machine type names, as given and in lower case, to
// their rows.
type index struct {
	byName, byFold map[string]*typeRow
}

var indexes = sync.OnceValue(func() map[string]index {
	out := make(map[string]index, len(machineTypes))
	for p, rows := range machineTypes {
		ix := index{byName: make(map[string]*typeRow, len(rows)), byFold: make(map[string]*typeRow, len(rows))}
		for i := range rows {
			ix.byName[rows[i].name] = &rows[i]
			ix.byFold[strings.ToLower(rows[i].name)] = &rows[i]
		}
		out[p] = ix
	}
	return out
})

// regionBit returns the bit of the provider's region in the tables' region sets;
// false for an unknown provider or region.
func regionBit(provider, region string) (uint64, bool) {
	for i, r := range regions[provider] {
		if r.ID == region {
			return 1 << i, true
		}
	}
	return 0, false
}

// MachineTypes returns the machine types the provider offers in the region, grouped
// by family, smallest first; nil when the provider or the region is unknown.
func MachineTypes(provider, region string) []MachineTypeInfo {
	bit, ok := regionBit(provider, region)
	if !ok {
		return nil
	}
	var out []MachineTypeInfo
	rows := machineTypes[provider]
	for i := range rows {
		if rows[i].regions&bit != 0 {
			out = append(out, rows[i].info())
		}
	}
	return out
}

// MachineType returns the named machine type if the provider offers it in the
// region; ok is false when the provider, the region or the type is unknown, or the
// region does not offer the type.
func MachineType(provider, region, name string) (m MachineTypeInfo, ok bool) {
	bit, ok := regionBit(provider, region)
	if !ok {
		return MachineTypeInfo{}, false
	}
	r := indexes()[provider].byName[name]
	if r == nil || r.regions&bit == 0 {
		return MachineTypeInfo{}, false
	}
	return r.info(), true
}

// MachineTypeAnyRegion returns the named machine type if some region of the
// provider offers it, with the IDs of the regions that do; ok is false otherwise.
// It serves checks that do not know the region (a gcp selfHosted cluster without
// one, an update manifest).
func MachineTypeAnyRegion(provider, name string) (m MachineTypeInfo, regionIDs []string, ok bool) {
	r := indexes()[provider].byName[name]
	if r == nil {
		return MachineTypeInfo{}, nil, false
	}
	for i, rg := range regions[provider] {
		if r.regions&(1<<i) != 0 {
			regionIDs = append(regionIDs, rg.ID)
		}
	}
	return r.info(), regionIDs, true
}

// MachineTypeNameFold returns the name the provider's catalog gives a machine type
// that differs from name at most in case; ok is false when there is none.
func MachineTypeNameFold(provider, name string) (canonical string, ok bool) {
	r := indexes()[provider].byFold[strings.ToLower(name)]
	if r == nil {
		return "", false
	}
	return r.name, true
}
