package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// TLSOptions turn on TLS for client connections. As with the reference
// server, INFO goes out in plaintext and the client then starts the TLS
// handshake; every client must use TLS.
type TLSOptions struct {
	CertFile string // server certificate chain (PEM)
	KeyFile  string // its private key (PEM)
	CAFile   string // CAs that sign client certificates (PEM); system roots if empty
	Verify   bool   // require a valid client certificate
	// Map identifies the user by the client certificate (verify_and_map);
	// it implies Verify.
	Map bool
	// Timeout bounds the handshake; default 2 s.
	Timeout time.Duration
	// Config, when set, is used instead of the files (embedding, tests).
	// Its minimum version is raised to TLS 1.2 if lower.
	Config *tls.Config
}

// DefaultTLSTimeout bounds a client's TLS handshake.
const DefaultTLSTimeout = 2 * time.Second

// Enabled reports whether TLS is configured.
func (t *TLSOptions) Enabled() bool {
	return t.Config != nil || t.CertFile != "" || t.KeyFile != ""
}

// ServerConfig loads the files into a server configuration: TLS 1.2 at
// least, client certificates required and verified when asked for.
func (t *TLSOptions) ServerConfig() (*tls.Config, error) {
	var cfg *tls.Config
	if t.Config != nil {
		cfg = t.Config.Clone()
	} else {
		if t.CertFile == "" || t.KeyFile == "" {
			return nil, errors.New("TLS needs both a certificate and a key file")
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading TLS certificate: %w", err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %s holds no PEM certificate", t.CAFile)
		}
		cfg.ClientCAs = pool
	}
	if t.Verify || t.Map {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}
