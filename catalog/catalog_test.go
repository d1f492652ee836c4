package catalog_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/astropulse/astroplane/catalog"
)

func TestProviders(t *testing.T) {
	var ids []string
	for _, p := range catalog.Providers() {
		ids = append(ids, p.ID)
		if p.Name == "" || len(p.ProvisionerTypes) == 0 {
			t.Errorf("provider %q lacks a name or provisioner types: %+v", p.ID, p)
		}
	}
	if want := []string{"aws", "gcp", "azure"}; !slices.Equal(ids, want) {
		t.Fatalf("Providers() IDs = %v, want %v", ids, want)
	}

	tests := []struct {
		provisionerType string
		want            []string
	}{
		{"eks", []string{"aws"}},
		{"gke", []string{"gcp"}},
		{"aks", []string{"azure"}},
		{"selfHosted", []string{"aws", "gcp"}},
		{"registered", nil},
		{"EKS", nil},
	}
	for _, tt := range tests {
		t.Run(tt.provisionerType, func(t *testing.T) {
			if got := catalog.ProvidersOf(tt.provisionerType); !slices.Equal(got, tt.want) {
				t.Errorf("ProvidersOf(%q) = %v, want %v", tt.provisionerType, got, tt.want)
			}
			for _, id := range []string{"aws", "gcp", "azure"} {
				p, ok := catalog.ProviderByID(id)
				if !ok {
					t.Fatalf("ProviderByID(%q) not found", id)
				}
				if got, want := p.Supports(tt.provisionerType), slices.Contains(tt.want, id); got != want {
					t.Errorf("%s.Supports(%q) = %v, want %v", id, tt.provisionerType, got, want)
				}
			}
		})
	}
	if _, ok := catalog.ProviderByID("oracle"); ok {
		t.Error("ProviderByID(oracle) found")
	}
}

func TestRegions(t *testing.T) {
	zoneForm := map[string]func(region string) *regexp.Regexp{
		"aws":   func(r string) *regexp.Regexp { return regexp.MustCompile(`^` + regexp.QuoteMeta(r) + `[a-f]$`) },
		"gcp":   func(r string) *regexp.Regexp { return regexp.MustCompile(`^` + regexp.QuoteMeta(r) + `-[a-f]$`) },
		"azure": func(string) *regexp.Regexp { return regexp.MustCompile(`^[1-3]$`) },
	}
	for _, p := range catalog.Providers() {
		t.Run(p.ID, func(t *testing.T) {
			rs := catalog.Regions(p.ID)
			if len(rs) < 6 {
				t.Fatalf("Regions(%q) has %d regions, want a realistic set", p.ID, len(rs))
			}
			seen := map[string]bool{}
			for _, r := range rs {
				if seen[r.ID] {
					t.Errorf("region %s listed twice", r.ID)
				}
				seen[r.ID] = true
				if r.Name == "" || r.Location == "" {
					t.Errorf("region %s lacks a name or location", r.ID)
				}
				// Azure regions without availability zones (westus, ukwest…) have none.
				if len(r.Zones) < 2 && (p.ID != "azure" || len(r.Zones) != 0) {
					t.Errorf("region %s has %d zones, want at least 2", r.ID, len(r.Zones))
				}
				for _, z := range r.Zones {
					if !zoneForm[p.ID](r.ID).MatchString(z) {
						t.Errorf("region %s zone %q is not in %s's zone form", r.ID, z, p.ID)
					}
				}
				got, ok := catalog.Region(p.ID, r.ID)
				if !ok || got.ID != r.ID || !slices.Equal(got.Zones, r.Zones) {
					t.Errorf("Region(%q, %q) = %+v, %v", p.ID, r.ID, got, ok)
				}
			}
		})
	}
	if catalog.Regions("oracle") != nil {
		t.Error("Regions(oracle) is not nil")
	}
}

func TestRegionLookup(t *testing.T) {
	tests := []struct {
		provider, region string
		ok               bool
		zone             string
	}{
		{"aws", "us-east-1", true, "us-east-1a"},
		{"aws", "eu-central-1", true, "eu-central-1b"},
		{"aws", "ap-southeast-1", true, "ap-southeast-1c"},
		{"gcp", "us-central1", true, "us-central1-a"},
		{"gcp", "europe-west4", true, "europe-west4-b"},
		{"azure", "eastus", true, "1"},
		{"azure", "westeurope", true, "3"},
		{"aws", "us-central1", false, ""},
		{"gcp", "us-east-1", false, ""},
		{"azure", "EastUS", false, ""},
		{"oracle", "us-east-1", false, ""},
		{"aws", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.region, func(t *testing.T) {
			r, ok := catalog.Region(tt.provider, tt.region)
			if ok != tt.ok {
				t.Fatalf("Region(%q, %q) ok = %v, want %v", tt.provider, tt.region, ok, tt.ok)
			}
			if ok && !r.HasZone(tt.zone) {
				t.Errorf("region %s has zones %v, want %s among them", tt.region, r.Zones, tt.zone)
			}
		})
	}
}

