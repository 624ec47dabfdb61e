package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
)

// The WebSocket listener carries the NATS client protocol in WebSocket
// messages, as nats.ws and nats.js in browsers speak it. An accepted
// WebSocket becomes a net.Conn and then an ordinary client: same parser,
// same accounts and sublists, so every subscription is shared with TCP
// clients. TLS, when configured, is the HTTPS of the upgrade (wss://); the
// NATS-level TLS upgrade of TCP clients does not apply.

// WebSocketOptions configure the WebSocket listener (nats-server's
// `websocket` block). Port 0 leaves it off; -1 picks a free port.
type WebSocketOptions struct {
	Host string
	Port int
	// NoTLS allows a listener without TLS; without it a certificate is
	// required, as in nats-server (credentials cross in the clear otherwise).
	NoTLS bool
	// Compression offers permessage-deflate to clients that ask for it.
	Compression bool
	// SameOrigin accepts browsers only from the page's own origin
	// (scheme, host and port of the request).
	SameOrigin bool
	// AllowedOrigins, when set, lists the origins browsers may come from,
	// as URLs ("https://app.example.com"). A request without an Origin
	// header (not from a browser) is always accepted.
	AllowedOrigins []string
	// HandshakeTimeout bounds the TLS handshake and the HTTP upgrade;
	// default 2 s.
	HandshakeTimeout time.Duration
	TLS              TLSOptions
}

func (o *WebSocketOptions) enabled() bool { return o.Port != 0 }

// DefaultWebSocketHandshakeTimeout bounds the upgrade request.
const DefaultWebSocketHandshakeTimeout = 2 * time.Second

// wsServer is the running WebSocket listener.
type wsServer struct {
	tlsConfig *tls.Config // nil without TLS
	origins   originPolicy
	ln        net.Listener
	http      *http.Server
}

// configureWebSocket checks the options and builds what New fixes: the TLS
// configuration and the origin policy.
func (s *Server) configureWebSocket() error {
	o := &s.opts.WebSocket
	if !o.enabled() {
		return nil
	}
	if o.Port < -1 || o.Port > 65535 {
		return fmt.Errorf("websocket: invalid port %d", o.Port)
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = DefaultWebSocketHandshakeTimeout
	}
	ws := &wsServer{}
	if o.TLS.enabled() {
		cfg, err := buildTLSConfig(&o.TLS)
		if err != nil {
			return fmt.Errorf("websocket: %w", err)
		}
		ws.tlsConfig = cfg
	} else if !o.NoTLS {
		return errors.New("websocket requires TLS configuration (a tls block, or no_tls: true)")
	}
	origins, err := newOriginPolicy(o.SameOrigin, o.AllowedOrigins)
	if err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	ws.origins = origins
	s.ws = ws
	return nil
}

// startWebSocket listens and serves upgrades in the background.
func (s *Server) startWebSocket() error {
	if s.ws == nil {
		return nil
	}
	o := &s.opts.WebSocket
	addr := net.JoinHostPort(s.listenHost(o.Host), strconv.Itoa(max(o.Port, 0)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen for websocket clients on %s: %w", addr, err)
	}
	scheme := "ws"
	if s.ws.tlsConfig != nil {
		ln = tls.NewListener(ln, s.ws.tlsConfig)
		scheme = "wss"
	}
	s.ws.ln = ln
	s.ws.http = &http.Server{
		Handler:           http.HandlerFunc(s.serveWebSocket),
		ReadHeaderTimeout: o.HandshakeTimeout,
		ErrorLog:          zap.NewStdLog(s.log.Named("websocket")),
	}
	s.log.Info("listening for websocket clients", zap.String("url", scheme+"://"+ln.Addr().String()))
	if scheme == "ws" {
		s.log.Warn("websocket listener without TLS: credentials and messages cross in the clear")
	}
	s.live.Add(1)
	go func() {
		defer s.live.Done()
		if err := s.ws.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && !s.isStopping() {
			s.log.Error("websocket listener stopped", zap.Error(err))
		}
	}()
	return nil
}

// stopWebSocket stops accepting upgrades; upgraded connections are clients
// and close with the others.
func (s *Server) stopWebSocket() {
	if s.ws != nil && s.ws.http != nil {
		_ = s.ws.http.Close()
	}
}

// WebSocketAddr is the address of the WebSocket listener, nil when off.
func (s *Server) WebSocketAddr() *net.TCPAddr {
	if s.ws == nil || s.ws.ln == nil {
		return nil
	}
	return s.ws.ln.Addr().(*net.TCPAddr)
}

// WebSocketURL is a ws:// (or wss://) URL for local clients, "" when off.
func (s *Server) WebSocketURL() string {
	a := s.WebSocketAddr()
	if a == nil {
		return ""
	}
	scheme := "ws"
	if s.ws.tlsConfig != nil {
		scheme = "wss"
	}
	return scheme + "://" + net.JoinHostPort(loopbackIfUnspecified(a.IP), strconv.Itoa(a.Port))
}

func loopbackIfUnspecified(ip net.IP) string {
	if ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return ip.String()
}

func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if err := s.ws.origins.check(r); err != nil {
		s.proto.wsOriginRefused.Add(1)
		s.log.Info("websocket upgrade refused", zap.String("remote", r.RemoteAddr),
			zap.String("origin", r.Header.Get("Origin")), zap.Error(err))
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	mode := websocket.CompressionDisabled
	if s.opts.WebSocket.Compression {
		mode = websocket.CompressionNoContextTakeover
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // origins were checked above, with nats-server's rules
		CompressionMode:    mode,
	})
	if err != nil {
		if s.opts.Debug {
			s.log.Debug("websocket upgrade failed", zap.String("remote", r.RemoteAddr), zap.Error(err))
		}
		return
	}
	// Messages are bounded by the NATS parser's limits, not by a
	// per-message size: frames are read as a stream.
	ws.SetReadLimit(-1)
	s.acceptAs(newWSConn(ws, r), kindWebSocket, r.TLS)
}

