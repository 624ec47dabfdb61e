package multiraft

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// testCluster runs real concurrent hosts on a MemNetwork with MemFS disks.
type testCluster struct {
	t     testing.TB
	net   *MemNetwork
	fs    map[NodeID]*MemFS
	hosts map[NodeID]*Host
	mu    sync.Mutex
	sms   map[NodeID]map[GroupID]*kv
	tick  time.Duration
}

func newTestCluster(t testing.TB, n int) *testCluster {
	c := &testCluster{t: t, net: NewMemNetwork(), fs: map[NodeID]*MemFS{}, hosts: map[NodeID]*Host{},
		sms: map[NodeID]map[GroupID]*kv{}, tick: 5 * time.Millisecond}
	for id := NodeID(1); id <= NodeID(n); id++ {
		c.fs[id] = NewMemFS()
		c.start(id)
	}
	t.Cleanup(c.close)
	return c
}

func (c *testCluster) start(id NodeID) *Host {
	c.t.Helper()
	c.mu.Lock()
	c.sms[id] = map[GroupID]*kv{}
	c.mu.Unlock()
	h, err := Open(Config{
		ID: id, Dir: "/data", FS: c.fs[id], Transport: c.net.Endpoint(id),
		TickInterval: c.tick, SnapshotEntries: 64, SegmentBytes: 64 << 10,
	}, func(g GroupID) (StateMachine, error) {
		s := newKV()
		c.mu.Lock()
		c.sms[id][g] = s
		c.mu.Unlock()
		return s, nil
	})
	if err != nil {
		c.t.Fatalf("open host %d: %v", id, err)
	}
	c.hosts[id] = h
	return h
}

// crash stops a host as a power cut would: its unsynced writes are lost.
func (c *testCluster) crash(id NodeID) {
	c.net.Remove(id)
	c.hosts[id].Close()
	delete(c.hosts, id)
	c.fs[id].Crash()
}

func (c *testCluster) sm(id NodeID, g GroupID) *kv {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sms[id][g]
}

func (c *testCluster) close() {
	for id, h := range c.hosts {
		c.net.Remove(id)
		h.Close()
	}
	c.net.Close()
}

func (c *testCluster) createGroup(g GroupID, members ...NodeID) {
	c.t.Helper()
	for _, id := range members {
		if _, err := c.hosts[id].CreateGroup(g, members); err != nil {
			c.t.Fatalf("create group %d on %d: %v", g, id, err)
		}
	}
}

// leader waits until the live hosts agree on a leader of g and returns it.
func (c *testCluster) leader(g GroupID) NodeID {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for id, h := range c.hosts {
			if gr := h.Group(g); gr != nil && gr.Status().IsLeader {
				return id
			}
		}
		time.Sleep(c.tick)
	}
	c.t.Fatalf("no leader for group %d", g)
	return 0
}

// propose retries a proposal on whichever host leads, until it is applied.
func (c *testCluster) propose(g GroupID, data []byte) any {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l := c.leader(g)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := c.hosts[l].Group(g).Propose(ctx, data)
		cancel()
		if err == nil {
			return res
		}
		if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrDropped) && !errors.Is(err, context.DeadlineExceeded) {
			c.t.Fatalf("propose: %v", err)
		}
	}
	c.t.Fatalf("proposal to group %d never applied", g)
	return nil
}

// waitApplied waits until every live host's replica of g has applied n
// entries.
func (c *testCluster) waitApplied(g GroupID, n int) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for id := range c.hosts {
			s := c.sm(id, g)
			if s == nil {
				done = false
				break
			}
			if idx, _ := s.appliedLog(); len(idx) < n {
				done = false
			}
		}
		if done {
			return
		}
		time.Sleep(c.tick)
	}
	c.t.Fatalf("group %d: not every replica applied %d entries", g, n)
}

func TestHostsReplicateInOrder(t *testing.T) {
	c := newTestCluster(t, 3)
	c.createGroup(1, 1, 2, 3)
	c.createGroup(2, 1, 2, 3)
	for i := 0; i < 50; i++ {
		c.propose(1, encodeOp(kvOp{Op: 'p', Key: "k", Value: string(rune('a' + i%26))}))
		c.propose(2, []byte{byte(i)})
	}
	c.waitApplied(1, 50)
	c.waitApplied(2, 50)
	for _, g := range []GroupID{1, 2} {
		idx1, log1 := c.sm(1, g).appliedLog()
		for id := NodeID(2); id <= 3; id++ {
			idx, log := c.sm(id, g).appliedLog()
			if len(idx) != len(idx1) {
				t.Fatalf("group %d: node %d applied %d entries, node 1 %d", g, id, len(idx), len(idx1))
			}
			for i := range idx {
				if idx[i] != idx1[i] || log[i] != log1[i] {
					t.Fatalf("group %d: node %d applied entry %d differently", g, id, i)
				}
			}
		}
	}
}
