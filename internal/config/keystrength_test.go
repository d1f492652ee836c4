package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestRandomKeysAreStrong(t *testing.T) {
	b := make([]byte, 32)
	for range 500 {
		_, _ = rand.Read(b)
		if err := CheckKeyStrength(b); err != nil {
			t.Fatalf("random 32 bytes refused: %v", err)
		}
		if err := CheckKeyStrength([]byte(base64.RawURLEncoding.EncodeToString(b))); err != nil {
			t.Fatalf("a random base64url string refused: %v", err)
		}
	}
}

func TestWeakKeysAreRefused(t *testing.T) {
	for name, key := range map[string]string{
		"one character":      strings.Repeat("s", 32),
		"two characters":     strings.Repeat("ab", 20),
		"a pattern repeated": "signing-key-signing-key-signing-key!",
		"hex pattern twice":  "0123456789abcdef0123456789abcdef",
		"a word and a digit": "passwordpasswordpassword1",
		"few symbols":        "aabbccddeeffaabbccddeeffabcdefabcdefxyz",
		"ascending sequence": "abcdefghijklmnopqrstuvwxyzabcdef",
		"short and mixed":    "Tr0ub4dor&3",
	} {
		if err := CheckKeyStrength([]byte(key)); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%s (%q) accepted: %v", name, key, err)
		}
	}
}

func TestOneValueCannotBeBothKeys(t *testing.T) {
	const key = "kZb7aZJyKwZN/WSzEeQMb56oMhQCtuYqeDctmrDRcnU="
	if err := (Keys{EncryptionKey: key, SigningKey: key}).Validate(); err == nil || !strings.Contains(err.Error(), "same value") {
		t.Fatalf("same key twice: %v", err)
	}
	// The same bytes spelled in hex are the same key too.
	hexKey := "9196fb6992722b064dfd64b311e40c6f9ea8321402b6e62a78372d9ab0d17275"
	if err := (Keys{EncryptionKey: key, SigningKey: hexKey}).Validate(); err == nil || !strings.Contains(err.Error(), "same value") {
		t.Fatalf("same key in another encoding: %v", err)
	}
	if _, _, _, err := (Keys{EncryptionKey: key, SigningKey: key}).Open(); err == nil {
		t.Fatal("Open accepted one value as both keys")
	}
	if err := (Keys{EncryptionKey: key, SigningKey: "iLRwn3PIS69mFXezv1Kq38UZuJFO8zcma6y1-dDMHPnqj-qf"}).Validate(); err != nil {
		t.Fatalf("two distinct strong keys: %v", err)
	}
	if err := (Keys{EncryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}).Validate(); !errors.Is(err, ErrWeakKey) {
		t.Fatalf("a patterned encryption key (0123456789abcdef twice): %v", err)
	}
}
