// Package websocket is the WebSocket listener: it carries the NATS client
// protocol in WebSocket messages, as nats.ws and nats.js in browsers speak
// it. An accepted WebSocket becomes a net.Conn and then an ordinary broker
// client (same parser, same accounts and sublists), so every subscription
// is shared with TCP clients. TLS, when configured, is the HTTPS of the
// upgrade (wss://); the NATS-level TLS upgrade of TCP clients does not
// apply. It also serves a check page that browsers can load to see that
// they get through.
package websocket

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"

	cws "github.com/coder/websocket"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/logging"
)

// Listener is the WebSocket listener of one broker.
type Listener struct {
	broker    *broker.Broker
	log       logging.Logger
	opts      config.WebSocketOptions // fixed at New, with defaults filled in
	tlsConfig *tls.Config             // nil without TLS
	origins   originPolicy

	ln            atomic.Pointer[net.Listener] // set once listening
	http          *http.Server
	originRefused atomic.Int64
	done          chan struct{} // closed when the HTTP server's goroutine ends
}

// New checks the broker's WebSocket options and builds what they fix: the
// TLS configuration and the origin policy. It returns nil without error
// when no WebSocket port is configured.
func New(b *broker.Broker) (*Listener, error) {
	o := b.Options().WebSocket
	if !o.Enabled() {
		return nil, nil
	}
	if o.Port < -1 || o.Port > 65535 {
		return nil, fmt.Errorf("websocket: invalid port %d", o.Port)
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = config.DefaultWebSocketHandshakeTimeout
	}
	l := &Listener{broker: b, log: b.Logger(), opts: o}
	if o.TLS.Enabled() {
		cfg, err := o.TLS.ServerConfig()
		if err != nil {
			return nil, fmt.Errorf("websocket: %w", err)
		}
		l.tlsConfig = cfg
	} else if !o.NoTLS {
		return nil, errors.New("websocket requires TLS configuration (a tls block, or no_tls: true)")
	}
	origins, err := newOriginPolicy(o.SameOrigin, o.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("websocket: %w", err)
	}
	l.origins = origins
	return l, nil
}

// Start listens and serves upgrades in the background.
func (l *Listener) Start() error {
	addr := net.JoinHostPort(l.opts.Host, strconv.Itoa(max(l.opts.Port, 0)))
	ln, err := broker.Listen(l.opts.Host, max(l.opts.Port, 0))
	if err != nil {
		return fmt.Errorf("cannot listen for websocket clients on %s: %w", addr, err)
	}
	if l.tlsConfig != nil {
		ln = tls.NewListener(ln, l.tlsConfig)
	}
	l.http = &http.Server{
		Handler:           http.HandlerFunc(l.serveUpgrade),
		ReadHeaderTimeout: l.opts.HandshakeTimeout,
		ErrorLog:          logging.StdLog(l.log.With("listener", "websocket")),
	}
	l.ln.Store(&ln)
	l.log.Info("listening for websocket clients", "url", l.Scheme()+"://"+ln.Addr().String())
	if l.tlsConfig == nil {
		l.log.Warn("websocket listener without TLS: credentials and messages cross in the clear")
	}
	l.done = make(chan struct{})
	go func() {
		defer close(l.done)
		if err := l.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.log.Error("websocket listener stopped", "error", err)
		}
	}()
	return nil
}

// Close stops accepting upgrades; upgraded connections are broker clients
// and close with the others.
func (l *Listener) Close() {
	if l.http != nil {
		_ = l.http.Close()
		<-l.done
	}
}

// Addr is the address of the listener, nil until it listens.
func (l *Listener) Addr() *net.TCPAddr {
	ln := l.ln.Load()
	if ln == nil {
		return nil
	}
	return (*ln).Addr().(*net.TCPAddr)
}

// Scheme is ws, or wss with TLS.
func (l *Listener) Scheme() string {
	if l.tlsConfig != nil {
		return "wss"
	}
	return "ws"
}

// URL is a ws:// (or wss://) URL for local clients, "" until it listens.
func (l *Listener) URL() string {
	a := l.Addr()
	if a == nil {
		return ""
	}
	host := "127.0.0.1"
	if a.IP != nil && !a.IP.IsUnspecified() {
		host = a.IP.String()
	}
	return l.Scheme() + "://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// OriginRefused counts upgrades refused by the origin checks.
func (l *Listener) OriginRefused() int64 { return l.originRefused.Load() }

func (l *Listener) serveUpgrade(w http.ResponseWriter, r *http.Request) {
	if err := l.origins.check(r); err != nil {
		l.originRefused.Add(1)
		l.log.Info("websocket upgrade refused", "remote", r.RemoteAddr,
			"origin", r.Header.Get("Origin"), "error", err)
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	mode := cws.CompressionDisabled
	if l.opts.Compression {
		mode = cws.CompressionNoContextTakeover
	}
	ws, err := cws.Accept(w, r, &cws.AcceptOptions{
		InsecureSkipVerify: true, // origins were checked above, with nats-server's rules
		CompressionMode:    mode,
	})
	if err != nil {
		if l.broker.Options().Debug {
			l.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "error", err)
		}
		return
	}
	// Messages are bounded by the NATS parser's limits, not by a
	// per-message size: frames are read as a stream.
	ws.SetReadLimit(-1)
	port := l.Addr().Port
	l.broker.ServeConn(newWSConn(ws, r), broker.Transport{
		Kind:        broker.KindWebSocket,
		TLS:         r.TLS,
		Host:        l.opts.Host,
		Port:        port,
		TLSRequired: l.tlsConfig != nil,
		TLSVerify:   l.tlsConfig != nil && l.tlsConfig.ClientAuth != 0,
	})
}
