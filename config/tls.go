package config

import (
	"crypto/tls"
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

func (t *TLSOptions) Enabled() bool {
	return t.Config != nil || t.CertFile != "" || t.KeyFile != ""
}
