package apikey

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestGenerateMakesDistinctWellFormedKeys(t *testing.T) {
	a, b := Generate(), Generate()
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	for _, k := range []string{a, b} {
		if !strings.HasPrefix(k, Prefix) {
			t.Errorf("%q lacks prefix %q", k, Prefix)
		}
		if err := Check(k); err != nil {
			t.Errorf("Check(%q) = %v", k, err)
		}
	}
	if bytes.Equal(Hash(a), Hash(b)) || len(Hash(a)) != 32 {
		t.Fatal("hashes of distinct keys must differ and be 32 bytes")
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{strings.Repeat("a", MinLength), true},
		{strings.Repeat("a", MinLength-1), false},
		{strings.Repeat("a", MaxLength+1), false},
		{strings.Repeat("a", MinLength) + " ", false},
		{strings.Repeat("a", MinLength) + "é", false},
		{"Bearer " + strings.Repeat("a", MinLength), false},
		{"", false},
	} {
		err := Check(tc.key)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrMalformed)) {
			t.Errorf("Check(%q) = %v, want ok=%v", tc.key, err, tc.ok)
		}
	}
}
