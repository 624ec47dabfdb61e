package broker_test

import (
	"bufio"
	"net"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
)

// TestServerOutboundMemoryCap: three subscribers that never read would
// each hold up to max_pending (64 MiB); with max_outbound_memory at 4 MiB
// they are closed as slow consumers once together they pass it, while a
// subscriber that keeps up gets every message and stays connected.
func TestServerOutboundMemoryCap(t *testing.T) {
	const (
		limit = 4 << 20
		size  = 16 << 10
		batch = 32  // 512 KiB, which the reader takes before the next batch
		total = 960 // 15 MiB to every subscriber
	)
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxOutboundMemory = limit })

	for i := 0; i < 3; i++ {
		rc := testutil.DialRaw(t, s)
		if tc, ok := rc.Conn.(*net.TCPConn); ok {
			tc.SetReadBuffer(8 << 10) // keep what the kernel absorbs small
		}
		rc.Send("CONNECT {\"verbose\":false}\r\nSUB big 1\r\nPING\r\n")
		r := bufio.NewReader(rc.Conn)
		for line, _ := r.ReadString('\n'); line != "PONG\r\n"; line, _ = r.ReadString('\n') {
			if line == "" {
				t.Fatal("stalled subscriber lost before the test began")
			}
		}
		// From here on it reads nothing.
	}

	reader := testutil.Connect(t, s)
	var got atomic.Int64
	sub, err := reader.Subscribe("big", func(*nats.Msg) { got.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	sub.SetPendingLimits(-1, -1)
	reader.Flush()

	pub := testutil.Connect(t, s)
	payload := make([]byte, size)
	for sent := 0; sent < total; {
		for i := 0; i < batch; i++ {
			if err := pub.Publish("big", payload); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		pub.Flush()
		want := int64(sent)
		testutil.WaitFor(t, "the reader to keep up", func() bool { return got.Load() == want })
	}

	b := s.Broker()
	testutil.WaitFor(t, "the stalled subscribers to be closed", func() bool { return b.Stats().SlowConsumers == 3 })
	if !reader.IsConnected() || got.Load() != total {
		t.Fatalf("the subscriber keeping up: connected %v, %d of %d messages", reader.IsConnected(), got.Load(), total)
	}
	testutil.WaitFor(t, "outbound memory to be given back", func() bool { return b.OutboundMemory() == 0 })
}
