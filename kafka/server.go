package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Logger is the listener's view of logging; the server adapts its own.
type Logger interface {
	Debug(msg string, keysAndValues ...any)
	Info(msg string, keysAndValues ...any)
	Warn(msg string, keysAndValues ...any)
	Error(msg string, keysAndValues ...any)
}

type nopLogger struct{}

func (nopLogger) Debug(string, ...any) {}
func (nopLogger) Info(string, ...any)  {}
func (nopLogger) Warn(string, ...any)  {}
func (nopLogger) Error(string, ...any) {}

// Defaults for Config's zero values.
const (
	DefaultMaxRequestSize   = 100 << 20 // Kafka's socket.request.max.bytes
	DefaultPartitions       = 1
	DefaultMaxInflight      = 32
	DefaultWriteTimeout     = 10 * time.Second
	preAuthMaxRequestSize   = 64 << 10 // before SASL succeeds
	defaultClusterID        = "midge"
	defaultMaxSessionMillis = 5 * 60 * 1000
	defaultMinSessionMillis = 1000
)

// Config configures a Server.
type Config struct {
	// Listen is the "host:port" to accept on; port 0 picks a free port.
	Listen string
	// Listener, when set, is accepted on instead of listening on Listen
	// (the server opens its listeners all alike).
	Listener net.Listener
	// Advertise is the "host:port" given to clients in metadata. Empty
	// means the address each client connected to.
	Advertise string
	Logger    Logger
	// Backend serves clients that do not authenticate. With Authenticate
	// set and Backend nil, every client must authenticate with SASL PLAIN.
	Backend Backend
	// Anonymous, when set, replaces Backend: it is asked, for each new
	// connection, for the Backend of a client that does not authenticate,
	// nil when such a client must (so that a change of the server's users
	// applies to the next connections).
	Anonymous func() Backend
	// Authenticate checks a SASL PLAIN user and password and returns the
	// user's Backend (the same value for users of one account).
	Authenticate func(user, password string) (Backend, error)
	// AutoCreateTopics creates a topic with DefaultPartitions partitions
	// when a client asks for metadata of, or produces to, an unknown topic.
	AutoCreateTopics  bool
	DefaultPartitions int32
	// MaxRequestSize bounds a request frame (DefaultMaxRequestSize).
	MaxRequestSize int32
	// MaxInflight bounds the requests of one connection whose responses
	// are not written yet (DefaultMaxInflight).
	MaxInflight  int
	WriteTimeout time.Duration
	ClusterID    string
	// Now is the clock for group session timeouts (tests); default time.Now.
	Now func() time.Time
}

// Server is a Kafka wire-protocol listener in front of Backends.
type Server struct {
	cfg   Config
	log   Logger
	stats counters

	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	conns     map[*conn]struct{}
	accounts  map[Backend]*account
	closed    bool
	draining  atomic.Bool // StopAccepting: no new connection or request
	wg        sync.WaitGroup
	nextConn  atomic.Uint64
	advertise struct {
		host string
		port int32
	}
}

// account is the per-account state: consumer groups and idempotent
// producers.
type account struct {
	groups    *coordinator
	producers *producerTable
}

// NewServer checks a configuration and returns a Server to Start.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Backend == nil && cfg.Anonymous == nil && cfg.Authenticate == nil {
		return nil, errors.New("kafka: a Backend, an Anonymous or an Authenticate function is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = nopLogger{}
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = DefaultPartitions
	}
	if cfg.MaxRequestSize <= 0 {
		cfg.MaxRequestSize = DefaultMaxRequestSize
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.ClusterID == "" {
		cfg.ClusterID = defaultClusterID
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, conns: make(map[*conn]struct{}), accounts: make(map[Backend]*account)}
	if cfg.Advertise != "" {
		host, port, err := splitHostPort(cfg.Advertise)
		if err != nil {
			return nil, fmt.Errorf("kafka: advertise address: %w", err)
		}
		s.advertise.host, s.advertise.port = host, port
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func splitHostPort(addr string) (string, int32, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", p, err)
	}
	return host, int32(port), nil
}

// Start listens and serves in the background.
func (s *Server) Start() error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
			return fmt.Errorf("kafka: listening on %s: %w", s.cfg.Listen, err)
		}
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.log.Info("listening for Kafka clients", "address", ln.Addr().String())
	s.wg.Add(1)
	go s.acceptLoop(ln)
	return nil
}

// Addr is the listening address (nil before Start).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// StopAccepting begins a graceful stop: the listener closes and no
// connection reads another request. Requests already read are carried
// out and answered (a produce once its records are durable or refused),
// then each connection closes; Drain waits for that.
func (s *Server) StopAccepting() {
	s.mu.Lock()
	if s.closed || !s.draining.CompareAndSwap(false, true) {
		s.mu.Unlock()
		return
	}
	ln := s.ln
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		// Wakes a reader waiting for the next request; one busy with a
		// request finds the deadline on its next read.
		c.nc.SetReadDeadline(time.Now())
	}
}

// Drain waits, up to timeout, for the connections StopAccepting stopped
// reading to answer what they read and close. It reports whether they
// all did; Close ends the rest.
func (s *Server) Drain(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ln := s.ln
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.cancel()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	for _, c := range conns {
		c.nc.Close()
	}
	s.wg.Wait()
	// No connection is left to add an account now.
	s.mu.Lock()
	for _, a := range s.accounts {
		a.groups.stop()
	}
	s.mu.Unlock()
	return err
}

func (s *Server) acceptLoop(ln net.Listener) {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off, keep serving.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("accepting Kafka connection", "error", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closed || s.draining.Load() {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.stats.connections.Add(1)
		s.stats.totalConnections.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
			s.stats.connections.Add(-1)
		}()
	}
}

// anonymousBackend is the Backend of a client that has not
// authenticated, nil when it must.
func (s *Server) anonymousBackend() Backend {
	if s.cfg.Anonymous != nil {
		return s.cfg.Anonymous()
	}
	return s.cfg.Backend
}

// accountFor returns the state kept for a Backend's account, creating it
// on first use.
func (s *Server) accountFor(b Backend) *account {
	b = accountBackend(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[b]
	if a == nil {
		a = &account{groups: newCoordinator(s), producers: newProducerTable()}
		s.accounts[b] = a
	}
	return a
}

// advertised is the broker address given to a client on conn nc.
func (s *Server) advertised(nc net.Conn) (string, int32) {
	if s.advertise.host != "" {
		return s.advertise.host, s.advertise.port
	}
	if host, port, err := splitHostPort(nc.LocalAddr().String()); err == nil {
		return host, port
	}
	return "127.0.0.1", 9092
}
