package jetstore

import (
	"testing"
	"time"
)

// Store-level tests of the consumer engine's acknowledgement side: no
// server, no network; a fake clock replaces every wait.

func TestAckFloorFollowsLowestPending(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s", "s", "s", "s", "s")
	c := e.consumer(ConsumerConfig{Durable: "C", AckPolicy: AckExplicit, AckWait: time.Hour})
	c.Pull(pullOf(5))
	e.settle(c)
	e.wantSeqs(e.deliveries(5), 1, 2, 3, 4, 5)
	floor := func(want uint64, pending int) {
		t.Helper()
		info := e.info(c)
		if info.AckFloor.Stream != want || info.AckFloor.Consumer != want || info.NumAckPending != pending {
			t.Fatalf("ack floor %+v with %d pending, want %d with %d", info.AckFloor, info.NumAckPending, want, pending)
		}
	}
	c.Ack(2, 2, nil)
	c.Ack(3, 3, nil)
	floor(0, 3)
	c.Ack(1, 1, []byte("done"))
	floor(3, 2)
	if ev := e.rec.nextEvent(t); ev.ackDone != "done" {
		t.Fatalf("ack not answered: %v", ev)
	}
	c.Ack(5, 5, nil)
	floor(3, 1)
	c.Ack(4, 4, nil)
	floor(5, 0)
	c.Ack(4, 4, []byte("again")) // a second ack of the same message changes nothing
	floor(5, 0)
	if ev := e.rec.nextEvent(t); ev.ackDone != "again" {
		t.Fatalf("double ack not answered: %v", ev)
	}
}

func TestAckAllAcknowledgesUpToConsumerSequence(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s", "s", "s", "s")
	c := e.consumer(ConsumerConfig{Durable: "C", AckPolicy: AckAll, AckWait: time.Hour})
	c.Pull(pullOf(4))
	e.settle(c)
	e.deliveries(4)
	c.Ack(3, 3, nil)
	if info := e.info(c); info.AckFloor.Stream != 3 || info.NumAckPending != 1 {
		t.Fatalf("after ack all of 3: %+v, %d pending", info.AckFloor, info.NumAckPending)
	}
}

func TestRedeliveryAfterAckWait(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s", "s")
	c := e.consumer(ConsumerConfig{Durable: "C", DeliverSubject: "d", AckPolicy: AckExplicit, AckWait: 30 * time.Second})
	first := e.rec.next(t)
	if first.StreamSeq != 1 || first.ConsumerSeq != 1 || first.Deliveries != 1 || first.Pending != 1 {
		t.Fatalf("first delivery %+v", first)
	}
	e.deliveries(1)
	e.step(c, 29*time.Second)
	e.rec.none(t)
	e.step(c, 2*time.Second)
	for i, want := range []uint64{1, 2} {
		d := e.rec.next(t)
		if d.StreamSeq != want || d.Deliveries != 2 || d.ConsumerSeq != uint64(3+i) {
			t.Fatalf("redelivery %d: %+v", i, d)
		}
	}
	if info := e.info(c); info.NumRedelivered != 2 || info.NumAckPending != 2 || info.Delivered.Consumer != 4 || info.Delivered.Stream != 2 {
		t.Fatalf("info after redelivery: %+v", info)
	}
	c.Ack(1, 3, nil)
	c.Ack(2, 4, nil)
	if info := e.info(c); info.NumRedelivered != 0 || info.NumAckPending != 0 || info.AckFloor.Consumer != 4 {
		t.Fatalf("info after acks: %+v", info)
	}
	e.step(c, time.Hour)
	e.rec.none(t)
}

