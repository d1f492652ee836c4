package azureconnect

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AssertionLifetime is how long a token the platform signs for an exchange is valid.
const AssertionLifetime = 10 * time.Minute

// Identity is the platform's Azure identity: an OIDC issuer and the RSA key it signs
// tokens with (Microsoft Entra ID accepts RS256 only for federation). Customers'
// federated credentials trust the issuer, whose discovery document and keys
// (Discovery, JWKS) must be served at Issuer + "/.well-known/openid-configuration"
// and Issuer + "/jwks". Safe for concurrent use.
type Identity struct {
	issuer string
	key    *rsa.PrivateKey
	kid    string
	signer jose.Signer
}

// NewIdentity returns the identity of issuer (an https URL without a trailing slash)
// signing with key (at least 2048 bits).
func NewIdentity(issuer string, key *rsa.PrivateKey) (*Identity, error) {
	issuer = strings.TrimSuffix(issuer, "/")
	if issuer == "" || key == nil || key.N.BitLen() < 2048 {
		return nil, errors.New("azure identity: an issuer and an RSA key of 2048 bits or more are required")
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(pub)
	kid := hex.EncodeToString(sum[:8])
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		return nil, err
	}
	return &Identity{issuer: issuer, key: key, kid: kid, signer: signer}, nil
}

// IdentityFromPEM reads an RSA private key (PKCS #8 or PKCS #1 PEM).
func IdentityFromPEM(issuer string, data []byte) (*Identity, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("azure identity: no PEM block in the key")
	}
	var key crypto.PrivateKey
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if key, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return nil, fmt.Errorf("azure identity: key: %w", err)
		}
	}
	k, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New("azure identity: the key is not an RSA key")
	}
	return NewIdentity(issuer, k)
}

// EphemeralIdentity makes a fresh key: for development only, as federated
// credentials trusting it stop working when the process ends.
func EphemeralIdentity(issuer string) (*Identity, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return NewIdentity(issuer, key)
}

// Issuer is the issuer URL tokens carry.
func (id *Identity) Issuer() string { return id.issuer }

// JWKS returns the public key set served at the issuer's jwks_uri.
func (id *Identity) JWKS() []byte {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &id.key.PublicKey, KeyID: id.kid, Algorithm: "RS256", Use: "sig"}}}
	raw, _ := json.Marshal(set) // an RSA public key always marshals
	return raw
}

// Discovery returns the issuer's OpenID discovery document.
func (id *Identity) Discovery() []byte {
	raw, _ := json.Marshal(map[string]any{"issuer": id.issuer, "jwks_uri": id.issuer + "/jwks",
		"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}})
	return raw
}

// Assertion signs the token the platform presents for orgID: sub Subject(orgID), aud
// Audience, valid for AssertionLifetime from now, with a unique jti.
func (id *Identity) Assertion(orgID string, now time.Time) (string, error) {
	if orgID == "" {
		return "", errors.New("azure identity: no organization")
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := jwt.Claims{Issuer: id.issuer, Subject: Subject(orgID), Audience: jwt.Audience{Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry: jwt.NewNumericDate(now.Add(AssertionLifetime)), ID: hex.EncodeToString(jti)}
	return jwt.Signed(id.signer).Claims(claims).Serialize()
}
