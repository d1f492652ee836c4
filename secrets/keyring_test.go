package secrets

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// A bound value opens only with the context it was sealed for: moved to another
// record or organization it fails, as it does altered.
func TestSealBoundIsBoundToItsContext(t *testing.T) {
	box := newTestBox(t, 1)
	ad := Bind("org-1", "rec-1")
	sealed, err := box.SealBound([]byte("AKIA-secret"), ad)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "k1:"+box.KeyID()+":") {
		t.Fatalf("sealed %q does not name its key %s", sealed, box.KeyID())
	}
	got, err := box.OpenBound(sealed, ad)
	if err != nil || string(got) != "AKIA-secret" {
		t.Fatalf("OpenBound = %q, %v", got, err)
	}
	for name, other := range map[string][]byte{
		"another record":       Bind("org-1", "rec-2"),
		"another organization": Bind("org-2", "rec-1"),
		"parts run together":   Bind("org-1rec-1"),
		"no context":           nil,
	} {
		if _, err := box.OpenBound(sealed, other); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: OpenBound error = %v, want ErrDecrypt", name, err)
		}
	}
	if _, err := box.Open(sealed); !errors.Is(err, ErrDecrypt) {
		t.Errorf("Open of a bound value: %v, want ErrDecrypt", err)
	}
	// The key ID is bound too: naming another key of the ring fails.
	ring, _ := NewKeyring(testKey(2), testKey(1))
	swapped := strings.Replace(sealed, box.KeyID(), ring.KeyID(), 1)
	if _, err := ring.OpenBound(swapped, ad); !errors.Is(err, ErrDecrypt) {
		t.Errorf("swapped key ID: %v, want ErrDecrypt", err)
	}
}

// Rotation: a keyring whose primary is new seals with it and still opens what the
// older key sealed (bound and v1); a box without the older key cannot.
func TestKeyringRotation(t *testing.T) {
	old := newTestBox(t, 1)
	ad := Bind("org", "rec")
	sealedOld, _ := old.SealBound([]byte("s1"), ad)
	v1Old, _ := old.Seal([]byte("s2"))

	ring, err := NewKeyring(testKey(2), testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	if ring.KeyID() == old.KeyID() || ring.KeyID() != KeyID(testKey(2)) {
		t.Fatalf("ring key ID %s, old %s", ring.KeyID(), old.KeyID())
	}
	if got, err := ring.OpenBound(sealedOld, ad); err != nil || string(got) != "s1" {
		t.Fatalf("ring opens old bound value: %q, %v", got, err)
	}
	if got, err := ring.Open(v1Old); err != nil || string(got) != "s2" {
		t.Fatalf("ring opens old v1 value: %q, %v", got, err)
	}
	sealedNew, _ := ring.SealBound([]byte("s3"), ad)
	if SealedKeyID(sealedNew) != ring.KeyID() || SealedKeyID(sealedOld) != old.KeyID() || SealedKeyID(v1Old) != "" {
		t.Fatalf("SealedKeyID: new %q old %q v1 %q", SealedKeyID(sealedNew), SealedKeyID(sealedOld), SealedKeyID(v1Old))
	}
	if _, err := old.OpenBound(sealedNew, ad); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old box opens a value of the new key: %v, want ErrUnknownKey", err)
	}
	if _, err := NewKeyring(testKey(2), []byte("short")); err == nil {
		t.Fatal("a short older key was accepted")
	}
}

// The shortest bound value (an empty secret: nonce and tag only) opens; anything
// shorter is malformed, never a panic or a decryption attempt.
func TestOpenBoundLengths(t *testing.T) {
	box := newTestBox(t, 1)
	ad := Bind("org", "rec")
	sealed, err := box.SealBound(nil, ad)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := box.OpenBound(sealed, ad); err != nil || len(got) != 0 {
		t.Fatalf("empty secret: %q, %v", got, err)
	}
	prefix := "k1:" + box.KeyID() + ":"
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, prefix))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 12, len(raw) - 1} {
		short := prefix + base64.StdEncoding.EncodeToString(raw[:n])
		if _, err := box.OpenBound(short, ad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d bytes: %v, want ErrMalformed", n, err)
		}
	}
}
