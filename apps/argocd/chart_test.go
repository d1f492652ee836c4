package argocd_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/astropulse/astroplane/apps/argocd"
	"github.com/astropulse/astroplane/apps/tiers"
	"github.com/astropulse/astroplane/internal/testkube"
	"github.com/astropulse/astroplane/internal/testreq"
)

// The platform's chart, served as a Helm repository, is what real Helm (as Argo CD's
// repo server runs it) fetches and renders: `helm template` with the Application's
// valuesObject emits exactly the rendered objects.
func TestManifestsChartWithRealHelm(t *testing.T) {
	helm := filepath.Join(testkube.BinDir(), "helm")
	if _, err := os.Stat(helm); err != nil {
		testreq.Missing(t, helm+" not found", "run `make tools` (builds helm into bin/)")
	}
	if !bytes.Equal(argocd.ChartArchive(), argocd.ChartArchive()) {
		t.Fatal("the chart archive is not reproducible")
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/charts/index.yaml", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(argocd.ChartIndex("")) }) // relative, as the API serves it
	mux.HandleFunc("/charts/"+argocd.ChartArchiveName(), func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(argocd.ChartArchive()) })

	basic, _ := tiers.Get(tiers.Standard)
	objs, err := argocd.RenderImage(argocd.Workload{Name: "web", Namespace: "web", Tier: basic, Image: argocd.ImageSource{Repository: "nginx", Tag: "1.27"}})
	if err != nil {
		t.Fatal(err)
	}
	values, err := yaml.Marshal(map[string]any{"manifests": objs})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "values.yaml"), values, 0o600))
	cmd := exec.Command(helm, "template", "web", argocd.ManifestsChart, "--repo", srv.URL+"/charts", "--version", argocd.ManifestsChartVersion,
		"-f", filepath.Join(dir, "values.yaml"))
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+filepath.Join(dir, "cache"), "HELM_CONFIG_HOME="+filepath.Join(dir, "config"), "HELM_DATA_HOME="+filepath.Join(dir, "data"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	got, err := argocd.ParseManifests(string(out))
	if err != nil {
		t.Fatalf("helm's output: %v\n%s", err, out)
	}
	if len(got) != len(objs) {
		t.Fatalf("helm rendered %d objects, want %d:\n%s", len(got), len(objs), out)
	}
	// Helm orders objects by kind for install; compare them by kind and name.
	key := func(o map[string]any) string {
		return o["kind"].(string) + "/" + o["metadata"].(map[string]any)["name"].(string)
	}
	byKey := map[string][]byte{}
	for _, o := range got {
		byKey[key(o)], _ = yaml.Marshal(o)
	}
	for _, o := range objs {
		want, _ := yaml.Marshal(o)
		if have := byKey[key(o)]; !bytes.Equal(want, have) {
			t.Fatalf("%s:\nhelm: %s\nwant: %s", key(o), have, want)
		}
	}
	if !strings.Contains(string(out), "image: docker.io/nginx:1.27") {
		t.Fatalf("helm output:\n%s", out)
	}
}
