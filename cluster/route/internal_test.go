package route_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

// Server-to-server messages on a named channel reach the peer's handler
// (and no client), peers are listed by name, and their comings and goings
// are reported. Delivery is best effort (a route replaced by a better
// connection loses what it had queued), so each message is resent until
// it arrives, as raft resends.
func TestInternalChannelCarriesMessagesBetweenServers(t *testing.T) {
	// Pings far apart: under -race on a loaded machine, reading a 3 MiB
	// message can outlast three 200 ms pings, and the route would be
	// dropped as dead with the message in it.
	slowPings := func(o *config.Options) { o.Cluster.PingInterval = 2 * time.Second }
	n0 := startNode(t, "n0", nil, slowPings)
	nodes := []*server.Server{n0,
		startNode(t, "n1", []string{n0.ClusterURL()}, slowPings),
		startNode(t, "n2", []string{n0.ClusterURL()}, slowPings)}
	waitMesh(t, nodes...)
	m0, m1 := nodes[0].RouteManager(), nodes[1].RouteManager()

	got := make(chan []byte, 16)
	var mu sync.Mutex
	var from []string
	m1.Handle("test.chan", func(peer string, payload []byte) {
		mu.Lock()
		from = append(from, peer)
		mu.Unlock()
		got <- bytes.Clone(payload)
	})
	// A client subscribed to everything sees none of it.
	nc := connect(t, nodes[1])
	sub, _ := nc.SubscribeSync(">")
	nc.Flush()

	peers := m0.Peers()
	if len(peers) != 2 || peers[0].Name != "n1" || peers[1].Name != "n2" {
		t.Fatalf("peers of n0: %+v", peers)
	}
	big := bytes.Repeat([]byte("x"), 3<<20)
	for _, p := range [][]byte{[]byte("one"), {}, big} {
		deadline := time.Now().Add(20 * time.Second)
	resend:
		m0.SendTo("n1", "test.chan", bytes.Clone(p)) // refused while a route is replaced
		select {
		case b := <-got:
			if !bytes.Equal(b, p) {
				t.Fatalf("received %d bytes, sent %d", len(b), len(p))
			}
		case <-time.After(time.Second):
			if time.Now().Before(deadline) {
				goto resend
			}
			t.Fatalf("a %d-byte message never arrived", len(p))
		}
	}
	mu.Lock()
	for _, f := range from {
		if f != "n0" {
			t.Fatalf("message attributed to %s", f)
		}
	}
	mu.Unlock()
	if m0.SendTo("nobody", "test.chan", []byte("x")) {
		t.Fatal("SendTo accepted a message for an unknown peer")
	}
	if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("a client received internal traffic on %s", m.Subject)
	}
	if st := m0.InternalStats(); st.Sent < 3 || st.Dropped < 1 {
		t.Fatalf("stats of n0: %+v", st)
	}
	// The route that carried them counts them in its out counters (as
	// the receiving side counts them in): /routez shows replication.
	for _, r := range m0.Routes() {
		if r.RemoteName == "n1" && (r.OutMsgs < 1 || r.OutBytes < int64(len(big))) {
			t.Fatalf("n0's route to n1 counts out %d msgs, %d bytes", r.OutMsgs, r.OutBytes)
		}
	}

	// A peer that goes is reported down.
	changes := make(chan string, 4)
	m0.OnPeerChange(func(name string, up bool) {
		if !up {
			changes <- name
		}
	})
	nodes[2].Shutdown()
	select {
	case name := <-changes:
		if name != "n2" {
			t.Fatalf("reported down: %s", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no peer change reported")
	}
	if peers := m0.Peers(); len(peers) != 1 || peers[0].Name != "n1" {
		t.Fatalf("peers after n2 left: %+v", peers)
	}
}
