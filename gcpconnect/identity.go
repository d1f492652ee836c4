package gcpconnect

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// SubjectTokenLifetime is how long a subject token the platform signs is valid: long
// enough for one exchange.
const SubjectTokenLifetime = 10 * time.Minute

// Identity is the platform's GCP identity: an OIDC issuer name and the ES256 key it
// signs subject tokens with. Customers' providers trust its public keys (JWKS).
// Safe for concurrent use.
type Identity struct {
	issuer string
	key    *ecdsa.PrivateKey
	kid    string
	signer jose.Signer
}

// NewIdentity returns the identity of issuer signing with key (P-256).
func NewIdentity(issuer string, key *ecdsa.PrivateKey) (*Identity, error) {
	if issuer == "" || key == nil || key.Curve != elliptic.P256() {
		return nil, errors.New("gcp identity: an issuer and a P-256 key are required")
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pub)
	kid := hex.EncodeToString(sum[:8])
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return nil, err
	}
	return &Identity{issuer: issuer, key: key, kid: kid, signer: signer}, nil
}

// IdentityFromPEM reads a P-256 private key (PKCS #8 or SEC 1 PEM).
func IdentityFromPEM(issuer string, data []byte) (*Identity, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("gcp identity: no PEM block in the key")
	}
	var key crypto.PrivateKey
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("gcp identity: key: %w", err)
		}
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("gcp identity: the key is not an ECDSA key")
	}
	return NewIdentity(issuer, ec)
}

// IdentityFromSecret derives a P-256 key from secret (HKDF-SHA256 under a label of
// its own, so it reveals nothing of secret and no other use of secret yields it):
// every worker given the same secret signs with the same key, across restarts.
func IdentityFromSecret(issuer string, secret []byte) (*Identity, error) {
	if len(secret) < 32 {
		return nil, errors.New("gcp identity: the secret is shorter than 32 bytes")
	}
	for i := range 100 {
		raw, err := hkdf.Key(sha256.New, secret, nil, fmt.Sprintf("astroplane gcp platform identity v1 %d", i), 32)
		if err != nil {
			return nil, err
		}
		key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
		if err == nil {
			return NewIdentity(issuer, key)
		}
	}
	return nil, errors.New("gcp identity: no key derived")
}

// Issuer is the issuer URI tokens carry.
func (id *Identity) Issuer() string { return id.issuer }

// JWKS returns the public key set a provider is given (--jwk-json-path).
func (id *Identity) JWKS() []byte {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &id.key.PublicKey, KeyID: id.kid, Algorithm: "ES256", Use: "sig"}}}
	raw, _ := json.Marshal(set) // an ECDSA public key always marshals
	return raw
}

// SubjectToken signs the token the platform presents to STS for orgID: sub
// org:ORGID and claim org (which the provider's attribute condition requires),
// aud the provider's audience, valid for SubjectTokenLifetime from now.
func (id *Identity) SubjectToken(orgID, audience string, now time.Time) (string, error) {
	claims := jwt.Claims{Issuer: id.issuer, Subject: Subject(orgID), Audience: jwt.Audience{audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry: jwt.NewNumericDate(now.Add(SubjectTokenLifetime))}
	return jwt.Signed(id.signer).Claims(claims).Claims(map[string]any{"org": orgID}).Serialize()
}
