// Package server assembles midge into a process: it builds the broker from
// the options, opens the NATS client listener, starts the adapters around
// the broker (JetStream API, WebSocket, MQTT, monitoring), and owns the
// process-level life cycle: Start, Shutdown, Reload, lame duck mode and the
// ports file. It holds no protocol or storage logic of its own.
package server

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/cluster/jscluster"
	"github.com/midgemq/midge/cluster/route"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/jsapi"
	"github.com/midgemq/midge/logging"
	"github.com/midgemq/midge/monitor"
	"github.com/midgemq/midge/mqttgw"
	"github.com/midgemq/midge/websocket"
)

// Server is a running midge. Create it with New, then Start it.
type Server struct {
	broker *broker.Broker
	log    logging.Logger

	listener  net.Listener
	startedAt time.Time
	// started is set once Start has finished. Monitoring runs from before
	// (so /healthz can answer during recovery); until then it must not
	// read the listeners, the start time or JetStream accounts, which
	// Start is still writing.
	started atomic.Bool

	ws     *websocket.Listener // nil without a WebSocket listener
	mq     *mqttgw.Gateway     // nil without an MQTT listener
	kafka  *kafkaListener      // nil without a Kafka listener
	routes *route.Manager      // nil without clustering
	js     *jsapi.JetStream
	// storeLock keeps other processes out of the store directory while
	// JetStream runs; nil without JetStream.
	storeLock *jetstore.DirLock
	jsc       *jscluster.Cluster // nil unless JetStream runs in a cluster

	mu       sync.Mutex
	stopping bool

	live     sync.WaitGroup // the accept loop
	stopOnce sync.Once
	stopped  chan struct{}

	// serving is set once clients can connect and cleared when the server
	// stops accepting (lame duck mode, shutdown); /healthz reports it.
	serving  atomic.Bool
	lameDuck atomic.Bool
	mon      *monitor.Server
	prof     *monitor.Profiler // nil without prof_port
}

// ErrServerStopped is returned by Start on a server that was shut down.
var ErrServerStopped = errors.New("server: already shut down")

