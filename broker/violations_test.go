package broker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// Each limit is enforced with the reference server's text and counted.

func TestMaxSubscriptions(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxSubscriptions = 2 })
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":true}\r\n")
	rc.Expect("+OK\r\n")
	rc.Send("SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n")
	rc.Expect("+OK\r\n+OK\r\n-ERR 'maximum subscriptions exceeded'\r\n")
	rc.Send("UNSUB 1\r\nSUB c 3\r\n") // room again after an UNSUB
	rc.Expect("+OK\r\n+OK\r\n")
	rc.RoundTrip()

	var errs testutil.AsyncErrors
	nc := testutil.Connect(t, s, errs.Handler())
	for _, subj := range []string{"x", "y", "z"} {
		if _, err := nc.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
	}
	if e := errs.Next(t); !strings.Contains(strings.ToLower(e), "maximum subscriptions exceeded") {
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
	s := testutil.StartServer(t, func(o *config.Options) {
		o.MaxPayload = 64
		o.MaxControlLine = 32
		o.MaxConnections = 3
	})
	rc := testutil.DialRaw(t, s)
	rc.Send("PUB foo 65\r\n")
	rc.Expect("-ERR 'Maximum Payload Violation'\r\n")
	rc.ExpectClosed()

	rc = testutil.DialRaw(t, s)
	rc.Send("SUB " + strings.Repeat("a", 40) + " 1\r\n")
	rc.Expect("-ERR 'maximum control line exceeded'\r\n")
	rc.ExpectClosed()

	testutil.WaitFor(t, "clients gone", func() bool { return s.NumClients() == 0 })
	for i := 0; i < 3; i++ {
		testutil.DialRaw(t, s).RoundTrip()
	}
	refused := testutil.DialRaw(t, s)
	refused.Expect("-ERR 'maximum connections exceeded'\r\n")
	refused.ExpectClosed()

	v := s.Stats().Violations
	if v.MaxPayload != 1 || v.MaxControlLine != 1 || v.MaxConnections != 1 {
		t.Fatalf("violations %+v", v)
	}
}

func TestStaleConnectionCounted(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.PingInterval = 50 * time.Millisecond
		o.FirstPingDelay = 50 * time.Millisecond
	})
	healthy := testutil.Connect(t, s, nats.PingInterval(time.Hour)) // nats.go answers PINGs
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\n")
	rc.Expect("PING\r\nPING\r\n-ERR 'Stale Connection'\r\n")
	rc.ExpectClosed()
	if got := s.Stats().Violations.StaleConnections; got != 1 {
		t.Fatalf("stale connections = %d, want 1", got)
	}
	testutil.PubSubWorks(t, healthy)
}
