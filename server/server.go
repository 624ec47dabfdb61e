// Package server owns midge's client-facing broker: the listener,
// connections and their read/write loops, CONNECT negotiation, fan-out of
// messages through the subject sublist into per-client outbound buffers,
// and the limits that protect the server (payload, control line, pending
// bytes, pings, write deadline). It speaks the NATS client protocol through
// the parser package and matches subjects through the sublist package.
package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"
	"go.uber.org/zap"

	"github.com/midgemq/midge/parser"
)

// Server is a running broker. Create it with New, then Start it.
type Server struct {
	// opts is the configuration the server started with. Fields that
	// Reload may change are read through getOpts.
	opts Options
	cur  atomic.Pointer[Options]
	log  *zap.Logger
	id   string
	name string
	gacc *Account // the global account, $G

	// Accounts by name ($G included) and how clients authenticate: built
	// in New, replaced whole by a Reload that changes users or accounts
	// (reload_auth.go). The TLS configuration (nil without TLS) is fixed.
	accounts  atomic.Pointer[map[string]*Account]
	auth      atomic.Pointer[authenticator]
	tlsConfig *tls.Config

	listener net.Listener
	started  time.Time

	ws    *wsServer   // nil without a websocket listener (websocket.go)
	mq    *mqttServer // nil without an MQTT listener (mqtt_server.go)
	proto protoCounters

	mu       sync.Mutex
	clients  map[uint64]*client
	stopping bool

	nextCID       atomic.Uint64
	slowConsumers atomic.Int64
	viol          violationCounters
	closedStats   clientStats // totals of connections already gone

	live     sync.WaitGroup // accept loop and every client's goroutines
	stopOnce sync.Once
	stopped  chan struct{}

	// serving is set once clients can connect and cleared when the server
	// stops accepting (lame duck mode, shutdown); /healthz reports it.
	serving atomic.Bool
	mon     monitor
	ldm     lameDuck
}

// Stats are cumulative server-wide counters.
type Stats struct {
	InMsgs, InBytes, OutMsgs, OutBytes int64 // messages and their header+payload bytes
	SlowConsumers                      int64
	StaleConnections                   int64
	AuthFailures                       int64
	Connections                        int
	TotalConnections                   uint64 // accepted since start
	Subscriptions                      int
	Violations                         Violations
}

// ErrServerStopped is returned by Start on a server that was shut down.
var ErrServerStopped = errors.New("server: already shut down")

// New validates opts and returns a server that is not yet listening.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	if opts.Port < RandomPort || opts.Port > 65535 {
		return nil, fmt.Errorf("server: invalid port %d", opts.Port)
	}
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	id := nuid.Next()
	name := opts.ServerName
	if name == "" {
		name = id
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		id:      id,
		name:    name,
		gacc:    newAccount(GlobalAccountName),
		clients: make(map[uint64]*client),
		stopped: make(chan struct{}),
	}
	if err := s.configureSecurity(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.cur.Store(&opts)
	s.mon.init(opts)
	if err := s.configureProtocols(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return s, nil
}

// Start listens on the configured address and begins accepting clients in
// the background. It fails if the address cannot be listened on.
// listenHost is the interface a secondary listener (monitoring, WebSocket,
// MQTT) binds: its own host when the configuration gives one, else the
// clients' host, so `listen: 127.0.0.1:4222` with `mqtt { port: 1883 }`
// keeps MQTT on loopback too.
func (s *Server) listenHost(own string) string {
	if own != "" {
		return own
	}
	return s.opts.Host
}

func (s *Server) Start() error {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		return ErrServerStopped
	}
	// Monitoring comes first so that /healthz answers (unavailable) while
	// streams are recovered.
	if err := s.startMonitoring(); err != nil {
		return err
	}
	if s.opts.JetStream {
		// Every account has its own JetStream namespace: its own store
		// directory and API subscriptions in its own subject space.
		for _, acc := range s.Accounts() {
			if _, err := s.enableJetStream(acc); err != nil {
				s.closeJetStream()
				return err
			}
		}
	}
	addr := net.JoinHostPort(s.opts.Host, strconv.Itoa(max(s.opts.Port, 0)))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.closeJetStream()
		s.stopMonitoring()
		return fmt.Errorf("cannot listen for clients on %s: %w", addr, err)
	}
	s.listener = ln
	s.started = time.Now()
	if err := s.startProtocols(); err != nil {
		_ = ln.Close()
		s.stopProtocols()
		s.closeJetStream()
		return err
	}
	fields := []zap.Field{
		zap.String("version", Version),
		zap.String("listen", ln.Addr().String()),
		zap.String("server_id", s.id),
		zap.String("server_name", s.name),
	}
	if s.opts.JetStream {
		fields = append(fields, zap.String("store_dir", s.opts.StoreDir), zap.String("sync", s.syncPolicyName()))
	}
	if a := s.MonitorAddr(); a != nil {
		fields = append(fields, zap.String("monitor", a.String()))
	}
	s.log.Info("midge started", fields...)
	for _, w := range s.opts.ConfigWarnings {
		s.log.Warn(w)
	}
	s.mon.started.Store(true)
	s.serving.Store(true)
	s.live.Add(1)
	go s.acceptLoop()
	if err := s.writePortsFile(); err != nil {
		s.log.Error("cannot write the ports file", zap.Error(err))
	}
	return nil
}

