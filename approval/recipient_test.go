package approval

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// An unsubscribe token names its recipient, under the signature: it round-trips, and
// a token re-signed for another recipient with another key is refused.
func TestUnsubscribeTokenCarriesItsRecipient(t *testing.T) {
	s, err := NewSigner([]byte(strings.Repeat("k", MinKeyLen)))
	if err != nil {
		t.Fatal(err)
	}
	c := Claims{OrgID: "org", Purpose: PurposeUnsubscribe, Topic: "cluster.deployed", Channel: "email",
		Recipient: "ops@example.com", ExpiresAt: time.Now().Add(time.Hour)}
	tok, err := s.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.VerifyFor(PurposeUnsubscribe, tok, time.Now())
	if err != nil || got.Recipient != "ops@example.com" {
		t.Fatalf("recipient %q, %v", got.Recipient, err)
	}
	other, _ := NewSigner([]byte(strings.Repeat("x", MinKeyLen)))
	c.Recipient = "attacker@example.com"
	forged, _ := other.Sign(c)
	if _, err := s.VerifyFor(PurposeUnsubscribe, forged, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged recipient: %v", err)
	}
}
