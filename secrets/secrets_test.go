package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func newTestBox(t *testing.T, b byte) *Box {
	t.Helper()
	box, err := NewBox(testKey(b))
	if err != nil {
		t.Fatalf("NewBox: %v", err)
	}
	return box
}

func TestNewBoxKeyLength(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		wantErr bool
	}{
		{"nil", nil, true},
		{"16 bytes", make([]byte, 16), true},
		{"31 bytes", make([]byte, 31), true},
		{"32 bytes", make([]byte, 32), false},
		{"33 bytes", make([]byte, 33), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBox(tt.key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewBox(%d bytes) error = %v, wantErr %v", len(tt.key), err, tt.wantErr)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i*7 + 250) // includes bytes that need '+', '/', '-', '_'
	}
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr bool
	}{
		{"std base64", base64.StdEncoding.EncodeToString(key), key, false},
		{"std base64 with whitespace", "  " + base64.StdEncoding.EncodeToString(key) + "\n", key, false},
		{"raw url base64", base64.RawURLEncoding.EncodeToString(key), key, false},
		{"hex lower", hex.EncodeToString(key), key, false},
		{"hex upper", strings.ToUpper(hex.EncodeToString(key)), key, false},
		{"hex of zeros (also valid base64)", strings.Repeat("0", 64), make([]byte, KeySize), false},
		{"empty", "", nil, true},
		{"too short base64", base64.StdEncoding.EncodeToString(key[:16]), nil, true},
		{"too long base64", base64.StdEncoding.EncodeToString(append(key, 1)), nil, true},
		{"63 hex digits", hex.EncodeToString(key)[:63], nil, true},
		{"not an encoding", "correct horse battery staple!!", nil, true},
		{"url base64 with padding char mix", base64.URLEncoding.EncodeToString(key), nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseKey error = %v, wantErr %v", err, tt.wantErr)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("ParseKey = %x, want %x", got, tt.want)
			}
			if err != nil && tt.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
				t.Fatalf("error %q echoes the key material", err)
			}
		})
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	box := newTestBox(t, 1)
	tests := []struct {
		name      string
		plaintext []byte
	}{
		{"empty", []byte{}},
		{"password", []byte("hunter2")},
		{"webhook", []byte("https://hooks.slack.com/services/T000/B000/XXXXXXXX")},
		{"binary", []byte{0, 1, 2, 0xff, 0xfe}},
		{"unicode", []byte("пароль🔑")},
		{"large", bytes.Repeat([]byte("x"), 64<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := box.Seal(tt.plaintext)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if !strings.HasPrefix(sealed, "v1:") {
				t.Fatalf("sealed %q lacks v1: prefix", sealed)
			}
			if len(tt.plaintext) > 3 && strings.Contains(sealed, string(tt.plaintext)) {
				t.Fatalf("sealed value contains the plaintext")
			}
			if _, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:")); err != nil {
				t.Fatalf("payload is not std base64: %v", err)
			}
			got, err := box.Open(sealed)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Fatalf("Open = %q, want %q", got, tt.plaintext)
			}
		})
	}
}

func TestSealUsesRandomNonces(t *testing.T) {
	box := newTestBox(t, 2)
	seen := map[string]bool{}
	for range 100 {
		sealed, err := box.Seal([]byte("same plaintext"))
		if err != nil {
			t.Fatalf("Seal: %v", err)
		}
		if seen[sealed] {
			t.Fatalf("Seal produced a repeated value %q", sealed)
		}
		seen[sealed] = true
	}
	a, _ := box.Seal([]byte("same plaintext"))
	b, _ := box.Seal([]byte("same plaintext"))
	ra, _ := base64.StdEncoding.DecodeString(a[3:])
	rb, _ := base64.StdEncoding.DecodeString(b[3:])
	if bytes.Equal(ra[:12], rb[:12]) {
		t.Fatalf("two seals share a nonce")
	}
}

func TestOpenRejects(t *testing.T) {
	box := newTestBox(t, 3)
	sealed, err := box.Seal([]byte("top secret"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	flip := func(i int) string {
		c := bytes.Clone(raw)
		c[i] ^= 0x01
		return "v1:" + base64.StdEncoding.EncodeToString(c)
	}
	otherKey, err := newTestBox(t, 4).Seal([]byte("top secret"))
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}

	tests := []struct {
		name   string
		sealed string
		want   error
	}{
		{"flipped nonce bit", flip(0), ErrDecrypt},
		{"flipped ciphertext bit", flip(13), ErrDecrypt},
		{"flipped tag bit", flip(len(raw) - 1), ErrDecrypt},
		{"truncated", "v1:" + base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), ErrDecrypt},
		{"appended byte", "v1:" + base64.StdEncoding.EncodeToString(append(bytes.Clone(raw), 0)), ErrDecrypt},
		{"sealed under another key", otherKey, ErrDecrypt},
		{"unknown version", "v2:" + sealed[3:], ErrUnknownVersion},
		{"empty version", ":" + sealed[3:], ErrUnknownVersion},
		{"no version", sealed[3:], ErrMalformed},
		{"empty", "", ErrMalformed},
		{"bad base64", "v1:!!!!", ErrMalformed},
		{"too short", "v1:" + base64.StdEncoding.EncodeToString(raw[:27]), ErrMalformed},
		{"raw url encoding", "v1:" + base64.RawURLEncoding.EncodeToString(raw), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := box.Open(tt.sealed)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open error = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Fatalf("Open returned plaintext %q on error", got)
			}
		})
	}
}

func TestMask(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{"a", "••••"},
		{"abcd", "••••"},
		{"hunter2", "••••"},
		{"abcdefghijk", "••••"}, // 11 characters: still fully masked
		{"abcdefghijkl", "••••ijkl"},
		{"https://hooks.slack.com/services/T000/B000/XXXXabcd", "••••abcd"},
		{"пароль-пароль-ключ", "••••ключ"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Mask(tt.in); got != tt.want {
				t.Fatalf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
