package config

import (
	"crypto/rand"
	"encoding/base64"
	"testing"
)

// After a rotation (a new ASTRO_ENCRYPTION_KEY, the old one in
// ASTRO_ENCRYPTION_KEYS_OLD) what the old key sealed still opens, and new values are
// sealed with the new key.
func TestEncryptionKeyRotation(t *testing.T) {
	newKey := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return base64.StdEncoding.EncodeToString(b)
	}
	oldKey, curKey := newKey(), newKey()
	oldBox, err := Keys{EncryptionKey: oldKey}.Box()
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := oldBox.SealBound([]byte("s"), []byte("ad"))
	v1, _ := oldBox.Seal([]byte("v1"))
	box, err := Keys{EncryptionKey: curKey, EncryptionKeysOld: " " + newKey() + "," + oldKey}.Box()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := box.OpenBound(sealed, []byte("ad")); err != nil || string(got) != "s" {
		t.Fatalf("old bound value: %q %v", got, err)
	}
	if got, err := box.Open(v1); err != nil || string(got) != "v1" {
		t.Fatalf("old v1 value: %q %v", got, err)
	}
	if box.KeyID() == oldBox.KeyID() {
		t.Fatal("seals with the old key")
	}
	if _, err := (Keys{EncryptionKey: curKey, EncryptionKeysOld: "short"}).Box(); err == nil {
		t.Fatal("a malformed old key was accepted")
	}
}