func TestMachineType(t *testing.T) {
	tests := []struct {
		provider, region, name string
		ok                     bool
		cpu, memory            string
		category               catalog.Category
		arch                   catalog.Architecture
		gpus                   int
	}{
		{"aws", "us-east-1", "t3.medium", true, "2", "4Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"aws", "eu-west-1", "t3.large", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"aws", "us-east-2", "m5.large", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"aws", "us-west-2", "m6g.large", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchARM64, 0},
		{"aws", "eu-central-1", "c5.xlarge", true, "4", "8Gi", catalog.CategoryComputeOptimized, catalog.ArchX8664, 0},
		{"aws", "ap-northeast-1", "r5.large", true, "2", "16Gi", catalog.CategoryMemoryOptimized, catalog.ArchX8664, 0},
		{"aws", "us-east-1", "g4dn.xlarge", true, "4", "16Gi", catalog.CategoryGPU, catalog.ArchX8664, 1},
		{"aws", "sa-east-1", "g4dn.xlarge", true, "4", "16Gi", catalog.CategoryGPU, catalog.ArchX8664, 1},
		{"aws", "af-south-1", "p5.48xlarge", false, "", "", "", "", 0},
		{"aws", "us-east-1", "inf2.xlarge", true, "4", "16Gi", catalog.CategoryAcceleratorOptimized, catalog.ArchX8664, 0},
		{"aws", "us-east-1", "e2-standard-2", false, "", "", "", "", 0},
		{"gcp", "us-central1", "e2-standard-2", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"gcp", "europe-west1", "e2-standard-4", true, "4", "16Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"gcp", "us-east1", "n2-standard-4", true, "4", "16Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"gcp", "asia-southeast1", "c2-standard-8", true, "8", "32Gi", catalog.CategoryComputeOptimized, catalog.ArchX8664, 0},
		{"gcp", "us-central1", "t2a-standard-2", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchARM64, 0},
		{"gcp", "us-west1", "t2a-standard-2", false, "", "", "", "", 0},
		{"gcp", "europe-west4", "a2-highgpu-1g", true, "12", "85Gi", catalog.CategoryAcceleratorOptimized, catalog.ArchX8664, 1},
		{"gcp", "europe-west2", "a2-highgpu-1g", false, "", "", "", "", 0},
		{"azure", "eastus", "Standard_D2s_v7", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"azure", "southeastasia", "Standard_D2s_v7", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"azure", "westeurope", "Standard_D2s_v5", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"azure", "northeurope", "Standard_D4s_v5", true, "4", "16Gi", catalog.CategoryGeneralPurpose, catalog.ArchX8664, 0},
		{"azure", "eastus2", "Standard_E4s_v5", true, "4", "32Gi", catalog.CategoryMemoryOptimized, catalog.ArchX8664, 0},
		{"azure", "westus2", "Standard_F4s_v2", true, "4", "8Gi", catalog.CategoryComputeOptimized, catalog.ArchX8664, 0},
		{"azure", "eastus", "Standard_D2ps_v5", true, "2", "8Gi", catalog.CategoryGeneralPurpose, catalog.ArchARM64, 0},
		{"azure", "eastus", "Standard_NC6s_v3", true, "6", "112Gi", catalog.CategoryGPU, catalog.ArchX8664, 1},
		{"azure", "uksouth", "Standard_NC6s_v3", true, "6", "112Gi", catalog.CategoryGPU, catalog.ArchX8664, 1},
		{"azure", "eastus", "standard_d2s_v5", false, "", "", "", "", 0},
		{"azure", "mars", "Standard_D2s_v5", false, "", "", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.region+"/"+tt.name, func(t *testing.T) {
			m, ok := catalog.MachineType(tt.provider, tt.region, tt.name)
			if ok != tt.ok {
				t.Fatalf("MachineType(%q, %q, %q) ok = %v, want %v", tt.provider, tt.region, tt.name, ok, tt.ok)
			}
			inList := slices.ContainsFunc(catalog.MachineTypes(tt.provider, tt.region), func(m catalog.MachineTypeInfo) bool { return m.Name == tt.name })
			if inList != tt.ok {
				t.Errorf("MachineTypes(%q, %q) lists %s: %v, want %v", tt.provider, tt.region, tt.name, inList, tt.ok)
			}
			if !ok {
				return
			}
			if m.Name != tt.name || m.CPU() != tt.cpu || m.Memory() != tt.memory || m.Category != tt.category || m.Architecture != tt.arch || m.GPUs != tt.gpus {
				t.Errorf("MachineType = %+v (cpu %s, memory %s), want cpu %s memory %s %s %s gpus %d",
					m, m.CPU(), m.Memory(), tt.cpu, tt.memory, tt.category, tt.arch, tt.gpus)
			}
		})
	}
}

// TestMachineTypesConsistent checks the catalog's data: every region offers a
// general-purpose choice, names are unique, GPU fields agree, and every type is
// offered somewhere.
func TestMachineTypesConsistent(t *testing.T) {
	for _, p := range catalog.Providers() {
		t.Run(p.ID, func(t *testing.T) {
			for _, r := range catalog.Regions(p.ID) {
				ms := catalog.MachineTypes(p.ID, r.ID)
				seen := map[string]bool{}
				general := 0
				for _, m := range ms {
					if seen[m.Name] {
						t.Errorf("%s lists %s twice", r.ID, m.Name)
					}
					seen[m.Name] = true
					if m.CPUMillicores <= 0 || m.MemoryMiB <= 0 || m.Architecture == "" || m.Category == "" {
						t.Errorf("%s: incomplete machine type %+v", r.ID, m)
					}
					if (m.GPUs > 0) != (m.GPUType != "") {
						t.Errorf("%s: GPUs %d and GPUType %q disagree", m.Name, m.GPUs, m.GPUType)
					}
					if m.Category == catalog.CategoryGPU && m.GPUs == 0 {
						t.Errorf("%s: GPU category without GPUs", m.Name)
					}
					if m.Category == catalog.CategoryGeneralPurpose && m.Architecture == catalog.ArchX8664 {
						general++
					}
					if _, _, ok := catalog.MachineTypeAnyRegion(p.ID, m.Name); !ok {
						t.Errorf("MachineTypeAnyRegion(%q, %q) not found", p.ID, m.Name)
					}
				}
				if general < 3 {
					t.Errorf("%s offers %d general-purpose x86_64 types, want at least 3", r.ID, general)
				}
			}
		})
	}
}

func TestMachineTypeAnyRegion(t *testing.T) {
	tests := []struct {
		provider, name string
		ok             bool
		in, notIn      string
	}{
		{"aws", "t3.medium", true, "sa-east-1", ""},
		{"aws", "g5.xlarge", true, "us-east-1", "af-south-1"},
		{"gcp", "a2-highgpu-1g", true, "us-central1", "europe-west1"},
		{"azure", "Standard_NC4as_T4_v3", true, "eastus", ""}, // Azure sizes are listed in every region
		{"azure", "t3.medium", false, "", ""},
		{"oracle", "t3.medium", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.provider+"/"+tt.name, func(t *testing.T) {
			m, regions, ok := catalog.MachineTypeAnyRegion(tt.provider, tt.name)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if m.Name != tt.name || !slices.Contains(regions, tt.in) || (tt.notIn != "" && slices.Contains(regions, tt.notIn)) {
				t.Errorf("MachineTypeAnyRegion(%q, %q) = %s in %v, want in %s and not in %q", tt.provider, tt.name, m.Name, regions, tt.in, tt.notIn)
			}
		})
	}
}

func TestKubernetesVersions(t *testing.T) {
	for _, pt := range []string{"eks", "gke", "aks", "selfHosted"} {
		t.Run(pt, func(t *testing.T) {
			vs := catalog.KubernetesVersions(pt)
			var minors []string
			defaults := 0
			for _, v := range vs {
				minors = append(minors, v.Minor)
				if v.Default {
					defaults++
				}
				if v.EndOfStandardSupport.IsZero() {
					t.Errorf("%s %s has no end of standard support", pt, v.Minor)
				}
				if pt == "gke" {
					if len(v.Builds) == 0 || len(v.Channels) == 0 {
						t.Errorf("gke %s has no builds or channels", v.Minor)
					}
					for _, b := range v.Builds {
						if got, ok := catalog.NormalizeVersion("gke", b.Version); !ok || got != v.Minor {
							t.Errorf("NormalizeVersion(gke, %q) = %q, %v, want %s", b.Version, got, ok, v.Minor)
						}
					}
				} else if v.Builds != nil || v.Channels != nil || v.AutopilotCompatible {
					t.Errorf("%s %s carries GKE-only fields: %+v", pt, v.Minor, v)
				}
			}
			if want := []string{"1.33", "1.32", "1.31", "1.30", "1.29"}; !slices.Equal(minors, want) {
				t.Errorf("minors = %v, want %v (newest first)", minors, want)
			}
			if defaults != 1 {
				t.Errorf("%d defaults, want 1", defaults)
			}
			if got := catalog.DefaultVersion(pt); got != "1.31" {
				t.Errorf("DefaultVersion(%q) = %q, want 1.31", pt, got)
			}
		})
	}
	if catalog.KubernetesVersions("registered") != nil || catalog.DefaultVersion("registered") != "" {
		t.Error("an unknown provisioner type has versions")
	}
}

func TestGKEChannels(t *testing.T) {
	tests := []struct {
		channel string
		minor   string
	}{
		{"RAPID", "1.33"},
		{"REGULAR", "1.32"},
		{"STABLE", catalog.DefaultVersion("gke")},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			build, ok := catalog.ChannelDefault(tt.channel)
			if !ok {
				t.Fatalf("ChannelDefault(%q) not found", tt.channel)
			}
			v, ok := catalog.KubernetesVersion("gke", build)
			if !ok || v.Minor != tt.minor {
				t.Fatalf("ChannelDefault(%q) = %s, minor %s, want %s", tt.channel, build, v.Minor, tt.minor)
			}
			offered := slices.ContainsFunc(v.Builds, func(b catalog.Build) bool {
				return b.Version == build && slices.Contains(b.Channels, tt.channel)
			})
			if !offered {
				t.Errorf("channel %s's default %s is not a build of that channel: %+v", tt.channel, build, v.Builds)
			}
		})
	}
	if _, ok := catalog.ChannelDefault("EXTENDED"); ok {
		t.Error("ChannelDefault(EXTENDED) found")
	}
	v, ok := catalog.KubernetesVersion("gke", "1.29")
	if !ok || v.AutopilotCompatible {
		t.Errorf("gke 1.29 = %+v (found %v), want found and not autopilot compatible", v, ok)
	}
	v, ok = catalog.KubernetesVersion("gke", "1.30.5-gke.1443001")
	if !ok || !v.AutopilotCompatible || !slices.Equal(v.Channels, []string{"REGULAR", "STABLE"}) {
		t.Errorf("gke 1.30 = %+v, want autopilot compatible in REGULAR and STABLE", v)
	}
}

