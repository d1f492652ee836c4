package apikey

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"regexp"
	"strings"
	"testing"
)

// The format secret scanners look for (documented in the README).
var scannerPattern = regexp.MustCompile(`^astro_[0-9A-Za-z]{36}$`)

func TestGeneratedKeysMatchTheScannerPatternAndCheck(t *testing.T) {
	for range 200 {
		k := Generate()
		if !scannerPattern.MatchString(k) || len(k) != Length {
			t.Fatalf("%q does not match %s", k, scannerPattern)
		}
		if err := Check(k); err != nil {
			t.Fatalf("Check(%q) = %v", k, err)
		}
		if !Checksummed(k) {
			t.Fatalf("%q not of the checksummed format", k)
		}
	}
}

// Any one-character typo in a generated key is refused by Check alone (no lookup):
// a substitution by the checksum, an insertion or deletion by the shape.
func TestTyposAreRefusedWithoutALookup(t *testing.T) {
	k := Generate()
	for i := len(Prefix); i < len(k); i++ {
		for _, c := range []byte(base62) {
			if c == k[i] {
				continue
			}
			typo := k[:i] + string(c) + k[i+1:]
			if err := Check(typo); !errors.Is(err, ErrChecksum) {
				t.Fatalf("substitution at %d (%q): %v, want ErrChecksum", i, typo, err)
			}
		}
		if err := Check(k[:i] + k[i+1:]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("deletion at %d: %v, want ErrMalformed", i, err)
		}
		if err := Check(k[:i] + "x" + k[i:]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("insertion at %d: %v, want ErrMalformed", i, err)
		}
	}
	// Transposing two different neighbours changes the CRC too.
	for i := len(Prefix); i+1 < len(k); i++ {
		if k[i] == k[i+1] {
			continue
		}
		swapped := k[:i] + string(k[i+1]) + string(k[i]) + k[i+2:]
		if err := Check(swapped); !errors.Is(err, ErrChecksum) {
			t.Fatalf("transposition at %d: %v", i, err)
		}
	}
	// '-' and '_' are not base62: refused in a checksummed key.
	if err := Check(k[:10] + "-" + k[11:]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("'-' in the body: %v", err)
	}
}

// Keys of the earlier generator (astro_ + 43 base64url characters) and operator-set
// bootstrap keys without the prefix keep working.
func TestEarlierKeysStillCheck(t *testing.T) {
	b := make([]byte, 32)
	for range 50 {
		_, _ = rand.Read(b)
		old := Prefix + base64.RawURLEncoding.EncodeToString(b)
		if err := Check(old); err != nil {
			t.Fatalf("earlier generated key %q refused: %v", old, err)
		}
		if Checksummed(old) {
			t.Fatalf("%q taken for a checksummed key", old)
		}
	}
	for _, k := range []string{strings.Repeat("a", MinLength), "my-own-bootstrap-key_0123456789abcdef"} {
		if err := Check(k); err != nil {
			t.Errorf("operator key %q refused: %v", k, err)
		}
	}
	// A key with the prefix and another length is a broken checksummed key.
	if err := Check(Prefix + strings.Repeat("a", 40)); !errors.Is(err, ErrMalformed) {
		t.Errorf("prefixed key of another length: %v", err)
	}
}

func TestChecksumDigits(t *testing.T) {
	// CRC32("") is 0: six zero digits. The largest CRC fits in six digits.
	if got := checksum(""); got != "000000" {
		t.Fatalf("checksum(\"\") = %q", got)
	}
	if len(checksum(strings.Repeat("z", RandomLength))) != ChecksumLength {
		t.Fatal("checksum length")
	}
	// Known value: CRC32("123456789") is 0xCBF43926 (the standard check value).
	v := uint32(0xCBF43926)
	want := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		want[i] = base62[v%62]
		v /= 62
	}
	if got := checksum("123456789"); got != string(want) {
		t.Fatalf("checksum(123456789) = %q, want %q", got, want)
	}
}

func TestDisplayShowsOnlyTheStart(t *testing.T) {
	k := Generate()
	d := Display(k)
	if len(d) != DisplayLength || !strings.HasPrefix(k, d) {
		t.Fatalf("Display(%q) = %q", k, d)
	}
	if Display("short") != "" {
		t.Fatal("a short value must not be displayed")
	}
}
