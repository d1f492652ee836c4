package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const examples = "../../testdata/examples"

// problems returns the validation problems of err as "source: field: message" lines.
func problems(t *testing.T, err error) []Problem {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a validation error, got %v", err)
	}
	return ve.Problems
}

func TestExamplesNameEveryUnfilledPlaceholder(t *testing.T) {
	_, err := Load([]string{filepath.Join(examples, "aws_eks_byoa.yaml")}, nil, nil)
	got := map[string]string{}
	for _, p := range problems(t, err) {
		got[p.Field] = p.Message
	}
	for field, ph := range map[string]string{
		"spec.clusterName":               "<YOUR_CLUSTER_NAME>",
		"spec.region":                    "<YOUR_REGION>",
		"spec.provisioner.eks.accountId": "<YOUR_AWS_ACCOUNT_ID>",
	} {
		if !strings.Contains(got[field], ph) || !strings.Contains(got[field], "--set") {
			t.Errorf("%s: %q, want it to name %s", field, got[field], ph)
		}
	}
	if len(got) != 3 {
		t.Errorf("problems %v, want exactly the three placeholders", got)
	}
}

func TestSetFillsPlaceholders(t *testing.T) {
	set := map[string]string{"YOUR_CLUSTER_NAME": "prod", "YOUR_REGION": "us-east-1", "YOUR_AWS_ACCOUNT_ID": "123456789012"}
	docs, err := Load([]string{filepath.Join(examples, "aws_eks_byoa.yaml")}, nil, set)
	if err != nil {
		t.Fatal(err)
	}
	d := docs[0]
	eks := d.Spec()["provisioner"].(map[string]any)["eks"].(map[string]any)
	if d.Kind != KindCluster || d.Name != "prod" || d.Spec()["region"] != "us-east-1" || eks["accountId"] != "123456789012" {
		t.Fatalf("filled: %+v", d)
	}
	raw, _ := d.JSON()
	if !strings.Contains(string(raw), `"accountId":"123456789012"`) || !strings.Contains(string(raw), `"minNode":1`) {
		t.Fatalf("JSON: %s", raw)
	}
	// ${NAME} too, inside a longer string.
	docs, err = Load([]string{writeFile(t, "p.yaml", "apiVersion: platform.astropulse.io/v1\nkind: ApplicationProfile\nspec:\n  profileName: p-${ENV}\n  clusterName: c\n")}, nil, map[string]string{"ENV": "dev"})
	if err != nil || docs[0].Name != "p-dev" {
		t.Fatalf("${ENV}: %+v %v", docs, err)
	}
}

func TestDirectoryAppliesClustersThenProfilesThenApps(t *testing.T) {
	dir := t.TempDir()
	// Named so that reading order is the wrong order.
	write(t, dir, "a-app.yaml", "apiVersion: platform.astropulse.io/v1\nkind: Application\nspec:\n  name: web\n  profileName: p\n")
	write(t, dir, "b-profile.json", `{"apiVersion":"platform.astropulse.io/v1","kind":"ApplicationProfile","spec":{"profileName":"p","clusterName":"c"}}`)
	write(t, dir, "c-cluster.yml", "apiVersion: platform.astropulse.io/v1\nkind: K8sCluster\nspec:\n  clusterName: c\n  provider: gcp\n")
	write(t, dir, "notes.txt", "not a manifest")
	docs, err := Load([]string{dir}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, d := range docs {
		kinds = append(kinds, d.Kind+"/"+d.Name)
	}
	if strings.Join(kinds, " ") != "K8sCluster/c ApplicationProfile/p Application/web" {
		t.Fatalf("order %v", kinds)
	}
}

func TestMultiDocumentFileAndStdin(t *testing.T) {
	multi := `# two profiles and an app
apiVersion: platform.astropulse.io/v1
kind: Application
spec: {name: web, profileName: one}
---
apiVersion: platform.astropulse.io/v1
kind: ApplicationProfile
spec: {profileName: one, clusterName: c}
---
# comment-only document
---
{"apiVersion": "platform.astropulse.io/v1", "kind": "ApplicationProfile", "spec": {"profileName": "two"}}
`
	docs, err := Load([]string{"-"}, strings.NewReader(multi), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 || docs[0].Name != "one" || docs[1].Name != "two" || docs[2].Name != "web" {
		t.Fatalf("docs %+v", docs)
	}
	if docs[0].Source != "-#2" || docs[2].Source != "-#1" {
		t.Fatalf("sources %q %q", docs[0].Source, docs[2].Source)
	}
}

func TestProblemsNameTheField(t *testing.T) {
	for _, c := range []struct{ body, field, msg string }{
		{"apiVersion: platform.astropulse.io/v1\nkind: Widget\nspec: {}\n", "kind", `unknown kind "Widget"`},
		{"apiVersion: platform.astropulse.io/v1\nspec: {}\n", "kind", "required"},
		{"apiVersion: platform.astropulse.io/v1\nkind: Application\nspec: {profileName: p}\n", "spec.name", "required"},
		{"apiVersion: platform.astropulse.io/v1\nkind: K8sCluster\nspec:\n  clusterName: c\n  clusterSpec:\n    dataPlane:\n      nodeGroups:\n        - name: <POOL>\n", "spec.clusterSpec.dataPlane.nodeGroups[0].name", "<POOL>"},
		{"- just\n- a list\n", "", "mapping"},
		{"kind: [unclosed\n", "", "not YAML or JSON"},
	} {
		_, err := Load([]string{writeFile(t, "m.yaml", c.body)}, nil, nil)
		ps := problems(t, err)
		if len(ps) != 1 || ps[0].Field != c.field || !strings.Contains(ps[0].Message, c.msg) {
			t.Errorf("%q: %+v, want %s: %s", c.body, ps, c.field, c.msg)
		}
	}
	// The legacy flat K8sCluster body (no apiVersion, no kind) is a cluster.
	docs, err := Load([]string{writeFile(t, "flat.json", `{"clusterName":"flat","provider":"aws"}`)}, nil, nil)
	if err != nil || docs[0].Kind != KindCluster || docs[0].Name != "flat" {
		t.Fatalf("legacy: %+v %v", docs, err)
	}
	// Every example parses; only placeholders are wrong in them.
	entries, _ := os.ReadDir(examples)
	for _, e := range entries {
		_, err := Load([]string{filepath.Join(examples, e.Name())}, nil, nil)
		if err == nil {
			continue
		}
		for _, p := range problems(t, err) {
			if !strings.Contains(p.Message, "placeholder") {
				t.Errorf("%s: %s", e.Name(), p)
			}
		}
	}
}

func TestMissingFileIsNotAValidationError(t *testing.T) {
	_, err := Load([]string{"/nonexistent/x.yaml"}, nil, nil)
	var ve *ValidationError
	if err == nil || errors.As(err, &ve) {
		t.Fatalf("missing file: %v", err)
	}
}

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	return write(t, t.TempDir(), name, body)
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
