package server

import (
	"testing"

	"github.com/midgemq/midge/config"
)

// The servers that found the meta group together are this one and each
// distinct configured route other than its own address, however the
// configuration lists them.
func TestExpectedServersCountsOtherRoutesOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		port   int
		routes []string
		want   int
	}{
		{"no routes", 6222, nil, 1},
		{"every server, itself included", 6222, []string{
			"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"}, 3},
		{"the others only", 6222, []string{"nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6224"}, 3},
		{"a route twice", 6222, []string{"nats-route://127.0.0.1:6223", "nats-route://127.0.0.1:6223"}, 2},
		{"localhost is this machine", 6222, []string{"nats-route://localhost:6222", "nats-route://127.0.0.1:6223"}, 2},
		{"another machine on the same port", 6222, []string{"nats-route://192.0.2.7:6222"}, 2},
		{"unparsable routes are skipped", 6222, []string{"::bad", "nats-route://127.0.0.1:6223"}, 2},
	} {
		o := &config.Options{Cluster: config.ClusterOptions{Host: "127.0.0.1", Port: tc.port, Routes: tc.routes}}
		if got := expectedServers(o); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
