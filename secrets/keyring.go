package secrets

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// version2 is the prefix of values sealed with a key ID and bound to a context:
// "k1:<keyID>:<base64(nonce || ciphertext)>", whose additional data is the prefix
// with its key ID and the caller's context (SealBound's ad). The key ID says which key
// of a keyring opens it, so keys can rotate; the context makes a value moved to
// another record fail to open.
const version2 = "k1"

// ErrUnknownKey is returned when a k1 value names a key the Box does not hold.
var ErrUnknownKey = errors.New("sealed with a key this box does not hold")

// KeyID names key without revealing it: the first 12 hex digits of a SHA-256 of it,
// domain-separated. Every process configured with the same key gives it the same ID.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("astroplane/secrets key id\x00"), key...))
	return hex.EncodeToString(h[:6])
}

// NewKeyring returns a Box that seals with primary and opens values sealed with
// primary or any of older: rotate by making a new key primary and keeping the old one
// among older until every value was sealed anew. Each key must be KeySize bytes.
func NewKeyring(primary []byte, older ...[]byte) (*Box, error) {
	aead, err := newAEAD(primary)
	if err != nil {
		return nil, err
	}
	b := &Box{aead: aead, keyID: KeyID(primary), keys: map[string]cipher.AEAD{}}
	b.keys[b.keyID] = aead
	for _, k := range older {
		a, err := newAEAD(k)
		if err != nil {
			return nil, fmt.Errorf("secrets: older key: %w", err)
		}
		if _, dup := b.keys[KeyID(k)]; !dup {
			b.keys[KeyID(k)] = a
		}
	}
	return b, nil
}

// KeyID names the key b seals with.
func (b *Box) KeyID() string { return b.keyID }

// olderKeys lists the IDs of b's keys other than its sealing key, in a fixed order.
func (b *Box) olderKeys() []string {
	var ids []string
	for id := range b.keys {
		if id != b.keyID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// Bind is additional data naming a context (for example an organization and a
// record ID) for SealBound and OpenBound: each part length-prefixed, so no two lists
// of parts give the same bytes.
func Bind(parts ...string) []byte {
	var out []byte
	for _, p := range parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}

// SealBound encrypts plaintext under b's sealing key, bound to ad (see Bind): only
// OpenBound with the same ad opens it. The result names the key:
// "k1:<keyID>:<base64>".
func (b *Box) SealBound(plaintext, ad []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: read nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, boundAD(b.keyID, ad))
	return version2 + ":" + b.keyID + ":" + base64.StdEncoding.EncodeToString(out), nil
}

// OpenBound decrypts a value of SealBound with the key it names and the same ad. A
// value sealed for another context (ad), altered, or under another key fails with
// ErrDecrypt; one naming a key b lacks with ErrUnknownKey.
func (b *Box) OpenBound(sealed string, ad []byte) ([]byte, error) {
	version, rest, ok := strings.Cut(sealed, ":")
	if !ok {
		return nil, fmt.Errorf("secrets: open: %w: missing version prefix", ErrMalformed)
	}
	if version != version2 {
		return nil, fmt.Errorf("secrets: open: %w %q (a bound value is k1)", ErrUnknownVersion, truncate(version, 16))
	}
	keyID, payload, ok := strings.Cut(rest, ":")
	if !ok {
		return nil, fmt.Errorf("secrets: open: %w: missing key ID", ErrMalformed)
	}
	aead := b.keys[keyID]
	if aead == nil {
		return nil, fmt.Errorf("secrets: open: %w: %q", ErrUnknownKey, truncate(keyID, 16))
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("secrets: open: %w: %w", ErrMalformed, err)
	}
	ns := aead.NonceSize()
	if len(raw) < ns+aead.Overhead() {
		return nil, fmt.Errorf("secrets: open: %w: %d bytes is too short", ErrMalformed, len(raw))
	}
	plaintext, err := aead.Open(nil, raw[:ns], raw[ns:], boundAD(keyID, ad))
	if err != nil {
		return nil, fmt.Errorf("secrets: open: %w", ErrDecrypt)
	}
	return plaintext, nil
}

// SealedKeyID is the ID of the key a k1 value was sealed with; "" for any other
// value. A value whose key is not the Box's KeyID is due to be sealed anew.
func SealedKeyID(sealed string) string {
	version, rest, _ := strings.Cut(sealed, ":")
	if version != version2 {
		return ""
	}
	id, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return id
}

func boundAD(keyID string, ad []byte) []byte {
	return append([]byte(version2+":"+keyID+"\x00"), ad...)
}
