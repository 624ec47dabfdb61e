package multiraft

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"
)

// partitions is a fault table shared by the transports of a test cluster:
// a blocked (from, to) pair loses every frame, as a firewall would.
type partitions struct {
	mu      sync.Mutex
	blocked map[[2]NodeID]bool
}

func (p *partitions) isBlocked(from, to NodeID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocked[[2]NodeID{from, to}]
}

func (p *partitions) set(from, to NodeID, blocked bool) {
	p.mu.Lock()
	p.blocked[[2]NodeID{from, to}] = blocked
	p.mu.Unlock()
}

func (p *partitions) heal() {
	p.mu.Lock()
	clear(p.blocked)
	p.mu.Unlock()
}

// faultyTransport wraps a real transport with the partition table.
type faultyTransport struct {
	inner Transport
	id    NodeID
	parts *partitions
}

func (f faultyTransport) Send(to NodeID, frame []byte) bool {
	if f.parts.isBlocked(f.id, to) {
		return true
	}
	return f.inner.Send(to, frame)
}

func (f faultyTransport) SetHandler(h func([]byte)) {
	f.inner.SetHandler(func(frame []byte) {
		if len(frame) >= 8 && f.parts.isBlocked(binary.LittleEndian.Uint64(frame), f.id) {
			return
		}
		h(frame)
	})
}

// tcpCluster runs real hosts over loopback TCP with real files.
type tcpCluster struct {
	t     testing.TB
	dirs  map[NodeID]string
	trs   map[NodeID]*TCPTransport
	hosts map[NodeID]*Host
	sms   map[NodeID]*kv
	parts *partitions
	mu    sync.Mutex
	tick  time.Duration
}

func newTCPCluster(t testing.TB, n int, tick time.Duration) *tcpCluster {
	c := &tcpCluster{t: t, dirs: map[NodeID]string{}, trs: map[NodeID]*TCPTransport{}, hosts: map[NodeID]*Host{},
		sms: map[NodeID]*kv{}, parts: &partitions{blocked: map[[2]NodeID]bool{}}, tick: tick}
	for id := NodeID(1); id <= NodeID(n); id++ {
		c.dirs[id] = t.TempDir()
		c.start(id)
	}
	t.Cleanup(func() {
		for id := range c.hosts {
			c.stop(id)
		}
	})
	return c
}

func (c *tcpCluster) start(id NodeID) {
	tr, err := ListenTCP(id, "127.0.0.1:0", 0)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	c.trs[id] = tr
	for other, otr := range c.trs {
		if other != id {
			tr.SetPeer(other, otr.Addr())
			otr.SetPeer(id, tr.Addr())
		}
	}
	c.mu.Unlock()
	h, err := Open(Config{ID: id, Dir: c.dirs[id], Transport: faultyTransport{inner: tr, id: id, parts: c.parts},
		TickInterval: c.tick, SnapshotEntries: 5000},
		func(g GroupID) (StateMachine, error) {
			s := newKV()
			s.keepLog = false
			c.mu.Lock()
			c.sms[id] = s
			c.mu.Unlock()
			return s, nil
		})
	if err != nil {
		c.t.Fatalf("open host %d: %v", id, err)
	}
	if len(h.Report().Damaged) > 0 {
		c.t.Fatalf("host %d damaged after a clean stop: %v", id, h.Report().Damaged)
	}
	c.mu.Lock()
	c.hosts[id] = h
	c.mu.Unlock()
}

func (c *tcpCluster) stop(id NodeID) {
	c.mu.Lock()
	h, tr := c.hosts[id], c.trs[id]
	delete(c.hosts, id)
	delete(c.trs, id)
	c.mu.Unlock()
	h.Close()
	tr.Close()
}

func (c *tcpCluster) host(id NodeID) *Host {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hosts[id]
}

func (c *tcpCluster) kv(id NodeID) *kv {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sms[id]
}

// waitLeader waits until some host leads group g.
func (c *tcpCluster) waitLeader(g GroupID) NodeID {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		hosts := make(map[NodeID]*Host, len(c.hosts))
		for id, h := range c.hosts {
			hosts[id] = h
		}
		c.mu.Unlock()
		for id, h := range hosts {
			if gr := h.Group(g); gr != nil && gr.Status().IsLeader {
				return id
			}
		}
		time.Sleep(c.tick)
	}
	c.t.Fatalf("group %d elected no leader", g)
	return 0
}

// kvClient sends operations to whichever host it believes leads.
type kvClient struct {
	c      *tcpCluster
	target NodeID
	n      int
}

// do runs one operation. known is false when the outcome is unknown (a
// write that timed out may still take effect); ok is false when the
// operation certainly had no effect.
func (cl *kvClient) do(in kvInput) (out kvOutput, ok bool) {
	h := cl.c.host(cl.target)
	if h == nil {
		cl.target = NodeID(1 + (int(cl.target) % cl.n))
		return kvOutput{}, false
	}
	gr := h.Group(1)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	var nl *NotLeaderError
	if in.op == 'g' {
		if err := gr.ReadBarrier(ctx); err != nil {
			cl.retarget(err, nl)
			return kvOutput{}, false
		}
		return kvOutput{value: cl.c.kv(cl.target).get(in.key), ok: true}, true
	}
	res, err := gr.Propose(ctx, encodeOp(kvOp{Op: in.op, Key: in.key, Value: in.value, Old: in.old}))
	if err != nil {
		cl.retarget(err, nl)
		if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrDropped) {
			return kvOutput{}, false
		}
		return kvOutput{unknown: true}, true
	}
	r := res.(kvResult)
	return kvOutput{value: r.Value, ok: r.OK}, true
}

func (cl *kvClient) retarget(err error, nl *NotLeaderError) {
	if errors.As(err, &nl) && nl.Leader != 0 {
		cl.target = nl.Leader
		return
	}
	cl.target = NodeID(1 + (int(cl.target) % cl.n))
}