func TestNormalizeVersion(t *testing.T) {
	tests := []struct {
		provisionerType, v string
		minor              string
		ok                 bool
	}{
		{"eks", "1.30", "1.30", true},
		{"eks", "v1.30", "1.30", true},
		{"eks", "1.30.5", "1.30", true},
		{"eks", "v1.33.1", "1.33", true},
		{"aks", "1.29", "1.29", true},
		{"selfHosted", "v1.31.4", "1.31", true},
		{"gke", "1.30.5-gke.1443001", "1.30", true},
		{"gke", "v1.32.4-gke.1106006", "1.32", true},
		{"gke", "1.31", "1.31", true},
		{"eks", "1.30.5-gke.1443001", "", false},
		{"aks", "1.30.5-gke.1443001", "", false},
		{"eks", "1.28", "", false},
		{"eks", "1.34", "", false},
		{"eks", "2.30", "", false},
		{"eks", "1", "", false},
		{"eks", "1.30.", "", false},
		{"eks", "1.030", "", false},
		{"eks", "V1.30", "", false},
		{"eks", " 1.30", "", false},
		{"eks", "1.30.5-eks.1", "", false},
		{"gke", "1.30-gke.1", "", false},
		{"gke", "1.30.5-gke", "", false},
		{"eks", "latest", "", false},
		{"eks", "", "", false},
		{"registered", "1.30", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.provisionerType+"/"+tt.v, func(t *testing.T) {
			minor, ok := catalog.NormalizeVersion(tt.provisionerType, tt.v)
			if minor != tt.minor || ok != tt.ok {
				t.Errorf("NormalizeVersion(%q, %q) = %q, %v, want %q, %v", tt.provisionerType, tt.v, minor, ok, tt.minor, tt.ok)
			}
		})
	}
}

