package jetstore

import (
	"testing"
	"time"
)

// RedeliverPending sends unacknowledged messages again at once, in stream
// order and before new ones, instead of after the ack wait.
func TestRedeliverPending(t *testing.T) {
	rec := newRecorder()
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.NewSender = rec.newSender })
	st := mustAdd(t, s, StreamConfig{Name: "R", Subjects: []string{"r.>"}})
	c, _, err := st.AddConsumer(ConsumerConfig{Durable: "C", DeliverSubject: "d", AckPolicy: AckExplicit,
		AckWait: time.Hour}, ActionCreate)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, s, st, "r.1", nil, []byte("one"))
	publish(t, s, st, "r.2", nil, []byte("two"))
	first, second := rec.next(t), rec.next(t)
	c.RedeliverPending()
	for i, want := range []Delivery{first, second} {
		got := rec.next(t)
		// The same messages (stream sequences) with the delivery count raised.
		if got.Deliveries != 2 || got.StreamSeq != want.StreamSeq {
			t.Fatalf("redelivery %d: %+v, first sent as %+v", i, got, want)
		}
	}
}
