// Command gen generates the catalog's machine-type and region tables
// (catalog/zz_*_gen.go) from the committed sources in catalog/gen/sources. It reads
// nothing else and reaches no network; its output is gofmt'd and the same for the
// same sources.
//
//	go run ./catalog/gen                  # make catalog: sources → catalog/zz_*_gen.go
//	go run ./catalog/gen -import -moto … # refresh sources from upstream files (see sources/README.md)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/astropulse/astroplane/catalog/internal/rules"
)

var providers = []struct{ id, constName, varPrefix string }{
	{"aws", "AWS", "aws"},
	{"gcp", "GCP", "gcp"},
	{"azure", "Azure", "azure"},
}

func main() {
	var (
		out = flag.String("out", "catalog", "directory of package catalog")
		imp importFlags
		do  = flag.Bool("import", false, "rewrite the sources from upstream files instead of generating")
	)
	flag.StringVar(&imp.sources, "sources", "catalog/gen/sources", "directory of the committed sources")
	flag.StringVar(&imp.moto, "moto", "", "moto's ec2/resources directory (instance_types.json.gz, instance_type_offerings/)")
	flag.StringVar(&imp.motoOrigin, "moto-origin", "", "what -moto is, e.g. \"moto 5.2.1 (PyPI)\"")
	flag.StringVar(&imp.gcpDir, "gcp", "", "directory holding machinetyperegion.csv and zones.csv")
	flag.StringVar(&imp.gcpOrigin, "gcp-origin", "", "where -gcp's files come from (repository@commit, date)")
	flag.StringVar(&imp.azureTypes, "azure-types", "", "kubernetes/autoscaler's azure_instance_types.go")
	flag.StringVar(&imp.azureTypesOrigin, "azure-types-origin", "", "where -azure-types comes from (repository@commit, date)")
	flag.StringVar(&imp.azureLocations, "azure-locations", "", "an az account list-locations answer (JSON)")
	flag.StringVar(&imp.azureLocOrigin, "azure-locations-origin", "", "where -azure-locations comes from (repository@commit, date)")
	flag.StringVar(&imp.date, "date", time.Now().UTC().Format(time.DateOnly), "date the import is recorded with")
	flag.Parse()
	var err error
	if *do {
		err = runImport(imp)
	} else {
		err = generate(imp.sources, *out)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// categoryCode is the generated tables' constant of each category.
var categoryCode = map[string]string{
	"GeneralPurpose": "gp", "ComputeOptimized": "co", "MemoryOptimized": "mo", "AcceleratorOptimized": "ao", "GPU": "gu",
}

// row is a machine type as the generated table holds it.
type row struct {
	machineRow
	category string
	price    float64
	bits     uint64
}

func generate(sources, out string) error {
	regions, err := readRegions(filepath.Join(sources, "regions.tsv"))
	if err != nil {
		return err
	}
	legacy, err := readLegacy(filepath.Join(sources, "legacy.tsv"))
	if err != nil {
		return err
	}
	regionIDs := map[string][]string{}
	for _, r := range regions {
		regionIDs[r.provider] = append(regionIDs[r.provider], r.id)
	}
	gpuSet := map[string]bool{"": true}
	tables := map[string][]row{}
	for _, p := range providers {
		ids := regionIDs[p.id]
		if len(ids) == 0 || len(ids) > 64 {
			return fmt.Errorf("%s has %d regions; the tables hold 1 to 64", p.id, len(ids))
		}
		ms, err := readMachines(filepath.Join(sources, p.id+".tsv"), ids)
		if err != nil {
			return err
		}
		rows, err := merge(p.id, ms, legacy, ids)
		if err != nil {
			return err
		}
		for _, r := range rows {
			gpuSet[r.gpuModel] = true
		}
		tables[p.id] = rows
	}
	gpus := make([]string, 0, len(gpuSet))
	for g := range gpuSet {
		gpus = append(gpus, g)
	}
	sort.Strings(gpus)
	if len(gpus) > 256 {
		return fmt.Errorf("%d GPU models; the tables index them with a byte", len(gpus))
	}
	if err := write(filepath.Join(out, "zz_regions_gen.go"), regionsFile(regions, gpus)); err != nil {
		return err
	}
	for _, p := range providers {
		if err := write(filepath.Join(out, "zz_"+p.id+"_gen.go"), machinesFile(p.constName, p.varPrefix, tables[p.id], gpus)); err != nil {
			return err
		}
	}
	return nil
}

// merge adds the legacy table's prices, and the legacy types the sources lack, and
// orders the rows by family, then size.
func merge(provider string, ms []machineRow, legacy []legacyRow, ids []string) ([]row, error) {
	byName := map[string]int{}
	rows := make([]row, 0, len(ms))
	for _, m := range ms {
		if _, dup := byName[m.name]; dup {
			return nil, fmt.Errorf("%s lists %s twice", provider, m.name)
		}
		byName[m.name] = len(rows)
		rows = append(rows, row{machineRow: m, category: categoryCode[rules.Category(provider, m.name, m.gpus)], bits: mask(m.regions, ids)})
	}
	for _, l := range legacy {
		if l.provider != provider {
			continue
		}
		if i, ok := byName[l.name]; ok {
			r := &rows[i]
			r.price = l.price
			if r.memMiB == 0 || r.vcpus == 0 { // an upstream figure missing: the hand-written row corrects it
				r.vcpus, r.memMiB = float64(l.vcpus), l.memMiB
				continue
			}
			if int(r.vcpus) != l.vcpus || r.memMiB != l.memMiB || r.gpus != l.gpus || r.arch != l.arch {
				fmt.Fprintf(os.Stderr, "note: %s %s: source says %v vCPU %d MiB %d GPU %s, the old table %d vCPU %d MiB %d GPU %s; the source wins\n",
					provider, l.name, r.vcpus, r.memMiB, r.gpus, r.arch, l.vcpus, l.memMiB, l.gpus, l.arch)
			}
			continue
		}
		regions := l.regions
		if regions == nil {
			regions = ids
		}
		for _, rg := range regions {
			if !slices.Contains(ids, rg) {
				return nil, fmt.Errorf("legacy %s %s: unknown region %s", provider, l.name, rg)
			}
		}
		byName[l.name] = len(rows)
		rows = append(rows, row{machineRow: machineRow{name: l.name, vcpus: float64(l.vcpus), memMiB: l.memMiB, arch: l.arch,
			gpus: l.gpus, gpuModel: l.gpuModel, regions: regions}, category: l.category, price: l.price, bits: mask(regions, ids)})
	}
	for _, r := range rows {
		if r.bits == 0 {
			return nil, fmt.Errorf("%s %s is offered nowhere", provider, r.name)
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if fa, fb := rules.FamilyKey(provider, a.name), rules.FamilyKey(provider, b.name); fa != fb {
			return fa < fb
		}
		if a.vcpus != b.vcpus {
			return a.vcpus < b.vcpus
		}
		if a.memMiB != b.memMiB {
			return a.memMiB < b.memMiB
		}
		return a.name < b.name
	})
	return rows, nil
}

func mask(regions, ids []string) uint64 {
	var m uint64
	for _, r := range regions {
		if i := slices.Index(ids, r); i >= 0 {
			m |= 1 << i
		}
	}
	return m
}

const header = "// Code generated by go run ./catalog/gen from catalog/gen/sources; DO NOT EDIT.\n\n"

func regionsFile(regions []regionRow, gpus []string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("package catalog\n\n")
	b.WriteString("// regions lists each provider's regions; a machine type's region bitset counts\n// from the first (bit 0).\n")
	b.WriteString("var regions = map[string][]RegionInfo{\n")
	for _, p := range providers {
		fmt.Fprintf(&b, "%s: {\n", p.constName)
		for _, r := range regions {
			if r.provider != p.id {
				continue
			}
			zones := "nil"
			if len(r.zones) > 0 {
				q := make([]string, len(r.zones))
				for i, z := range r.zones {
					q[i] = strconv.Quote(z)
				}
				zones = "[]string{" + strings.Join(q, ", ") + "}"
			}
			fmt.Fprintf(&b, "{ID: %q, Name: %q, Location: %q, Zones: %s},\n", r.id, r.name, r.location, zones)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n\n")
	b.WriteString("// machineTypes holds each provider's table (zz_<provider>_gen.go), grouped by\n// family, smallest first.\n")
	b.WriteString("var machineTypes = map[string][]typeRow{\n")
	for _, p := range providers {
		fmt.Fprintf(&b, "%s: %sMachineTypes[:],\n", p.constName, p.varPrefix)
	}
	b.WriteString("}\n\n")
	b.WriteString("// gpuModels are the GPU models of the tables' rows, in GKE's accelerator naming;\n// a row's gpu field indexes it.\n")
	b.WriteString("var gpuModels = [...]string{\n")
	for _, g := range gpus {
		fmt.Fprintf(&b, "%q,\n", g)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func machinesFile(constName, prefix string, rows []row, gpus []string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("package catalog\n\n")
	fmt.Fprintf(&b, "// %sMachineTypes: name, millicores, MiB, regions (bitset over regions[%s]),\n// USD/hour (0: unknown), category, architecture, GPUs, GPU model (gpuModels index).\n", prefix, constName)
	fmt.Fprintf(&b, "var %sMachineTypes = [...]typeRow{\n", prefix)
	for _, r := range rows {
		arch := "x86"
		if r.arch == "arm64" {
			arch = "arm"
		}
		fmt.Fprintf(&b, "{%q, %d, %d, %#x, %s, %s, %s, %d, %d},\n", r.name, int(r.vcpus*1000), r.memMiB, r.bits,
			strconv.FormatFloat(r.price, 'g', -1, 64), r.category, arch, r.gpus, slices.Index(gpus, r.gpuModel))
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "\n// %s has %d machine types in %d families.\n", constName, len(rows), families(rows, prefix))
	return b.Bytes()
}

func families(rows []row, provider string) int {
	seen := map[string]bool{}
	for _, r := range rows {
		seen[rules.FamilyKey(provider, r.name)] = true
	}
	return len(seen)
}

func write(path string, src []byte) error {
	formatted, err := format.Source(src)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, formatted, 0o644) //nolint:gosec // Go source, committed: world-readable like every file of the repository
}
