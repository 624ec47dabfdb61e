package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"

	"github.com/midgemq/midge/parser"
)

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
// connection's reader and writer to the TLS session (or, when non-TLS
// clients are allowed and the client starts in plaintext, carries on in
// plaintext).
func (c *client) startTLS() error {
	// The writer goroutine has not started, so this flush is the only
	// writer; INFO tells the client TLS is required.
	if _, err := c.w.flush(&c.out); err != nil {
		return err
	}
	raw := c.conn
	deadline := time.Now().Add(c.broker.Options().TLS.Timeout)
	_ = raw.SetDeadline(deadline)
	var first [1]byte
	if _, err := io.ReadFull(raw, first[:]); err != nil {
		return err
	}
	if first[0] != tlsRecordHandshake {
		if c.broker.Options().AllowNonTLS {
			// Mixed mode: the client chose plaintext; its first byte is
			// the start of its CONNECT.
			_ = raw.SetDeadline(time.Time{})
			c.rw = &prefixConn{Conn: raw, prefix: first[:]}
			return nil
		}
		refusePlaintext(raw)
		return errPlaintextOnTLS
	}
	tc := tls.Server(&prefixConn{Conn: raw, prefix: first[:]}, c.broker.tlsConfig)
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
func refusePlaintext(raw net.Conn) { writeAndDrain(raw, parser.AppendErr(nil, tlsRequiredText)) }

// writeAndDrain writes a last message to a connection about to be closed,
// then reads and drops what the client sends meanwhile (bounded in time and
// bytes): closing with unread input would reset the connection, and the
// client could lose the message before reading it.
func writeAndDrain(conn net.Conn, last []byte) {
	_ = conn.SetWriteDeadline(time.Now().Add(closeFlushDeadline))
	if _, err := conn.Write(last); err != nil {
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(plaintextDrainTime))
	_, _ = io.CopyN(io.Discard, conn, plaintextDrainBytes)
}

// tlsFailed ends a connection whose handshake did not complete.
func (c *client) tlsFailed(err error) {
	if c.closed.Load() { // shut down mid-handshake: not the client's fault
		return
	}
	c.broker.viol.tlsHandshakeFailed.Add(1)
	if c.broker.Options().Debug || errors.Is(err, errPlaintextOnTLS) {
		c.broker.log.Info("TLS handshake failed", "cid", c.cid,
			"remote", c.host, "error", err)
	}
	c.closeConnection(CloseTLSHandshake, false)
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
