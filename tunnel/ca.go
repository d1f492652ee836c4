// Package tunnel is the reverse tunnel between the control plane and the agents of
// registered clusters.
//
// An agent (cmd/agent) runs inside a cluster the platform did not create. It trades a
// one-time registration token for a client certificate (it sends a CSR: its private
// key never leaves it), then keeps one outbound WebSocket over TLS to the control
// plane's tunnel endpoint, authenticated by that certificate. Over the WebSocket, yamux
// multiplexes streams; the control plane opens them, the agent only answers: each
// stream carries one HTTP/1.1 connection that the agent forwards to its cluster's
// Kubernetes API with its own ServiceAccount. Streams the agent would open are closed
// at once, so an agent reaches nothing of the control plane beyond its tunnel.
//
// Each certificate names exactly one organization and one cluster (a URI SAN
// astro-agent://ORG/CLUSTER); on every connection the Registry checks the pair against
// the store. Server.RESTConfig(org, cluster) gives a client-go configuration whose Dial
// opens a stream in that agent's tunnel, looked up by both IDs, so a caller holding one
// organization's IDs can never reach another organization's agent.
package tunnel

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// URIScheme is the scheme of the URI SAN that names an agent's organization and cluster.
const URIScheme = "astro-agent"

// Identity is the organization and cluster an agent certificate is for.
type Identity struct {
	Org     string `json:"org"`
	Cluster string `json:"cluster"`
}

func (id Identity) String() string { return id.Org + "/" + id.Cluster }

// URI is the certificate's URI SAN for id.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: URIScheme, Host: id.Org, Path: "/" + id.Cluster}
}

// IdentityOf reads the identity of an agent certificate: exactly one astro-agent URI.
func IdentityOf(cert *x509.Certificate) (Identity, error) {
	var ids []Identity
	for _, u := range cert.URIs {
		if u.Scheme != URIScheme {
			continue
		}
		cluster := strings.TrimPrefix(u.Path, "/")
		if u.Host == "" || cluster == "" || strings.Contains(cluster, "/") {
			return Identity{}, fmt.Errorf("malformed agent identity %q", u.String())
		}
		ids = append(ids, Identity{Org: u.Host, Cluster: cluster})
	}
	if len(ids) != 1 {
		return Identity{}, fmt.Errorf("certificate names %d agent identities, want 1", len(ids))
	}
	return ids[0], nil
}

// CA issues agents' client certificates and the tunnel endpoint's serving certificate.
// Agents trust it (and nothing else) for the endpoint; the endpoint trusts it (and
// nothing else) for agents. The usages keep the two apart: an agent certificate is
// for client authentication only.
type CA struct {
	Cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

// NewCA makes a fresh CA (ECDSA P-256, ten years).
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Astro Plane agent tunnel CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return LoadCA(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// LoadCA reads a CA from its PEM certificate and PKCS#8 key.
func LoadCA(certPEM, keyPEM []byte) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("tunnel CA: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, err
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !cert.IsCA {
		return nil, errors.New("tunnel CA: not a CA certificate with a signing key")
	}
	return &CA{Cert: cert, key: signer, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})}, nil
}

// PEM is the CA certificate, which agents are given to trust the endpoint.
func (ca *CA) PEM() []byte { return ca.pem }

// KeyPEM is the CA's private key (PKCS#8), for keeping it sealed in the store.
func (ca *CA) KeyPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(ca.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// Pool is a pool holding only the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Issued is a certificate the CA signed for an agent.
type Issued struct {
	PEM      []byte
	Serial   string
	NotAfter time.Time
}

// SignAgent signs a PEM CSR for id: a client-authentication certificate valid for ttl,
// whose only identity is id's URI (whatever the CSR asks for). The CSR's signature
// proves the agent holds the key.
func (ca *CA) SignAgent(csrPEM []byte, id Identity, ttl time.Duration) (Issued, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return Issued{}, errors.New("csr: not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return Issued{}, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return Issued{}, fmt.Errorf("csr: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return Issued{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "astro-agent " + id.Cluster, Organization: []string{id.Org}},
		URIs:         []*url.URL{id.URI()},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(ttl),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, csr.PublicKey, ca.key)
	if err != nil {
		return Issued{}, err
	}
	return Issued{
		PEM:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Serial:   SerialString(serial),
		NotAfter: tmpl.NotAfter,
	}, nil
}

// ServerCertificate is a serving certificate for the tunnel endpoint's host names and
// addresses, valid for a year.
func (ca *CA) ServerCertificate(hosts ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := newSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Astro Plane agent tunnel"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der, ca.Cert.Raw}, PrivateKey: key}, nil
}

// SerialString is how serials are recorded: lower-case hex.
func SerialString(n *big.Int) string { return hex.EncodeToString(n.Bytes()) }

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// HashToken is how registration tokens are kept: their SHA-256, hex. The token itself
// is stored nowhere.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken is a fresh registration token (256 random bits, URL-safe).
func NewToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "astro-reg-" + hex.EncodeToString(b), nil
}
