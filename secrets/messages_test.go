package secrets

import (
	"errors"
	"strings"
	"testing"
)

// A key in no known form is refused with the forms an operator may use, and without
// echoing the key material.
func TestParseKeyErrorNamesTheForms(t *testing.T) {
	_, err := ParseKey("not a key, but secret-ish!")
	if err == nil {
		t.Fatal("accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "64 hex digits") || !strings.Contains(msg, "base64") {
		t.Errorf("error %q does not say which forms are accepted", msg)
	}
	if strings.Contains(msg, "secret-ish") {
		t.Errorf("error %q echoes the key", msg)
	}
}

// An unknown version is quoted in the error up to 16 bytes, and cut with "…" beyond.
func TestOpenUnknownVersionIsTruncated(t *testing.T) {
	box := newTestBox(t, 1)
	for version, want := range map[string]string{
		strings.Repeat("v", 15): `"` + strings.Repeat("v", 15) + `"`,
		strings.Repeat("v", 16): `"` + strings.Repeat("v", 16) + `"`,
		strings.Repeat("v", 17): `"` + strings.Repeat("v", 16) + `…"`,
	} {
		_, err := box.Open(version + ":AAAA")
		if !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("version of %d bytes: %v, want ErrUnknownVersion", len(version), err)
		}
		if !strings.HasSuffix(err.Error(), " "+want) {
			t.Errorf("version of %d bytes: error %q, want it to end with %s", len(version), err, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 0, ""},
		{"abc", 3, "abc"},
		{"abc", 4, "abc"},
		{"abcd", 3, "abc…"},
		{"abc", 0, "…"},
	} {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
