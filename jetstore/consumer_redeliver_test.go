package jetstore

import (
	"strings"
	"testing"
	"time"
)

// recordingSender passes each delivery's ack reply to a channel.
type recordingSender struct{ replies chan string }

func (s *recordingSender) Send(_, _, reply, _, _ []byte) bool {
	if len(reply) > 0 {
		s.replies <- string(reply)
	}
	return true
}
func (s *recordingSender) Flush()                  {}
func (s *recordingSender) HasInterest([]byte) bool { return true }

// RedeliverPending sends unacknowledged messages again at once, in stream
// order and before new ones, instead of after the ack wait.
func TestRedeliverPending(t *testing.T) {
	send := &recordingSender{replies: make(chan string, 16)}
	s := openTestStore(t, t.TempDir(), func(o *Options) {
		o.NewSender = func(string, string) Sender { return send }
	})
	st := mustAdd(t, s, StreamConfig{Name: "R", Subjects: []string{"r.>"}})
	c, _, err := st.AddConsumer(ConsumerConfig{Durable: "C", DeliverSubject: "d", AckPolicy: AckExplicit,
		AckWait: time.Hour}, ActionCreate)
	if err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		select {
		case r := <-send.replies:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no delivery")
			return ""
		}
	}
	publish(t, s, st, "r.1", nil, []byte("one"))
	publish(t, s, st, "r.2", nil, []byte("two"))
	first, second := next(), next()
	c.RedeliverPending()
	for i, want := range []string{first, second} {
		got := next()
		// The same messages (stream sequences) with the delivery count raised.
		if got[:len("$JS.ACK.R.C.2.")] != "$JS.ACK.R.C.2." || seqOf(got) != seqOf(want) {
			t.Fatalf("redelivery %d: %s, first sent as %s", i, got, want)
		}
	}
}

// seqOf picks the stream sequence out of an ack reply.
func seqOf(reply string) string { return strings.Split(reply, ".")[5] }
