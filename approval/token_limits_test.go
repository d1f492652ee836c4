package approval

import (
	"errors"
	"strings"
	"testing"
)

// The token alphabet is exactly unpadded base64url: each end of each range is in it,
// the byte next to it is not.
func TestIsBase64URLAlphabetEdges(t *testing.T) {
	for _, c := range "AZaz09-_" {
		if !isBase64URL(string(c)) {
			t.Errorf("%q refused", c)
		}
		if !isBase64URL("xx" + string(c) + "xx") {
			t.Errorf("%q refused inside a string", c)
		}
	}
	for _, c := range "@[`{/:+=.\x00 \n\x7f" {
		if isBase64URL(string(c)) {
			t.Errorf("%q accepted", c)
		}
		if isBase64URL("abc" + string(c)) {
			t.Errorf("%q accepted at the end of a string", c)
		}
	}
	if isBase64URL("") {
		t.Error("empty string accepted")
	}
	if !isBase64URL("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") {
		t.Error("the whole alphabet refused")
	}
}

// A token of exactly MaxTokenLen bytes is read (and refused only for its signature);
// one byte more is refused unread.
func TestVerifyLengthLimitIsInclusive(t *testing.T) {
	s := newTestSigner(t, testKey)
	mac := strings.Repeat("A", 43) // 32 bytes of base64url, not the right MAC
	atLimit := "v1." + strings.Repeat("A", MaxTokenLen-len("v1..")-len(mac)) + "." + mac
	if len(atLimit) != MaxTokenLen {
		t.Fatalf("test token has %d bytes", len(atLimit))
	}
	if _, err := s.Verify(atLimit, testNow); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("token of MaxTokenLen bytes: %v, want ErrBadSignature", err)
	}
	over := "v1." + strings.Repeat("A", MaxTokenLen+1-len("v1..")-len(mac)) + "." + mac
	if _, err := s.Verify(over, testNow); !errors.Is(err, ErrMalformed) {
		t.Fatalf("token of MaxTokenLen+1 bytes: %v, want ErrMalformed", err)
	}
}

// A genuine payload whose expiry is not after 1970 is not a token Sign makes: it is
// malformed, not merely expired.
func TestVerifyRefusesSignedZeroOrNegativeExpiry(t *testing.T) {
	s := newTestSigner(t, testKey)
	for _, payload := range []string{
		`{"p":"approval","n":"x","e":0}`,
		`{"p":"approval","n":"x","e":-1}`,
		`{"p":"approval","n":"x"}`,
	} {
		if _, err := s.Verify(signRaw(s, payload), testNow); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", payload, err)
		}
	}
	if _, err := s.Verify(signRaw(s, `{"p":"approval","n":"x","e":1}`), testNow); !errors.Is(err, ErrExpired) {
		t.Errorf("expiry one second after 1970: %v, want ErrExpired", err)
	}
}
