package multiraft

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

type frameSink struct {
	mu     sync.Mutex
	frames [][]byte
	got    chan struct{}
}

func newSink() *frameSink { return &frameSink{got: make(chan struct{}, 1<<16)} }

func (s *frameSink) handle(f []byte) {
	s.mu.Lock()
	s.frames = append(s.frames, bytes.Clone(f))
	s.mu.Unlock()
	s.got <- struct{}{}
}

func (s *frameSink) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		have := len(s.frames)
		s.mu.Unlock()
		if have >= n {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.frames
		}
		select {
		case <-s.got:
		case <-timeout:
			t.Fatalf("received %d frames, want %d", have, n)
		}
	}
}

func listen(t *testing.T, id NodeID, maxQueue int) *TCPTransport {
	t.Helper()
	tr, err := ListenTCP(id, "127.0.0.1:0", maxQueue)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestTCPTransportDeliversFramesInOrder(t *testing.T) {
	a, b := listen(t, 1, 0), listen(t, 2, 0)
	sink := newSink()
	a.SetHandler(func([]byte) {})
	b.SetHandler(sink.handle)
	a.SetPeer(2, b.Addr())
	for i := range 500 {
		// Retry while the first connection is being dialled.
		for !a.Send(2, []byte(fmt.Sprintf("frame-%d", i))) {
			time.Sleep(time.Millisecond)
		}
	}
	frames := sink.wait(t, 500)
	// Frames sent before the connection was up may be dropped (raft
	// resends); the ones that arrive must be whole and in order.
	last := -1
	for _, f := range frames {
		var n int
		if _, err := fmt.Sscanf(string(f), "frame-%d", &n); err != nil || n <= last {
			t.Fatalf("frame %q after %d", f, last)
		}
		last = n
	}
}

func TestTCPTransportReconnectsToRestartedPeer(t *testing.T) {
	a := listen(t, 1, 0)
	a.SetHandler(func([]byte) {})
	b := listen(t, 2, 0)
	sink := newSink()
	b.SetHandler(sink.handle)
	a.SetPeer(2, b.Addr())
	sendUntil(t, a, 2, sink, 1)
	addr := b.Addr()
	b.Close()
	// The peer comes back on the same address.
	// The port may linger a moment after the close: retry, bounded.
	ln, err := net.Listen("tcp", addr)
	for deadline := time.Now().Add(5 * time.Second); err != nil && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		ln, err = net.Listen("tcp", addr)
	}
	if err != nil {
		t.Fatalf("address %s not reusable after 5 s: %v", addr, err)
	}
	b2 := &TCPTransport{id: 2, ln: ln, maxQueue: 1 << 20, peers: map[NodeID]*tcpPeer{}, inbound: map[net.Conn]struct{}{}, quit: make(chan struct{})}
	t.Cleanup(func() { b2.Close() })
	sink2 := newSink()
	b2.SetHandler(sink2.handle)
	sendUntil(t, a, 2, sink2, 1)
}

// sendUntil sends frames until the sink has n of them.
func sendUntil(t *testing.T, tr *TCPTransport, to NodeID, sink *frameSink, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		tr.Send(to, []byte("ping"))
		sink.mu.Lock()
		have := len(sink.frames)
		sink.mu.Unlock()
		if have >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no frame reached the peer")
}

func TestTCPTransportBoundsQueueOfUnreachablePeer(t *testing.T) {
	a := listen(t, 1, 4096)
	a.SetHandler(func([]byte) {})
	// A listener that accepts but never reads: writes stall, the queue fills.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	a.SetPeer(2, ln.Addr().String())
	frame := make([]byte, 1024)
	dropped := false
	for range 100000 {
		if !a.Send(2, frame) {
			dropped = true
			break
		}
	}
	if !dropped {
		t.Fatal("100000 frames queued for a peer that reads nothing; the queue is unbounded")
	}
	if a.Dropped() == 0 {
		t.Fatal("dropped frames not counted")
	}
}

func TestTCPTransportRejectsBadHello(t *testing.T) {
	b := listen(t, 2, 0)
	sink := newSink()
	b.SetHandler(sink.handle)
	c, err := net.Dial("tcp", b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n\x04\x00\x00\x00ping"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection with a bad hello was not closed")
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.frames) != 0 {
		t.Fatalf("frames accepted from a bad connection: %q", sink.frames)
	}
}
