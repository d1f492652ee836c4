package validate_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/astropulse/astroplane/catalog"
	"github.com/astropulse/astroplane/server/api"
	"github.com/astropulse/astroplane/validate"
)

// exampleFiles are the example manifests of shared/examples (beside the
// repository), or, where that folder is absent, their copies in the server's
// testdata (kept identical to the shared ones by server/clusters' tests).
func exampleFiles(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../shared/examples/*.yaml")
	if len(files) == 0 {
		// The copies sit beside manifests of our own (full_*.yaml, of every provider
		// and update kind), which are not the shared examples.
		all, _ := filepath.Glob("../server/clusters/testdata/manifests/*.yaml")
		for _, f := range all {
			if !strings.HasPrefix(filepath.Base(f), "full_") {
				files = append(files, f)
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("no example manifests found")
	}
	return files
}

// fill replaces the examples' <YOUR_…> placeholders as a client would.
func fill(doc, region string) string {
	return strings.NewReplacer("<YOUR_CLUSTER_NAME>", "demo", "<YOUR_REGION>", region,
		"<YOUR_AWS_ACCOUNT_ID>", "123456789012", "<YOUR_GCP_PROJECT_ID>", "my-project-123456",
		"<YOUR_SUBSCRIPTION_ID>", "0b1f6471-1bf0-4dda-aec3-cb9272f09590", "<YOUR_RESOURCE_GROUP>", "rg-demo").Replace(doc)
}

func decodeYAML(t *testing.T, doc string, into any) {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("decode: %v", err)
	}
}

// Every example manifest validates, without a warning, in every region of its
// provider that offers its machine types; the update example validates too.
func TestSharedExamplesValidate(t *testing.T) {
	checked := 0
	for _, f := range exampleFiles(t) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct{ Kind string }
		if js, err := yaml.YAMLToJSON(raw); err != nil || json.Unmarshal(js, &head) != nil {
			t.Fatalf("%s: not a manifest", f)
		}
		name := filepath.Base(f)
		switch head.Kind {
		case "K8sCluster":
			var probe api.K8sClusterManifest
			decodeYAML(t, fill(string(raw), "x"), &probe)
			provider := string(probe.Spec.Provider)
			regions := 0
			for _, r := range catalog.Regions(provider) {
				var m api.K8sClusterManifest
				decodeYAML(t, fill(string(raw), r.ID), &m)
				if !offersAll(provider, r.ID, m.Spec) {
					continue
				}
				regions++
				errs, warnings := validate.Check(m.Spec)
				if len(errs) != 0 || len(warnings) != 0 {
					t.Errorf("%s in %s: faults %v, warnings %v", name, r.ID, errs, warnings)
				}
			}
			if regions < len(catalog.Regions(provider))/2 {
				t.Errorf("%s: its machine types are offered in only %d regions of %s", name, regions, provider)
			}
			checked++
		case "K8sClusterUpdate":
			var m api.K8sClusterUpdateManifest
			decodeYAML(t, string(raw), &m)
			if errs, warnings := validate.CheckUpdate("aws", m.Spec); len(errs) != 0 || len(warnings) != 0 {
				t.Errorf("%s: faults %v, warnings %v", name, errs, warnings)
			}
			checked++
		}
	}
	if checked < 4 {
		t.Errorf("checked %d cluster and update examples, want the 4 of shared/examples", checked)
	}
}

// offersAll reports whether the region offers every machine type of the spec.
func offersAll(provider, region string, s api.K8sClusterSpec) bool {
	if s.ClusterSpec == nil || s.ClusterSpec.DataPlane == nil {
		return true
	}
	for _, g := range s.ClusterSpec.DataPlane.NodeGroups {
		for _, mt := range g.MachineTypes {
			if _, ok := catalog.MachineType(provider, region, mt); !ok {
				return false
			}
		}
	}
	return true
}
