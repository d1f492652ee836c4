package apikey

import (
	"errors"
	"strings"
	"testing"
)

// Both length limits are inclusive.
func TestCheckLengthLimits(t *testing.T) {
	for n, ok := range map[int]bool{
		MinLength - 1: false, MinLength: true, MinLength + 1: true,
		MaxLength - 1: true, MaxLength: true, MaxLength + 1: false,
	} {
		err := Check(strings.Repeat("k", n))
		if ok != (err == nil) || (err != nil && !errors.Is(err, ErrMalformed)) {
			t.Errorf("key of %d bytes: %v, want ok=%v", n, err, ok)
		}
	}
}

// The alphabet is exactly letters, digits, '-' and '_': each end of each range is
// in it, the character next to it is not.
func TestCheckAlphabetEdges(t *testing.T) {
	pad := strings.Repeat("k", MinLength)
	for _, c := range "azAZ09-_" {
		if err := Check(pad + string(c)); err != nil {
			t.Errorf("%q refused: %v", c, err)
		}
		if err := Check(string(c) + pad); err != nil {
			t.Errorf("%q refused at the start: %v", c, err)
		}
	}
	for _, c := range "`{@[/:.+=~ \x00\x7fé" {
		if err := Check(pad + string(c)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q accepted: %v", c, err)
		}
	}
}
