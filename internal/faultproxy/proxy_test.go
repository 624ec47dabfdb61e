package faultproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes every line back until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, msg string, wait time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(msg + "\n")); err != nil {
		return "", err
	}
	line, err := r.ReadString('\n')
	return line, err
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, bufio.NewReader(c)
}

func TestProxyForwardsAndDrops(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p.Addr())
	if got, err := roundTrip(c, r, "hello", 2*time.Second); err != nil || got != "hello\n" {
		t.Fatalf("through the proxy: %q, %v", got, err)
	}
	p.Drop(true, false)
	if _, err := roundTrip(c, r, "lost", 200*time.Millisecond); err == nil {
		t.Fatal("a dropped direction delivered")
	}
	p.Heal()
	if got, err := roundTrip(c, r, "again", 2*time.Second); err != nil || got != "again\n" {
		t.Fatalf("after heal: %q, %v (the dropped line must be gone)", got, err)
	}
	p.Drop(false, true)
	if _, err := roundTrip(c, r, "lost2", 200*time.Millisecond); err == nil {
		t.Fatal("a dropped reply direction delivered")
	}
}

func TestProxyDelay(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p.Addr())
	p.Delay(100 * time.Millisecond)
	start := time.Now()
	if got, err := roundTrip(c, r, "slow", 3*time.Second); err != nil || got != "slow\n" {
		t.Fatalf("delayed: %q, %v", got, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("round trip took %v, want at least 200ms (100ms each way)", d)
	}
}

func TestProxyCutAndReset(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p.Addr())
	if _, err := roundTrip(c, r, "x", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Reset()
	if _, err := roundTrip(c, r, "y", 2*time.Second); err == nil {
		t.Fatal("a reset connection still works")
	}
	c2, r2 := dial(t, p.Addr())
	if got, err := roundTrip(c2, r2, "z", 2*time.Second); err != nil || got != "z\n" {
		t.Fatalf("a new connection after reset: %q, %v", got, err)
	}
	p.Cut()
	if _, err := roundTrip(c2, r2, "w", 2*time.Second); err == nil {
		t.Fatal("a cut connection still works")
	}
	c3, r3 := dial(t, p.Addr())
	if _, err := roundTrip(c3, r3, "v", time.Second); err == nil {
		t.Fatal("a cut proxy took a new connection")
	}
	p.Heal()
	c4, r4 := dial(t, p.Addr())
	if got, err := roundTrip(c4, r4, "u", 2*time.Second); err != nil || got != "u\n" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
}

func TestNetworkPartitions(t *testing.T) {
	n := NewNetwork()
	defer n.Close()
	for _, name := range []string{"a", "b", "c"} {
		n.AddNode(name, echoServer(t))
	}
	addrs := map[string]string{}
	for _, name := range n.Nodes() {
		n.mu.Lock()
		addrs[name] = n.addrs[name]
		n.mu.Unlock()
	}
	type conn struct {
		c net.Conn
		r *bufio.Reader
	}
	conns := map[[2]string]conn{}
	for _, from := range n.Nodes() {
		for _, to := range n.Nodes() {
			if from == to {
				continue
			}
			c, err := n.Dialer(from)("tcp", addrs[to])
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			conns[[2]string{from, to}] = conn{c, bufio.NewReader(c)}
		}
	}
	ok := func(from, to string) bool {
		cn := conns[[2]string{from, to}]
		_, err := roundTrip(cn.c, cn.r, "ping", 150*time.Millisecond)
		return err == nil
	}
	if p, _ := n.Link("a", "b"); p.Accepted() != 1 {
		t.Fatalf("the dialer did not go through the proxy (%d accepted)", p.Accepted())
	}
	n.Isolate("a")
	for k := range conns {
		want := k[0] != "a" && k[1] != "a"
		if got := ok(k[0], k[1]); got != want {
			t.Fatalf("isolated a: %s->%s works=%v, want %v", k[0], k[1], got, want)
		}
	}
	// Timed-out round trips leave their lines in flight; start afresh.
	n.Heal()
	n.Close()
	n = NewNetwork()
	defer n.Close()
	for name, a := range addrs {
		n.AddNode(name, a)
	}
	n.Split([]string{"a"}, []string{"b", "c"})
	c, err := n.Dialer("b")("tcp", addrs["c"])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := roundTrip(c, bufio.NewReader(c), "bc", 2*time.Second); err != nil {
		t.Fatalf("b to c across an a|bc split: %v", err)
	}
	c2, err := n.Dialer("b")("tcp", addrs["a"])
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	if _, err := roundTrip(c2, r2, "ba", 200*time.Millisecond); err == nil {
		t.Fatal("b reached a across the split")
	}
	// One way: a echoes what b sends but b never hears it.
	n.Heal()
	n.Drop("a", "b")
	c3, err := n.Dialer("b")("tcp", addrs["a"])
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if _, err := roundTrip(c3, bufio.NewReader(c3), "one-way", 200*time.Millisecond); err == nil {
		t.Fatal("a's replies crossed a one-way drop from a to b")
	}
	n.Heal()
	c4, err := n.Dialer("b")("tcp", addrs["a"])
	if err != nil {
		t.Fatal(err)
	}
	defer c4.Close()
	if _, err := roundTrip(c4, bufio.NewReader(c4), "healed", 2*time.Second); err != nil {
		t.Fatalf("after heal: %v", err)
	}
}
