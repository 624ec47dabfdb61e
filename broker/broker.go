// Package broker is midge's core: accounts and their subscriptions, the
// fan-out of a published message into the outbound queues of its receivers,
// the connection core every protocol's connections are built on (outbound
// buffers, the single writer, close and slow-consumer handling), the NATS
// client protocol handler, authentication and permissions.
//
// It knows no listener, no JetStream, MQTT, WebSocket or monitoring: those
// adapters hand it connections (ServeConn, NewConn/Register), subscribe and
// publish through Account and Publisher, and read its counters. Options
// come from package config; the options in force sit behind one atomic
// pointer (Options), which a reload swaps whole.
package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/logging"
	"github.com/midgemq/midge/parser"
)

// Broker holds the accounts and connections of one server.
type Broker struct {
	opts atomic.Pointer[config.Options]
	log  logging.Logger
	id   string
	name string
	gacc *Account // the global account, $G

	// Accounts by name ($G included) and how clients authenticate: built
	// in New, replaced whole by a reload that changes users or accounts
	// (reload_auth.go). The TLS configuration (nil without TLS) is fixed.
	accounts  atomic.Pointer[map[string]*Account]
	auth      atomic.Pointer[authenticator]
	tlsConfig *tls.Config

	// oneTime are subject prefixes whose subjects are unique per message
	// (reply inboxes, adapters' acknowledgement subjects): matched without
	// caching. Replaced whole by AddOneTimePrefix.
	oneTime atomic.Pointer[[][]byte]

	// observer learns of changes in local interest (ObserveInterest);
	// connectURLs are the cluster's client URLs INFO tells clients
	// (SetConnectURLs). Both nil without a cluster.
	observer    atomic.Pointer[InterestObserver]
	connectURLs atomic.Pointer[[]string]
	clusterName atomic.Pointer[string]

	mu       sync.Mutex
	conns    map[uint64]*Conn
	stopping bool

	nextCID       atomic.Uint64
	totalConns    atomic.Uint64
	slowConsumers atomic.Int64
	stalls        atomic.Int64  // producers held back by a slow destination
	traceSeq      atomic.Uint64 // message trace events sent
	viol          violationCounters
	kinds         kindCounters
	closedStats   connStats // totals of NATS-protocol connections already gone
	closedConns   closedRing
	lameDuck      atomic.Bool
	memRelease    memRelease     // after large teardowns (memrelease.go)
	outBudget     outboundBudget // all clients' outbound bytes (outbound_budget.go)

	live sync.WaitGroup // every connection's goroutines
}

// New validates opts (with their defaults filled in) and builds the
// accounts, the authenticator and the TLS configuration.
func New(opts config.Options, log logging.Logger) (*Broker, error) {
	opts.SetDefaults()
	id := nuid.Next()
	name := opts.ServerName
	if name == "" {
		name = id
	}
	b := &Broker{
		log:   logging.OrNop(log),
		id:    id,
		name:  name,
		conns: make(map[uint64]*Conn),
	}
	b.gacc = newAccount(GlobalAccountName, b)
	b.opts.Store(&opts)
	b.outBudget.opts = &b.opts
	b.closedConns.limit = opts.MaxClosedClients
	b.oneTime.Store(&[][]byte{inboxPrefix})
	if err := b.configureSecurity(); err != nil {
		return nil, err
	}
	return b, nil
}

// Options returns the options in force. Callers must not modify them.
func (b *Broker) Options() *config.Options { return b.opts.Load() }

// ID is the server's unique id, as sent in INFO.
func (b *Broker) ID() string { return b.id }

// Name is the server's name, as sent in INFO.
func (b *Broker) Name() string { return b.name }

// Logger is the broker's logger, for the adapters built around it.
func (b *Broker) Logger() logging.Logger { return b.log }

// AddOneTimePrefix registers a subject prefix whose subjects are unique per
// message by convention (an adapter's acknowledgement subjects, say): their
// matches are not cached, which would only churn the caches.
func (b *Broker) AddOneTimePrefix(prefix string) {
	for {
		old := b.oneTime.Load()
		next := append(append([][]byte(nil), *old...), []byte(prefix))
		if b.oneTime.CompareAndSwap(old, &next) {
			return
		}
	}
}

