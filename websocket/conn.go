package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	cws "github.com/coder/websocket"
)

// wsConn presents a WebSocket as a net.Conn: reads return the bytes of
// binary and text messages alike, each write is one binary message.
type wsConn struct {
	ws            *cws.Conn
	ctx           context.Context
	cancel        context.CancelFunc
	local, remote net.Addr

	reader io.Reader // the message being read; read loop only

	mu            sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
	closeOnce     sync.Once
}

func newWSConn(ws *cws.Conn, r *http.Request) *wsConn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &wsConn{ws: ws, ctx: ctx, cancel: cancel, remote: parseAddr(r.RemoteAddr)}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		c.local = a
	} else {
		c.local = &net.TCPAddr{}
	}
	return c
}

func parseAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return &net.TCPAddr{}
}

func (c *wsConn) deadlineCtx(d time.Time) (context.Context, context.CancelFunc) {
	if d.IsZero() {
		return c.ctx, func() {}
	}
	return context.WithDeadline(c.ctx, d)
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.reader == nil {
			c.mu.Lock()
			ctx, cancel := c.deadlineCtx(c.readDeadline)
			c.mu.Unlock()
			_, r, err := c.ws.Reader(ctx)
			cancel()
			if err != nil {
				return 0, wsReadError(err)
			}
			c.reader = r
		}
		n, err := c.reader.Read(p)
		if errors.Is(err, io.EOF) {
			c.reader = nil // end of this message; the stream goes on
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// wsReadError turns a normal close by the peer into io.EOF, like a TCP FIN.
func wsReadError(err error) error {
	switch cws.CloseStatus(err) {
	case cws.StatusNormalClosure, cws.StatusGoingAway:
		return io.EOF
	}
	return err
}

// errWSWriteTimeout is a write that missed its deadline; it is a timeout
// so that the client treats the peer as a slow consumer.
var errWSWriteTimeout = &net.OpError{Op: "write", Net: "websocket", Err: timeoutError{}}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	ctx, cancel := c.deadlineCtx(c.writeDeadline)
	c.mu.Unlock()
	defer cancel()
	if err := c.ws.Write(ctx, cws.MessageBinary, p); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, errWSWriteTimeout
		}
		return 0, err
	}
	return len(p), nil
}

// Close starts the closing handshake without waiting for the peer's answer
// (the library waits up to seconds for it); the read loop ends when it
// arrives or the connection drops.
func (c *wsConn) Close() error {
	c.closeOnce.Do(func() {
		go func() {
			_ = c.ws.Close(cws.StatusNormalClosure, "")
			c.cancel()
		}()
	})
	return nil
}

func (c *wsConn) LocalAddr() net.Addr  { return c.local }
func (c *wsConn) RemoteAddr() net.Addr { return c.remote }

func (c *wsConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline, c.writeDeadline = t, t
	c.mu.Unlock()
	return nil
}

func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	return nil
}

func (c *wsConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDeadline = t
	c.mu.Unlock()
	return nil
}
