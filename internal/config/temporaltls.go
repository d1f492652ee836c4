package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"
)

// TemporalTLS is how both processes reach a Temporal frontend that speaks TLS: a
// self-hosted cluster with its own CA and mutual TLS, or Temporal Cloud with an API
// key or a client certificate. Off by default (a dev server or a cluster-local
// frontend in plain gRPC).
type TemporalTLS struct {
	// Enabled turns TLS on with the system's roots; any of the settings below turns
	// it on too.
	Enabled bool `env:"ASTRO_TEMPORAL_TLS" envDefault:"false"`
	// CAFile is a PEM bundle of the CAs the frontend's certificate chains to
	// (default: the system's roots).
	CAFile string `env:"ASTRO_TEMPORAL_TLS_CA_FILE"`
	// CertFile and KeyFile are the client certificate and key for mutual TLS (PEM),
	// read again at each connection, so a renewed certificate is used without a
	// restart.
	CertFile string `env:"ASTRO_TEMPORAL_TLS_CERT_FILE"`
	KeyFile  string `env:"ASTRO_TEMPORAL_TLS_KEY_FILE"`
	// ServerName is the name the frontend's certificate must carry, when it is not
	// the host of ASTRO_TEMPORAL_ADDRESS.
	ServerName string `env:"ASTRO_TEMPORAL_TLS_SERVER_NAME"`
	// APIKey is sent as a bearer token on every call (Temporal Cloud); it implies TLS.
	APIKey string `env:"ASTRO_TEMPORAL_API_KEY"`
}

// On reports whether the connection to Temporal uses TLS.
func (t TemporalTLS) On() bool {
	return t.Enabled || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || t.APIKey != ""
}

// Validate reports a client certificate without its key (or the reverse), and files
// that cannot be read or hold no certificate or key.
func (t TemporalTLS) Validate() error {
	_, err := t.Config()
	return err
}

// Config returns the TLS configuration of the connection to Temporal, or nil when
// TLS is off. It reads the CA bundle now and checks the client key pair loads.
func (t TemporalTLS) Config() (*tls.Config, error) {
	if !t.On() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	var errs []error
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("ASTRO_TEMPORAL_TLS_CA_FILE: %w", err))
		case !pool.AppendCertsFromPEM(pem):
			errs = append(errs, fmt.Errorf("ASTRO_TEMPORAL_TLS_CA_FILE: %s holds no PEM certificate", t.CAFile))
		default:
			cfg.RootCAs = pool
		}
	}
	switch {
	case t.CertFile == "" && t.KeyFile == "":
	case t.CertFile == "":
		errs = append(errs, errors.New("ASTRO_TEMPORAL_TLS_CERT_FILE: empty, but ASTRO_TEMPORAL_TLS_KEY_FILE is set: mutual TLS needs both"))
	case t.KeyFile == "":
		errs = append(errs, errors.New("ASTRO_TEMPORAL_TLS_KEY_FILE: empty, but ASTRO_TEMPORAL_TLS_CERT_FILE is set: mutual TLS needs both"))
	default:
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			// The error names files and what is wrong with them, never key material.
			errs = append(errs, fmt.Errorf("ASTRO_TEMPORAL_TLS_CERT_FILE, ASTRO_TEMPORAL_TLS_KEY_FILE: %w", err))
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("load the Temporal client certificate: %w", err)
			}
			return &c, nil
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

// apply sets TLS and the API key on a Temporal client's options.
func (t TemporalTLS) apply(opts *client.Options) error {
	cfg, err := t.Config()
	if err != nil {
		return err
	}
	opts.ConnectionOptions.TLS = cfg
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	return nil
}