func (s *Server) syncPolicyName() string {
	if s.opts.SyncInterval <= 0 {
		return "always"
	}
	return s.opts.SyncInterval.String()
}

// Addr is the address clients connect to (useful with port 0).
func (s *Server) Addr() *net.TCPAddr {
	if s.listener == nil {
		return &net.TCPAddr{IP: net.ParseIP(s.opts.Host), Port: s.opts.Port}
	}
	return s.listener.Addr().(*net.TCPAddr)
}

// ClientURL is a nats:// URL for local clients; an unspecified listen
// address is reached through loopback.
func (s *Server) ClientURL() string {
	a := s.Addr()
	host := a.IP.String()
	if a.IP == nil || a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(a.Port))
}

// ID is the server's unique id, as sent in INFO.
func (s *Server) ID() string { return s.id }

// Name is the server's name, as sent in INFO.
func (s *Server) Name() string { return s.name }

// acceptBackoffMax caps the pause after accept errors such as running out
// of file descriptors, so the loop neither spins nor sleeps for long.
const acceptBackoffMax = time.Second

func (s *Server) acceptLoop() {
	defer s.live.Done()
	backoff := 5 * time.Millisecond
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			if s.isStopping() || s.ldm.active.Load() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				s.log.Warn("accept failed, backing off", zap.Error(err), zap.Duration("pause", backoff))
				time.Sleep(backoff)
				backoff = min(2*backoff, acceptBackoffMax)
				continue
			}
			s.log.Error("accept failed, no longer accepting clients", zap.Error(err))
			return
		}
		backoff = 5 * time.Millisecond
		s.accept(conn)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

func (s *Server) accept(conn net.Conn) { s.acceptAs(conn, kindNATS, nil) }

// acceptAs starts serving a NATS-protocol client of any transport; tlsState
// is the transport's own TLS (WebSocket over HTTPS), nil otherwise.
func (s *Server) acceptAs(conn net.Conn, kind connKind, tlsState *tls.ConnectionState) {
	cid := s.nextCID.Add(1)
	c := newClient(s, conn, cid)
	c.kind, c.sec.tlsState = kind, tlsState
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		_ = conn.Close()
		return
	}
	opts := s.getOpts()
	if len(s.clients) >= opts.MaxConnections {
		s.mu.Unlock()
		s.viol.maxConnections.Add(1)
		s.log.Warn("maximum connections reached, refusing client",
			zap.Int("max_connections", opts.MaxConnections), zap.String("remote", conn.RemoteAddr().String()))
		_ = conn.SetWriteDeadline(time.Now().Add(closeFlushDeadline))
		_, _ = conn.Write(parser.AppendErr(nil, "maximum connections exceeded"))
		_ = conn.Close()
		return
	}
	// Pinned under s.mu: a Reload swaps the authenticator under it too, so
	// a client either joins under the new one or is among those it checks.
	c.pinAuth(s.authn())
	s.clients[cid] = c
	s.mon.totalConns.Add(1)
	s.proto.accepted[kind].Add(1)
	s.live.Add(2) // read loop and writer
	s.mu.Unlock()
	if opts.Debug {
		s.log.Debug("client connected", zap.Uint64("cid", cid), zap.String("remote", conn.RemoteAddr().String()))
	}
	go func() {
		defer s.live.Done()
		c.run()
	}()
}

