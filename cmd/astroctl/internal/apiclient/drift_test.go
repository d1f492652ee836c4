package apiclient

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedClientMatchesOpenAPI regenerates the client from openapi.yaml into a
// temporary file, as `make generate` would, and fails when apiclient.gen.go differs:
// the CLI must not drift from the API's contract.
func TestGeneratedClientMatchesOpenAPI(t *testing.T) {
	// The same configuration, writing elsewhere (oapi-codegen's -o does not override a
	// configuration file's output).
	dir := t.TempDir()
	out := filepath.Join(dir, "apiclient.gen.go")
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("output: apiclient.gen.go"), []byte("output: "+out), 1)
	if err := os.WriteFile(filepath.Join(dir, "oapi-codegen.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	spec, err := filepath.Abs("../../../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", filepath.Join(dir, "oapi-codegen.yaml"), spec)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("apiclient.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("cmd/astroctl/internal/apiclient/apiclient.gen.go is stale against openapi.yaml: run `make generate` and commit the result")
	}
}
