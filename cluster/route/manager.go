package route

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nuid"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/logging"
)

// Manager runs one server's side of the cluster: the route listener, the
// routes it solicits, the registry of routes by remote server, and the
// local interest it announces to them.
type Manager struct {
	b    *broker.Broker
	log  logging.Logger
	opts config.ClusterOptions
	id   string

	ln         net.Listener
	clientURLs []string // this server's own client URLs, host:port

	// mu guards everything below. Lock order: mu, then a route's own
	// lock; no broker call that could call back into the manager is made
	// while holding it (queueing bytes on a connection never does).
	mu          sync.Mutex
	clusterName string
	dynamic     bool                // the name was not configured: adopt the peers'
	routes      map[string]*route   // registered routes, by remote server id
	interest    map[interestKey]int // local interest: subscriptions per subject and queue
	soliciting  map[string]bool     // route URLs (host:port) being solicited
	self        map[string]bool     // route URLs found to lead back to this server
	changed     chan struct{}       // closed and replaced when routes changes
	stopping    bool
	lameDuck    bool

	urlMu sync.Mutex // serialises updates of the clients' connect URLs

	internal internalState // server-to-server channels (internal.go)

	stop chan struct{}
	wg   sync.WaitGroup // the accept loop and the solicitors
}

// New prepares the cluster side of the broker from its options (the
// Cluster block). It installs the broker's interest observer, so it must
// be called before anything subscribes; nothing listens until Start.
func New(b *broker.Broker) (*Manager, error) {
	o := b.Options().Cluster
	for _, r := range o.Routes {
		if _, err := config.ParseRouteURL(r); err != nil {
			return nil, err
		}
	}
	m := &Manager{
		b:          b,
		log:        b.Logger(),
		opts:       o,
		id:         b.ID(),
		routes:     make(map[string]*route),
		interest:   make(map[interestKey]int),
		soliciting: make(map[string]bool),
		self:       make(map[string]bool),
		changed:    make(chan struct{}),
		stop:       make(chan struct{}),
	}
	m.clusterName = o.Name
	if m.clusterName == "" {
		// Like the reference server: a cluster whose name was not
		// configured gets a random one and takes on its peers'.
		m.clusterName, m.dynamic = nuid.Next(), true
	}
	b.SetClusterName(m.clusterName)
	if err := b.ObserveInterest(m.interestChanged); err != nil {
		return nil, err
	}
	return m, nil
}

// Start listens for routes and begins soliciting the configured ones.
// clientURLs are this server's client URLs (host:port), which the other
// servers pass on to their clients.
func (m *Manager) Start(clientURLs []string) error {
	o := m.opts
	ln, err := broker.Listen(o.Host, max(o.Port, 0))
	if err != nil {
		return fmt.Errorf("cannot listen for routes on %s: %w",
			net.JoinHostPort(o.Host, strconv.Itoa(max(o.Port, 0))), err)
	}
	m.ln = ln
	m.clientURLs = slices.Clone(clientURLs)
	m.updateConnectURLs()
	m.log.Info("listening for route connections", "listen", ln.Addr().String(), "cluster", m.ClusterName())
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		broker.AcceptLoop(ln, m.log, m.isStopping, func(nc net.Conn) {
			m.startRoute(nc, nil, false)
		})
	}()
	for _, r := range o.Routes {
		u, _ := config.ParseRouteURL(r) // checked in New
		m.solicit(u, true)
	}
	return nil
}

// Close stops listening and soliciting; the route connections close with
// the broker's.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return
	}
	m.stopping = true
	close(m.stop)
	m.mu.Unlock()
	if m.ln != nil {
		_ = m.ln.Close()
	}
	m.wg.Wait()
}

func (m *Manager) isStopping() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopping
}

// Addr is the route listener's address, nil before Start.
func (m *Manager) Addr() *net.TCPAddr {
	if m.ln == nil {
		return nil
	}
	return m.ln.Addr().(*net.TCPAddr)
}

