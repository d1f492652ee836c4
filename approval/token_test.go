package approval

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testKey   = bytes.Repeat([]byte("k"), MinKeyLen)
	otherKey  = bytes.Repeat([]byte("o"), MinKeyLen)
	testNow   = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	testClaim = Claims{
		OrgID:       "6f1c2e0a-4b7d-4c2e-9a51-3d8f0b6e2a17",
		ClusterName: "payments-prod-eu-west-1",
		ClusterID:   "0b9e7c4d-2a61-4f3e-8d15-7c2a9e4b1f60",
		OperationID: "deploy-0b9e7c4d-2a61-4f3e-8d15-7c2a9e4b1f60",
		Approver:    "auth0|5f8a2c9e1b4d7a0012c3e4f5",
		Purpose:     PurposeApproval,
		ExpiresAt:   testNow.Add(72 * time.Hour),
	}
)

func newTestSigner(t testing.TB, key []byte) *Signer {
	t.Helper()
	s, err := NewSigner(key)
	if err != nil {
		t.Fatalf("NewSigner: %v", err)
	}
	return s
}

func mustSign(t testing.TB, s *Signer, c Claims) string {
	t.Helper()
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

func TestNewSigner(t *testing.T) {
	tests := []struct {
		name    string
		key     []byte
		wantErr bool
	}{
		{"nil", nil, true},
		{"short", make([]byte, MinKeyLen-1), true},
		{"minimum", make([]byte, MinKeyLen), false},
		{"long", make([]byte, 64), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSigner(tt.key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewSigner(%d bytes) error = %v, want error %v", len(tt.key), err, tt.wantErr)
			}
		})
	}
}