func TestNakWithDelayAndAtOnce(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s")
	c := e.consumer(ConsumerConfig{Durable: "C", DeliverSubject: "d", AckPolicy: AckExplicit, AckWait: time.Hour})
	e.deliveries(1)
	c.Nak(1, 1, 10*time.Second, nil)
	e.settle(c)
	e.step(c, 5*time.Second)
	e.rec.none(t)
	e.step(c, 6*time.Second)
	if d := e.rec.next(t); d.StreamSeq != 1 || d.Deliveries != 2 {
		t.Fatalf("after nak with delay: %+v", d)
	}
	c.Nak(1, 2, 0, []byte("nr"))
	e.settle(c)
	if d := e.rec.next(t); d.Deliveries != 3 {
		t.Fatalf("after nak: %+v", d)
	}
	if ev := e.rec.nextEvent(t); ev.ackDone != "nr" {
		t.Fatalf("nak not answered after the pass: %v", ev)
	}
}

func TestTermAndProgress(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s", "s")
	c := e.consumer(ConsumerConfig{Durable: "C", DeliverSubject: "d", AckPolicy: AckExplicit, AckWait: 10 * time.Second})
	e.deliveries(2)
	c.Term(1, 1, nil)
	e.step(c, 8*time.Second)
	c.Progress(2, 2, nil) // still working on it: the wait starts again
	e.settle(c)
	e.step(c, 8*time.Second)
	e.rec.none(t)
	if info := e.info(c); info.AckFloor.Stream != 1 || info.NumAckPending != 1 {
		t.Fatalf("after term: %+v", info)
	}
	e.step(c, 3*time.Second)
	e.wantSeqs(e.deliveries(1), 2) // terminated 1 never comes back
	e.step(c, time.Minute)
	e.wantSeqs(e.deliveries(1), 2)
}

func TestMaxDeliverStopsRedelivery(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s")
	c := e.consumer(ConsumerConfig{Durable: "C", DeliverSubject: "d", AckPolicy: AckExplicit, AckWait: time.Second, MaxDeliver: 2})
	e.deliveries(1)
	e.step(c, 2*time.Second)
	if d := e.rec.next(t); d.Deliveries != 2 {
		t.Fatalf("second delivery %+v", d)
	}
	e.step(c, 2*time.Second)
	e.step(c, time.Hour)
	e.rec.none(t)
	if info := e.info(c); info.NumAckPending != 0 || info.NumRedelivered != 0 || info.AckFloor.Stream != 1 {
		t.Fatalf("after max deliver: %+v", info)
	}
}

func TestBackoffSpacesRedeliveries(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s")
	c := e.consumer(ConsumerConfig{Durable: "C", DeliverSubject: "d", AckPolicy: AckExplicit,
		BackOff: []time.Duration{2 * time.Second, 10 * time.Second}, MaxDeliver: 4})
	if got := c.Config().AckWait; got != 2*time.Second {
		t.Fatalf("ack wait %v, want the first backoff", got)
	}
	e.deliveries(1)
	for i, tc := range []struct {
		early, late time.Duration // nothing after early; delivery dc after early+late
		dc          int
	}{
		{1 * time.Second, 1500 * time.Millisecond, 2},
		{9 * time.Second, 2 * time.Second, 3},
		{9 * time.Second, 2 * time.Second, 4}, // the last backoff repeats
	} {
		e.step(c, tc.early)
		e.rec.none(t)
		e.step(c, tc.late)
		if d := e.rec.next(t); d.Deliveries != tc.dc {
			t.Fatalf("redelivery %d: %+v", i, d)
		}
	}
	e.step(c, time.Hour)
	e.rec.none(t)
}

func TestMaxAckPendingHoldsNewMessages(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s", "s", "s", "s")
	c := e.consumer(ConsumerConfig{Durable: "C", DeliverSubject: "d", AckPolicy: AckExplicit, AckWait: time.Second, MaxAckPending: 2})
	e.wantSeqs(e.deliveries(2), 1, 2)
	e.rec.none(t)
	if info := e.info(c); info.NumPending != 2 || info.NumAckPending != 2 {
		t.Fatalf("held back: %+v", info)
	}
	e.step(c, 2*time.Second) // redeliveries are not held back
	e.wantSeqs(e.deliveries(2), 1, 2)
	c.Ack(1, 3, nil)
	e.settle(c)
	e.wantSeqs(e.deliveries(1), 3)
	c.Ack(2, 4, nil)
	c.Ack(3, 5, nil)
	e.settle(c)
	e.wantSeqs(e.deliveries(1), 4)
	e.rec.none(t)
}

