package route_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

// startNode runs a clustered server on free loopback ports for the test's
// lifetime, soliciting routes.
func startNode(t testing.TB, name string, routes []string, mutate ...func(*config.Options)) *server.Server {
	t.Helper()
	opts := config.Options{Host: "127.0.0.1", Port: 0, ServerName: name}
	opts.Cluster = config.ClusterOptions{
		Name: "test", Host: "127.0.0.1", Port: config.RandomPort, Routes: routes,
		PingInterval: 200 * time.Millisecond, MaxPingsOut: 3,
	}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := server.New(opts, nil)
	if err != nil {
		t.Fatalf("New %s: %v", name, err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start %s: %v", name, err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// startMesh starts n servers, each seeded with the first one's route URL.
func startMesh(t testing.TB, n int) []*server.Server {
	t.Helper()
	nodes := []*server.Server{startNode(t, "n0", nil)}
	for i := 1; i < n; i++ {
		nodes = append(nodes, startNode(t, fmt.Sprintf("n%d", i), []string{nodes[0].ClusterURL()}))
	}
	waitMesh(t, nodes...)
	return nodes
}

// waitMesh waits until every server has a route to every other one.
func waitMesh(t testing.TB, nodes ...*server.Server) {
	t.Helper()
	waitFor(t, 10*time.Second, func() bool {
		for _, s := range nodes {
			if s.NumRoutes() != len(nodes)-1 {
				return false
			}
		}
		return true
	}, func() string {
		var b strings.Builder
		for _, s := range nodes {
			fmt.Fprintf(&b, "%s has %d routes; ", s.Name(), s.NumRoutes())
		}
		return b.String()
	})
}

// waitFor polls cond until it holds, failing the test after timeout with
// what describe says.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, describe func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			msg := "condition not met"
			if describe != nil {
				msg = describe()
			}
			t.Fatalf("after %v: %s", timeout, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connect opens a nats.go connection to s that does not reconnect.
func connect(t testing.TB, s *server.Server, extra ...nats.Option) *nats.Conn {
	t.Helper()
	opts := append([]nats.Option{nats.MaxReconnects(0)}, extra...)
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", s.Name(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// remoteInterest reports whether s has a route whose peer announced at
// least n subscriptions.
func routeSubs(s *server.Server) int {
	n := 0
	for _, r := range s.Routes() {
		n += r.NumSubs
	}
	return n
}

// routeOut sums the messages and bytes s sent over its routes.
func routeOut(s *server.Server) (msgs, bytes int64) {
	for _, r := range s.Routes() {
		msgs += r.OutMsgs
		bytes += r.OutBytes
	}
	return msgs, bytes
}

// nextMsg waits for a message, failing the test if none comes.
func nextMsg(t testing.TB, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("no message on %s: %v", sub.Subject, err)
	}
	return m
}
