package jscluster_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/logging"
	"github.com/midgemq/midge/server"
)

// node is one server of an in-process test cluster; it can be stopped and
// started again on the same store.
type node struct {
	t      testing.TB
	name   string
	dir    string
	port   int // route port, kept across restarts so the others find it again
	routes []string
	s      *server.Server
	// dialer, when set, dials the routes (through a faultproxy network);
	// log, when set, replaces the test logger.
	dialer func(network, addr string) (net.Conn, error)
	log    logging.Logger
	tags   []string // server_tags
}

// cluster is n in-process JetStream servers routed to each other.
type tcluster struct {
	t     testing.TB
	nodes []*node
}

// testLogger logs to stderr when MIDGE_TEST_LOG is set (debugging).
func testLogger(name string) logging.Logger {
	if os.Getenv("MIDGE_TEST_LOG") == "" {
		return nil
	}
	return stderrLog{prefix: name}
}

type stderrLog struct {
	prefix string
	kv     []any
}

func (l stderrLog) log(level, msg string, kv []any) {
	fmt.Fprintf(os.Stderr, "%s %s %s %s %v %v\n", time.Now().Format("15:04:05.000"), l.prefix, level, msg, l.kv, kv)
}
func (l stderrLog) Debug(msg string, kv ...any) { l.log("DBG", msg, kv) }
func (l stderrLog) Info(msg string, kv ...any)  { l.log("INF", msg, kv) }
func (l stderrLog) Warn(msg string, kv ...any)  { l.log("WRN", msg, kv) }
func (l stderrLog) Error(msg string, kv ...any) { l.log("ERR", msg, kv) }
func (l stderrLog) With(kv ...any) logging.Logger {
	return stderrLog{prefix: l.prefix, kv: append(append([]any(nil), l.kv...), kv...)}
}

func (n *node) start() {
	n.t.Helper()
	opts := config.Options{Host: "127.0.0.1", Port: 0, ServerName: n.name, JetStream: true, StoreDir: n.dir, ServerTags: n.tags,
		HTTPHost: "127.0.0.1", HTTPPort: config.MonitorRandomPort}
	opts.Cluster = config.ClusterOptions{
		Name: "jsc", Host: "127.0.0.1", Port: n.port, Routes: n.routes,
		PingInterval: 200 * time.Millisecond, MaxPingsOut: 3,
		RouteDialer: n.dialer,
	}
	log := n.log
	if log == nil {
		log = testLogger(n.name)
	}
	s, err := server.New(opts, log)
	if err != nil {
		n.t.Fatalf("New %s: %v", n.name, err)
	}
	if err := s.Start(); err != nil {
		n.t.Fatalf("Start %s: %v", n.name, err)
	}
	n.s = s
	n.port = s.ClusterAddr().Port
}

func (n *node) stop() {
	if n.s != nil {
		n.s.Shutdown()
		n.s = nil
	}
}

// startCluster starts n servers; the first listens, the others route to
// it (and, when restarted, to every other).
func startCluster(t testing.TB, n int) *tcluster {
	t.Helper()
	return startTaggedCluster(t, make([][]string, n))
}

// startTaggedCluster starts len(tags) servers, server i with tags[i].
func startTaggedCluster(t testing.TB, tags [][]string) *tcluster {
	t.Helper()
	c := &tcluster{t: t}
	for i, tg := range tags {
		nd := &node{t: t, name: fmt.Sprintf("s%d", i+1), dir: t.TempDir(), port: config.RandomPort, tags: tg}
		if i > 0 {
			nd.routes = []string{c.nodes[0].s.ClusterURL()}
		}
		nd.start()
		c.nodes = append(c.nodes, nd)
	}
	// Restarts solicit every other server.
	for _, nd := range c.nodes {
		nd.routes = nil
		for _, o := range c.nodes {
			if o != nd {
				nd.routes = append(nd.routes, o.s.ClusterURL())
			}
		}
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.stop()
		}
	})
	c.waitMesh()
	return c
}

func (c *tcluster) waitMesh() {
	c.t.Helper()
	waitFor(c.t, 15*time.Second, "full mesh", func() bool {
		up := c.up()
		for _, nd := range up {
			if nd.s.NumRoutes() != len(up)-1 {
				return false
			}
		}
		return true
	})
}

func (c *tcluster) up() []*node {
	var out []*node
	for _, nd := range c.nodes {
		if nd.s != nil {
			out = append(out, nd)
		}
	}
	return out
}

func (c *tcluster) byName(name string) *node {
	for _, nd := range c.nodes {
		if nd.name == name {
			return nd
		}
	}
	c.t.Fatalf("no server %q", name)
	return nil
}

// client connects to nd with every server's URL for reconnects.
func (c *tcluster) client(nd *node) (*nats.Conn, jetstream.JetStream) {
	c.t.Helper()
	var urls []string
	urls = append(urls, nd.s.ClientURL())
	nc, err := nats.Connect(strings.Join(urls, ","), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		c.t.Fatal(err)
	}
	return nc, js
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctx(t testing.TB, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// createStream retries while the meta group forms (the reference server
// also answers "temporarily unavailable" then).
func createStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	var last error
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		st, err := js.CreateStream(c, cfg)
		cancel()
		if err == nil {
			return st
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("CreateStream %s: %v", cfg.Name, last)
	return nil
}
