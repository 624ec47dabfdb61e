package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/broker"
	natsproto "github.com/midgemq/midge/parser"
)

// handshakeTimeout bounds the time from connecting to knowing who the peer
// is; a peer that says nothing in time is dropped.
const handshakeTimeout = 5 * time.Second

// route is one route connection: the broker's connection core and Remote,
// the protocol handler its read loop drives, and what the peer said of
// itself. The read loop owns the parser, the account cache and the remote
// subscriptions; the rest is guarded by mu or atomic.
type route struct {
	m         *Manager
	core      *broker.Conn
	remote    *broker.Remote
	parser    *parser
	out       *internalQueue // server-to-server messages (internal.go)
	solicited bool
	implicit  bool     // solicited because a peer told of the server
	url       *url.URL // the URL dialled; nil for an accepted route

	// Read loop only.
	gotConnect bool
	gotInfo    bool
	accName    []byte
	acc        *broker.Account
	subs       map[string]*broker.RemoteSub // by "account subject[ queue]"

	// Set by the read loop before the route registers, then fixed.
	remoteID   string
	remoteName string
	info       routeInfo

	mu          sync.Mutex
	connectURLs []string
	registered  bool // at some point (the solicitor's retry policy reads it)
	closeErr    error
	pingTimer   *time.Timer
	pingSent    time.Time
	rtt         time.Duration
	pingsOut    int

	numSubs      atomic.Int64
	lastActivity atomic.Int64 // unix nanoseconds
	gone         chan struct{}
}

// startRoute runs a route on a new connection: solicited when u is set (it
// was dialled), accepted otherwise.
func (m *Manager) startRoute(nc net.Conn, u *url.URL, implicit bool) *route {
	r := &route{
		m:         m,
		solicited: u != nil,
		implicit:  implicit,
		url:       u,
		subs:      make(map[string]*broker.RemoteSub),
		gone:      make(chan struct{}),
	}
	r.parser = newParser(r)
	r.core = m.b.NewConn(nc, broker.KindRoute, broker.ConnHooks{})
	r.remote = m.b.NewRemote(r.core, wire{})
	r.lastActivity.Store(time.Now().UnixNano())
	if err := m.b.Register(r.core); err != nil {
		_ = nc.Close()
		r.closeErr = err
		close(r.gone)
		return r
	}
	go r.core.WriteLoop()
	r.out = newInternalQueue(r)
	go r.out.run()
	if r.solicited {
		r.send(m.connectLine())
	}
	r.send(m.infoLine())
	timer := time.AfterFunc(handshakeTimeout, func() {
		r.mu.Lock()
		ok := r.registered
		r.mu.Unlock()
		if !ok {
			r.close(broker.CloseAuthTimeout, errors.New("route handshake timed out"))
		}
	})
	go func() {
		defer m.b.Release()
		defer close(r.gone)
		defer timer.Stop()
		r.readLoop()
		r.cleanup()
	}()
	return r
}

func (r *route) readLoop() {
	nc := r.core.NetConn()
	buf := make([]byte, 32<<10)
	for {
		n, err := nc.Read(buf)
		if n > 0 {
			r.lastActivity.Store(time.Now().UnixNano())
			perr := r.parser.parse(buf[:n])
			r.remote.Flush()
			if perr != nil {
				r.protocolError(perr)
				return
			}
		}
		if err != nil {
			reason := broker.CloseReadError
			if errors.Is(err, io.EOF) {
				reason = broker.CloseClientClosed
			}
			r.close(reason, err)
			return
		}
	}
}

// cleanup withdraws what the route brought once its connection is gone.
func (r *route) cleanup() {
	r.out.stop()
	for k, s := range r.subs {
		s.Unsubscribe()
		delete(r.subs, k)
	}
	r.numSubs.Store(0)
	r.mu.Lock()
	if r.pingTimer != nil {
		r.pingTimer.Stop()
	}
	r.mu.Unlock()
	r.m.unregister(r)
	if r.remoteID != "" {
		r.m.log.Info("route closed", "remote_id", r.remoteID, "remote_name", r.remoteName,
			"reason", r.core.CloseReason(), "error", r.err())
	}
}

// send queues protocol bytes (copied) and wakes the writer.
func (r *route) send(b []byte) { r.core.Send(b) }

// close ends the route once, remembering why.
func (r *route) close(reason broker.CloseReason, err error) {
	r.mu.Lock()
	if r.closeErr == nil {
		r.closeErr = err
	}
	r.mu.Unlock()
	r.core.Close(reason, true)
}

