package route_test

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/faultproxy"
	"github.com/midgemq/midge/server"
)

// startProxiedMesh starts n servers whose routes (configured and
// gossiped) pass through a faultproxy network; the servers are named
// n0..n(n-1) there too.
func startProxiedMesh(t *testing.T, n int) ([]*server.Server, *faultproxy.Network) {
	t.Helper()
	netw := faultproxy.NewNetwork()
	t.Cleanup(netw.Close)
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		netw.AddNode(fmt.Sprintf("n%d", i), net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i])))
	}
	var nodes []*server.Server
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		var routes []string
		if i > 0 {
			routes = []string{nodes[0].ClusterURL()}
		}
		nodes = append(nodes, startNode(t, name, routes, func(o *config.Options) {
			o.Cluster.Port = ports[i]
			o.Cluster.RouteDialer = netw.Dialer(name)
		}))
	}
	waitSettled(t, netw, nodes)
	return nodes, netw
}

// waitSettled waits for a full mesh with no other connection open through
// the proxies: a second connection between two servers (both dialled, or
// a handshake the partition held up completing after the heal) supersedes
// the route in use, and the messages in flight on the loser are lost, as
// core NATS delivery allows while routes change.
func waitSettled(t *testing.T, netw *faultproxy.Network, nodes []*server.Server) {
	t.Helper()
	waitMesh(t, nodes...)
	want := len(nodes) * (len(nodes) - 1) / 2
	waitFor(t, 15*time.Second, func() bool {
		for _, s := range nodes {
			if s.NumRoutes() != len(nodes)-1 {
				return false
			}
		}
		return netw.Conns() == want
	}, func() string { return fmt.Sprintf("%d connections through the proxies, want %d", netw.Conns(), want) })
}

// tally counts, per message number, how often the queue group got it.
type tally struct {
	mu   sync.Mutex
	seen map[string]int
	by   map[string]int // server -> messages
}

func (tl *tally) add(server string, m *nats.Msg) {
	tl.mu.Lock()
	tl.seen[string(m.Data)]++
	tl.by[server]++
	tl.mu.Unlock()
}

// A queue group with a member on each of three servers gets every message
// exactly once before a partition and after it heals; a subscription made
// on the cut-off server while it was cut off gets the others' messages
// once the routes are back (interest is sent again); and no message
// crosses a route to a server without interest in it.
func TestRoutesUnderPartition(t *testing.T) {
	nodes, netw := startProxiedMesh(t, 3)
	pub := connect(t, nodes[0])
	tl := &tally{seen: map[string]int{}, by: map[string]int{}}
	fences := make(chan string, 16)
	var conns []*nats.Conn
	for _, s := range nodes {
		nc := connect(t, s)
		name := s.Name()
		// Both subscriptions feed one channel, in the connection's order:
		// the fence (a plain subscription on every member) published
		// after the work reaches each member after the work the publisher
		// sent ahead of it (each hop keeps one connection's order).
		ch := make(chan *nats.Msg, 1024)
		if _, err := nc.ChanQueueSubscribe("work", "q", ch); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.ChanSubscribe("fence", ch); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		t.Cleanup(func() { close(done) })
		go func() {
			for {
				select {
				case <-done:
					return
				case m := <-ch:
					if m.Subject == "fence" {
						select {
						case fences <- name + " " + string(m.Data):
						case <-done:
							return
						}
					} else {
						tl.add(name, m)
					}
				}
			}
		}()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, nc)
	}
	// Each server sees the other two's queue and fence subscriptions.
	waitFor(t, 10*time.Second, func() bool {
		for _, s := range nodes {
			if routeSubs(s) < 4 {
				return false
			}
		}
		return true
	}, func() string { return "queue interest not propagated" })

	round := func(label string, n int) {
		t.Helper()
		for i := range n {
			if err := pub.Publish("work", []byte(fmt.Sprintf("%s-%d", label, i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.Publish("fence", []byte(label)); err != nil {
			t.Fatal(err)
		}
		if err := pub.Flush(); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		deadline := time.After(10 * time.Second)
		for len(got) < len(nodes) {
			select {
			case f := <-fences:
				got[f] = true
			case <-deadline:
				t.Fatalf("%s: fences seen %v", label, got)
			}
		}
		tl.mu.Lock()
		defer tl.mu.Unlock()
		for i := range n {
			k := fmt.Sprintf("%s-%d", label, i)
			if c := tl.seen[k]; c != 1 {
				t.Fatalf("%s: message %s delivered %d times", label, k, c)
			}
		}
		t.Logf("%s: %d messages, once each, spread %v", label, n, tl.by)
		clear(tl.by)
	}
	round("before", 300)

	// Cut n2 off; the others notice its routes dead.
	netw.Isolate("n2")
	waitFor(t, 10*time.Second, func() bool {
		return nodes[0].NumRoutes() == 1 && nodes[1].NumRoutes() == 1 && nodes[2].NumRoutes() == 0
	}, func() string {
		return fmt.Sprintf("routes while n2 is isolated: %d %d %d", nodes[0].NumRoutes(), nodes[1].NumRoutes(), nodes[2].NumRoutes())
	})
	late, err := conns[2].SubscribeSync("late")
	if err != nil {
		t.Fatal(err)
	}
	if err := conns[2].Flush(); err != nil {
		t.Fatal(err)
	}

	netw.Heal()
	waitSettled(t, netw, nodes)
	waitFor(t, 10*time.Second, func() bool {
		for _, s := range nodes {
			if routeSubs(s) < 4 {
				return false
			}
		}
		return routeSubs(nodes[0]) >= 5 // n2's "late" too
	}, func() string { return "interest not sent again after the heal" })
	if err := pub.Publish("late", []byte("after heal")); err != nil {
		t.Fatal(err)
	}
	if m := nextMsg(t, late); string(m.Data) != "after heal" {
		t.Fatalf("late subscription got %q", m.Data)
	}
	round("after", 300)

	// Nothing crosses a route without interest: only the fence goes out.
	before := map[string]int64{}
	for _, r := range nodes[0].Routes() {
		before[r.RemoteName] = r.OutMsgs
	}
	for i := range 200 {
		if err := pub.Publish("nobody.listens", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	round("fenced", 0)
	for _, r := range nodes[0].Routes() {
		if d := r.OutMsgs - before[r.RemoteName]; d != 1 {
			t.Fatalf("route to %s carried %d messages for one fence (200 without interest published)", r.RemoteName, d)
		}
	}
}
