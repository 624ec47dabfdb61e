package server

import (
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
)

// Each limit is enforced with the reference server's text and counted.

func TestMaxSubscriptions(t *testing.T) {
	s := startServer(t, func(o *config.Options) { o.MaxSubscriptions = 2 })
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":true}\r\n")
	rc.expect("+OK\r\n")
	rc.send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
	rc.expect("+OK\r\n+OK\r\n-ERR 'maximum subscriptions exceeded'\r\n")
	rc.send("UNSUB 1\r\nSUB c 3\r\n") // room again after an UNSUB
	rc.expect("+OK\r\n+OK\r\n")
	rc.roundTrip()

	var errs asyncErrors
	nc := connect(t, s, errs.handler())
	for _, subj := range []string{"x", "y", "z"} {
		if _, err := nc.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
	}
	if e := errs.next(t); !strings.Contains(strings.ToLower(e), "maximum subscriptions exceeded") {
		t.Fatalf("async error %q", e)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("connection lost: %v", err)
	}
	if got := s.Stats().Violations.MaxSubscriptions; got != 2 {
		t.Fatalf("max subscriptions violations = %d, want 2", got)
	}
}

func TestLimitViolationsCounted(t *testing.T) {
	s := startServer(t, func(o *config.Options) {
		o.MaxPayload = 64
		o.MaxControlLine = 32
		o.MaxConnections = 3
	})
	rc := dialRaw(t, s)
	rc.send("PUB foo 65\r\n")
	rc.expect("-ERR 'Maximum Payload Violation'\r\n")
	rc.expectClosed()

	rc = dialRaw(t, s)
	rc.send("SUB " + strings.Repeat("a", 40) + " 1\r\n")
	rc.expect("-ERR 'maximum control line exceeded'\r\n")
	rc.expectClosed()

	waitFor(t, "clients gone", func() bool { return s.NumClients() == 0 })
	for i := 0; i < 3; i++ {
		dialRaw(t, s).roundTrip()
	}
	refused := rawDialNoInfo(t, s)
	refused.expect("-ERR 'maximum connections exceeded'\r\n")
	refused.expectClosed()

	v := s.Stats().Violations
	if v.MaxPayload != 1 || v.MaxControlLine != 1 || v.MaxConnections != 1 {
		t.Fatalf("violations %+v", v)
	}
}

func TestStaleConnectionCounted(t *testing.T) {
	s := startServer(t, func(o *config.Options) {
		o.PingInterval = 50 * time.Millisecond
		o.FirstPingDelay = 50 * time.Millisecond
	})
	healthy := connect(t, s, nats.PingInterval(time.Hour)) // nats.go answers PINGs
	rc := dialRaw(t, s)
	rc.send("CONNECT {\"verbose\":false}\r\n")
	rc.expect("PING\r\nPING\r\n-ERR 'Stale Connection'\r\n")
	rc.expectClosed()
	if got := s.Stats().Violations.StaleConnections; got != 1 {
		t.Fatalf("stale connections = %d, want 1", got)
	}
	pubSubWorks(t, healthy)
}