func (r *route) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closeErr
}

// refuse tells the peer why before closing.
func (r *route) refuse(text string, err error) {
	r.send(natsproto.AppendErr(nil, text))
	r.close(broker.CloseProtocolError, err)
}

func (r *route) protocolError(err error) {
	r.m.log.Warn("route protocol error", "remote_id", r.remoteID, "error", err)
	r.refuse("Protocol Error", err)
}

func (r *route) setRegistered() {
	r.mu.Lock()
	r.registered = true
	r.mu.Unlock()
}

func (r *route) wasRegistered() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.registered
}

// supersede marks a route replaced by a better connection to its server.
func (r *route) supersede() {
	r.mu.Lock()
	if r.closeErr == nil {
		r.closeErr = errDuplicate
	}
	r.mu.Unlock()
}

func (r *route) clientURLs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.connectURLs
}

// The protocol handler: parser callbacks, on the read loop.

func (r *route) processConnect(arg []byte) error {
	if r.solicited || r.gotConnect {
		return protoErrorf("unexpected CONNECT")
	}
	var ci connectInfo
	if err := json.Unmarshal(arg, &ci); err != nil {
		return protoErrorf("malformed CONNECT: %v", err)
	}
	if ci.Lang != "" {
		r.refuse("Attempted To Connect To Route Port", errors.New("client on the route port"))
		return nil
	}
	if ci.Gateway != "" {
		r.refuse("Rejecting connection from gateway on the Route port", errors.New("gateway on the route port"))
		return nil
	}
	if !r.m.acceptClusterName(ci.Cluster, ci.Dynamic) {
		r.refuse("Rejecting connection, cluster name "+quote(ci.Cluster)+" does not match "+quote(r.m.ClusterName()), errClusterName)
		return nil
	}
	r.gotConnect = true
	r.remote.SetHeaders(ci.Headers)
	return nil
}

func (r *route) processInfo(arg []byte) error {
	var info routeInfo
	if err := json.Unmarshal(arg, &info); err != nil {
		return protoErrorf("malformed INFO: %v", err)
	}
	if r.gotInfo {
		r.asyncInfo(&info)
		return nil
	}
	if !r.solicited && !r.gotConnect {
		return protoErrorf("INFO before CONNECT")
	}
	r.gotInfo = true
	if info.ID == r.m.id {
		if r.url != nil {
			r.m.markSelf(r.url)
		}
		r.close(broker.CloseClientClosed, errSelf)
		return nil
	}
	if info.RouteAccount != "" {
		r.refuse("Route for a pinned account is not supported", errors.New("pinned-account route"))
		return nil
	}
	if !r.m.acceptClusterName(info.Cluster, info.Dynamic) {
		r.refuse("Cluster name "+quote(info.Cluster)+" does not match "+quote(r.m.ClusterName()), errClusterName)
		return nil
	}
	if r.solicited {
		r.remote.SetHeaders(info.Headers)
	}
	r.remoteID, r.remoteName, r.info = info.ID, info.Name, info
	r.remote.SetName(info.Name)
	r.mu.Lock()
	r.connectURLs = slices.Clone(info.ConnectURLs)
	r.mu.Unlock()
	if err := r.m.register(r); err != nil {
		r.close(broker.CloseClientClosed, err)
		return nil
	}
	r.send(pingLine) // a first round trip, for the RTT
	r.mu.Lock()
	r.pingSent = time.Now()
	r.pingsOut = 1
	r.pingTimer = time.AfterFunc(r.m.opts.PingInterval, r.pingDue)
	r.mu.Unlock()
	return nil
}

// asyncInfo handles an INFO after the first: news of another server
// (gossip), or of the peer itself (its client URLs, lame duck mode).
func (r *route) asyncInfo(info *routeInfo) {
	if info.ID != r.remoteID {
		r.m.gossipReceived(info)
		return
	}
	r.mu.Lock()
	if info.LameDuckMode {
		r.connectURLs = nil // clients must not be sent to a server that is leaving
	} else if info.ConnectURLs != nil {
		r.connectURLs = slices.Clone(info.ConnectURLs)
	}
	r.mu.Unlock()
	r.m.updateConnectURLs()
}

func (r *route) processPing() error {
	r.send(pongLine)
	return nil
}

func (r *route) processPong() error {
	r.mu.Lock()
	r.pingsOut = 0
	if !r.pingSent.IsZero() {
		r.rtt = time.Since(r.pingSent)
		r.pingSent = time.Time{}
	}
	r.mu.Unlock()
	return nil
}

