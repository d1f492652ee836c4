// Package apikey makes and checks the API keys clients send in X-Astro-API-Key.
// A key is shown once; only its SHA-256 hash is stored. Keys carry 178 random bits,
// so a fast hash is enough: there is nothing to guess by brute force.
//
// # Format
//
// A key is "astro_" + 30 random base62 characters + a 6-character base62 CRC32 of
// those 30 (42 characters in all, like GitHub's token format): secret scanners find
// leaked keys by the prefix and shape (`astro_[0-9A-Za-z]{36}`), and a mistyped key is
// refused by Check before any database lookup.
//
// # Earlier keys
//
// Keys made before the checksum (and keys operators chose for ASTRO_BOOTSTRAP_API_KEY)
// keep working: a key that does not start with "astro_", or starts with it and has
// exactly the 49 characters of the earlier generator ("astro_" + 43 base64url
// characters), is an earlier key, checked for length (32–200) and alphabet (letters,
// digits, '-', '_') only. Every other key starting with "astro_" must be of the
// checksummed format.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"math/big"
	"strings"
)

// Prefix starts every key this server generates, so leaked keys are easy to find
// with secret scanners.
const Prefix = "astro_"

// Length limits of a well-formed key (bootstrap keys set by operators included).
const (
	MinLength = 32
	MaxLength = 200
)

// Shape of the checksummed format.
const (
	// RandomLength is the number of random base62 characters after the prefix.
	RandomLength = 30
	// ChecksumLength is the number of base62 characters of the CRC32 checksum.
	ChecksumLength = 6
	// Length is the length of a checksummed key.
	Length = len(Prefix) + RandomLength + ChecksumLength
	// legacyGeneratedLength is the length of keys of the earlier generator:
	// the prefix and 32 random bytes in unpadded base64url.
	legacyGeneratedLength = len(Prefix) + 43
)

// DisplayLength is how many leading characters of a key may be shown to recognise it
// (the prefix and 4 random characters: 24 bits, far from enough to guess the rest).
const DisplayLength = len(Prefix) + 4

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Errors of Check. Check them with errors.Is.
var (
	// ErrMalformed means a presented key cannot be a key at all.
	ErrMalformed = errors.New("malformed API key")
	// ErrChecksum means a key of the checksummed format has a wrong checksum: it
	// was mistyped or made up.
	ErrChecksum = errors.New("API key checksum mismatch")
)

// Generate returns a new random key of the checksummed format.
func Generate() string {
	var b strings.Builder
	b.Grow(Length)
	b.WriteString(Prefix)
	limit := big.NewInt(int64(len(base62)))
	for range RandomLength {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		b.WriteByte(base62[n.Int64()])
	}
	body := b.String()[len(Prefix):]
	b.WriteString(checksum(body))
	return b.String()
}

// checksum is the CRC32 (IEEE) of body in ChecksumLength base62 digits, most
// significant first (62^6 > 2^32, so every checksum fits).
func checksum(body string) string {
	v := crc32.ChecksumIEEE([]byte(body))
	out := make([]byte, ChecksumLength)
	for i := ChecksumLength - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

// Hash returns what the store keeps of key.
func Hash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// Display returns the leading characters of key that may be shown (see
// DisplayLength); never the whole key.
func Display(key string) string {
	if len(key) < DisplayLength+8 {
		return ""
	}
	return key[:DisplayLength]
}

// Checksummed reports whether key must be of the checksummed format: it starts with
// Prefix and is not an earlier generated key (see the package doc).
func Checksummed(key string) bool {
	return strings.HasPrefix(key, Prefix) && len(key) != legacyGeneratedLength
}

// Check reports ErrMalformed unless key has a key's length and alphabet (letters,
// digits, '-' and '_'), and, for a key of the checksummed format, ErrMalformed
// unless it has that format's shape and ErrChecksum unless its checksum matches.
// It touches no database: call it before looking a key up.
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
	if !Checksummed(key) {
		return nil
	}
	if len(key) != Length {
		return ErrMalformed
	}
	body, sum := key[len(Prefix):len(Prefix)+RandomLength], key[len(Prefix)+RandomLength:]
	if strings.ContainsAny(key[len(Prefix):], "-_") {
		return ErrMalformed
	}
	if checksum(body) != sum {
		return ErrChecksum
	}
	return nil
}
