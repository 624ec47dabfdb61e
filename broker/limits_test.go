package broker_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// A subscriber that stops reading must be cut off without slowing anyone
// else: the publisher and a healthy subscriber carry on and get everything.
func TestSlowConsumerIsolation(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxPending = 1 << 20 })

	stuck := testutil.DialRaw(t, s) // subscribes, then never reads again
	stuck.Send("CONNECT {\"verbose\":false}\r\nSUB flood 1\r\n")
	stuck.RoundTrip()

	healthy := testutil.Connect(t, s)
	hs, _ := healthy.SubscribeSync("flood")
	hs.SetPendingLimits(-1, -1)
	healthy.Flush()

	pub := testutil.Connect(t, s)
	payload := bytes.Repeat([]byte("x"), 1024)
	// 40 MB in rounds of 512 KiB: far more than the stuck client's socket
	// buffers plus MaxPending, while the healthy subscriber, which reads,
	// never has more than one round queued.
	const rounds, perRound = 80, 512
	for r := 0; r < rounds; r++ {
		for i := 0; i < perRound; i++ {
			if err := pub.Publish("flood", payload); err != nil {
				t.Fatal(err)
			}
		}
		if err := pub.FlushTimeout(10 * time.Second); err != nil {
			t.Fatalf("publisher stalled: %v", err)
		}
		if err := healthy.FlushTimeout(10 * time.Second); err != nil {
			t.Fatalf("healthy subscriber stalled: %v", err)
		}
	}
	if n, _, _ := hs.Pending(); n != rounds*perRound {
		t.Fatalf("healthy subscriber got %d of %d", n, rounds*perRound)
	}
	if sc := s.Stats().SlowConsumers; sc != 1 {
		t.Fatalf("slow consumers = %d, want 1", sc)
	}
	// The stuck client was closed: reading drains its socket, then EOF.
	_ = stuck.Conn.SetReadDeadline(time.Now().Add(testutil.RawTimeout))
	buf := make([]byte, 1<<20)
	for {
		if _, err := stuck.Reader.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("slow consumer connection still open")
			}
			break
		}
	}
	testutil.WaitFor(t, "slow consumer gone", func() bool { return s.NumClients() == 2 })
}

// A peer that takes no bytes for a whole write deadline is closed even if
// its pending bytes stay under the limit.
func TestWriteDeadline(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.WriteDeadline = 100 * time.Millisecond })
	stuck := testutil.DialRaw(t, s)
	stuck.Send("CONNECT {\"verbose\":false}\r\nSUB flood 1\r\n")
	stuck.RoundTrip()
	pub := testutil.Connect(t, s)
	payload := bytes.Repeat([]byte("y"), 64<<10)
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().SlowConsumers == 0 {
		if time.Now().After(deadline) {
			t.Fatal("write deadline never fired")
		}
		pub.Publish("flood", payload)
		pub.Flush()
	}
	testutil.WaitFor(t, "stuck client closed", func() bool { return s.NumClients() == 1 })
}

func TestStaleConnection(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.FirstPingDelay = 20 * time.Millisecond
		o.PingInterval = 20 * time.Millisecond
	})
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\n")
	// Two PINGs go unanswered, then the server gives up.
	rc.Expect("PING\r\nPING\r\n-ERR 'Stale Connection'\r\n")
	rc.ExpectClosed()
}

func TestPongKeepsConnectionAlive(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.FirstPingDelay = 10 * time.Millisecond
		o.PingInterval = 10 * time.Millisecond
	})
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\n")
	for i := 0; i < 5; i++ {
		rc.Expect("PING\r\n")
		rc.Send("PONG\r\n")
	}
	rc.RoundTrip()
}

