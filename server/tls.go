package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/parser"
)

// buildTLSConfig loads the files into a server configuration: TLS 1.2 at
// least, client certificates required and verified when asked for.
func buildTLSConfig(t *config.TLSOptions) (*tls.Config, error) {
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

// tlsRecordHandshake is the first byte of every TLS ClientHello.
const tlsRecordHandshake = 0x16

// tlsRequiredText answers a plaintext client on a TLS port, as the
// reference server does when a handshake never starts.
const tlsRequiredText = "Secure Connection - TLS Required"

// plaintextDrain bounds how long and how much of a plaintext client's
// request is read and dropped before closing, so the close does not reset
// the connection before the client has read the -ERR.
const (
	plaintextDrainTime  = 200 * time.Millisecond
	plaintextDrainBytes = 64 << 10
)

var errPlaintextOnTLS = errors.New("plaintext client on a TLS port")

// startTLS runs on the read loop before anything is parsed: it sends the
// plaintext INFO, waits for the client's handshake and switches the
// connection's reader and writer to the TLS session.
func (c *client) startTLS() error {
	// The writer goroutine has not started, so this flush is the only
	// writer; INFO tells the client TLS is required.
	if _, err := c.w.flush(&c.out); err != nil {
		return err
	}
	raw := c.conn
	deadline := time.Now().Add(c.srv.opts.TLS.Timeout)
	_ = raw.SetDeadline(deadline)
	var first [1]byte
	if _, err := io.ReadFull(raw, first[:]); err != nil {
		return err
	}
	if first[0] != tlsRecordHandshake {
		refusePlaintext(raw)
		return errPlaintextOnTLS
	}
	tc := tls.Server(&prefixConn{Conn: raw, prefix: first[:]}, c.srv.tlsConfig)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	_ = raw.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.sec.tlsState = &st
	c.rw = tc
	c.w.conn = tc
	return nil
}

// refusePlaintext tells a plaintext client why it is being dropped.
func refusePlaintext(raw net.Conn) {
	_ = raw.SetWriteDeadline(time.Now().Add(closeFlushDeadline))
	if _, err := raw.Write(parser.AppendErr(nil, tlsRequiredText)); err != nil {
		return
	}
	_ = raw.SetReadDeadline(time.Now().Add(plaintextDrainTime))
	_, _ = io.CopyN(io.Discard, raw, plaintextDrainBytes)
}

// tlsFailed ends a connection whose handshake did not complete.
func (c *client) tlsFailed(err error) {
	if c.closed.Load() { // shut down mid-handshake: not the client's fault
		return
	}
	c.srv.viol.tlsHandshakeFailed.Add(1)
	if c.srv.opts.Debug || errors.Is(err, errPlaintextOnTLS) {
		c.srv.log.Info("TLS handshake failed", "cid", c.cid,
			"remote", c.host, "error", err)
	}
	c.closeConnection(closeTLSHandshake, false)
}

// prefixConn replays bytes already read from the connection before reading
// more, so the TLS stack sees the ClientHello from its first byte.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
