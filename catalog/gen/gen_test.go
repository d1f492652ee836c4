package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The committed tables are what the committed sources generate: a source edited
// without make catalog, or a hand edit of a zz_*_gen.go file, fails here.
func TestGeneratedTablesAreUpToDate(t *testing.T) {
	out := t.TempDir()
	if err := generate("sources", out); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "zz_*_gen.go"))
	if len(files) != 4 {
		t.Fatalf("generated %d files, want 4", len(files))
	}
	for _, f := range files {
		got, _ := os.ReadFile(f)
		want, err := os.ReadFile(filepath.Join("..", filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("catalog/%s differs from what the sources generate: run make catalog", filepath.Base(f))
		}
	}
	// And again: the output does not depend on map order or time.
	again := t.TempDir()
	if err := generate("sources", again); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		a, _ := os.ReadFile(f)
		b, _ := os.ReadFile(filepath.Join(again, filepath.Base(f)))
		if !bytes.Equal(a, b) {
			t.Errorf("%s is not deterministic", filepath.Base(f))
		}
	}
}

func TestRegionSetEncoding(t *testing.T) {
	all := []string{"a", "b", "c", "d", "e"}
	for _, set := range [][]string{all, {"a", "b", "c", "d"}, {"b"}, {"a", "e"}, {"a", "b", "d"}} {
		enc := encodeRegions(set, all)
		dec, err := decodeRegions(enc, all)
		if err != nil || !slices.Equal(dec, set) {
			t.Errorf("%v → %q → %v, %v", set, enc, dec, err)
		}
	}
	if _, err := decodeRegions("a,zz", all); err == nil {
		t.Error("an unknown region decoded")
	}
	if got := encodeRegions([]string{"a", "b", "c", "d"}, all); got != "-e" {
		t.Errorf("encode = %q, want -e", got)
	}
}
