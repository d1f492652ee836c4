package argocd

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// The platform's chart, ManifestsChart: what Argo CD renders for image and yaml
// sources. Its one template emits the objects of .Values.manifests as they are, so
// the Application's helm.valuesObject says exactly what is deployed. The API serves
// it as a Helm repository (ChartIndex, ChartArchive) at the address Apps'
// ChartRepoURL names.
const (
	chartYAML = `apiVersion: v2
name: ` + ManifestsChart + `
description: Objects rendered by Astro Plane for an application (image or inline yaml sources), passed as values.
type: application
version: ` + ManifestsChartVersion + `
`
	chartTemplate = `{{- range .Values.manifests }}
---
{{ toYaml . }}
{{- end }}
`
	chartValues = "manifests: []\n"
)

// chartTime is the fixed time of the archive's entries, so the archive (and its
// digest in the index) is the same on every API process.
var chartTime = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// ChartArchiveName is the file name of the chart's archive in the repository.
func ChartArchiveName() string { return ManifestsChart + "-" + ManifestsChartVersion + ".tgz" }

// ChartArchive is the chart packaged as `helm package` does: a gzipped tar with the
// chart's files under its name.
func ChartArchive() []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.ModTime = chartTime
	tw := tar.NewWriter(gz)
	for _, f := range []struct{ name, body string }{
		{"Chart.yaml", chartYAML},
		{"values.yaml", chartValues},
		{"templates/manifests.yaml", chartTemplate},
	} {
		// Writes to a bytes.Buffer do not fail.
		_ = tw.WriteHeader(&tar.Header{Name: ManifestsChart + "/" + f.name, Mode: 0o644, Size: int64(len(f.body)),
			ModTime: chartTime, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		_, _ = tw.Write([]byte(f.body))
	}
	_ = tw.Close()
	_ = gz.Close()
	return buf.Bytes()
}

// ChartIndex is the repository's index.yaml for a repository served at baseURL;
// with baseURL empty the archive's URL is relative to the index (Helm resolves it
// against the repository's URL), so the server need not know its own address.
func ChartIndex(baseURL string) []byte {
	url := ChartArchiveName()
	if baseURL != "" {
		url = strings.TrimSuffix(baseURL, "/") + "/" + url
	}
	sum := sha256.Sum256(ChartArchive())
	return fmt.Appendf(nil, `apiVersion: v1
entries:
  %s:
  - apiVersion: v2
    name: %s
    version: %s
    type: application
    description: Objects rendered by Astro Plane for an application (image or inline yaml sources), passed as values.
    created: "%s"
    digest: %s
    urls:
    - %s
generated: "%s"
`, ManifestsChart, ManifestsChart, ManifestsChartVersion, chartTime.Format(time.RFC3339), hex.EncodeToString(sum[:]),
		url, chartTime.Format(time.RFC3339))
}
