package main

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/astropulse/astroplane/catalog/internal/rules"
)

// The import step turns upstream files, checked out or installed on the machine
// running it, into the compact committed sources. It reads only local files; see
// sources/README.md for where each comes from.

type importFlags struct {
	moto, motoOrigin               string
	gcpDir, gcpOrigin              string
	azureTypes, azureTypesOrigin   string
	azureLocations, azureLocOrigin string
	date                           string
	sources                        string
}

// firstRegions keeps the regions the catalog listed before it was generated in
// their old (console) order; the others follow alphabetically.
var firstRegions = map[string][]string{
	"aws": {"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-central-1",
		"eu-north-1", "ap-south-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"},
	"gcp": {"us-central1", "us-east1", "us-east4", "us-west1", "europe-west1", "europe-west2", "europe-west3", "europe-west4",
		"asia-south1", "asia-southeast1", "asia-northeast1", "australia-southeast1"},
	"azure": {"eastus", "eastus2", "centralus", "westus2", "westus3", "canadacentral", "northeurope", "westeurope", "uksouth",
		"germanywestcentral", "centralindia", "southeastasia", "japaneast", "australiaeast"},
}

// Display names and locations of AWS and GCP regions, which their machine-type data
// does not carry: from https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
// and https://cloud.google.com/compute/docs/regions-zones (read 2026-11-30).
var regionNames = map[string]map[string][2]string{
	"aws": {
		"af-south-1":     {"Africa (Cape Town)", "Cape Town, South Africa"},
		"ap-east-1":      {"Asia Pacific (Hong Kong)", "Hong Kong"},
		"ap-northeast-1": {"Asia Pacific (Tokyo)", "Tokyo, Japan"},
		"ap-northeast-2": {"Asia Pacific (Seoul)", "Seoul, South Korea"},
		"ap-northeast-3": {"Asia Pacific (Osaka)", "Osaka, Japan"},
		"ap-south-1":     {"Asia Pacific (Mumbai)", "Mumbai, India"},
		"ap-south-2":     {"Asia Pacific (Hyderabad)", "Hyderabad, India"},
		"ap-southeast-1": {"Asia Pacific (Singapore)", "Singapore"},
		"ap-southeast-2": {"Asia Pacific (Sydney)", "Sydney, Australia"},
		"ap-southeast-3": {"Asia Pacific (Jakarta)", "Jakarta, Indonesia"},
		"ap-southeast-4": {"Asia Pacific (Melbourne)", "Melbourne, Australia"},
		"ap-southeast-5": {"Asia Pacific (Malaysia)", "Kuala Lumpur, Malaysia"},
		"ca-central-1":   {"Canada (Central)", "Montréal, Canada"},
		"ca-west-1":      {"Canada West (Calgary)", "Calgary, Canada"},
		"eu-central-1":   {"Europe (Frankfurt)", "Frankfurt, Germany"},
		"eu-central-2":   {"Europe (Zurich)", "Zurich, Switzerland"},
		"eu-north-1":     {"Europe (Stockholm)", "Stockholm, Sweden"},
		"eu-south-1":     {"Europe (Milan)", "Milan, Italy"},
		"eu-south-2":     {"Europe (Spain)", "Aragón, Spain"},
		"eu-west-1":      {"Europe (Ireland)", "Dublin, Ireland"},
		"eu-west-2":      {"Europe (London)", "London, United Kingdom"},
		"eu-west-3":      {"Europe (Paris)", "Paris, France"},
		"il-central-1":   {"Israel (Tel Aviv)", "Tel Aviv, Israel"},
		"me-central-1":   {"Middle East (UAE)", "United Arab Emirates"},
		"me-south-1":     {"Middle East (Bahrain)", "Bahrain"},
		"sa-east-1":      {"South America (São Paulo)", "São Paulo, Brazil"},
		"us-east-1":      {"US East (N. Virginia)", "Virginia, USA"},
		"us-east-2":      {"US East (Ohio)", "Ohio, USA"},
		"us-west-1":      {"US West (N. California)", "California, USA"},
		"us-west-2":      {"US West (Oregon)", "Oregon, USA"},
	},
	"gcp": {
		"africa-south1":           {"Johannesburg", "Johannesburg, South Africa"},
		"asia-east1":              {"Taiwan", "Changhua County, Taiwan"},
		"asia-east2":              {"Hong Kong", "Hong Kong"},
		"asia-northeast1":         {"Tokyo", "Tokyo, Japan"},
		"asia-northeast2":         {"Osaka", "Osaka, Japan"},
		"asia-northeast3":         {"Seoul", "Seoul, South Korea"},
		"asia-south1":             {"Mumbai", "Mumbai, India"},
		"asia-south2":             {"Delhi", "Delhi, India"},
		"asia-southeast1":         {"Singapore", "Jurong West, Singapore"},
		"asia-southeast2":         {"Jakarta", "Jakarta, Indonesia"},
		"asia-southeast3":         {"Bangkok", "Bangkok, Thailand"},
		"australia-southeast1":    {"Sydney", "Sydney, Australia"},
		"australia-southeast2":    {"Melbourne", "Melbourne, Australia"},
		"europe-central2":         {"Warsaw", "Warsaw, Poland"},
		"europe-north1":           {"Finland", "Hamina, Finland"},
		"europe-north2":           {"Stockholm", "Stockholm, Sweden"},
		"europe-southwest1":       {"Madrid", "Madrid, Spain"},
		"europe-west1":            {"Belgium", "St. Ghislain, Belgium"},
		"europe-west10":           {"Berlin", "Berlin, Germany"},
		"europe-west12":           {"Turin", "Turin, Italy"},
		"europe-west2":            {"London", "London, United Kingdom"},
		"europe-west3":            {"Frankfurt", "Frankfurt, Germany"},
		"europe-west4":            {"Netherlands", "Eemshaven, Netherlands"},
		"europe-west6":            {"Zurich", "Zurich, Switzerland"},
		"europe-west8":            {"Milan", "Milan, Italy"},
		"europe-west9":            {"Paris", "Paris, France"},
		"me-central1":             {"Doha", "Doha, Qatar"},
		"me-central2":             {"Dammam", "Dammam, Saudi Arabia"},
		"me-west1":                {"Tel Aviv", "Tel Aviv, Israel"},
		"northamerica-northeast1": {"Montréal", "Montréal, Québec, Canada"},
		"northamerica-northeast2": {"Toronto", "Toronto, Ontario, Canada"},
		"northamerica-south1":     {"Mexico", "Querétaro, Mexico"},
		"southamerica-east1":      {"São Paulo", "Osasco, São Paulo, Brazil"},
		"southamerica-west1":      {"Santiago", "Santiago, Chile"},
		"us-central1":             {"Iowa", "Council Bluffs, Iowa, USA"},
		"us-east1":                {"South Carolina", "Moncks Corner, South Carolina, USA"},
		"us-east4":                {"Northern Virginia", "Ashburn, Virginia, USA"},
		"us-east5":                {"Columbus", "Columbus, Ohio, USA"},
		"us-south1":               {"Dallas", "Dallas, Texas, USA"},
		"us-west1":                {"Oregon", "The Dalles, Oregon, USA"},
		"us-west2":                {"Los Angeles", "Los Angeles, California, USA"},
		"us-west3":                {"Salt Lake City", "Salt Lake City, Utah, USA"},
		"us-west4":                {"Las Vegas", "Las Vegas, Nevada, USA"},
	},
}

