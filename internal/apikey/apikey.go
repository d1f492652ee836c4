// Package apikey makes and checks the API keys clients send in X-Astro-API-Key.
// A key is shown once; only its SHA-256 hash is stored. Keys are 256-bit random
// strings, so a fast hash is enough: there is nothing to guess by brute force.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// Prefix starts every key this server generates, so leaked keys are easy to find
// with secret scanners.
const Prefix = "astro_"

// Length limits of a well-formed key (bootstrap keys set by operators included).
const (
	MinLength = 32
	MaxLength = 200
)

// ErrMalformed means a presented key cannot be a key at all.
var ErrMalformed = errors.New("malformed API key")

// Generate returns a new random key.
func Generate() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return Prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns what the store keeps of key.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Check reports ErrMalformed unless key has a key's length and alphabet
// (letters, digits, '-' and '_').
func Check(key string) error {
	if len(key) < MinLength || len(key) > MaxLength {
		return ErrMalformed
	}
	for _, c := range key {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return ErrMalformed
		}
	}
	return nil
}