// pingDue runs on the ping timer: a peer that left the allowed number of
// PINGs unanswered is gone.
func (r *route) pingDue() {
	if r.core.IsClosed() {
		return
	}
	r.mu.Lock()
	if r.pingsOut >= r.m.opts.MaxPingsOut {
		r.mu.Unlock()
		r.close(broker.CloseStale, errors.New("stale route"))
		return
	}
	r.pingsOut++
	if r.pingSent.IsZero() {
		r.pingSent = time.Now()
	}
	r.pingTimer.Reset(r.m.opts.PingInterval)
	r.mu.Unlock()
	r.send(pingLine)
}

func (r *route) processErr(arg []byte) error {
	r.m.log.Warn("route reported an error", "remote_id", r.remoteID, "error", string(arg))
	r.close(broker.CloseProtocolError, errors.New("peer: "+string(arg)))
	return nil
}

// account resolves an account name, remembering the last one (messages
// mostly come in one account).
func (r *route) account(name []byte) *broker.Account {
	if r.acc != nil && bytes.Equal(name, r.accName) {
		return r.acc
	}
	acc, ok := r.m.b.LookupAccount(string(name))
	if !ok {
		return nil
	}
	r.acc, r.accName = acc, append(r.accName[:0], name...)
	return acc
}

func subKey(account, subject, queue []byte) string {
	k := make([]byte, 0, len(account)+len(subject)+len(queue)+2)
	k = append(append(append(k, account...), ' '), subject...)
	if len(queue) > 0 {
		k = append(append(k, ' '), queue...)
	}
	return string(k)
}

func (r *route) processSub(account, subject, queue []byte, weight int) error {
	if !r.wasRegistered() {
		return nil // interest from a connection that lost to another
	}
	acc := r.account(account)
	if acc == nil {
		// The peer has accounts this server does not (the reference
		// server's system account): nothing here can publish to them.
		return nil
	}
	key := subKey(account, subject, queue)
	if s, ok := r.subs[key]; ok {
		if len(queue) > 0 {
			s.SetWeight(weight)
		}
		return nil
	}
	s, err := r.remote.Subscribe(acc, string(subject), string(queue), weight)
	if err != nil {
		r.m.log.Warn("route sent an invalid subscription", "remote_id", r.remoteID,
			"subject", truncate(subject), "error", err)
		return nil
	}
	r.subs[key] = s
	r.numSubs.Add(1)
	return nil
}

func (r *route) processUnsub(account, subject, queue []byte) error {
	key := subKey(account, subject, queue)
	if s, ok := r.subs[key]; ok {
		s.Unsubscribe()
		delete(r.subs, key)
		r.numSubs.Add(-1)
	}
	return nil
}

func (r *route) processMsg(msg *routedMsg) error {
	r.core.CountIn(len(msg.header) + len(msg.data))
	if !r.wasRegistered() {
		return nil
	}
	if string(msg.account) == internalAccount {
		r.m.deliverInternal(r, msg)
		return nil
	}
	acc := r.account(msg.account)
	if acc == nil {
		return nil
	}
	r.remote.Deliver(acc, msg.subject, msg.reply, msg.header, msg.data, msg.queues)
	return nil
}

func quote(s string) string { return "\"" + s + "\"" }

// infoLine is this server's route INFO.
func (m *Manager) infoLine() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.infoLineLocked()
}

func (m *Manager) infoLineLocked() []byte {
	o := m.b.Options()
	info := routeInfo{
		ID:         m.id,
		Name:       m.b.Name(),
		Version:    broker.ProtocolVersion,
		Proto:      routeProto,
		GoVersion:  runtime.Version(),
		Headers:    true,
		MaxPayload: o.MaxPayload,
		Internal:   true,
	}
	if a := m.Addr(); a != nil {
		info.Host, info.Port = m.opts.Host, a.Port
	}
	info.ConnectURLs = m.clientURLs
	info.Cluster, info.Dynamic = m.clusterName, m.dynamic
	info.LameDuckMode = m.lameDuck
	js, _ := json.Marshal(info) // plain fields: cannot fail
	return append(append([]byte("INFO "), js...), '\r', '\n')
}

// connectLine is the CONNECT a soliciting server sends.
func (m *Manager) connectLine() []byte {
	name, dynamic := m.clusterState()
	js, _ := json.Marshal(connectInfo{
		Echo:    true,
		Headers: true,
		Name:    m.id,
		Cluster: name,
		Dynamic: dynamic,
	})
	return append(append([]byte("CONNECT "), js...), '\r', '\n')
}
