package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// freePorts asks the system for n free loopback ports (the cluster
// configuration must name each server's route port before it starts).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// clusterNode is one child of a 3-server cluster started from its
// configuration file.
type clusterNode struct {
	conf, dir string
	c         *child
	monitor   string
}

func (n *clusterNode) start(t *testing.T) {
	t.Helper()
	n.c = startMidge(t, "-c", n.conf)
	ports := portsOf(t, n.dir, n.c.cmd.Process.Pid)
	n.monitor = ports["monitoring"][0]
}

func (n *clusterNode) routes(t *testing.T) int {
	resp, err := http.Get(n.monitor + "/varz")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var v struct {
		Routes int `json:"routes"`
	}
	if json.NewDecoder(resp.Body).Decode(&v) != nil {
		return -1
	}
	return v.Routes
}

func waitRoutes(t *testing.T, want int, nodes ...*clusterNode) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok := true
		var got []string
		for _, n := range nodes {
			r := n.routes(t)
			got = append(got, fmt.Sprint(r))
			ok = ok && r == want
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want %d routes on each server, have %s", want, strings.Join(got, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// flows publishes on from until sub gets a message.
func flows(t *testing.T, from *nats.Conn, sub *nats.Subscription) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		from.Publish(sub.Subject, []byte("x"))
		from.Flush()
		if _, err := sub.NextMsg(100 * time.Millisecond); err == nil {
			return
		}
	}
	t.Fatalf("no message on %s crossed the cluster", sub.Subject)
}

func TestThreeNodeClusterSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		conf := filepath.Join(dir, fmt.Sprintf("n%d.conf", i))
		// Every server lists every route, itself included, as people write
		// cluster configurations.
		text := fmt.Sprintf(`server_name: n%d
http: "127.0.0.1:-1"
ports_file_dir: %q
cluster {
  name: c1
  listen: "127.0.0.1:%d"
  ping_interval: "250ms"
  routes: [%s]
}
`, i, dir, ports[i], strings.Join(routes, ", "))
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		nodes[i] = &clusterNode{conf: conf, dir: dir}
		nodes[i].start(t)
	}
	waitRoutes(t, 2, nodes...)

	connectTo := func(n *clusterNode) *nats.Conn {
		nc, err := nats.Connect(n.c.url(), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	nc0, nc2 := connectTo(nodes[0]), connectTo(nodes[2])
	sub2, _ := nc2.SubscribeSync("across")
	nc2.Flush()
	flows(t, nc0, sub2)

	// SIGKILL: no goodbye. The others notice, keep serving each other.
	if err := nodes[1].c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	nodes[1].c.wait(t)
	waitRoutes(t, 1, nodes[0], nodes[2])
	flows(t, nc0, sub2)

	// It comes back (a new server id, the same configuration): the mesh
	// forms again and it is served like the others.
	nodes[1].start(t)
	waitRoutes(t, 2, nodes...)
	nc1 := connectTo(nodes[1])
	sub1, _ := nc1.SubscribeSync("across.back")
	nc1.Flush()
	flows(t, nc0, sub1)
	flows(t, nc0, sub2)
}