func TestWorkQueueRemovesAcknowledged(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "W", Subjects: []string{"w"}, Retention: RetentionWorkQueue})
	e.publish("w", "w", "w")
	c := e.consumer(ConsumerConfig{Durable: "C", AckPolicy: AckExplicit, AckWait: time.Hour})
	c.Pull(pullOf(3))
	e.settle(c)
	e.deliveries(3)
	c.Ack(1, 1, nil)
	c.Nak(2, 2, time.Hour, nil)
	c.Term(3, 3, nil)
	e.settle(c)
	if state := e.st.State("", false); state.Msgs != 1 || state.FirstSeq != 2 {
		t.Fatalf("after ack, nak, term: %+v", state)
	}
	if _, err := e.st.Get(1); err == nil {
		t.Fatal("acknowledged message still stored")
	}
}

func TestInterestRetentionWaitsForEveryConsumer(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "I", Subjects: []string{"i.*"}, Retention: RetentionInterest})
	e.publish("i.a") // nobody is interested: stored, acknowledged, gone
	if state := e.st.State("", false); state.Msgs != 0 || state.LastSeq != 1 {
		t.Fatalf("without consumers: %+v", state)
	}
	a := e.consumer(ConsumerConfig{Durable: "A", AckPolicy: AckExplicit, AckWait: time.Hour})
	b := e.consumer(ConsumerConfig{Durable: "B", AckPolicy: AckExplicit, AckWait: time.Hour, FilterSubject: "i.b"})
	e.publish("i.a", "i.b")
	a.Pull(pullOf(2))
	e.settle(a)
	b.Pull(pullOf(1))
	e.settle(b)
	e.deliveries(3)
	a.Ack(2, 1, nil) // i.a: B never sees it, A was the last
	a.Ack(3, 2, nil)
	e.settle(a)
	if state := e.st.State("", false); state.Msgs != 1 || state.FirstSeq != 3 {
		t.Fatalf("after A acked both: %+v", state)
	}
	b.Ack(3, 1, nil)
	e.settle(b)
	if state := e.st.State("", false); state.Msgs != 0 {
		t.Fatalf("after B acked: %+v", state)
	}
}

// A durable's positions, pending messages and ack floor survive Close and
// Open; what was pending is redelivered after its ack wait, what was
// acknowledged never.
func TestConsumerStateSurvivesReopen(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	e.publish("s", "s", "s", "s")
	c := e.consumer(ConsumerConfig{Durable: "C", AckPolicy: AckExplicit, AckWait: 30 * time.Second})
	c.Pull(pullOf(4))
	e.settle(c)
	e.deliveries(4)
	c.Ack(1, 1, nil)
	c.Ack(3, 3, nil)
	before := e.info(c)

	e.s = e.s.reopen(t)
	e.st, _ = e.s.Stream("S")
	c, err := e.st.Consumer("C")
	if err != nil {
		t.Fatal(err)
	}
	after := e.info(c)
	if after.Delivered != before.Delivered || after.AckFloor != before.AckFloor || after.NumAckPending != 2 ||
		after.NumPending != 0 {
		t.Fatalf("state changed across reopen:\n%+v\n%+v", before, after)
	}
	c.Pull(pullOf(5))
	e.step(c, 31*time.Second)
	for _, want := range []uint64{2, 4} {
		if d := e.rec.next(t); d.StreamSeq != want || d.Deliveries != 2 {
			t.Fatalf("redelivery after reopen: %+v, want seq %d", d, want)
		}
	}
	e.publish("s")
	e.settle(c)
	e.wantSeqs(e.deliveries(1), 5)
}