// New validates opts and returns a server that is not yet listening. It
// logs to log; nil means no logging.
func New(opts config.Options, log logging.Logger) (*Server, error) {
	opts.SetDefaults()
	if opts.Port < config.RandomPort || opts.Port > 65535 {
		return nil, fmt.Errorf("server: invalid port %d", opts.Port)
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	b, err := broker.New(opts, log)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s := &Server{
		broker:  b,
		log:     b.Logger(),
		stopped: make(chan struct{}),
	}
	if err := s.configureCluster(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.mon = monitor.New(s)
	s.js = jsapi.New(b, jsapi.Options{
		Dir:          filepath.Join(opts.StoreDir, "jetstream"),
		SyncInterval: opts.SyncInterval,
		BlockSize:    opts.StoreBlockSize,
		Observer:     s.mon.CommitObserver(),
		Account:      s.accountJetStream,
		Pool:         &jetstore.Pool{MaxMemory: opts.JetStreamMaxMemory, MaxFile: opts.JetStreamMaxFile},
		Domain:       opts.JetStreamDomain,
	})
	if err := s.configureJetStreamCluster(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := s.configureProtocols(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return s, nil
}

// Broker is the server's broker core.
func (s *Server) Broker() *broker.Broker { return s.broker }

// Options are the options in force; the broker holds them. Callers must
// not modify them.
func (s *Server) Options() *config.Options { return s.broker.Options() }

// Start listens on the configured address and begins accepting clients in
// the background. It fails if the address cannot be listened on.
func (s *Server) Start() error {
	if s.isStopping() {
		return ErrServerStopped
	}
	o := s.Options()
	// Monitoring comes first so that /healthz answers (unavailable) while
	// streams are recovered.
	if err := s.startMonitoring(); err != nil {
		return err
	}
	prof, err := monitor.StartProfiler(s.broker)
	if err != nil {
		s.stopMonitoring()
		return err
	}
	s.prof = prof
	if o.JetStream {
		if err := s.openJetStream(o.StoreDir); err != nil {
			s.stopMonitoring()
			return err
		}
	}
	addr := net.JoinHostPort(o.Host, strconv.Itoa(max(o.Port, 0)))
	ln, err := broker.Listen(o.Host, max(o.Port, 0))
	if err != nil {
		s.closeJetStream()
		s.stopMonitoring()
		return fmt.Errorf("cannot listen for clients on %s: %w", addr, err)
	}
	s.listener = ln
	s.startedAt = time.Now()
	if err := s.startProtocols(); err != nil {
		_ = ln.Close()
		s.stopProtocols()
		s.closeJetStream()
		s.stopMonitoring()
		return err
	}
	if err := s.startCluster(); err != nil {
		_ = ln.Close()
		s.stopProtocols()
		s.stopCluster()
		s.closeJetStream()
		s.stopMonitoring()
		return err
	}
	if err := s.startJetStreamCluster(); err != nil {
		_ = ln.Close()
		s.stopProtocols()
		s.stopJetStreamCluster()
		s.stopCluster()
		s.js.Close()
		s.closeKafka()
		s.stopMonitoring()
		return err
	}
	fields := []any{
		"version", broker.Version,
		"listen", ln.Addr().String(),
		"server_id", s.broker.ID(),
		"server_name", s.broker.Name(),
	}
	if o.JetStream {
		fields = append(fields, "store_dir", o.StoreDir, "sync", syncPolicyName(o))
	}
	if a := s.MonitorAddr(); a != nil {
		fields = append(fields, "monitor", a.String())
	}
	if a := s.ClusterAddr(); a != nil {
		fields = append(fields, "cluster", a.String())
	}
	if a := s.KafkaAddr(); a != nil {
		fields = append(fields, "kafka", a.String())
	}
	s.log.Info("midge started", fields...)
	for _, w := range o.ConfigWarnings {
		s.log.Warn(w)
	}
	s.started.Store(true)
	s.serving.Store(true)
	s.live.Add(1)
	go func() {
		defer s.live.Done()
		transport := broker.Transport{Kind: broker.KindNATS, Host: o.Host, Port: s.Addr().Port}
		broker.AcceptLoop(ln, s.log, s.stoppedAccepting, func(conn net.Conn) {
			s.broker.ServeConn(conn, transport)
		})
	}()
	if err := s.writePortsFile(); err != nil {
		s.log.Error("cannot write the ports file", "error", err)
	}
	return nil
}

func syncPolicyName(o *config.Options) string {
	if o.SyncInterval <= 0 {
		return "always"
	}
	return o.SyncInterval.String()
}

// stoppedAccepting tells the accept loops that a failing Accept is the
// listener being closed on purpose.
func (s *Server) stoppedAccepting() bool { return s.isStopping() || s.lameDuck.Load() }

// Addr is the address clients connect to (useful with port 0).
func (s *Server) Addr() *net.TCPAddr {
	if s.listener == nil {
		o := s.Options()
		return &net.TCPAddr{IP: net.ParseIP(o.Host), Port: o.Port}
	}
	return s.listener.Addr().(*net.TCPAddr)
}

// ClientURL is a nats:// URL for local clients; an unspecified listen
// address is reached through loopback.
func (s *Server) ClientURL() string {
	a := s.Addr()
	return "nats://" + net.JoinHostPort(loopbackIfUnspecified(a.IP), strconv.Itoa(a.Port))
}

// loopbackIfUnspecified is the host local clients use to reach a listener
// bound to ip.
func loopbackIfUnspecified(ip net.IP) string {
	if ip == nil || ip.IsUnspecified() {
		return "127.0.0.1"
	}
	return ip.String()
}

// ID is the server's unique id, as sent in INFO.
func (s *Server) ID() string { return s.broker.ID() }

// Name is the server's name, as sent in INFO.
func (s *Server) Name() string { return s.broker.Name() }

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
		s.mu.Unlock()
		if s.listener != nil {
			_ = s.listener.Close()
		}
		s.stopProtocols()
		s.stopJetStreamCluster()
		s.stopCluster()
		// Streams commit and acknowledge what they hold before the clients
		// waiting for those acks are closed (with a flush); Kafka clients
		// get their produce responses before their connections close.
		s.closeJetStream()
		s.broker.Shutdown()
		s.live.Wait()
		s.stopMonitoring()
		s.log.Info("midge stopped")
		close(s.stopped)
	})
}

// Stopped is closed once Shutdown has finished.
func (s *Server) Stopped() <-chan struct{} { return s.stopped }

// NumClients is the number of open NATS-protocol client connections.
func (s *Server) NumClients() int { return s.broker.NumClients() }

// NumSubscriptions is the number of subscriptions in all accounts.
func (s *Server) NumSubscriptions() int { return s.broker.NumSubscriptions() }

// GlobalAccount is the account clients use when no other is assigned.
func (s *Server) GlobalAccount() *broker.Account { return s.broker.GlobalAccount() }

// LookupAccount returns the account of that name ("$G" is the global one).
func (s *Server) LookupAccount(name string) (*broker.Account, bool) {
	return s.broker.LookupAccount(name)
}

// Accounts returns every account, sorted by name.
func (s *Server) Accounts() []*broker.Account { return s.broker.Accounts() }

// Stats returns the cumulative counters of all NATS-protocol connections.
func (s *Server) Stats() broker.Stats { return s.broker.Stats() }

// openJetStream takes the store directory's lock, then opens every
// account's store: a second process on the same directory stops here.
func (s *Server) openJetStream(dir string) error {
	lock, err := jetstore.LockDir(dir)
	if err != nil {
		return err
	}
	if err := s.js.EnableAll(); err != nil {
		_ = lock.Unlock()
		return err
	}
	s.storeLock = lock
	// Loading the stores read every index file whole and built the
	// in-memory indexes from it: garbage about the size of those indexes,
	// which the runtime would otherwise keep (and count towards its next
	// collection goal) for a long time. One full collection now returns it.
	debug.FreeOSMemory()
	return nil
}

// closeJetStream closes the stores (which commit and acknowledge what they
// hold), then the Kafka listener that writes into them, and then releases
// the store directory.
func (s *Server) closeJetStream() {
	s.js.Close()
	s.closeKafka()
	if s.storeLock != nil {
		_ = s.storeLock.Unlock()
		s.storeLock = nil
	}
}

// accountJetStream says whether an account has JetStream, with its limits,
// from the options in force (config.Options.JetStreamFor).
func (s *Server) accountJetStream(name string) (jetstore.Limits, bool) {
	return jetStreamLimits(s.Options(), name)
}

// jetStreamLimits turns an account's JetStream options into store limits.
func jetStreamLimits(o *config.Options, name string) (jetstore.Limits, bool) {
	js, ok := o.JetStreamFor(name)
	return jetstore.Limits{
		MaxMemory:            js.MaxMemory,
		MaxFile:              js.MaxStore,
		MaxStreams:           js.MaxStreams,
		MaxConsumers:         js.MaxConsumers,
		MaxAckPending:        js.MaxAckPending,
		MemoryMaxStreamBytes: js.MemoryMaxStreamBytes,
		FileMaxStreamBytes:   js.StoreMaxStreamBytes,
		MaxBytesRequired:     js.MaxBytesRequired,
	}, ok
}