// wsConn presents a WebSocket as a net.Conn: reads return the bytes of
// binary and text messages alike, each write is one binary message.
type wsConn struct {
	ws            *websocket.Conn
	ctx           context.Context
	cancel        context.CancelFunc
	local, remote net.Addr

	reader io.Reader // the message being read; read loop only

	mu            sync.Mutex
	readDeadline  time.Time
	writeDeadline time.Time
	closeOnce     sync.Once
}

func newWSConn(ws *websocket.Conn, r *http.Request) *wsConn {
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
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
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
	if err := c.ws.Write(ctx, websocket.MessageBinary, p); err != nil {
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
			_ = c.ws.Close(websocket.StatusNormalClosure, "")
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

// originPolicy is nats-server's origin check: with same_origin the Origin
// must match the request's own scheme, host and port; with allowed_origins
// it must be one of them; a request without Origin is not from a browser
// and is accepted.
type originPolicy struct {
	same    bool
	allowed []origin
}

type origin struct{ scheme, host, port string }

func newOriginPolicy(same bool, allowed []string) (originPolicy, error) {
	p := originPolicy{same: same}
	for _, a := range allowed {
		o, err := parseOrigin(a)
		if err != nil {
			return p, fmt.Errorf("allowed origin %q: %w", a, err)
		}
		p.allowed = append(p.allowed, o)
	}
	return p, nil
}

func parseOrigin(s string) (origin, error) {
	u, err := url.ParseRequestURI(s)
	if err != nil {
		return origin{}, err
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return origin{}, errors.New("an origin is an http or https URL")
	}
	if u.Host == "" {
		return origin{}, errors.New("an origin needs a host")
	}
	host, port, err := hostPortDefault(u.Host, scheme == "https")
	return origin{scheme, host, port}, err
}

// hostPortDefault splits host:port, filling the scheme's default port.
func hostPortDefault(hostport string, https bool) (string, string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		var ae *net.AddrError
		if !errors.As(err, &ae) || !strings.Contains(ae.Err, "missing port") {
			return "", "", err
		}
		host, port = hostport, "80"
		if https {
			port = "443"
		}
	}
	return strings.ToLower(host), port, nil
}

func (p originPolicy) check(r *http.Request) error {
	if !p.same && len(p.allowed) == 0 {
		return nil
	}
	h := r.Header.Get("Origin")
	if h == "" {
		h = r.Header.Get("Sec-WebSocket-Origin")
	}
	if h == "" {
		return nil
	}
	o, err := parseOrigin(h)
	if err != nil {
		return err
	}
	if p.same {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		host, port, err := hostPortDefault(r.Host, r.TLS != nil)
		if err != nil {
			return err
		}
		if o != (origin{scheme, host, port}) {
			return errors.New("not the same origin")
		}
	}
	if len(p.allowed) > 0 {
		for _, a := range p.allowed {
			if a == o {
				return nil
			}
		}
		return errors.New("origin not in allowed_origins")
	}
	return nil
}