func runImport(f importFlags) error {
	var regions []regionRow
	if f.moto != "" {
		rs, err := importAWS(f)
		if err != nil {
			return fmt.Errorf("aws: %w", err)
		}
		regions = append(regions, rs...)
	}
	if f.gcpDir != "" {
		rs, err := importGCP(f)
		if err != nil {
			return fmt.Errorf("gcp: %w", err)
		}
		regions = append(regions, rs...)
	}
	if f.azureTypes != "" {
		rs, err := importAzure(f)
		if err != nil {
			return fmt.Errorf("azure: %w", err)
		}
		regions = append(regions, rs...)
	}
	if len(regions) == 0 {
		return nil
	}
	// regions.tsv holds every provider: keep the rows of providers not imported now.
	path := filepath.Join(f.sources, "regions.tsv")
	old, err := readRegions(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	imported := map[string]bool{}
	for _, r := range regions {
		imported[r.provider] = true
	}
	var all []regionRow
	for _, p := range []string{"aws", "gcp", "azure"} {
		src := old
		if imported[p] {
			src = regions
		}
		for _, r := range src {
			if r.provider == p {
				all = append(all, r)
			}
		}
	}
	rows := make([][]string, 0, len(all))
	for _, r := range all {
		rows = append(rows, []string{r.provider, r.id, r.name, r.location, strings.Join(r.zones, ",")})
	}
	return writeTSV(path, []string{
		"Regions and zones of each provider.",
		"aws: zones from moto's instance_type_offerings/availability-zone (see aws.tsv); names and locations from https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html",
		"gcp: zones from gcloud compute zones list (see gcp.tsv); names and locations from https://cloud.google.com/compute/docs/regions-zones",
		"azure: " + f.azureLocOrigin + " (az account list-locations: physical regions, their availability zones)",
		"imported " + f.date + " by go run ./catalog/gen -import (catalog/gen/import.go)",
		"provider\tid\tname\tlocation\tzones",
	}, rows)
}

// orderRegions puts the old catalog's regions first in their order, then the rest
// alphabetically.
func orderRegions(provider string, ids []string) []string {
	first := firstRegions[provider]
	var out, rest []string
	for _, id := range first {
		if slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	for _, id := range ids {
		if !slices.Contains(first, id) {
			rest = append(rest, id)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func readGzipJSON(path string, v any) error {
	f, err := os.Open(path) //nolint:gosec // a build tool: it reads the files its operator names
	if err != nil {
		return err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := json.NewDecoder(z).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

type awsInstanceType struct {
	VCpuInfo struct {
		DefaultVCpus int
	}
	MemoryInfo struct {
		SizeInMiB int
	}
	ProcessorInfo struct {
		SupportedArchitectures []string
	}
	GpuInfo *struct {
		Gpus []struct {
			Name         string
			Manufacturer string
			Count        int
			MemoryInfo   struct{ SizeInMiB int }
		}
	}
}

type awsOffering struct {
	InstanceType string
	Location     string
}

// importAWS reads moto's copy of AWS's DescribeInstanceTypes and
// DescribeInstanceTypeOfferings answers (moto/ec2/resources).
func importAWS(f importFlags) ([]regionRow, error) {
	var types map[string]awsInstanceType
	if err := readGzipJSON(filepath.Join(f.moto, "instance_types.json.gz"), &types); err != nil {
		return nil, err
	}
	regionFiles, err := filepath.Glob(filepath.Join(f.moto, "instance_type_offerings", "region", "*.json.gz"))
	if err != nil {
		return nil, err
	}
	offered := map[string][]string{}
	var ids []string
	zones := map[string][]string{}
	for _, rf := range regionFiles {
		region := strings.TrimSuffix(filepath.Base(rf), ".json.gz")
		var offs []awsOffering
		if err := readGzipJSON(rf, &offs); err != nil {
			return nil, err
		}
		ids = append(ids, region)
		for _, o := range offs {
			offered[o.InstanceType] = append(offered[o.InstanceType], region)
		}
		var azs []awsOffering
		if err := readGzipJSON(filepath.Join(f.moto, "instance_type_offerings", "availability-zone", region+".json.gz"), &azs); err != nil {
			return nil, err
		}
		for _, o := range azs {
			if !slices.Contains(zones[region], o.Location) {
				zones[region] = append(zones[region], o.Location)
			}
		}
		sort.Strings(zones[region])
	}
	ids = orderRegions("aws", ids)
	var regions []regionRow
	for _, id := range ids {
		n, ok := regionNames["aws"][id]
		if !ok {
			return nil, fmt.Errorf("no display name for region %s: add it to regionNames", id)
		}
		regions = append(regions, regionRow{provider: "aws", id: id, name: n[0], location: n[1], zones: zones[id]})
	}
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	var rows [][]string
	for _, n := range names {
		t := types[n]
		arch := "x86_64"
		for _, a := range t.ProcessorInfo.SupportedArchitectures {
			if strings.HasPrefix(a, "arm64") {
				arch = "arm64"
			}
		}
		gpus, model := 0, ""
		if t.GpuInfo != nil {
			for _, g := range t.GpuInfo.Gpus {
				if g.Count > 0 { // a fractional GPU (g6f) counts none
					gpus += g.Count
					model = rules.AWSGPU(g.Manufacturer, g.Name, g.MemoryInfo.SizeInMiB)
				}
			}
		}
		rs := offered[n]
		sort.Slice(rs, func(i, j int) bool { return slices.Index(ids, rs[i]) < slices.Index(ids, rs[j]) })
		rows = append(rows, []string{n, strconv.Itoa(t.VCpuInfo.DefaultVCpus), strconv.Itoa(t.MemoryInfo.SizeInMiB), arch,
			strconv.Itoa(gpus), model, "", encodeRegions(rs, ids)})
	}
	return regions, writeTSV(filepath.Join(f.sources, "aws.tsv"), []string{
		"AWS EC2 instance types: AWS's own DescribeInstanceTypes and DescribeInstanceTypeOfferings (region) answers,",
		"as shipped by " + f.motoOrigin + " in moto/ec2/resources/instance_types.json.gz and instance_type_offerings/region/*.json.gz.",
		"imported " + f.date + " by go run ./catalog/gen -import (catalog/gen/import.go); GPU names normalized to GKE's accelerator naming.",
		"regions: * every region of regions.tsv; -a,b every region but a and b; a,b only those.",
		"name\tvcpus\tmemory_mib\tarch\tgpus\tgpu\tfamily\tregions",
	}, rows)
}

// gcpGPUs gives the GPUs built into a GCE accelerator-optimized machine type, by the
// rules of https://cloud.google.com/compute/docs/accelerator-optimized-machines
// (read 2026-11-30): the count is in the name ("-8g") or, for G2 and G4, follows
// the size. Fractional-GPU sizes (g4-standard-6/12/24) count none.
func gcpGPUs(name string, vcpus int) (int, string) {
	rules := []struct {
		re    *regexp.Regexp
		model string
	}{
		{regexp.MustCompile(`^a2-(high|mega)gpu-(\d+)g$`), "nvidia-tesla-a100"},
		{regexp.MustCompile(`^a2-ultragpu-(\d+)g$`), "nvidia-a100-80gb"},
		{regexp.MustCompile(`^a3-(high|edge)gpu-(\d+)g(-nolssd)?$`), "nvidia-h100-80gb"},
		{regexp.MustCompile(`^a3-megagpu-(\d+)g$`), "nvidia-h100-mega-80gb"},
		{regexp.MustCompile(`^a3-ultragpu-(\d+)g(-nolssd)?$`), "nvidia-h200-141gb"},
		{regexp.MustCompile(`^a4-highgpu-(\d+)g$`), "nvidia-b200"},
		{regexp.MustCompile(`^a4x-highgpu-(\d+)g$`), "nvidia-gb200"},
		{regexp.MustCompile(`^a4x-maxgpu-(\d+)g(-metal)?$`), "nvidia-gb300"},
	}
	for _, r := range rules {
		m := r.re.FindStringSubmatch(name)
		if m == nil {
			continue
		}
		for _, s := range m[1:] {
			if n, err := strconv.Atoi(s); err == nil {
				return n, r.model
			}
		}
	}
	switch {
	case strings.HasPrefix(name, "g2-standard-"):
		n := map[int]int{4: 1, 8: 1, 12: 1, 16: 1, 32: 1, 24: 2, 48: 4, 96: 8}[vcpus]
		if n > 0 {
			return n, "nvidia-l4"
		}
	case strings.HasPrefix(name, "g4-standard-"):
		n := map[int]int{48: 1, 96: 2, 192: 4, 384: 8}[vcpus]
		if n > 0 {
			return n, "nvidia-rtx-pro-6000"
		}
	}
	return 0, ""
}

// gcpArm64 are the GCE families on Arm (Ampere Altra, Google Axion, NVIDIA Grace).
var gcpArm64 = []string{"t2a", "c4a", "n4a", "a4x"}

func readSemicolonCSV(path string) ([][]string, error) {
	f, err := os.Open(path) //nolint:gosec // a build tool: it reads the files its operator names
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	var out [][]string
	header := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if header {
			header = false
			continue
		}
		out = append(out, rec)
	}
}

// importGCP reads the output of gcloud compute machine-types list and zones list as
// published in Cyclenerd/google-cloud-pricing-cost-calculator's tools/.
func importGCP(f importFlags) ([]regionRow, error) {
	zoneRecs, err := readSemicolonCSV(filepath.Join(f.gcpDir, "zones.csv"))
	if err != nil {
		return nil, err
	}
	zones := map[string][]string{}
	var ids []string
	for _, z := range zoneRecs { // fields: zone, region, status, …
		if len(z) < 3 || z[2] != "UP" {
			continue
		}
		if !slices.Contains(ids, z[1]) {
			ids = append(ids, z[1])
		}
		zones[z[1]] = append(zones[z[1]], z[0])
	}
	ids = orderRegions("gcp", ids)
	var regions []regionRow
	for _, id := range ids {
		n, ok := regionNames["gcp"][id]
		if !ok {
			return nil, fmt.Errorf("no display name for region %s: add it to regionNames", id)
		}
		sort.Strings(zones[id])
		regions = append(regions, regionRow{provider: "gcp", id: id, name: n[0], location: n[1], zones: zones[id]})
	}
	recs, err := readSemicolonCSV(filepath.Join(f.gcpDir, "machinetyperegion.csv"))
	if err != nil {
		return nil, err
	}
	type gcpType struct {
		vcpus, mem int
		regions    []string
	}
	types := map[string]*gcpType{}
	for _, r := range recs { // fields: name, CPUs, shared CPU, memory GB, deprecation, region
		if len(r) != 6 || r[4] == "OBSOLETE" || r[4] == "DELETED" || !slices.Contains(ids, r[5]) {
			continue
		}
		vcpus, err1 := strconv.Atoi(r[1])
		gb, err2 := strconv.ParseFloat(r[3], 64)
		if err := firstErr(err1, err2); err != nil {
			return nil, fmt.Errorf("%s: %w", r[0], err)
		}
		t := types[r[0]]
		if t == nil {
			t = &gcpType{vcpus: vcpus, mem: int(math.Round(gb * 1024))}
			types[r[0]] = t
		}
		if !slices.Contains(t.regions, r[5]) {
			t.regions = append(t.regions, r[5])
		}
	}
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	var rows [][]string
	for _, n := range names {
		t := types[n]
		arch := "x86_64"
		if slices.Contains(gcpArm64, strings.SplitN(n, "-", 2)[0]) {
			arch = "arm64"
		}
		gpus, model := gcpGPUs(n, t.vcpus)
		sort.Slice(t.regions, func(i, j int) bool { return slices.Index(ids, t.regions[i]) < slices.Index(ids, t.regions[j]) })
		rows = append(rows, []string{n, strconv.Itoa(t.vcpus), strconv.Itoa(t.mem), arch, strconv.Itoa(gpus), model, "",
			encodeRegions(t.regions, ids)})
	}
	return regions, writeTSV(filepath.Join(f.sources, "gcp.tsv"), []string{
		"GCE machine types: gcloud compute machine-types list (every zone, collapsed to regions; OBSOLETE types left out),",
		"as published in " + f.gcpOrigin + " tools/machinetyperegion.csv and tools/zones.csv.",
		"imported " + f.date + " by go run ./catalog/gen -import (catalog/gen/import.go); memory GB × 1024 = MiB;",
		"GPUs of accelerator-optimized types by https://cloud.google.com/compute/docs/accelerator-optimized-machines; Arm families t2a, c4a, n4a, a4x.",
		"regions: * every region of regions.tsv; -a,b every region but a and b; a,b only those.",
		"name\tvcpus\tmemory_mib\tarch\tgpus\tgpu\tfamily\tregions",
	}, rows)
}

var azureField = regexp.MustCompile(`^\s*(InstanceType|SkuFamily|VCPU|MemoryMb|GPU|Architecture):\s*("?)([^",]*)"?,`)

// importAzure reads kubernetes/autoscaler's generated table of Azure VM sizes
// (cluster-autoscaler/cloudprovider/azure/azure_instance_types.go) and Azure's
// list of locations (karpenter-provider-azure's pkg/fake/locations.json).
func importAzure(f importFlags) ([]regionRow, error) {
	var locs []struct {
		Name        string
		DisplayName string
		Metadata    struct {
			Geography        string
			PhysicalLocation string
			RegionType       string
		}
		AvailabilityZoneMappings []struct{ LogicalZone string }
	}
	b, err := os.ReadFile(f.azureLocations)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &locs); err != nil {
		return nil, err
	}
	var ids []string
	byID := map[string]regionRow{}
	for _, l := range locs {
		if l.Metadata.RegionType != "Physical" || strings.Contains(l.Name, "euap") || strings.Contains(l.Name, "stage") {
			continue
		}
		var zones []string
		for _, z := range l.AvailabilityZoneMappings {
			zones = append(zones, z.LogicalZone)
		}
		sort.Strings(zones)
		loc := l.Metadata.PhysicalLocation
		if loc != l.Metadata.Geography && l.Metadata.Geography != "" {
			loc += ", " + l.Metadata.Geography
		}
		ids = append(ids, l.Name)
		byID[l.Name] = regionRow{provider: "azure", id: l.Name, name: l.DisplayName, location: loc, zones: zones}
	}
	ids = orderRegions("azure", ids)
	regions := make([]regionRow, 0, len(ids))
	for _, id := range ids {
		regions = append(regions, byID[id])
	}

	src, err := os.ReadFile(f.azureTypes)
	if err != nil {
		return nil, err
	}
	var rows [][]string
	cur := map[string]string{}
	flush := func() error {
		if cur["InstanceType"] == "" {
			return nil
		}
		arch := "x86_64"
		if cur["Architecture"] == "arm64" {
			arch = "arm64"
		}
		gpus, err := strconv.Atoi(cur["GPU"])
		if err != nil {
			return fmt.Errorf("%s: GPU %q", cur["InstanceType"], cur["GPU"])
		}
		model := ""
		if strings.Contains(strings.ToLower(cur["SkuFamily"]), "nps") {
			gpus = 0 // NP sizes carry FPGAs, which the upstream table counts as GPUs
		}
		if gpus > 0 {
			model = rules.AzureGPU(cur["SkuFamily"], cur["InstanceType"])
		}
		rows = append(rows, []string{cur["InstanceType"], cur["VCPU"], cur["MemoryMb"], arch, strconv.Itoa(gpus), model, cur["SkuFamily"], "*"})
		cur = map[string]string{}
		return nil
	}
	for _, line := range strings.Split(string(src), "\n") {
		m := azureField.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if m[1] == "InstanceType" {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		cur[m[1]] = m[3]
	}
	if err := flush(); err != nil {
		return nil, err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	return regions, writeTSV(filepath.Join(f.sources, "azure.tsv"), []string{
		"Azure VM sizes: " + f.azureTypesOrigin + " cluster-autoscaler/cloudprovider/azure/azure_instance_types.go",
		"(generated there from Azure's resource SKUs: vCPUs, memory, GPU count, architecture, SKU family).",
		"imported " + f.date + " by go run ./catalog/gen -import (catalog/gen/import.go); GPU models by SKU family.",
		"That table does not say which regions offer a size: every size is listed in every region (*);",
		"a connected account's live lookup (resource SKUs) is what can say a size is not offered in a region.",
		"name\tvcpus\tmemory_mib\tarch\tgpus\tgpu\tfamily\tregions",
	}, rows)
}
