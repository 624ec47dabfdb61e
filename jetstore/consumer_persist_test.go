package jetstore

import (
	"os"
	"slices"
	"testing"
	"time"
)

// An acknowledgement counts only once the consumer's state that records it
// is durable. These tests make the disk full with the injected filesystem.

// TestAckFailsWhileStateCannotBeSaved: with the disk full, an ack changes
// nothing: a double ack is answered with a failure, the ack floor stays,
// a work queue keeps the message. Once the disk has room again the acks
// that asked for no answer are applied on the retry.
func TestAckFailsWhileStateCannotBeSaved(t *testing.T) {
	ffs := &faultFS{}
	e := newEngine(t, StreamConfig{Name: "W", Subjects: []string{"w"}, Retention: RetentionWorkQueue},
		func(o *Options) { o.FS = ffs })
	e.publish("w", "w", "w", "w")
	c := e.consumer(ConsumerConfig{Durable: "D", AckPolicy: AckExplicit, AckWait: time.Hour})
	c.Pull(pullOf(4))
	e.settle(c)
	e.wantSeqs(e.deliveries(4), 1, 2, 3, 4)

	ffs.set(errDiskFull, nil)
	c.Ack(1, 1, nil)
	c.Ack(2, 2, []byte("double.2"))
	e.settle(c)
	if ev := e.rec.nextEvent(t); ev.ackFailed != "double.2" {
		t.Fatalf("double ack on a full disk: got %v, want a failure answer", ev)
	}
	e.rec.none(t)
	check := func(floor uint64, pending int, msgs uint64) {
		t.Helper()
		info := e.info(c)
		if info.AckFloor.Stream != floor || info.NumAckPending != pending {
			t.Fatalf("ack floor %d with %d pending, want %d with %d", info.AckFloor.Stream, info.NumAckPending, floor, pending)
		}
		if n := e.st.State("", false).Msgs; n != msgs {
			t.Fatalf("work queue holds %d messages, want %d", n, msgs)
		}
	}
	check(0, 4, 4)
	e.step(c, 2*retryAfterFailure) // still full: the retry fails too
	check(0, 4, 4)

	ffs.set(nil, nil)
	e.step(c, 2*retryAfterFailure)
	check(1, 3, 3) // the plain ack of 1, kept for the retry
	c.Ack(2, 2, []byte("double.2b"))
	e.settle(c)
	if ev := e.rec.nextEvent(t); ev.ackDone != "double.2b" {
		t.Fatalf("double ack after the disk recovered: %v", ev)
	}
	check(2, 2, 2)
}

// TestAckStateAfterCrashMatchesConfirmations: a crash (the store's files
// copied as they are while it runs) after acks on a healthy disk and acks
// on a full one: no message whose ack was confirmed comes back, and no
// message whose ack was refused is lost.
func TestAckStateAfterCrashMatchesConfirmations(t *testing.T) {
	ffs := &faultFS{}
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}}, func(o *Options) { o.FS = ffs })
	e.publish("s", "s", "s", "s", "s", "s")
	c := e.consumer(ConsumerConfig{Durable: "D", AckPolicy: AckExplicit, AckWait: time.Minute})
	c.Pull(pullOf(6))
	e.settle(c)
	e.wantSeqs(e.deliveries(6), 1, 2, 3, 4, 5, 6)

	c.Ack(1, 1, []byte("ok.1"))
	c.Ack(2, 2, nil)
	e.settle(c)
	if ev := e.rec.nextEvent(t); ev.ackDone != "ok.1" {
		t.Fatalf("ack on a healthy disk: %v", ev)
	}
	ffs.set(errDiskFull, nil)
	c.Ack(3, 3, []byte("fail.3"))
	c.Ack(4, 4, nil)
	e.settle(c)
	if ev := e.rec.nextEvent(t); ev.ackFailed != "fail.3" {
		t.Fatalf("ack on a full disk: %v", ev)
	}

	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(e.s.dir)); err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	clock := &fakeClock{now: e.clock.Now()}
	s := openTestStore(t, crashed, func(o *Options) { o.NewSender, o.Now = rec.newSender, clock.Now })
	st, err := s.Stream("S")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := st.Consumer("D")
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(2 * time.Minute) // every pending message is due again
	c2.Pull(pullOf(10))
	if !c2.settle() {
		t.Fatal("consumer stopped")
	}
	var got []uint64
	for i := 0; i < 4; i++ {
		got = append(got, rec.next(t).StreamSeq)
	}
	slices.Sort(got)
	if !slices.Equal(got, []uint64{3, 4, 5, 6}) {
		t.Fatalf("after the crash delivered %v, want the unconfirmed 3..6 and nothing confirmed", got)
	}
	rec.none(t)
}
