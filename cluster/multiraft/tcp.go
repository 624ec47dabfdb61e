package multiraft

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// TCPTransport carries frames over TCP: one outbound connection per peer,
// dialled and redialled by the sender, each frame prefixed by its length.
// A connection starts with a hello (magic and the dialler's node ID).
// Each peer has a send queue bounded in bytes; when it is full, frames are
// dropped (and counted), never blocking the host: raft resends. Frames
// being written when a connection breaks are lost the same way.
type TCPTransport struct {
	id       NodeID
	ln       net.Listener
	maxQueue int

	mu      sync.Mutex
	peers   map[NodeID]*tcpPeer
	inbound map[net.Conn]struct{}
	handler func([]byte)
	closed  bool

	quit    chan struct{}
	wg      sync.WaitGroup
	dropped atomic.Uint64
}

const (
	tcpMagic = "MRTCP001"
	// maxWireFrame bounds a frame a reader accepts, so that a bad length
	// cannot make it allocate without bound.
	maxWireFrame = 256 << 20
)

// ListenTCP starts a transport for node id listening on addr (use port 0
// in tests). maxQueueBytes bounds each peer's unsent frames (0: 64 MiB).
func ListenTCP(id NodeID, addr string, maxQueueBytes int) (*TCPTransport, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	if maxQueueBytes <= 0 {
		maxQueueBytes = 64 << 20
	}
	t := &TCPTransport{id: id, ln: ln, maxQueue: maxQueueBytes, peers: map[NodeID]*tcpPeer{},
		inbound: map[net.Conn]struct{}{}, quit: make(chan struct{})}
	return t, nil
}

// Addr returns the address the transport listens on.
func (t *TCPTransport) Addr() string { return t.ln.Addr().String() }

// Dropped counts frames dropped because a peer's queue was full or its
// connection broke.
func (t *TCPTransport) Dropped() uint64 { return t.dropped.Load() }

// SetPeer tells the transport where node id listens; it may be called
// again with a new address.
func (t *TCPTransport) SetPeer(id NodeID, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	if p := t.peers[id]; p != nil {
		p.setAddr(addr)
		return
	}
	p := &tcpPeer{t: t, id: id, addr: addr, wake: make(chan struct{}, 1)}
	t.peers[id] = p
	t.wg.Add(1)
	go p.run()
}

// SetHandler starts accepting connections and hands every frame to handle.
func (t *TCPTransport) SetHandler(handle func([]byte)) {
	t.mu.Lock()
	t.handler = handle
	t.mu.Unlock()
	t.wg.Add(1)
	go t.accept()
}

// Send queues a frame for a peer.
func (t *TCPTransport) Send(to NodeID, frame []byte) bool {
	t.mu.Lock()
	p := t.peers[to]
	t.mu.Unlock()
	if p == nil || !p.enqueue(frame) {
		t.dropped.Add(1)
		return false
	}
	return true
}

// Close stops every connection and goroutine.
func (t *TCPTransport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for c := range t.inbound {
		c.Close()
	}
	for _, p := range t.peers {
		p.closeConn()
	}
	t.mu.Unlock()
	close(t.quit)
	err := t.ln.Close()
	t.wg.Wait()
	return err
}

func (t *TCPTransport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			c.Close()
			return
		}
		t.inbound[c] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serve(c)
	}
}

// serve reads frames from one inbound connection until it breaks.
func (t *TCPTransport) serve(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.inbound, c)
		t.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	var hello [16]byte
	if _, err := io.ReadFull(r, hello[:]); err != nil || string(hello[:8]) != tcpMagic {
		return
	}
	t.mu.Lock()
	handle := t.handler
	t.mu.Unlock()
	var hdr [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n > maxWireFrame {
			return
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		handle(buf)
	}
}

// tcpPeer is the sending side towards one peer.
type tcpPeer struct {
	t    *TCPTransport
	id   NodeID
	wake chan struct{}

	mu     sync.Mutex
	addr   string
	queue  [][]byte
	queued int
	conn   net.Conn
}

func (p *tcpPeer) setAddr(addr string) {
	p.mu.Lock()
	p.addr = addr
	p.mu.Unlock()
	p.closeConn()
}

func (p *tcpPeer) enqueue(frame []byte) bool {
	p.mu.Lock()
	if p.queued+len(frame) > p.t.maxQueue {
		p.mu.Unlock()
		return false
	}
	p.queue = append(p.queue, frame)
	p.queued += len(frame)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return true
}

func (p *tcpPeer) closeConn() {
	p.mu.Lock()
	if p.conn != nil {
		p.conn.Close()
	}
	p.mu.Unlock()
}

// run dials the peer, writes queued frames in batches (one writev per
// batch), and redials with backoff when the connection breaks.
func (p *tcpPeer) run() {
	defer p.t.wg.Done()
	backoff := 10 * time.Millisecond
	for {
		select {
		case <-p.t.quit:
			return
		default:
		}
		c, err := p.dial()
		if err != nil {
			p.dropQueued()
			select {
			case <-time.After(backoff):
			case <-p.t.quit:
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		p.writeLoop(c)
		c.Close()
	}
}

func (p *tcpPeer) dial() (net.Conn, error) {
	p.mu.Lock()
	addr := p.addr
	p.mu.Unlock()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return nil, err
	}
	hello := binary.LittleEndian.AppendUint64([]byte(tcpMagic), p.t.id)
	if _, err := c.Write(hello); err != nil {
		c.Close()
		return nil, err
	}
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	select {
	case <-p.t.quit: // Close may have missed this connection
		c.Close()
		return nil, errors.New("closed")
	default:
	}
	return c, nil
}

func (p *tcpPeer) dropQueued() {
	p.mu.Lock()
	p.t.dropped.Add(uint64(len(p.queue)))
	clear(p.queue)
	p.queue, p.queued = p.queue[:0], 0
	p.mu.Unlock()
}

func (p *tcpPeer) writeLoop(c net.Conn) {
	var hdrs []byte
	for {
		p.mu.Lock()
		frames := p.queue
		p.queue, p.queued = nil, 0
		p.mu.Unlock()
		if len(frames) == 0 {
			select {
			case <-p.wake:
				continue
			case <-p.t.quit:
				return
			}
		}
		hdrs = hdrs[:0]
		bufs := make(net.Buffers, 0, 2*len(frames))
		for _, f := range frames {
			hdrs = binary.LittleEndian.AppendUint32(hdrs, uint32(len(f)))
		}
		for i, f := range frames {
			bufs = append(bufs, hdrs[4*i:4*i+4], f)
		}
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := bufs.WriteTo(c); err != nil {
			p.t.dropped.Add(uint64(len(frames)))
			return
		}
	}
}

var _ Transport = (*TCPTransport)(nil)
