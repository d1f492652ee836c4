package approval

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Token purposes. A token signed for one purpose is refused by [Signer.VerifyFor]
// for any other.
const (
	PurposeApproval    = "approval"
	PurposeUnsubscribe = "unsubscribe"
)

// MinKeyLen is the shortest HMAC key [NewSigner] accepts, in bytes.
const MinKeyLen = 32

// MaxTokenLen bounds a token's length in bytes. [Signer.Sign] never produces a longer
// one and [Signer.Verify] refuses longer input before doing any work.
const MaxTokenLen = 2048

// tokenVersion prefixes every token; it is covered by the MAC.
const tokenVersion = "v1"

// nonceBytes is the nonce's entropy: 128 bits.
const nonceBytes = 16

// Verification errors. Check them with errors.Is; the returned errors wrap them with
// detail that is safe to log (it never echoes the token).
var (
	// ErrMalformed means the input is not a token at all: empty, too long, wrong
	// version, wrong shape, bad base64 or bad JSON.
	ErrMalformed = errors.New("malformed token")
	// ErrBadSignature means the token was altered or signed with another key.
	ErrBadSignature = errors.New("bad token signature")
	// ErrExpired means the token is genuine but past its expiry; the claims are
	// returned with it so the caller can audit which operation it was for.
	ErrExpired = errors.New("token expired")
	// ErrWrongPurpose means a genuine token was used for another purpose (an
	// unsubscribe token presented as an approval, or the reverse); the claims are
	// returned with it.
	ErrWrongPurpose = errors.New("token has the wrong purpose")
	// ErrWrongOperation means a genuine token was presented for another
	// organization or cluster than the one it was issued for.
	ErrWrongOperation = errors.New("token is for another operation")
	// ErrInvalidClaims means [Signer.Sign] was given claims it will not sign.
	ErrInvalidClaims = errors.New("invalid claims")
)

// Claims is what a token says. Every field is covered by the signature.
type Claims struct {
	OrgID       string
	ClusterName string
	ClusterID   string
	OperationID string
	// Approver is who the link was sent to: a user ID, or "slack:<integration id>".
	Approver string
	// Purpose is PurposeApproval or PurposeUnsubscribe.
	Purpose string
	// Topic and Channel say what an unsubscribe token unsubscribes from.
	Topic   string
	Channel string
	// Recipient is who an unsubscribe token was sent to (an email address): the link
	// unsubscribes that recipient only, never the organization's whole channel.
	Recipient string
	// Nonce is 128 random bits, base64url-encoded; Sign fills it when empty. The
	// caller's store enforces single use by recording it.
	Nonce string
	// ExpiresAt is kept to the second (Sign truncates it) and returned in UTC.
	ExpiresAt time.Time
}

// Matches returns ErrWrongOperation unless the claims are for orgID's cluster
// clusterName. An approval link carries both beside the token; a mismatch means the
// link was tampered with or a token is being replayed against another cluster.
// Empty values never match.
func (c Claims) Matches(orgID, clusterName string) error {
	if orgID == "" || clusterName == "" || c.OrgID != orgID || c.ClusterName != clusterName {
		return ErrWrongOperation
	}
	return nil
}

// wireClaims is the signed JSON payload: short keys keep links short.
type wireClaims struct {
	OrgID       string `json:"o,omitempty"`
	ClusterName string `json:"cn,omitempty"`
	ClusterID   string `json:"ci,omitempty"`
	OperationID string `json:"op,omitempty"`
	Approver    string `json:"a,omitempty"`
	Purpose     string `json:"p"`
	Topic       string `json:"t,omitempty"`
	Channel     string `json:"ch,omitempty"`
	Recipient   string `json:"r,omitempty"`
	Nonce       string `json:"n"`
	ExpiresAt   int64  `json:"e"` // Unix seconds
}

// Signer signs and verifies tokens with one HMAC-SHA256 key. It is safe for
// concurrent use.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer using a copy of key, which must be at least MinKeyLen
// bytes of secret random data.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("approval key has %d bytes, need at least %d", len(key), MinKeyLen)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

