package multiraft

import "sync"

// Transport moves opaque frames between hosts. The host batches the
// messages of all its groups for one peer into one frame; a transport only
// has to carry frames, best effort: raft retransmits what is lost, so a
// transport may drop frames (a full queue, a broken connection) but must
// never corrupt, duplicate into a different frame, or invent one.
type Transport interface {
	// Send queues frame for node to and returns without waiting for I/O.
	// It returns false when the frame was dropped. The transport owns
	// frame after the call.
	Send(to NodeID, frame []byte) bool
	// SetHandler installs the function that receives every frame that
	// arrives for this host; the host calls it once, before its first Send.
	// The handler does not keep frame after it returns.
	SetHandler(handle func(frame []byte))
}

// MemNetwork connects in-process hosts through channels: each endpoint has
// a bounded inbox drained by one goroutine. Links can be cut one way, to
// make partitions. It is for tests that run real concurrent hosts.
type MemNetwork struct {
	mu      sync.Mutex
	nodes   map[NodeID]*memEndpoint
	blocked map[[2]NodeID]bool
}

// NewMemNetwork returns an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{nodes: make(map[NodeID]*memEndpoint), blocked: make(map[[2]NodeID]bool)}
}

// Endpoint returns the transport of node id, creating it on first use.
func (n *MemNetwork) Endpoint(id NodeID) Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.nodes[id]; e != nil {
		return e
	}
	e := &memEndpoint{net: n, id: id, inbox: make(chan []byte, 4096), quit: make(chan struct{})}
	n.nodes[id] = e
	return e
}

// Block drops every later frame from one node to another (one way).
func (n *MemNetwork) Block(from, to NodeID, blocked bool) {
	n.mu.Lock()
	n.blocked[[2]NodeID{from, to}] = blocked
	n.mu.Unlock()
}

// Isolate blocks or unblocks all traffic to and from node id.
func (n *MemNetwork) Isolate(id NodeID, blocked bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for other := range n.nodes {
		if other != id {
			n.blocked[[2]NodeID{id, other}] = blocked
			n.blocked[[2]NodeID{other, id}] = blocked
		}
	}
}

// Remove stops node id's endpoint (as when its process dies); a later
// Endpoint call makes a fresh one.
func (n *MemNetwork) Remove(id NodeID) {
	n.mu.Lock()
	e := n.nodes[id]
	delete(n.nodes, id)
	n.mu.Unlock()
	if e != nil {
		close(e.quit)
		e.wg.Wait()
	}
}

// Close stops every endpoint.
func (n *MemNetwork) Close() {
	n.mu.Lock()
	ids := make([]NodeID, 0, len(n.nodes))
	for id := range n.nodes {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	for _, id := range ids {
		n.Remove(id)
	}
}

type memEndpoint struct {
	net   *MemNetwork
	id    NodeID
	inbox chan []byte
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

func (e *memEndpoint) Send(to NodeID, frame []byte) bool {
	e.net.mu.Lock()
	dst := e.net.nodes[to]
	blocked := e.net.blocked[[2]NodeID{e.id, to}]
	e.net.mu.Unlock()
	if dst == nil || blocked {
		return false
	}
	select {
	case dst.inbox <- frame:
		return true
	default:
		return false
	}
}

func (e *memEndpoint) SetHandler(handle func([]byte)) {
	e.once.Do(func() {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			for {
				select {
				case f := <-e.inbox:
					handle(f)
				case <-e.quit:
					return
				}
			}
		}()
	})
}
