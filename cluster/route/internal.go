package route

import (
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Server-to-server traffic over the routes: replication frames, catch-up
// streams and forwarded requests travel as RMSGs in a reserved account no
// client can use, on a "channel" (the subject). They are written straight
// onto the peer's route connection, bypassing interest (nobody subscribes
// to them), and handed on arrival to the handler registered for their
// channel instead of to the broker.
//
// Each route has its own bounded queue for this traffic, drained by a
// goroutine that writes only while the route connection has little queued:
// replication can never make the route a slow consumer (which would cut
// client traffic too). When the queue is full, or the peer is gone, a
// message is dropped and counted; senders (raft, catch-up) retry.
//
// Only peers that said in their INFO that they carry this traffic (midge
// servers) get it, so a reference server in the cluster never sees the
// reserved account.

// internalAccount is the reserved account of server-to-server traffic. Its
// name cannot be an account of a configuration (the character set of
// account names excludes nothing, but '$MIDGE.SYS' is documented as
// reserved).
const internalAccount = "$MIDGE.SYS"

const (
	// internalQueueBytes bounds what waits for one peer.
	internalQueueBytes = 64 << 20
	// routeHighWater is the route's own pending bytes above which the
	// internal writer holds back until the route's writer catches up.
	routeHighWater = 8 << 20
	// maxInternalMessage bounds one internal message (the route parser
	// refuses bigger ones as broken).
	maxInternalMessage = maxMessage - 1<<20
)

// InternalHandler receives one internal message from the peer named from;
// payload is only valid during the call.
type InternalHandler func(from string, payload []byte)

// Peer is a registered route's server.
type Peer struct {
	ID, Name string
}

// InternalStats are the counters of server-to-server traffic.
type InternalStats struct {
	Sent, SentBytes, Dropped, Received uint64
}

type internalState struct {
	mu       sync.Mutex
	handlers map[string]InternalHandler
	watchers []func(name string, up bool)

	sent, sentBytes, dropped, received atomic.Uint64
}

// Handle installs the handler of a channel (one per channel; a later call
// replaces it).
func (m *Manager) Handle(channel string, fn InternalHandler) {
	m.internal.mu.Lock()
	defer m.internal.mu.Unlock()
	if m.internal.handlers == nil {
		m.internal.handlers = make(map[string]InternalHandler)
	}
	m.internal.handlers[channel] = fn
}

// OnPeerChange registers fn to be told when a peer that carries internal
// traffic comes (up) or goes. It runs on the goroutine that changed the
// registry, without the manager's lock, so it must be quick.
func (m *Manager) OnPeerChange(fn func(name string, up bool)) {
	m.internal.mu.Lock()
	m.internal.watchers = append(m.internal.watchers, fn)
	m.internal.mu.Unlock()
}

// Peers lists the servers routed to that carry internal traffic, by name.
func (m *Manager) Peers() []Peer {
	m.mu.Lock()
	out := make([]Peer, 0, len(m.routes))
	for id, r := range m.routes {
		if r.info.Internal {
			out = append(out, Peer{ID: id, Name: r.remoteName})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Peer) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

// SendTo queues payload for the server named peer on channel. It never
// blocks: false means it was dropped (no such peer, or its queue is full).
// The manager owns payload after the call.
func (m *Manager) SendTo(peer, channel string, payload []byte) bool {
	if len(payload) > maxInternalMessage {
		m.internal.dropped.Add(1)
		return false
	}
	m.mu.Lock()
	var r *route
	for _, x := range m.routes {
		if x.remoteName == peer && x.info.Internal {
			r = x
			break
		}
	}
	m.mu.Unlock()
	if r == nil || !r.out.push(channel, payload) {
		m.internal.dropped.Add(1)
		return false
	}
	return true
}

// InternalStats returns the counters of server-to-server traffic.
func (m *Manager) InternalStats() InternalStats {
	s := &m.internal
	return InternalStats{Sent: s.sent.Load(), SentBytes: s.sentBytes.Load(), Dropped: s.dropped.Load(), Received: s.received.Load()}
}

// deliverInternal hands an internal message from a registered route to
// its channel's handler.
func (m *Manager) deliverInternal(r *route, msg *routedMsg) {
	m.internal.received.Add(1)
	m.internal.mu.Lock()
	fn := m.internal.handlers[string(msg.subject)]
	m.internal.mu.Unlock()
	if fn != nil {
		fn(r.remoteName, msg.data)
	}
}

func (m *Manager) peerChanged(r *route, up bool) {
	if !r.info.Internal {
		return
	}
	m.internal.mu.Lock()
	watchers := slices.Clone(m.internal.watchers)
	m.internal.mu.Unlock()
	for _, fn := range watchers {
		fn(r.remoteName, up)
	}
}

// internalQueue is one route's queue of internal messages and the
// goroutine that writes them onto the route connection.
type internalQueue struct {
	r     *route
	mu    sync.Mutex
	msgs  []internalMsg
	bytes int
	wake  chan struct{}
	quit  chan struct{}
	once  sync.Once
}

type internalMsg struct {
	channel string
	payload []byte
}

func newInternalQueue(r *route) *internalQueue {
	return &internalQueue{r: r, wake: make(chan struct{}, 1), quit: make(chan struct{})}
}

func (q *internalQueue) push(channel string, payload []byte) bool {
	q.mu.Lock()
	if q.bytes+len(payload) > internalQueueBytes {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, internalMsg{channel, payload})
	q.bytes += len(payload)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

func (q *internalQueue) stop() { q.once.Do(func() { close(q.quit) }) }

// run writes queued messages while the route has room for them.
func (q *internalQueue) run() {
	st := &q.r.m.internal
	var line []byte
	for {
		select {
		case <-q.wake:
		case <-q.quit:
			q.mu.Lock()
			st.dropped.Add(uint64(len(q.msgs)))
			q.msgs, q.bytes = nil, 0
			q.mu.Unlock()
			return
		}
		for {
			q.mu.Lock()
			msgs := q.msgs
			q.msgs, q.bytes = nil, 0
			q.mu.Unlock()
			if len(msgs) == 0 {
				break
			}
			for i, m := range msgs {
				if !q.waitForRoom() {
					st.dropped.Add(uint64(len(msgs) - i))
					return
				}
				line = appendInternalLine(line[:0], m.channel, len(m.payload))
				if !q.r.core.SendParts(line, append(m.payload, '\r', '\n')) {
					st.dropped.Add(uint64(len(msgs) - i))
					return
				}
				st.sent.Add(1)
				st.sentBytes.Add(uint64(len(m.payload)))
				q.r.core.CountOutMsg(len(m.payload)) // the route's out_msgs/out_bytes, as CountIn on arrival
			}
		}
	}
}

// waitForRoom holds the writer back while the route connection is busy;
// false once the route or queue is gone.
func (q *internalQueue) waitForRoom() bool {
	for q.r.core.PendingBytes() > routeHighWater {
		if q.r.core.IsClosed() {
			return false
		}
		select {
		case <-q.quit:
			return false
		case <-time.After(time.Millisecond):
		}
	}
	return !q.r.core.IsClosed()
}

func appendInternalLine(dst []byte, channel string, size int) []byte {
	dst = append(dst, "RMSG "...)
	dst = append(dst, internalAccount...)
	dst = append(dst, ' ')
	dst = append(dst, channel...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(size), 10)
	return append(dst, '\r', '\n')
}
