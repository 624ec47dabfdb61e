package server_test

import (
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
)

// An IPv4 host, the wildcard included, listens on IPv4 only: 0.0.0.0 must
// not take IPv6 connections as [::] would. Every listener follows it.
func TestIPv4WildcardListensOnIPv4(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor, func(o *config.Options) {
		o.Host = "0.0.0.0"
		o.WebSocket = config.WebSocketOptions{Host: "0.0.0.0", Port: -1, NoTLS: true}
		o.MQTT = config.MQTTOptions{Host: "0.0.0.0", Port: -1}
	})
	for name, a := range map[string]interface{ String() string }{
		"nats": s.Addr(), "monitor": s.MonitorAddr(), "websocket": s.WebSocketAddr(), "mqtt": s.MQTTAddr(),
	} {
		if got := a.String(); got[0] == '[' {
			t.Errorf("%s listens on %s, want an IPv4 address", name, got)
		}
	}
}
