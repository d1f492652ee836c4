package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// Key strength: a key must look like what a random generator makes. These checks
// cannot prove a key random, but they refuse the keys people type: one character
// repeated, a short pattern repeated ("secret-secret-secret-…", a hex string twice),
// a handful of distinct symbols. Generate keys with `openssl rand -base64 32`.
const (
	// minKeyEntropyBits is the least estimated entropy of a key: its length times
	// the Shannon entropy of its symbols' frequencies. 32 random bytes estimate
	// about 150; a random string of 43 base64url characters about 220.
	minKeyEntropyBits = 96
	// minDistinctSymbols is the least number of different bytes in a key.
	minDistinctSymbols = 12
	// maxPeriodicShare is the share of a key's bytes that may equal the byte one
	// period before, for any period up to half its length.
	maxPeriodicShare = 0.6
)

// ErrWeakKey is wrapped by the errors of CheckKeyStrength.
var ErrWeakKey = errors.New("key too weak to be random")

// CheckKeyStrength reports why key does not look random (wrapping ErrWeakKey), or
// nil.
func CheckKeyStrength(key []byte) error {
	if n := distinct(key); n < minDistinctSymbols {
		return fmt.Errorf("%w: only %d different symbols", ErrWeakKey, n)
	}
	for p := 1; p <= len(key)/2; p++ {
		same := 0
		for i := p; i < len(key); i++ {
			if key[i] == key[i-p] {
				same++
			}
		}
		if float64(same) > maxPeriodicShare*float64(len(key)-p) {
			return fmt.Errorf("%w: it repeats itself every %d characters", ErrWeakKey, p)
		}
	}
	if len(key) > 2 {
		steady := 0 // bytes continuing the step of the two before ("abcd", "1357")
		for i := 2; i < len(key); i++ {
			if key[i]-key[i-1] == key[i-1]-key[i-2] {
				steady++
			}
		}
		if float64(steady) > maxPeriodicShare*float64(len(key)-2) {
			return fmt.Errorf("%w: it is a sequence", ErrWeakKey)
		}
	}
	if bits := entropyBits(key); bits < minKeyEntropyBits {
		return fmt.Errorf("%w: about %.0f bits of entropy, need %d", ErrWeakKey, bits, minKeyEntropyBits)
	}
	return nil
}

func distinct(b []byte) int {
	var seen [256]bool
	n := 0
	for _, c := range b {
		if !seen[c] {
			seen[c], n = true, n+1
		}
	}
	return n
}

// entropyBits estimates a key's entropy: its length times the Shannon entropy of
// its byte frequencies.
func entropyBits(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	var counts [256]int
	for _, c := range b {
		counts[c]++
	}
	h := 0.0
	for _, n := range counts {
		if n > 0 {
			p := float64(n) / float64(len(b))
			h -= p * math.Log2(p)
		}
	}
	return h * float64(len(b))
}

// sameKey reports whether the encryption and signing keys are one value, as
// configured or once decoded.
func sameKey(encRaw, sigRaw string, enc, sig []byte) bool {
	return encRaw == sigRaw || (len(enc) > 0 && bytes.Equal(enc, sig))
}
