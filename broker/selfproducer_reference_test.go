package broker_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// A connection that publishes far more than its pending limit to a subject
// it subscribes to is slowed down, never closed as a slow consumer, and
// gets every message back: on midge as on the reference server, with the
// same 2 MiB limit. The reference bounds its stall (about a second) and
// does cut such a connection when the machine is too loaded for the reader
// to keep up (seen under -race with other packages' tests), so its half is
// tried up to three times, each on a fresh server, and must keep the
// connection once; midge, whose stall is bounded by the write deadline,
// must keep it every time.
func TestSelfProducerStalledAsReference(t *testing.T) {
	const maxPending = 2 << 20
	check := func(t *testing.T, clientURL string) error {
		var asyncErr atomic.Value
		nc, err := nats.Connect(clientURL, nats.MaxReconnects(0),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErr.Store(err) }))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		sub, err := nc.SubscribeSync("loop")
		if err != nil {
			t.Fatal(err)
		}
		sub.SetPendingLimits(-1, -1)
		testutil.Flush(t, nc)
		payload := bytes.Repeat([]byte("z"), 64<<10)
		const msgs = 512 // 32 MiB, 16 times the limit
		received := 0
		for i := 0; i < msgs; i++ {
			if err := nc.Publish("loop", payload); err != nil {
				return fmt.Errorf("connection cut: publish %d: %v (async error %v)", i, err, asyncErr.Load())
			}
			// Keep the client's own buffer bounded; the server's is what
			// this test is about.
			for n, _, _ := sub.Pending(); n > 256; n-- {
				if _, err := sub.NextMsg(testutil.MsgWait); err != nil {
					t.Fatal(err)
				}
				received++
			}
		}
		if err := nc.FlushTimeout(60 * time.Second); err != nil {
			return fmt.Errorf("connection cut: flush: %v (async error %v)", err, asyncErr.Load())
		}
		for received < msgs {
			if _, err := sub.NextMsg(testutil.MsgWait); err != nil {
				t.Fatalf("got %d of %d: %v (async error %v)", received, msgs, err, asyncErr.Load())
			}
			received++
		}
		if !nc.IsConnected() || asyncErr.Load() != nil {
			t.Fatalf("connected %v, async error %v", nc.IsConnected(), asyncErr.Load())
		}
		return nil
	}
	t.Run("midge", func(t *testing.T) {
		s := testutil.StartServer(t, func(o *config.Options) { o.MaxPending = maxPending })
		if err := check(t, s.ClientURL()); err != nil {
			t.Fatal(err)
		}
		if sc := s.Stats().SlowConsumers; sc != 0 {
			t.Fatalf("slow consumers = %d", sc)
		}
	})
	t.Run("reference", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "ref.conf")
		if err := os.WriteFile(file, []byte("max_pending: 2MB\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var err error
		for try := 1; try <= 3; try++ {
			r := testtools.StartReference(t, "-c", file)
			if err = check(t, r.URL); err == nil {
				return
			}
			r.Stop()
			t.Logf("try %d: the reference server cut the self-producer: %v", try, err)
		}
		t.Fatalf("the reference server cut the self-producer three times: %v", err)
	})
}