// clientGone is called by a client's writer as its last act: the client's
// counters are final and move into the server's totals in the same critical
// section that forgets the client, so Stats never sees them twice or not at
// all.
func (s *Server) clientGone(c *client) {
	closed := s.closedConnInfo(c)
	s.mu.Lock()
	delete(s.clients, c.cid)
	s.mon.closed.add(closed)
	s.closedStats.inMsgs.Add(c.stats.inMsgs.Load())
	s.closedStats.inBytes.Add(c.stats.inBytes.Load())
	s.closedStats.outMsgs.Add(c.stats.outMsgs.Load())
	s.closedStats.outBytes.Add(c.stats.outBytes.Load())
	s.proto.closed[c.kind].add(&c.stats)
	s.mu.Unlock()
	s.live.Done()
}

func (s *Server) closeJetStream() {
	for _, acc := range s.Accounts() {
		if acc.js != nil {
			acc.js.close()
			acc.js = nil
		}
	}
}

func (s *Server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

// Shutdown stops accepting, flushes what is queued for each client, closes
// every connection and waits (bounded) for their goroutines to end. It is
// safe to call more than once.
func (s *Server) Shutdown() {
	s.stopOnce.Do(func() {
		s.serving.Store(false)
		s.removePortsFile()
		s.mu.Lock()
		s.stopping = true
		clients := make([]*client, 0, len(s.clients))
		for _, c := range s.clients {
			clients = append(clients, c)
		}
		s.mu.Unlock()
		if s.listener != nil {
			_ = s.listener.Close()
		}
		s.stopProtocols()
		// Streams commit and acknowledge what they hold before the clients
		// waiting for those acks are closed (with a flush).
		s.closeJetStream()
		for _, c := range clients {
			c.closeConnection(closeServerShutdown, true)
		}
		s.closeMQTTConns()
		done := make(chan struct{})
		go func() { s.live.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * closeFlushDeadline):
			s.log.Warn("shutdown: some connections did not finish in time")
		}
		s.stopMonitoring()
		s.log.Info("midge stopped")
		close(s.stopped)
	})
}

// Stopped is closed once Shutdown has finished.
func (s *Server) Stopped() <-chan struct{} { return s.stopped }

// NumClients is the number of open client connections.
func (s *Server) NumClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// NumSubscriptions is the number of subscriptions in all accounts.
func (s *Server) NumSubscriptions() int {
	n := 0
	for _, a := range s.accountMap() {
		n += a.NumSubscriptions()
	}
	return n
}

// GlobalAccount is the account clients use when no other is assigned.
func (s *Server) GlobalAccount() *Account { return s.gacc }

// Stats returns the cumulative counters of all connections, open and gone.
func (s *Server) Stats() Stats {
	st := Stats{
		InMsgs:           s.closedStats.inMsgs.Load(),
		InBytes:          s.closedStats.inBytes.Load(),
		OutMsgs:          s.closedStats.outMsgs.Load(),
		OutBytes:         s.closedStats.outBytes.Load(),
		SlowConsumers:    s.slowConsumers.Load(),
		StaleConnections: s.viol.staleConnections.Load(),
		AuthFailures:     s.viol.authFailures.Load(),
		Violations:       s.viol.snapshot(),
		Subscriptions:    s.NumSubscriptions(),
	}
	s.mu.Lock()
	st.Connections = len(s.clients)
	st.TotalConnections = s.mon.totalConns.Load()
	for _, c := range s.clients {
		st.InMsgs += c.stats.inMsgs.Load()
		st.InBytes += c.stats.inBytes.Load()
		st.OutMsgs += c.stats.outMsgs.Load()
		st.OutBytes += c.stats.outBytes.Load()
	}
	s.mu.Unlock()
	return st
}
