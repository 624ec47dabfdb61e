package server_test

import (
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/monitor"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// ldmClient is a nats.go connection that records lame duck events.
type ldmClient struct {
	nc       *nats.Conn
	notified chan time.Time // LameDuckModeHandler
	closed   chan time.Time // ClosedHandler
}

func connectLDM(t *testing.T, s *server.Server) *ldmClient {
	t.Helper()
	c := &ldmClient{notified: make(chan time.Time, 1), closed: make(chan time.Time, 1)}
	c.nc = testutil.Connect(t, s,
		nats.LameDuckModeHandler(func(*nats.Conn) { c.notified <- time.Now() }),
		nats.ClosedHandler(func(*nats.Conn) { c.closed <- time.Now() }))
	return c
}

func waitLDMEvent(t *testing.T, ch <-chan time.Time, what string) time.Time {
	t.Helper()
	select {
	case at := <-ch:
		return at
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return time.Time{}
	}
}

func TestLameDuckModeTellsWaitsAndClosesGradually(t *testing.T) {
	const grace, duration = 300 * time.Millisecond, 700 * time.Millisecond
	s := testutil.StartServer(t, testutil.WithMonitor, func(o *config.Options) {
		o.LameDuckGracePeriod, o.LameDuckDuration = grace, duration
	})
	clients := []*ldmClient{connectLDM(t, s), connectLDM(t, s), connectLDM(t, s)}
	// A telnet-style client (protocol 0) cannot take an async INFO.
	raw := testutil.DialRaw(t, s)
	raw.Send("CONNECT {\"verbose\":false}\r\n")
	raw.RoundTrip()

	start := time.Now()
	go s.LameDuckShutdown()
	for i, c := range clients {
		waitLDMEvent(t, c.notified, "lame duck notice")
		if time.Since(start) < grace && !c.nc.IsConnected() {
			t.Fatalf("client %d closed within the grace period", i)
		}
	}
	if !s.InLameDuckMode() {
		t.Fatal("not in lame duck mode")
	}
	if time.Since(start) < grace { // the monitoring server goes with the shutdown
		if code, body := testutil.HTTPGet(t, s, monitor.HealthzPath); code != http.StatusInternalServerError {
			t.Fatalf("healthz in lame duck mode: %d %s", code, body)
		}
	}
	if conn, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		conn.Close()
		t.Fatal("a new client was accepted in lame duck mode")
	}

	var closedAt []time.Time
	for _, c := range clients {
		closedAt = append(closedAt, waitLDMEvent(t, c.closed, "close"))
	}
	raw.ExpectClosed() // with nothing sent to it before
	select {
	case <-s.Stopped():
	case <-time.After(10 * time.Second):
		t.Fatal("server did not shut down after lame duck mode")
	}
	slices.SortFunc(closedAt, func(a, b time.Time) int { return a.Compare(b) })
	if first := closedAt[0].Sub(start); first < grace {
		t.Fatalf("first client closed %v after lame duck mode began, before the %v grace period", first, grace)
	}
	// Four clients over duration-grace = 400ms: 50-100ms between closes, so
	// any three of them span at least two pauses.
	if spread := closedAt[2].Sub(closedAt[0]); spread < 80*time.Millisecond {
		t.Fatalf("clients closed within %v of each other, not spread out", spread)
	}
}

func TestLameDuckModeWithoutClientsShutsDownAtOnce(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.LameDuckGracePeriod, o.LameDuckDuration = time.Hour, 2*time.Hour })
	done := make(chan struct{})
	go func() { s.LameDuckShutdown(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("lame duck mode without clients waited")
	}
	select {
	case <-s.Stopped():
	default:
		t.Fatal("not stopped")
	}
	s.LameDuckShutdown() // again: nothing to do
}
