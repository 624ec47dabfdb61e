package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/internal/testutil"
)

// The wildcard 0.0.0.0 reads as an IPv4 address on every listener (the
// log, INFO and ports file show it), not as [::].
func TestIPv4WildcardReadsAsIPv4(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor, func(o *config.Options) {
		o.Host = "0.0.0.0"
		o.WebSocket = config.WebSocketOptions{Host: "0.0.0.0", Port: -1, NoTLS: true}
		o.MQTT = config.MQTTOptions{Host: "0.0.0.0", Port: -1}
	})
	for name, a := range map[string]interface{ String() string }{
		"nats": s.Addr(), "monitor": s.MonitorAddr(), "websocket": s.WebSocketAddr(), "mqtt": s.MQTTAddr(),
	} {
		if got := a.String(); !strings.HasPrefix(got, "0.0.0.0:") {
			t.Errorf("%s listens on %s, want 0.0.0.0:port", name, got)
		}
	}
}

// Listening on 0.0.0.0 takes IPv4 and IPv6 clients, on midge as on the
// reference server, and INFO states the host as configured; 127.0.0.1 takes
// IPv4 clients only.
func TestIPv4WildcardAsReference(t *testing.T) {
	probe, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		testtools.Missing(t, fmt.Sprintf("no IPv6 loopback (::1): %v (.ci/run enables it with sysctl net.ipv6.conf.lo.disable_ipv6=0)", err))
	}
	probe.Close()
	// reaches dials and reads INFO, failing when its host is not the
	// configured one.
	reaches := func(t *testing.T, network, addr, port, configured string) bool {
		conn, err := net.DialTimeout(network, net.JoinHostPort(addr, port), testutil.RawTimeout)
		if err != nil {
			return false
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(testutil.RawTimeout))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "INFO ") {
			t.Fatalf("%s %s: first line %q, %v", network, addr, line, err)
		}
		var info struct {
			Host string `json:"host"`
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "INFO ")), &info); err != nil {
			t.Fatal(err)
		}
		if info.Host != configured {
			t.Errorf("%s %s: INFO host %q, want %q", network, addr, info.Host, configured)
		}
		return true
	}
	check := func(t *testing.T, clientURL, host string) {
		u, err := url.Parse(clientURL)
		if err != nil {
			t.Fatal(err)
		}
		if !reaches(t, "tcp4", "127.0.0.1", u.Port(), host) {
			t.Fatal("IPv4 loopback refused")
		}
		wildcard := host == "0.0.0.0"
		if got := reaches(t, "tcp6", "::1", u.Port(), host); got != wildcard {
			t.Fatalf("IPv6 loopback reached: %v, want %v", got, wildcard)
		}
	}
	for _, host := range []string{"0.0.0.0", "127.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			t.Run("midge", func(t *testing.T) {
				s := testutil.StartServer(t, func(o *config.Options) { o.Host = host })
				check(t, s.ClientURL(), host)
			})
			t.Run("reference", func(t *testing.T) {
				r := testtools.StartReference(t, "-a", host)
				check(t, r.URL, host)
			})
		})
	}
}
