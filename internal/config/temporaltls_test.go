package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// pki is a CA with a server certificate for temporal.internal and a client
// certificate, written as PEM files.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	serverCert                tls.Certificate
	pool                      *x509.CertPool
	otherCAFile               string
	caKey                     *ecdsa.PrivateKey
	ca                        *x509.Certificate
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.ca, p.caKey = selfSigned(t, "test CA")
	other, _ := selfSigned(t, "other CA")
	p.pool = x509.NewCertPool()
	p.pool.AddCert(p.ca)
	p.caFile, p.otherCAFile = p.write(t, "ca.crt", pemCert(p.ca)), p.write(t, "other.crt", pemCert(other))

	srvCert, srvKey := p.issue(t, "temporal.internal", x509.ExtKeyUsageServerAuth)
	p.serverCert = tls.Certificate{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey}
	cliCert, cliKey := p.issue(t, "astro-worker", x509.ExtKeyUsageClientAuth)
	p.certFile, p.keyFile = p.write(t, "tls.crt", pemCert(cliCert)), p.write(t, "tls.key", pemKey(t, cliKey))
	return p
}

func selfSigned(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func (p *pki) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func (p *pki) write(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// frontend is a gRPC server speaking Temporal's WorkflowService over mutual TLS; it
// records the client certificate and authorization header of each call.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu      sync.Mutex
	clients []string // client certificate common names
	auth    []string // authorization headers
}

func (f *frontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
			f.clients = append(f.clients, info.State.PeerCertificates[0].Subject.CommonName)
		}
	}
	md, _ := metadata.FromIncomingContext(ctx)
	f.auth = append(f.auth, md.Get("authorization")...)
	return &workflowservice.GetSystemInfoResponse{Capabilities: &workflowservice.GetSystemInfoResponse_Capabilities{}}, nil
}

func startFrontend(t *testing.T, p *pki) (*frontend, string) {
	t.Helper()
	creds := credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{p.serverCert}, ClientCAs: p.pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	srv := grpc.NewServer(grpc.Creds(creds))
	f := &frontend{}
	workflowservice.RegisterWorkflowServiceServer(srv, f)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f, ln.Addr().String()
}

// With the CA, the client certificate, the server name and an API key, the Temporal
// client dials the frontend over mutual TLS and sends the key on its calls.
func TestTemporalDialsOverMutualTLS(t *testing.T) {
	p := newPKI(t)
	f, addr := startFrontend(t, p)
	var c shared
	err := ParseEnviron(&c, map[string]string{
		"ASTRO_TEMPORAL_ADDRESS":         addr,
		"ASTRO_TEMPORAL_TLS_CA_FILE":     p.caFile,
		"ASTRO_TEMPORAL_TLS_CERT_FILE":   p.certFile,
		"ASTRO_TEMPORAL_TLS_KEY_FILE":    p.keyFile,
		"ASTRO_TEMPORAL_TLS_SERVER_NAME": "temporal.internal",
		"ASTRO_TEMPORAL_API_KEY":         "temporal-api-key-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tc, err := c.Temporal.Dial(ctx, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("dial over mutual TLS: %v", err)
	}
	tc.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.clients) == 0 || f.clients[0] != "astro-worker" {
		t.Errorf("the frontend saw client certificates %v, want astro-worker", f.clients)
	}
	if len(f.auth) == 0 || f.auth[0] != "Bearer temporal-api-key-1" {
		t.Errorf("the frontend saw authorization %v, want the API key as a bearer token", f.auth)
	}

	// The same frontend refuses a client without its certificate, and the client
	// refuses a frontend its CA did not sign.
	for name, environ := range map[string]map[string]string{
		"no client certificate": {"ASTRO_TEMPORAL_TLS_CA_FILE": p.caFile, "ASTRO_TEMPORAL_TLS_SERVER_NAME": "temporal.internal"},
		"another CA":            {"ASTRO_TEMPORAL_TLS_CA_FILE": p.otherCAFile, "ASTRO_TEMPORAL_TLS_CERT_FILE": p.certFile, "ASTRO_TEMPORAL_TLS_KEY_FILE": p.keyFile, "ASTRO_TEMPORAL_TLS_SERVER_NAME": "temporal.internal"},
		"plain gRPC":            {},
	} {
		t.Run(name, func(t *testing.T) {
			environ["ASTRO_TEMPORAL_ADDRESS"] = addr
			var c shared
			if err := ParseEnviron(&c, environ); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			if tc, err := c.Temporal.Dial(ctx, slog.New(slog.DiscardHandler)); err == nil {
				tc.Close()
				t.Fatalf("dialled the mutual-TLS frontend with %v", environ)
			}
		})
	}
}

// TLS is off unless asked for; any TLS setting turns it on; a half-configured or
// unreadable setting is refused at start, naming the variable.
func TestTemporalTLSSettings(t *testing.T) {
	p := newPKI(t)
	var off shared
	if err := ParseEnviron(&off, map[string]string{}); err != nil || off.Temporal.TLS.On() {
		t.Fatalf("default: TLS on=%v, %v; want off", off.Temporal.TLS.On(), err)
	}
	for _, environ := range []map[string]string{
		{"ASTRO_TEMPORAL_TLS": "true"}, {"ASTRO_TEMPORAL_API_KEY": "k"}, {"ASTRO_TEMPORAL_TLS_SERVER_NAME": "t.example"},
	} {
		var c shared
		if err := ParseEnviron(&c, environ); err != nil {
			t.Fatalf("%v: %v", environ, err)
		}
		cfg, err := c.Temporal.TLS.Config()
		if err != nil || cfg == nil || cfg.RootCAs != nil || cfg.MinVersion < tls.VersionTLS12 {
			t.Errorf("%v: TLS config %+v, %v; want TLS 1.2+ on the system's roots", environ, cfg, err)
		}
	}
	notPEM := p.write(t, "notpem", []byte("hello"))
	for _, tc := range []struct {
		environ map[string]string
		want    string
	}{
		{map[string]string{"ASTRO_TEMPORAL_TLS_CERT_FILE": p.certFile}, "ASTRO_TEMPORAL_TLS_KEY_FILE: "},
		{map[string]string{"ASTRO_TEMPORAL_TLS_KEY_FILE": p.keyFile}, "ASTRO_TEMPORAL_TLS_CERT_FILE: "},
		{map[string]string{"ASTRO_TEMPORAL_TLS_CA_FILE": filepath.Join(p.dir, "missing.crt")}, "ASTRO_TEMPORAL_TLS_CA_FILE: "},
		{map[string]string{"ASTRO_TEMPORAL_TLS_CA_FILE": notPEM}, "ASTRO_TEMPORAL_TLS_CA_FILE: "},
		{map[string]string{"ASTRO_TEMPORAL_TLS_CERT_FILE": p.certFile, "ASTRO_TEMPORAL_TLS_KEY_FILE": notPEM}, "ASTRO_TEMPORAL_TLS_CERT_FILE, ASTRO_TEMPORAL_TLS_KEY_FILE: "},
		{map[string]string{"ASTRO_TEMPORAL_TLS": "maybe"}, "ASTRO_TEMPORAL_TLS: "},
	} {
		var c shared
		err := ParseEnviron(&c, tc.environ)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %q", tc.environ, err, tc.want)
		}
	}
}