// TestResultsAreCopies checks that callers cannot change the catalog through what
// it returns.
func TestResultsAreCopies(t *testing.T) {
	catalog.Providers()[0].ProvisionerTypes[0] = "changed"
	p, _ := catalog.ProviderByID("aws")
	p.ProvisionerTypes[0] = "changed"
	catalog.Regions("aws")[0].Zones[0] = "changed"
	r, _ := catalog.Region("aws", "us-east-1")
	r.Zones[0] = "changed"
	catalog.KubernetesVersions("gke")[0].Builds[0].Channels[0] = "changed"

	if p, _ := catalog.ProviderByID("aws"); p.ProvisionerTypes[0] != "eks" {
		t.Errorf("provider changed: %v", p.ProvisionerTypes)
	}
	if r, _ := catalog.Region("aws", "us-east-1"); r.Zones[0] != "us-east-1a" {
		t.Errorf("region changed: %v", r.Zones)
	}
	if v := catalog.KubernetesVersions("gke")[0]; strings.Join(v.Builds[0].Channels, ",") != "RAPID" {
		t.Errorf("version changed: %+v", v.Builds)
	}
}

func TestQuantities(t *testing.T) {
	tests := []struct {
		millicores, mib int
		cpu, memory     string
	}{
		{2000, 4096, "2", "4Gi"},
		{500, 1536, "500m", "1536Mi"},
		{12000, 87040, "12", "85Gi"},
	}
	for _, tt := range tests {
		m := catalog.MachineTypeInfo{CPUMillicores: tt.millicores, MemoryMiB: tt.mib}
		if m.CPU() != tt.cpu || m.Memory() != tt.memory {
			t.Errorf("%d millicores, %d MiB = %s, %s; want %s, %s", tt.millicores, tt.mib, m.CPU(), m.Memory(), tt.cpu, tt.memory)
		}
	}
	if _, ok := catalog.KubernetesVersion("eks", "1.28"); ok {
		t.Error("KubernetesVersion(eks, 1.28) found")
	}
}