var inboxPrefix = []byte("_INBOX.")

// ErrStopping is returned by Register once the broker is shutting down.
var ErrStopping = errors.New("broker: shutting down")

// ErrMaxConnections is returned by Register at max_connections.
var ErrMaxConnections = errors.New("maximum connections exceeded")

// ServeConn serves a NATS-protocol connection (TCP or WebSocket) until it
// closes, on two goroutines of its own; it returns at once.
func (b *Broker) ServeConn(conn net.Conn, t Transport) {
	c := newClient(b, conn, t)
	if err := b.register(&c.Conn, func() { c.pinAuth(b.authn()) }); err != nil {
		b.refuse(conn, t.Kind, c.infoLine(), err)
		return
	}
	go func() {
		defer b.live.Done()
		c.run()
	}()
}

// Register admits a connection created by NewConn: it counts against
// max_connections and is closed at shutdown. On success the caller must
// start c.WriteLoop and its read loop on two goroutines, and call Release
// when its read loop returns.
func (b *Broker) Register(c *Conn) error {
	if err := b.register(c, nil); err != nil {
		return err
	}
	return nil
}

// Release marks the end of a registered connection's read loop.
func (b *Broker) Release() { b.live.Done() }

// register admits c under b.mu; pin runs in the same critical section (a
// reload swaps the authenticator under b.mu too, so a client either joins
// under the new one or is among those it checks).
func (b *Broker) register(c *Conn, pin func()) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopping {
		return ErrStopping
	}
	if c.kind != KindRoute && len(b.conns) >= b.Options().MaxConnections {
		b.viol.maxConnections.Add(1)
		return ErrMaxConnections
	}
	if pin != nil {
		pin()
	}
	b.conns[c.cid] = c
	if c.kind.speaksNATS() {
		b.totalConns.Add(1)
	}
	b.kinds.accepted[c.kind].Add(1)
	b.live.Add(2) // read loop and writer
	if b.Options().Debug {
		b.log.Debug("client connected", "cid", c.cid, "kind", c.kind, "remote", c.conn.RemoteAddr().String())
	}
	return nil
}

// refuse closes a NATS-protocol connection that was not admitted. At
// max_connections it first gets its INFO, as every client expects a
// server's first line to be, then the error.
func (b *Broker) refuse(conn net.Conn, kind Kind, info []byte, err error) {
	if !errors.Is(err, ErrMaxConnections) {
		_ = conn.Close()
		return
	}
	b.log.Warn("maximum connections reached, refusing client", "kind", kind,
		"max_connections", b.Options().MaxConnections, "remote", conn.RemoteAddr().String())
	// Off the accept loop: the drain takes a moment, and a flood of
	// refused clients must not slow the accepting of others.
	go func() {
		writeAndDrain(conn, parser.AppendErr(info, "maximum connections exceeded"))
		_ = conn.Close()
	}()
}

// connGone is called by a connection's writer as its last act: its counters
// are final and move into the totals in the same critical section that
// forgets it, so Stats never sees them twice or not at all.
func (b *Broker) connGone(c *Conn) {
	var closed *ConnInfo
	subs := 0
	if c.nats != nil {
		closed, subs = b.closedConnInfo(c.nats)
	}
	b.mu.Lock()
	delete(b.conns, c.cid)
	b.closedConns.add(closed)
	if c.kind.speaksNATS() {
		b.closedStats.add(&c.stats)
	}
	b.kinds.closed[c.kind].add(&c.stats)
	b.mu.Unlock()
	b.afterTeardown(subs)
	b.live.Done()
}

