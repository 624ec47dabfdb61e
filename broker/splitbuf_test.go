package broker_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// splitPayload is message i's payload: its size and a fill byte derived
// from i, so that a payload overwritten by a later one is seen.
func splitPayload(i int) []byte {
	sizes := []int{20 << 10, 64 << 10, 100 << 10, 300 << 10, 1<<20 + 5}
	return bytes.Repeat([]byte{byte('a' + i%26)}, sizes[i%len(sizes)]+i)
}

// Large payloads that reach the server cut into many reads are gathered in
// buffers the receivers then refer to (splitbuf.go): every receiver, a
// fast one and one that reads nothing until the publisher is done, gets
// every payload whole and unchanged, including one past the pooled sizes.
func TestSplitLargePayloadsReachEveryReceiverUnchanged(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxPayload = 4 << 20 })
	const msgs = 40

	fast := testutil.Connect(t, s)
	got := make(chan *nats.Msg, msgs)
	if _, err := fast.ChanSubscribe("big", got); err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, fast)

	slow := testutil.DialRaw(t, s)
	slow.Send("CONNECT {\"verbose\":false}\r\nSUB big 1\r\nPING\r\n")
	slow.Expect("PONG\r\n")

	pub := testutil.DialRaw(t, s)
	pub.Send("CONNECT {\"verbose\":false}\r\n")
	var wire bytes.Buffer
	for i := 0; i < msgs; i++ {
		p := splitPayload(i)
		fmt.Fprintf(&wire, "PUB big %d\r\n", len(p))
		wire.Write(p)
		wire.WriteString("\r\n")
	}
	wire.WriteString("PING\r\n")
	// Odd-sized writes: payloads and control lines are cut everywhere.
	for b := wire.Bytes(); len(b) > 0; {
		n := min(len(b), 7001)
		if _, err := pub.Conn.Write(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	pub.Expect("PONG\r\n")

	for i := 0; i < msgs; i++ {
		select {
		case m := <-got:
			if want := splitPayload(i); !bytes.Equal(m.Data, want) {
				t.Fatalf("fast receiver: message %d has %d bytes starting %q, want %d of %q", i, len(m.Data), m.Data[:1], len(want), want[:1])
			}
		case <-time.After(testutil.MsgWait):
			t.Fatalf("fast receiver: message %d did not arrive", i)
		}
	}
	slow.Conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReaderSize(slow.Reader, 1<<16)
	for i := 0; i < msgs; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("slow receiver: message %d: %v", i, err)
		}
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "MSG" {
			t.Fatalf("slow receiver: %q", line)
		}
		n, _ := strconv.Atoi(f[3])
		data := make([]byte, n+2)
		if _, err := io.ReadFull(r, data); err != nil {
			t.Fatal(err)
		}
		if want := splitPayload(i); !bytes.Equal(data[:n], want) {
			t.Fatalf("slow receiver: message %d has %d bytes starting %q, want %d of %q", i, n, data[:1], len(want), want[:1])
		}
	}
}
