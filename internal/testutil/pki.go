package testutil

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Test certificates are generated per test run; nothing secret is
// committed.

type Cert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

var certSerial atomic.Int64

// newTestCert makes a certificate from template, signed by parent (or
// self-signed when parent is nil).
func NewCert(t testing.TB, tmpl *x509.Certificate, parent *Cert) *Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(certSerial.Add(1))
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{cert: cert, key: key, der: der}
}

// PKI is a CA with a server certificate for 127.0.0.1 and localhost.
type PKI struct {
	CA, Server *Cert
	Pool       *x509.CertPool // holds CA
}

func NewPKI(t testing.TB) *PKI {
	t.Helper()
	ca := NewCert(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "midge test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	srv := NewCert(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "midge test server"},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &PKI{CA: ca, Server: srv, Pool: pool}
}

// clientCert issues a client certificate; subject and emails name it.
func (p *PKI) ClientCert(t testing.TB, subject pkix.Name, emails ...string) *Cert {
	t.Helper()
	return NewCert(t, &x509.Certificate{
		Subject:        subject,
		EmailAddresses: emails,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, p.CA)
}

func (c *Cert) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.der}, PrivateKey: c.key, Leaf: c.cert}
}

// writeFiles stores the certificate and key as PEM files in dir and
// returns their paths.
func (c *Cert) WriteFiles(t testing.TB, dir, name string) (certFile, keyFile string) {
	t.Helper()
	keyDER, err := x509.MarshalECPrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, name+"-cert.pem")
	keyFile = filepath.Join(dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", c.der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func writePEM(t testing.TB, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// serverTLS is the TLS configuration of a test server.
func (p *PKI) ServerTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Server.TLSCertificate()}}
}

// clientTLS is a client configuration trusting the test CA, presenting
// cert when it is not nil.
func (p *PKI) ClientTLS(cert *Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: p.Pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLSCertificate()}
	}
	return cfg
}
