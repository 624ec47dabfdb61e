package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/midgemq/midge/config"
)

// stagingClients is a publisher and two receivers of "foo" (one without
// headers) on an unstarted server: the test drives the publisher's parser
// and the receivers' writers itself.
func stagingClients(t *testing.T) (pub *client, subs []*client, out []*captureConn) {
	t.Helper()
	s, err := New(config.Options{Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub = newClient(s, &captureConn{}, Transport{})
	pub.ProcessConnect([]byte(`{"verbose":false,"headers":true}`))
	for i, connect := range []string{`{"verbose":false,"headers":true}`, `{"verbose":false}`} {
		w := &captureConn{}
		c := newClient(s, w, Transport{})
		c.ProcessConnect([]byte(connect))
		if err := c.ProcessSub([]byte("foo"), nil, []byte(fmt.Sprint(i+1))); err != nil {
			t.Fatal(err)
		}
		subs, out = append(subs, c), append(out, w)
	}
	return pub, subs, out
}

// written drains c's queue the way its writer does and returns all it
// wrote so far.
func written(c *client, w *captureConn) string {
	c.w.flush(&c.out)
	return w.buf.String()
}

// One read of small messages, a header message, a payload large enough to
// be queued by reference, and more small ones: every receiver gets them
// in the order published, byte for byte, and its counters count each.
func TestStagedDeliveriesKeepPublishOrder(t *testing.T) {
	pub, subs, out := stagingClients(t)
	var read, want1, want2 strings.Builder
	add := func(hdr, body string) {
		if hdr == "" {
			fmt.Fprintf(&read, "PUB foo %d\r\n%s\r\n", len(body), body)
			fmt.Fprintf(&want1, "MSG foo 1 %d\r\n%s\r\n", len(body), body)
		} else {
			fmt.Fprintf(&read, "HPUB foo %d %d\r\n%s%s\r\n", len(hdr), len(hdr)+len(body), hdr, body)
			fmt.Fprintf(&want1, "HMSG foo 1 %d %d\r\n%s%s\r\n", len(hdr), len(hdr)+len(body), hdr, body)
		}
		fmt.Fprintf(&want2, "MSG foo 2 %d\r\n%s\r\n", len(body), body)
	}
	for i := range 300 {
		add("", fmt.Sprintf("m%03d", i))
	}
	add("NATS/1.0\r\nK: v\r\n\r\n", "with header")
	add("", strings.Repeat("L", zeroCopyMin+1))
	for i := range 300 {
		add("", fmt.Sprintf("n%03d", i))
	}
	rb := getReadBuf(read.Len())
	copy(rb.b, read.String())
	pub.prod.rb = rb
	if err := pub.parser.Parse(rb.b[:read.Len()]); err != nil {
		t.Fatal(err)
	}
	pub.prod.rb = nil
	pub.prod.endRead()
	if got := written(subs[0], out[0]); got != want1.String() {
		t.Fatalf("receiver with headers got %d bytes, want %d; first difference at %d",
			len(got), want1.Len(), firstDiff(got, want1.String()))
	}
	if got := written(subs[1], out[1]); got != want2.String() {
		t.Fatalf("receiver without headers got %d bytes, want %d; first difference at %d",
			len(got), want2.Len(), firstDiff(got, want2.String()))
	}
	for i, c := range subs {
		if msgs := c.stats.outMsgs.Load(); msgs != 602 {
			t.Errorf("receiver %d counted %d messages out, want 602", i, msgs)
		}
		for _, sub := range c.subs {
			if n := sub.delivered.Load(); n != 602 {
				t.Errorf("receiver %d's subscription counted %d deliveries, want 602", i, n)
			}
		}
	}
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// A PING hands over what the read staged before it: once its PONG is
// queued, the receivers hold (and count) every message published before
// it. After it a receiver's first message is queued directly again, and
// the rest wait for the read's end.
func TestPingHandsOverStagedDeliveries(t *testing.T) {
	pub, subs, out := stagingClients(t)
	read := strings.Repeat("PUB foo 2\r\nhi\r\n", 5) + "PING\r\n" + strings.Repeat("PUB foo 3\r\nbye\r\n", 4)
	if err := pub.parser.Parse([]byte(read)); err != nil {
		t.Fatal(err)
	}
	before := strings.Repeat("MSG foo 1 2\r\nhi\r\n", 5) + "MSG foo 1 3\r\nbye\r\n"
	if got := written(subs[0], out[0]); got != before {
		t.Fatalf("before the end of the read the receiver got %q, want %q", got, before)
	}
	if msgs := subs[0].stats.outMsgs.Load(); msgs != 6 {
		t.Fatalf("counted %d messages out before the end of the read, want 6", msgs)
	}
	pub.prod.endRead()
	after := before + strings.Repeat("MSG foo 1 3\r\nbye\r\n", 3)
	if got := written(subs[0], out[0]); got != after {
		t.Fatalf("after the read the receiver got %q, want %q", got, after)
	}
	if got := written(subs[1], out[1]); got != strings.ReplaceAll(after, "foo 1", "foo 2") {
		t.Fatalf("the other receiver got %q", got)
	}
}

// A run handed over to a receiver past its pending limit makes it a slow
// consumer, as a message queued directly would; the other receiver and
// the publisher are unaffected.
func TestStagedRunPastTheLimitIsASlowConsumer(t *testing.T) {
	pub, subs, out := stagingClients(t)
	subs[1].out.limit = 4 << 10
	read := strings.Repeat("PUB foo 100\r\n"+strings.Repeat("x", 100)+"\r\n", 100) // 10 KiB per receiver
	if err := pub.parser.Parse([]byte(read)); err != nil {
		t.Fatal(err)
	}
	pub.prod.endRead()
	if !subs[1].closed.Load() {
		t.Fatal("a receiver 10 KiB behind with a 4 KiB limit was not closed")
	}
	if subs[0].closed.Load() || pub.closed.Load() {
		t.Fatal("the publisher or the other receiver was closed")
	}
	if got := written(subs[0], out[0]); strings.Count(got, "MSG foo 1 100\r\n") != 100 {
		t.Fatalf("the other receiver got %d messages, want 100", strings.Count(got, "MSG foo 1 100\r\n"))
	}
}

// Two publishers stage for the same receiver in reads that overlap: each
// overwrites the receiver's hint, each still finds its own run (through
// its scan), and the receiver gets each publisher's messages in order.
func TestTwoPublishersStagingForOneReceiver(t *testing.T) {
	a, subs, out := stagingClients(t)
	b := newClient(a.broker, &captureConn{}, Transport{})
	b.ProcessConnect([]byte(`{"verbose":false}`))
	parse := func(c *client, from, to int, tag string) {
		var read strings.Builder
		for i := from; i < to; i++ {
			fmt.Fprintf(&read, "PUB foo 4\r\n%s%03d\r\n", tag, i)
		}
		if err := c.parser.Parse([]byte(read.String())); err != nil {
			t.Fatal(err)
		}
	}
	// One read each, interleaved: a, b, a again before either read ends.
	parse(a, 0, 50, "a")
	parse(b, 0, 50, "b")
	parse(a, 50, 100, "a")
	b.prod.endRead()
	a.prod.endRead()
	got := written(subs[0], out[0])
	for _, tag := range []string{"a", "b"} {
		next := 0
		for _, line := range strings.Split(got, "\r\n") {
			if strings.HasPrefix(line, tag) {
				if want := fmt.Sprintf("%s%03d", tag, next); line != want {
					t.Fatalf("publisher %s: got %s where %s was due", tag, line, want)
				}
				next++
			}
		}
		if want := map[string]int{"a": 100, "b": 50}[tag]; next != want {
			t.Fatalf("publisher %s: %d messages arrived, want %d", tag, next, want)
		}
	}
}