// ClusterName is the cluster's name (taken from a peer if not configured).
func (m *Manager) ClusterName() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clusterName
}

// EnterLameDuck tells every route that this server is leaving: their
// servers take its client URLs out of what they tell their clients. The
// routes themselves keep serving until shutdown.
func (m *Manager) EnterLameDuck() {
	m.mu.Lock()
	m.lameDuck = true
	line := m.infoLineLocked()
	for _, r := range m.routes {
		r.send(line)
	}
	m.mu.Unlock()
}

// NumRoutes is the number of registered routes.
func (m *Manager) NumRoutes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.routes)
}

// URLs are the configured routes.
func (m *Manager) URLs() []string { return slices.Clone(m.opts.Routes) }

// notifyChanged wakes whoever waits for a change of the registry. Called
// with m.mu held.
func (m *Manager) notifyChanged() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// errDuplicate, errSelf and errClusterName end routes that are not to be.
var (
	errSelf        = errors.New("route to self")
	errDuplicate   = errors.New("duplicate route")
	errClusterName = errors.New("cluster name mismatch")
)

// register admits a route whose peer has identified itself. With two
// connections between the same pair of servers, both servers keep the one
// solicited by the server with the smaller id, so they agree without
// talking about it.
func (m *Manager) register(r *route) error {
	m.mu.Lock()
	if m.stopping {
		m.mu.Unlock()
		return broker.ErrStopping
	}
	id := r.remoteID
	var loser *route
	if old := m.routes[id]; old != nil {
		if !m.prefers(r, old) {
			m.mu.Unlock()
			return errDuplicate
		}
		loser = old
		old.supersede()
	}
	m.routes[id] = r
	r.setRegistered()
	m.sendInterestLocked(r)
	m.gossipLocked(r)
	m.notifyChanged()
	m.mu.Unlock()
	if loser != nil {
		loser.close(broker.CloseClientClosed, errDuplicate)
	}
	m.updateConnectURLs()
	m.peerChanged(r, true)
	m.log.Info("route registered", "remote_id", id, "remote_name", r.remoteName,
		"remote", r.core.NetConn().RemoteAddr().String(), "solicited", r.solicited)
	return nil
}

// prefers decides between a new connection and a registered one to the
// same server.
func (m *Manager) prefers(newer, older *route) bool {
	solicitor := func(r *route) string {
		if r.solicited {
			return m.id
		}
		return r.remoteID
	}
	a, b := solicitor(newer), solicitor(older)
	if a == b {
		return false // both from the same side: keep the one in use
	}
	return a < b
}

// unregister forgets a route once its connection has ended, with the
// interest it brought.
func (m *Manager) unregister(r *route) {
	m.mu.Lock()
	was := m.routes[r.remoteID] == r
	if was {
		delete(m.routes, r.remoteID)
		m.notifyChanged()
	}
	m.mu.Unlock()
	if was {
		m.updateConnectURLs()
		m.peerChanged(r, false)
	}
}

// waitGone waits until no route to server id is registered; false when the
// manager stops first.
func (m *Manager) waitGone(id string) bool {
	for {
		m.mu.Lock()
		_, exists := m.routes[id]
		ch, stopping := m.changed, m.stopping
		m.mu.Unlock()
		if stopping {
			return false
		}
		if !exists {
			return true
		}
		select {
		case <-ch:
		case <-m.stop:
			return false
		}
	}
}

// sleep waits d; false when the manager stops first.
func (m *Manager) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-m.stop:
		return false
	}
}

// routeURL is how a route's peer is dialled, from its INFO.
func routeURL(info *routeInfo, remote net.Addr) (*url.URL, error) {
	if info.IP != "" {
		return config.ParseRouteURL(info.IP)
	}
	host := info.Host
	if ta, ok := remote.(*net.TCPAddr); ok && (host == "" || net.ParseIP(host).IsUnspecified()) {
		host = ta.IP.String()
	}
	return config.ParseRouteURL("nats-route://" + net.JoinHostPort(host, strconv.Itoa(info.Port)))
}