// Sign returns a compact URL-safe token "v1.<base64url(json)>.<base64url(mac)>" for
// c, filling c.Nonce with 128 random bits when it is empty. The claims must have a
// known Purpose and an ExpiresAt after 1970; otherwise the error wraps
// ErrInvalidClaims. Sign is deterministic once the nonce is set.
func (s *Signer) Sign(c Claims) (string, error) {
	if !knownPurpose(c.Purpose) {
		return "", fmt.Errorf("sign purpose %q: %w", c.Purpose, ErrInvalidClaims)
	}
	if c.ExpiresAt.Unix() <= 0 {
		return "", fmt.Errorf("sign without expiry: %w", ErrInvalidClaims)
	}
	if c.Nonce == "" {
		b := make([]byte, nonceBytes)
		_, _ = rand.Read(b) // never fails; crashes the program if it could
		c.Nonce = base64.RawURLEncoding.EncodeToString(b)
	}
	payload, err := json.Marshal(wireClaims{
		OrgID:       c.OrgID,
		ClusterName: c.ClusterName,
		ClusterID:   c.ClusterID,
		OperationID: c.OperationID,
		Approver:    c.Approver,
		Purpose:     c.Purpose,
		Topic:       c.Topic,
		Channel:     c.Channel,
		Recipient:   c.Recipient,
		Nonce:       c.Nonce,
		ExpiresAt:   c.ExpiresAt.Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	signed := tokenVersion + "." + base64.RawURLEncoding.EncodeToString(payload)
	token := signed + "." + base64.RawURLEncoding.EncodeToString(s.mac(signed))
	if len(token) > MaxTokenLen {
		return "", fmt.Errorf("token of %d bytes exceeds %d: %w", len(token), MaxTokenLen, ErrInvalidClaims)
	}
	return token, nil
}

// Verify checks token's shape, signature and expiry at now, and returns its claims.
// It does not check the purpose: callers acting on a token want [Signer.VerifyFor].
//
// Errors wrap ErrMalformed or ErrBadSignature (with zero Claims), or ErrExpired
// (with the genuine claims, for auditing).
func (s *Signer) Verify(token string, now time.Time) (Claims, error) {
	return s.verify(token, "", now)
}

// VerifyFor is Verify that also requires the token to have been signed for purpose.
// A genuine token for another purpose returns its claims and an error wrapping
// ErrWrongPurpose; that check comes before expiry.
func (s *Signer) VerifyFor(purpose, token string, now time.Time) (Claims, error) {
	if !knownPurpose(purpose) {
		return Claims{}, fmt.Errorf("verify for purpose %q: %w", purpose, ErrWrongPurpose)
	}
	return s.verify(token, purpose, now)
}

func (s *Signer) verify(token, purpose string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("empty: %w", ErrMalformed)
	}
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("longer than %d bytes: %w", MaxTokenLen, ErrMalformed)
	}
	version, rest, ok := strings.Cut(token, ".")
	if !ok || version != tokenVersion {
		return Claims{}, fmt.Errorf("unknown version: %w", ErrMalformed)
	}
	payloadB64, macB64, ok := strings.Cut(rest, ".")
	if !ok || !isBase64URL(payloadB64) || !isBase64URL(macB64) {
		return Claims{}, fmt.Errorf("not three base64url parts: %w", ErrMalformed)
	}
	// Strict decoding and the alphabet check above make the MAC's encoding canonical:
	// no other string decodes to the same MAC, so a token cannot be re-spelled.
	mac, err := base64.RawURLEncoding.Strict().DecodeString(macB64)
	if err != nil || len(mac) != sha256.Size {
		return Claims{}, fmt.Errorf("decode signature: %w", ErrMalformed)
	}
	// The MAC covers the version and the encoded payload exactly as received.
	if !hmac.Equal(mac, s.mac(token[:len(tokenVersion)+1+len(payloadB64)])) {
		return Claims{}, ErrBadSignature
	}

	// Below this line the payload is ours; failures are bugs or old formats.
	payload, err := base64.RawURLEncoding.Strict().DecodeString(payloadB64)
	if err != nil {
		return Claims{}, fmt.Errorf("decode payload: %w", ErrMalformed)
	}
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return Claims{}, fmt.Errorf("decode claims: %w", ErrMalformed)
	}
	if !knownPurpose(w.Purpose) || w.Nonce == "" || w.ExpiresAt <= 0 {
		return Claims{}, fmt.Errorf("incomplete claims: %w", ErrMalformed)
	}
	c := Claims{
		OrgID:       w.OrgID,
		ClusterName: w.ClusterName,
		ClusterID:   w.ClusterID,
		OperationID: w.OperationID,
		Approver:    w.Approver,
		Purpose:     w.Purpose,
		Topic:       w.Topic,
		Channel:     w.Channel,
		Recipient:   w.Recipient,
		Nonce:       w.Nonce,
		ExpiresAt:   time.Unix(w.ExpiresAt, 0).UTC(),
	}
	if purpose != "" && c.Purpose != purpose {
		return c, fmt.Errorf("%s token used for %s: %w", c.Purpose, purpose, ErrWrongPurpose)
	}
	if !now.Before(c.ExpiresAt) {
		return c, fmt.Errorf("at %s: %w", c.ExpiresAt.Format(time.RFC3339), ErrExpired)
	}
	return c, nil
}

func (s *Signer) mac(signed string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(signed))
	return h.Sum(nil)
}

func knownPurpose(p string) bool {
	return p == PurposeApproval || p == PurposeUnsubscribe
}

// isBase64URL reports whether s is non-empty and only uses the unpadded base64url
// alphabet. The decoder alone would skip CR and LF.
func isBase64URL(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
