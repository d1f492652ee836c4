// Package secrets encrypts small secrets (SMTP passwords, webhook URLs, API
// tokens) before they are stored, and masks them for display.
//
// Sealed values are self-describing strings of the form "v1:<base64>", where
// the base64 payload (standard alphabet, padded) is the 12-byte GCM nonce
// followed by the AES-256-GCM ciphertext and tag. The version prefix is bound
// into the ciphertext as additional authenticated data, so it cannot be
// swapped without detection, and leaves room for a future format or key
// rotation scheme.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// KeySize is the length in bytes of a Box key (AES-256).
const KeySize = 32

// version1 is the prefix of values sealed by this version of the package.
const version1 = "v1"

var (
	// ErrMalformed is returned by Open when the sealed value is not of the
	// form "<version>:<base64>" or is too short to hold a nonce and tag.
	ErrMalformed = errors.New("malformed sealed value")
	// ErrUnknownVersion is returned by Open when the sealed value carries a
	// version prefix this package does not understand.
	ErrUnknownVersion = errors.New("unknown sealed value version")
	// ErrDecrypt is returned by Open when authentication fails: the value
	// was tampered with or sealed under a different key. AES-GCM cannot tell
	// those two cases apart.
	ErrDecrypt = errors.New("cannot decrypt sealed value: wrong key or tampered data")
)

// Box seals and opens secrets with one AES-256-GCM key. A Box is safe for
// concurrent use.
type Box struct {
	aead cipher.AEAD
	// keyID names the key Box seals with (KeyID); keys are every key it opens with
	// (the sealing key and, for a keyring, older ones), by ID.
	keyID string
	keys  map[string]cipher.AEAD
}

// NewBox returns a Box using key, which must be exactly KeySize (32) bytes.
// The key is not retained beyond the cipher state.
func NewBox(key []byte) (*Box, error) {
	return NewKeyring(key)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("secrets: key must be %d bytes, got %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: new cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: new gcm: %w", err)
	}
	return aead, nil
}

// ParseKey decodes a 32-byte key written as standard base64 (padded, as
// printed by `openssl rand -base64 32`), unpadded URL-safe base64, or 64 hex
// digits. Surrounding whitespace is ignored. Errors never echo the input,
// which is key material.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("secrets: key is empty")
	}
	// Hex first: 64 hex digits are also valid base64 (decoding to 48 bytes),
	// so the order matters.
	if len(s) == 2*KeySize {
		if key, err := hex.DecodeString(s); err == nil {
			return key, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		key, err := enc.Strict().DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("secrets: key decodes to %d bytes, want %d", len(key), KeySize)
		}
		return key, nil
	}
	return nil, fmt.Errorf("secrets: key is neither base64 (standard or raw URL) nor %d hex digits", 2*KeySize)
}

// Seal encrypts plaintext under a fresh random nonce and returns
// "v1:<base64(nonce || ciphertext)>". Sealing the same plaintext twice gives
// different results.
func (b *Box) Seal(plaintext []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: read nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(version1))
	return version1 + ":" + base64.StdEncoding.EncodeToString(out), nil
}

// Open decrypts a value produced by Seal. It returns an error wrapping
// ErrMalformed, ErrUnknownVersion or ErrDecrypt when the value cannot be
// opened.
func (b *Box) Open(sealed string) ([]byte, error) {
	version, payload, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, fmt.Errorf("secrets: open: %w: missing version prefix", ErrMalformed)
	}
	if version == version2 {
		return b.OpenBound(sealed, nil)
	}
	if version != version1 {
		return nil, fmt.Errorf("secrets: open: %w %q", ErrUnknownVersion, truncate(version, 16))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("secrets: open: %w: %w", ErrMalformed, err)
	}
	ns := b.aead.NonceSize()
	if len(raw) < ns+b.aead.Overhead() {
		return nil, fmt.Errorf("secrets: open: %w: %d bytes is too short", ErrMalformed, len(raw))
	}
	plaintext, err := b.aead.Open(nil, raw[:ns], raw[ns:], []byte(version1))
	if err == nil {
		return plaintext, nil
	}
	// A v1 value does not name its key: after a rotation it may be an older one's.
	for _, id := range b.olderKeys() {
		if plaintext, err := b.keys[id].Open(nil, raw[:ns], raw[ns:], []byte(version1)); err == nil {
			return plaintext, nil
		}
	}
	return nil, fmt.Errorf("secrets: open: %w", ErrDecrypt)
}

// maskPrefix replaces the hidden part of a masked value. Its length is fixed
// so that the mask does not reveal the secret's length.
const maskPrefix = "••••"

// minRevealLen is the shortest secret (in characters) whose last 4
// characters Mask reveals; at most a third of such a secret is shown.
const minRevealLen = 12

// Mask returns a display form of a secret that keeps at most its last 4
// characters: "••••abcd". Secrets shorter than 12 characters are fully
// masked ("••••"), and the empty string stays empty so that "not set" remains
// distinguishable from "set".
func Mask(s string) string {
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return ""
	case n < minRevealLen:
		return maskPrefix
	}
	r := []rune(s)
	return maskPrefix + string(r[n-4:])
}

// truncate shortens s to at most n bytes for inclusion in error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