func TestClientSurvivesServerPings(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.FirstPingDelay = 10 * time.Millisecond
		o.PingInterval = 10 * time.Millisecond
	})
	nc := testutil.Connect(t, s)
	sub, _ := nc.SubscribeSync("p")
	for i := 0; i < 5; i++ {
		time.Sleep(15 * time.Millisecond) // let server PINGs happen in between
		nc.Publish("p", nil)
		testutil.NextMsg(t, sub)
	}
	if nc.Status() != nats.CONNECTED {
		t.Fatalf("status %v", nc.Status())
	}
}

// Garbage on other connections must not disturb a working pair.
func TestMalformedClientsDoNotDisturbOthers(t *testing.T) {
	s := testutil.StartServer(t)
	nc := testutil.Connect(t, s)
	sub, _ := nc.SubscribeSync("ok")
	nc.Flush()
	garbage := []string{
		"\x00\x01\x02\xff\r\n", "PUB foo 99999999999999\r\n", "SUB\r\n",
		"HPUB a 5 2\r\n", "CONNECT {\"protocol\":-7}\r\n", "PUB foo 2\r\nabc",
		"UNSUB x y z\r\n", "INFO {}\r\nPING\r\n",
	}
	for _, g := range garbage {
		rc := testutil.DialRawNoInfo(t, s)
		rc.Send(g)
	}
	for i := 0; i < 100; i++ {
		nc.Publish("ok", []byte("fine"))
	}
	for i := 0; i < 100; i++ {
		testutil.NextMsg(t, sub)
	}
}

// A publisher faster than its subscriber is slowed down (stalled) instead of
// the subscriber being cut off as a slow consumer, as long as the subscriber
// keeps reading.
func TestFastProducerStalledNotConsumerCut(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxPending = 2 << 20 })
	sub := testutil.Connect(t, s)
	ss, _ := sub.SubscribeSync("big")
	ss.SetPendingLimits(-1, -1)
	sub.Flush()
	pub := testutil.Connect(t, s)
	payload := bytes.Repeat([]byte("z"), 4096)
	const msgs = 10000 // 40 MB, 20 times MaxPending, with no pauses
	for i := 0; i < msgs; i++ {
		pub.Publish("big", payload)
	}
	if err := pub.FlushTimeout(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := sub.FlushTimeout(30 * time.Second); err != nil {
		t.Fatalf("subscriber lost: %v (slow consumers %d)", err, s.Stats().SlowConsumers)
	}
	if n, _, _ := ss.Pending(); n != msgs {
		t.Fatalf("subscriber got %d of %d", n, msgs)
	}
	if sc := s.Stats().SlowConsumers; sc != 0 {
		t.Fatalf("slow consumers = %d", sc)
	}
}

// A connection publishing to a subject it subscribes to is both producer and
// consumer: it is stalled until its own writer catches up, never cut off as
// a slow consumer, and every message comes back.
func TestSelfProducerStalledNotCut(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxPending = 2 << 20 })
	nc := testutil.Connect(t, s)
	ss, _ := nc.SubscribeSync("loop")
	ss.SetPendingLimits(-1, -1)
	nc.Flush()
	payload := bytes.Repeat([]byte("z"), 64<<10)
	const msgs = 4096 // 256 MiB, 128 times MaxPending
	for i := 0; i < msgs; i++ {
		if err := nc.Publish("loop", payload); err != nil {
			t.Fatalf("publish %d: %v (slow consumers %d)", i, err, s.Stats().SlowConsumers)
		}
		if n, _, _ := ss.Pending(); n > 512 {
			// Keep the client's own buffer bounded; the server's is what
			// this test is about.
			for j := 0; j < 256; j++ {
				if _, err := ss.NextMsg(testutil.MsgWait); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := nc.FlushTimeout(60 * time.Second); err != nil {
		t.Fatalf("connection lost: %v (slow consumers %d)", err, s.Stats().SlowConsumers)
	}
	if sc := s.Stats().SlowConsumers; sc != 0 {
		t.Fatalf("slow consumers = %d", sc)
	}
	if got := s.Stats().OutMsgs; got != msgs {
		t.Fatalf("delivered %d of %d", got, msgs)
	}
}