func TestNewSignerCopiesKey(t *testing.T) {
	key := bytes.Clone(testKey)
	s := newTestSigner(t, key)
	tok := mustSign(t, s, testClaim)
	key[0] ^= 0xff
	if _, err := s.Verify(tok, testNow); err != nil {
		t.Fatalf("Verify after caller changed its key slice: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	s := newTestSigner(t, testKey)
	tests := []struct {
		name   string
		claims Claims
	}{
		{"approval by user", testClaim},
		{"approval by slack", func() Claims { c := testClaim; c.Approver = "slack:T0123ABCD"; return c }()},
		{"unsubscribe", Claims{
			OrgID: testClaim.OrgID, Approver: testClaim.Approver, Purpose: PurposeUnsubscribe,
			Topic: "cluster-approvals", Channel: "email", ExpiresAt: testNow.Add(30 * 24 * time.Hour),
		}},
		{"caller nonce kept", func() Claims { c := testClaim; c.Nonce = "caller-chosen-nonce"; return c }()},
		{"non-ASCII and HTML", func() Claims { c := testClaim; c.ClusterName = "<b>clüster</b>&\"'"; return c }()},
		{"expiry in other zone with nanos", func() Claims {
			c := testClaim
			c.ExpiresAt = time.Date(2026, 3, 15, 1, 2, 3, 999, time.FixedZone("X", 5*3600))
			return c
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := mustSign(t, s, tt.claims)
			got, err := s.Verify(tok, testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := tt.claims
			want.ExpiresAt = want.ExpiresAt.Truncate(time.Second).UTC()
			if want.Nonce == "" {
				want.Nonce = got.Nonce
			}
			if got != want {
				t.Fatalf("Verify claims\n got %+v\nwant %+v", got, want)
			}
			if got, err := s.VerifyFor(tt.claims.Purpose, tok, testNow); err != nil || got != want {
				t.Fatalf("VerifyFor(%q) = %+v, %v; want %+v", tt.claims.Purpose, got, err, want)
			}
		})
	}
}

func TestSignFillsRandomNonce(t *testing.T) {
	s := newTestSigner(t, testKey)
	seen := map[string]bool{}
	for range 20 {
		c, err := s.Verify(mustSign(t, s, testClaim), testNow)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(c.Nonce)
		if err != nil || len(raw) != 16 {
			t.Fatalf("nonce %q: %d bytes, %v; want 16 bytes of base64url", c.Nonce, len(raw), err)
		}
		if seen[c.Nonce] {
			t.Fatalf("nonce %q repeated", c.Nonce)
		}
		seen[c.Nonce] = true
	}
}

func TestSignDeterministicWithNonce(t *testing.T) {
	s := newTestSigner(t, testKey)
	c := testClaim
	c.Nonce = "fixed"
	if a, b := mustSign(t, s, c), mustSign(t, s, c); a != b {
		t.Fatalf("two signatures of the same claims differ:\n%s\n%s", a, b)
	}
}

func TestTokenShape(t *testing.T) {
	s := newTestSigner(t, testKey)
	c := testClaim
	c.Approver = "slack:" + strings.Repeat("I", 20)
	tok := mustSign(t, s, c)
	if len(tok) >= 600 {
		t.Errorf("token for typical claims is %d bytes, want < 600", len(tok))
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != "v1" {
		t.Fatalf("token %q is not v1.<payload>.<mac>", tok)
	}
	for _, p := range parts[1:] {
		if !isBase64URL(p) {
			t.Errorf("part %q is not unpadded base64url", p)
		}
	}
}

func TestSignRefuses(t *testing.T) {
	s := newTestSigner(t, testKey)
	tests := []struct {
		name   string
		modify func(*Claims)
	}{
		{"no purpose", func(c *Claims) { c.Purpose = "" }},
		{"unknown purpose", func(c *Claims) { c.Purpose = "admin" }},
		{"no expiry", func(c *Claims) { c.ExpiresAt = time.Time{} }},
		{"expiry at epoch", func(c *Claims) { c.ExpiresAt = time.Unix(0, 0) }},
		{"too long", func(c *Claims) { c.Topic = strings.Repeat("t", MaxTokenLen) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaim
			tt.modify(&c)
			if tok, err := s.Sign(c); !errors.Is(err, ErrInvalidClaims) {
				t.Fatalf("Sign = %q, %v; want ErrInvalidClaims", tok, err)
			}
		})
	}
}

// TestEveryAlterationRefused replaces each byte of a token with every other byte
// value: the result must never verify, and must not be mistaken for a genuine token
// that merely expired or has another purpose.
func TestEveryAlterationRefused(t *testing.T) {
	s := newTestSigner(t, testKey)
	tok := mustSign(t, s, testClaim)
	b := []byte(tok)
	for i := range b {
		orig := b[i]
		for v := range 256 {
			if byte(v) == orig {
				continue
			}
			b[i] = byte(v)
			_, err := s.Verify(string(b), testNow)
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("byte %d %q -> %q: Verify error = %v, want ErrBadSignature or ErrMalformed", i, orig, byte(v), err)
			}
		}
		b[i] = orig
	}
	// Payload and MAC alterations that keep the shape must be signature failures.
	payloadStart := len("v1.")
	macStart := strings.LastIndexByte(tok, '.') + 1
	for i := payloadStart; i < len(b); i++ {
		if i == macStart-1 {
			continue
		}
		orig := b[i]
		b[i] = otherBase64Char(orig)
		_, err := s.Verify(string(b), testNow)
		if i < macStart && !errors.Is(err, ErrBadSignature) {
			t.Fatalf("payload byte %d altered: Verify error = %v, want ErrBadSignature", i, err)
		}
		if err == nil {
			t.Fatalf("MAC byte %d altered: Verify accepted it", i)
		}
		b[i] = orig
	}
}

func otherBase64Char(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func TestTruncatedOrExtendedRefused(t *testing.T) {
	s := newTestSigner(t, testKey)
	tok := mustSign(t, s, testClaim)
	for i := range len(tok) {
		if _, err := s.Verify(tok[:i], testNow); err == nil {
			t.Fatalf("prefix of %d bytes verified", i)
		}
	}
	for _, suffix := range []string{"A", "=", "\n", ".", ".x", "%00"} {
		if _, err := s.Verify(tok+suffix, testNow); err == nil {
			t.Fatalf("token + %q verified", suffix)
		}
	}
	// The base64 decoder skips line breaks; the token parser must not.
	mid := len(tok) - 5
	if _, err := s.Verify(tok[:mid]+"\n"+tok[mid:], testNow); err == nil {
		t.Fatal("token with a line break in its MAC verified")
	}
}

func TestVerifyErrors(t *testing.T) {
	s := newTestSigner(t, testKey)
	other := newTestSigner(t, otherKey)
	good := mustSign(t, s, testClaim)
	unsubscribe := testClaim
	unsubscribe.Purpose = PurposeUnsubscribe
	unsubscribe.Topic, unsubscribe.Channel = "cluster-approvals", "email"

	tests := []struct {
		name       string
		token      string
		purpose    string // "" calls Verify, else VerifyFor
		now        time.Time
		want       error
		wantClaims bool // the genuine claims come back with the error
	}{
		{"another key", mustSign(t, other, testClaim), "", testNow, ErrBadSignature, false},
		{"expired", good, "", testClaim.ExpiresAt, ErrExpired, true},
		{"expired long ago", good, PurposeApproval, testNow.Add(365 * 24 * time.Hour), ErrExpired, true},
		{"valid until the last second", good, "", testClaim.ExpiresAt.Add(-time.Second), nil, true},
		{"unsubscribe token used to approve", mustSign(t, s, unsubscribe), PurposeApproval, testNow, ErrWrongPurpose, true},
		{"approval token used to unsubscribe", good, PurposeUnsubscribe, testNow, ErrWrongPurpose, true},
		{"wrong purpose beats expiry", good, PurposeUnsubscribe, testClaim.ExpiresAt, ErrWrongPurpose, true},
		{"unknown purpose asked", good, "admin", testNow, ErrWrongPurpose, false},
		{"empty", "", "", testNow, ErrMalformed, false},
		{"no dots", "v1abc", "", testNow, ErrMalformed, false},
		{"one dot", "v1.abc", "", testNow, ErrMalformed, false},
		{"three dots", good + ".x", "", testNow, ErrMalformed, false},
		{"only dots", "..", "", testNow, ErrMalformed, false},
		{"empty parts", "v1..", "", testNow, ErrMalformed, false},
		{"other version", "v2" + good[2:], "", testNow, ErrMalformed, false},
		{"padded base64", good + "=", "", testNow, ErrMalformed, false},
		{"standard base64 alphabet", "v1.a+b/.c+d/", "", testNow, ErrMalformed, false},
		{"short MAC", "v1.e30.AAAA", "", testNow, ErrMalformed, false},
		{"non-UTF-8", "v1.\xff\xfe.\x00", "", testNow, ErrMalformed, false},
		{"huge", "v1." + strings.Repeat("A", 10<<20) + ".AAAA", "", testNow, ErrMalformed, false},
		{"signed garbage JSON", signRaw(s, "not json"), "", testNow, ErrMalformed, false},
		{"signed JSON without nonce", signRaw(s, `{"p":"approval","e":9999999999}`), "", testNow, ErrMalformed, false},
		{"signed JSON with unknown purpose", signRaw(s, `{"p":"admin","n":"x","e":9999999999}`), "", testNow, ErrMalformed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Claims
			var err error
			if tt.purpose == "" {
				got, err = s.Verify(tt.token, tt.now)
			} else {
				got, err = s.VerifyFor(tt.purpose, tt.token, tt.now)
			}
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if tt.wantClaims && got.OperationID != testClaim.OperationID {
				t.Errorf("claims = %+v, want the token's claims", got)
			}
			if !tt.wantClaims && got != (Claims{}) {
				t.Errorf("claims = %+v, want none", got)
			}
		})
	}
}

// signRaw signs an arbitrary payload the way Sign would, to reach the checks that
// follow a valid MAC.
func signRaw(s *Signer, payload string) string {
	signed := "v1." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	return signed + "." + base64.RawURLEncoding.EncodeToString(s.mac(signed))
}

func TestMatches(t *testing.T) {
	tests := []struct {
		name           string
		orgID, cluster string
		want           error
	}{
		{"same", testClaim.OrgID, testClaim.ClusterName, nil},
		{"other org", "11111111-2222-3333-4444-555555555555", testClaim.ClusterName, ErrWrongOperation},
		{"other cluster", testClaim.OrgID, "payments-staging", ErrWrongOperation},
		{"cluster differs in case", testClaim.OrgID, strings.ToUpper(testClaim.ClusterName), ErrWrongOperation},
		{"both empty", "", "", ErrWrongOperation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := testClaim.Matches(tt.orgID, tt.cluster); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Matches(%q, %q) = %v, want %v", tt.orgID, tt.cluster, err, tt.want)
			}
		})
	}
	if err := (Claims{}).Matches("", ""); !errors.Is(err, ErrWrongOperation) {
		t.Fatalf("empty claims matched empty values: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	s := newTestSigner(f, testKey)
	c := testClaim
	c.Nonce = "seed-nonce"
	good := mustSign(f, s, c)
	expired := testClaim
	expired.ExpiresAt = testNow.Add(-time.Hour)
	for _, seed := range []string{
		good,
		mustSign(f, s, expired),
		mustSign(f, newTestSigner(f, otherKey), c),
		good[:len(good)/2],
		good + "A",
		"", ".", "..", "v1", "v1.", "v1..", "v1.e30.", "v1.e30.AAAA",
		"v1.\xff.\xff", "v2.abc.def", "v1.a=.b=", "v1.a\nb.c",
		signRaw(s, "{}"), signRaw(s, "null"), signRaw(s, `{"p":"approval","n":"x","e":-1}`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		got, err := s.Verify(token, testNow)
		switch {
		case err == nil, errors.Is(err, ErrExpired):
			// A genuine token: its claims must re-sign to exactly this token, or
			// the format would be malleable.
			if again, signErr := s.Sign(got); signErr != nil || again != token {
				t.Fatalf("accepted %q, but its claims sign to %q (%v)", token, again, signErr)
			}
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrBadSignature):
			if got != (Claims{}) {
				t.Fatalf("refused %q with %v but returned claims %+v", token, err, got)
			}
		default:
			t.Fatalf("Verify(%q): unexpected error %v", token, err)
		}
	})
}