// Every listed region and machine type has its provider's shape, so the shapes never
// refuse a real name the catalog misses; names of another provider's shape fail.
func TestShapesFitTheCatalog(t *testing.T) {
	for _, p := range catalog.Providers() {
		for _, r := range catalog.Regions(p.ID) {
			if !catalog.LooksLikeRegion(p.ID, r.ID) {
				t.Errorf("%s region %s does not have the shape of %s regions", p.ID, r.ID, p.ID)
			}
			for _, m := range catalog.MachineTypes(p.ID, r.ID) {
				if !catalog.LooksLikeMachineType(p.ID, m.Name) {
					t.Errorf("%s machine type %s does not have the shape of %s machine types", p.ID, m.Name, p.ID)
				}
			}
		}
	}
	for _, tc := range []struct {
		provider, region, machineType string
	}{
		{"aws", "us-central1", "e2-standard-4"},
		{"aws", "moon-base-1", "Standard_D2s_v5"},
		{"gcp", "us-east-1", "t3.medium"},
		{"gcp", "moon-base1", "Standard_D2s_v5"},
		{"azure", "us-east-1", "t3.medium"},
		{"azure", "us", "e2-standard-4"},
	} {
		if catalog.LooksLikeRegion(tc.provider, tc.region) {
			t.Errorf("%s: %s has the shape of a region", tc.provider, tc.region)
		}
		if catalog.LooksLikeMachineType(tc.provider, tc.machineType) {
			t.Errorf("%s: %s has the shape of a machine type", tc.provider, tc.machineType)
		}
	}
	for _, tc := range []struct{ provider, region, machineType string }{
		{"aws", "ap-southeast-7", "m8g.48xlarge"},
		{"gcp", "europe-north2", "c4d-standard-384"},
		{"azure", "newzealandnorth", "Standard_E192ibds_v6"},
	} {
		if !catalog.LooksLikeRegion(tc.provider, tc.region) || !catalog.LooksLikeMachineType(tc.provider, tc.machineType) {
			t.Errorf("%s: a real region %s or machine type %s newer than the catalog is refused", tc.provider, tc.region, tc.machineType)
		}
	}
}

func TestVersionStanding(t *testing.T) {
	newest := catalog.KubernetesVersions("eks")
	last := newest[len(newest)-1].Minor
	for _, tc := range []struct {
		ptype, v string
		want     catalog.Standing
	}{
		{"eks", last, catalog.Supported},
		{"eks", "1.99", catalog.Newer},
		{"eks", "v2.0.1", catalog.Newer},
		{"eks", "1.20", catalog.Retired},
		{"eks", "latest", catalog.Malformed},
		{"eks", "1.30.5-gke.1", catalog.Malformed},
		{"gke", "1.99.1-gke.100", catalog.Newer},
	} {
		if _, got := catalog.VersionStanding(tc.ptype, tc.v); got != tc.want {
			t.Errorf("VersionStanding(%s, %s) = %v, want %v", tc.ptype, tc.v, got, tc.want)
		}
	}
}
