package main

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The committed sources (sources/*.tsv) are tab-separated, one row a line, after
// "#" lines saying where the data came from. They hold only the fields the catalog
// needs; the generator reads nothing else.

// machineRow is one machine type of a provider's source.
type machineRow struct {
	name     string
	vcpus    float64 // may be fractional only in principle; every source gives whole vCPUs
	memMiB   int
	arch     string // "x86_64" or "arm64"
	gpus     int
	gpuModel string // GKE accelerator naming; "" without GPUs
	family   string // the provider's family label where the source has one (Azure SKU family), else ""
	regions  []string
}

// regionRow is one region of a provider.
type regionRow struct {
	provider, id, name, location string
	zones                        []string
}

// legacyRow is a machine type of the hand-written table the catalog started with:
// its price, and its figures for names the public sources lack.
type legacyRow struct {
	provider, name string
	vcpus, memMiB  int
	category, arch string
	gpus           int
	gpuModel       string
	price          float64
	regions        []string // nil: every region
}

// readTSV reads a source's rows, skipping "#" lines and blank lines, and checks each
// row has n fields.
func readTSV(path string, n int) ([][]string, error) {
	f, err := os.Open(path) //nolint:gosec // a build tool: it reads the files its operator names
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fs := strings.Split(t, "\t")
		if len(fs) != n {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d", path, line, len(fs), n)
		}
		rows = append(rows, fs)
	}
	return rows, sc.Err()
}

// Region sets are written compactly: "*" is every region of the provider, "-a,b"
// every region but a and b, "a,b" only a and b.
func encodeRegions(set, all []string) string {
	if len(set) == len(all) {
		return "*"
	}
	if len(set) > len(all)/2 {
		var missing []string
		for _, r := range all {
			if !slices.Contains(set, r) {
				missing = append(missing, r)
			}
		}
		return "-" + strings.Join(missing, ",")
	}
	return strings.Join(set, ",")
}

func decodeRegions(s string, all []string) ([]string, error) {
	var out []string
	switch {
	case s == "*":
		return slices.Clone(all), nil
	case strings.HasPrefix(s, "-"):
		missing := strings.Split(s[1:], ",")
		for _, m := range missing {
			if !slices.Contains(all, m) {
				return nil, fmt.Errorf("unknown region %q", m)
			}
		}
		for _, r := range all {
			if !slices.Contains(missing, r) {
				out = append(out, r)
			}
		}
	case s == "":
		return nil, nil
	default:
		for _, r := range strings.Split(s, ",") {
			if !slices.Contains(all, r) {
				return nil, fmt.Errorf("unknown region %q", r)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func readRegions(path string) ([]regionRow, error) {
	rows, err := readTSV(path, 5)
	if err != nil {
		return nil, err
	}
	out := make([]regionRow, 0, len(rows))
	for _, r := range rows {
		var zones []string
		if r[4] != "" {
			zones = strings.Split(r[4], ",")
		}
		out = append(out, regionRow{provider: r[0], id: r[1], name: r[2], location: r[3], zones: zones})
	}
	return out, nil
}

func readMachines(path string, regionIDs []string) ([]machineRow, error) {
	rows, err := readTSV(path, 8)
	if err != nil {
		return nil, err
	}
	out := make([]machineRow, 0, len(rows))
	for _, r := range rows {
		vcpus, err1 := strconv.ParseFloat(r[1], 64)
		mem, err2 := strconv.Atoi(r[2])
		gpus, err3 := strconv.Atoi(r[4])
		regions, err4 := decodeRegions(r[7], regionIDs)
		if err := firstErr(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, r[0], err)
		}
		out = append(out, machineRow{name: r[0], vcpus: vcpus, memMiB: mem, arch: r[3], gpus: gpus, gpuModel: r[5], family: r[6], regions: regions})
	}
	return out, nil
}

func readLegacy(path string) ([]legacyRow, error) {
	rows, err := readTSV(path, 10)
	if err != nil {
		return nil, err
	}
	out := make([]legacyRow, 0, len(rows))
	for _, r := range rows {
		vcpus, err1 := strconv.Atoi(r[2])
		mem, err2 := strconv.Atoi(r[3])
		gpus, err3 := strconv.Atoi(r[6])
		price, err4 := strconv.ParseFloat(r[8], 64)
		if err := firstErr(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, r[1], err)
		}
		var regions []string
		if r[9] != "*" {
			regions = strings.Split(r[9], ",")
		}
		out = append(out, legacyRow{provider: r[0], name: r[1], vcpus: vcpus, memMiB: mem, category: r[4], arch: r[5],
			gpus: gpus, gpuModel: r[7], price: price, regions: regions})
	}
	return out, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// writeTSV writes a source: its header lines (each prefixed "# "), then the rows.
func writeTSV(path string, header []string, rows [][]string) error {
	var b strings.Builder
	for _, h := range header {
		b.WriteString("# " + h + "\n")
	}
	for _, r := range rows {
		b.WriteString(strings.Join(r, "\t") + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644) //nolint:gosec // a committed source file: world-readable like every file of the repository
}