// Shutdown stops admitting connections, closes every one (flushing what is
// queued) and waits, at most twice the close-flush deadline, for their
// goroutines to end. It reports whether they all ended in time.
func (b *Broker) Shutdown() bool {
	b.mu.Lock()
	b.stopping = true
	conns := make([]*Conn, 0, len(b.conns))
	for _, c := range b.conns {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	for _, c := range conns {
		c.closeAny(CloseServerShutdown, true)
	}
	done := make(chan struct{})
	go func() { b.live.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(2 * closeFlushDeadline):
		b.log.Warn("shutdown: some connections did not finish in time")
		return false
	}
}

// closeAny closes a connection through its protocol handler.
func (c *Conn) closeAny(reason CloseReason, flush bool) {
	if c.nats != nil {
		c.nats.closeConnection(reason, flush)
		return
	}
	c.Close(reason, flush)
}

// natsClients returns the open NATS-protocol clients.
func (b *Broker) natsClients() []*client {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*client, 0, len(b.conns))
	for _, c := range b.conns {
		if c.nats != nil {
			out = append(out, c.nats)
		}
	}
	return out
}

// NumClients is the number of open NATS-protocol connections.
func (b *Broker) NumClients() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.conns {
		if c.nats != nil {
			n++
		}
	}
	return n
}

// NumClientsIn is the number of open NATS-protocol connections in acc.
func (b *Broker) NumClientsIn(acc *Account) int {
	n := 0
	for _, c := range b.natsClients() {
		if c.account() == acc {
			n++
		}
	}
	return n
}

// NumSubscriptions is the number of subscriptions in all accounts.
func (b *Broker) NumSubscriptions() int {
	n := 0
	for _, a := range b.accountMap() {
		n += a.NumSubscriptions()
	}
	return n
}

// GlobalAccount is the account clients use when no other is assigned.
func (b *Broker) GlobalAccount() *Account { return b.gacc }

// Stats are cumulative counters of the NATS-protocol connections.
type Stats struct {
	InMsgs, InBytes, OutMsgs, OutBytes int64 // messages and their header+payload bytes
	SlowConsumers                      int64 // of every kind of connection
	StaleConnections                   int64
	AuthFailures                       int64
	Connections                        int
	TotalConnections                   uint64 // accepted since start
	Subscriptions                      int
	Stalls                             int64 // producers held back by a slow destination
	Violations                         Violations
}

// Stats returns the cumulative counters of all connections, open and gone.
func (b *Broker) Stats() Stats {
	st := Stats{
		InMsgs:           b.closedStats.inMsgs.Load(),
		InBytes:          b.closedStats.inBytes.Load(),
		OutMsgs:          b.closedStats.outMsgs.Load(),
		OutBytes:         b.closedStats.outBytes.Load(),
		SlowConsumers:    b.slowConsumers.Load(),
		StaleConnections: b.viol.staleConnections.Load(),
		AuthFailures:     b.viol.authFailures.Load(),
		Violations:       b.viol.snapshot(),
		Subscriptions:    b.NumSubscriptions(),
		Stalls:           b.stalls.Load(),
		TotalConnections: b.totalConns.Load(),
	}
	b.mu.Lock()
	for _, c := range b.conns {
		if !c.kind.speaksNATS() {
			continue
		}
		st.Connections++
		st.InMsgs += c.stats.inMsgs.Load()
		st.InBytes += c.stats.inBytes.Load()
		st.OutMsgs += c.stats.outMsgs.Load()
		st.OutBytes += c.stats.outBytes.Load()
	}
	b.mu.Unlock()
	return st
}

// CountViolation lets adapters count what they refuse in the broker's
// violation totals.
func (b *Broker) CountViolation(v Violation) {
	switch v {
	case ViolationAuthFailure:
		b.viol.authFailures.Add(1)
	case ViolationAuthTimeout:
		b.viol.authTimeouts.Add(1)
	case ViolationStale:
		b.viol.staleConnections.Add(1)
	case ViolationMaxPayload:
		b.viol.maxPayload.Add(1)
	case ViolationPublishDenied:
		b.viol.publishDenied.Add(1)
	case ViolationSubscribeDenied:
		b.viol.subscribeDenied.Add(1)
	default:
		panic(fmt.Sprintf("broker: unknown violation %d", v))
	}
}
