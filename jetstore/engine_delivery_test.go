package jetstore

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"
)

// Store-level tests of the consumer engine's delivery side: pull requests,
// deliver policies, filters, push flow control and heartbeats, inactivity.

func TestPullRequestBatchMaxBytesAndExpiry(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "P", Subjects: []string{"p"}})
	e.publish("p", "p", "p", "p", "p") // 1+len("p#n") = 4 bytes each
	c := e.consumer(ConsumerConfig{Durable: "C", AckPolicy: AckNone, MaxWaiting: 1})
	c.Pull(PullRequest{Reply: []byte("r1"), Batch: 3})
	e.settle(c)
	for _, want := range []uint64{1, 2, 3} {
		if d := e.rec.next(t); d.StreamSeq != want || d.Pending != 5-want {
			t.Fatalf("batch: %+v", d)
		}
	}
	e.rec.none(t) // a filled request ends silently
	if info := e.info(c); info.NumWaiting != 0 {
		t.Fatalf("filled request still waiting: %+v", info)
	}

	c.Pull(PullRequest{Reply: []byte("r2"), Batch: 5, MaxBytes: 6})
	e.settle(c)
	seqs, st := e.untilStatus()
	e.wantSeqs(seqs, 4)
	if st.Kind != StatusMaxBytesExceeded || st.PendingMsgs != 4 || st.PendingBytes != 2 {
		t.Fatalf("over max bytes: %+v", st)
	}

	c.Pull(PullRequest{Reply: []byte("r3"), Batch: 2, Expires: 5 * time.Second})
	e.settle(c)
	e.wantSeqs(e.deliveries(1), 5)
	e.step(c, 4*time.Second)
	e.rec.none(t)
	e.step(c, 2*time.Second)
	to, st := e.rec.nextStatus(t)
	if to != "r3" || st.Kind != StatusRequestTimeout || st.PendingMsgs != 1 || st.PendingBytes != 0 {
		t.Fatalf("expiry: %s %+v", to, st)
	}

	c.Pull(PullRequest{Reply: []byte("r4"), NoWait: true})
	e.settle(c)
	if to, st := e.rec.nextStatus(t); to != "r4" || st.Kind != StatusNoMessages {
		t.Fatalf("no wait: %s %+v", to, st)
	}
}

func TestPullRequestHeartbeatsAndWaiting(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "P", Subjects: []string{"p"}})
	e.publish("p")
	c := e.consumer(ConsumerConfig{Durable: "C", AckPolicy: AckNone, MaxWaiting: 1})
	c.Pull(pullOf(1))
	e.settle(c)
	e.deliveries(1)
	c.Pull(PullRequest{Reply: []byte("hb"), Batch: 1, Expires: time.Minute, Heartbeat: time.Second})
	e.settle(c)
	e.step(c, time.Second)
	to, st := e.rec.nextStatus(t)
	if to != "hb" || st.Kind != StatusIdleHeartbeat || st.LastConsumerSeq != 1 || st.LastStreamSeq != 1 || st.FlowControl != 0 {
		t.Fatalf("heartbeat: %s %+v", to, st)
	}
	c.Pull(PullRequest{Reply: []byte("more")})
	e.settle(c)
	if to, st := e.rec.nextStatus(t); to != "more" || st.Kind != StatusMaxWaiting {
		t.Fatalf("max waiting: %s %+v", to, st)
	}
	e.rec.setDeaf("hb", true) // the requester went away: dropped silently
	e.step(c, time.Second)
	e.rec.none(t)
	if info := e.info(c); info.NumWaiting != 0 {
		t.Fatalf("request of a gone requester still waiting: %+v", info)
	}
	c.Pull(PullRequest{Reply: []byte("last"), Expires: time.Minute})
	e.settle(c)
	if err := e.st.DeleteConsumer("C"); err != nil {
		t.Fatal(err)
	}
	if to, st := e.rec.nextStatus(t); to != "last" || st.Kind != StatusConsumerDeleted {
		t.Fatalf("after delete: %s %+v", to, st)
	}
}

func TestPullRequestRefusals(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "P", Subjects: []string{"p"}})
	c := e.consumer(ConsumerConfig{Durable: "C", AckPolicy: AckNone, MaxRequestBatch: 5,
		MaxRequestExpires: time.Second, MaxRequestMaxBytes: 100})
	push := e.consumer(ConsumerConfig{Durable: "PUSH", AckPolicy: AckNone, DeliverSubject: "d"})
	for _, tc := range []struct {
		c    *Consumer
		r    PullRequest
		want Status
	}{
		{push, PullRequest{Invalid: true}, Status{Kind: StatusPushBased, Stream: "P", Consumer: "PUSH"}},
		{c, PullRequest{Invalid: true, Batch: 50}, Status{Kind: StatusBadRequest, Stream: "P", Consumer: "C"}},
		{c, PullRequest{Batch: 50, Expires: time.Second, Heartbeat: 600 * time.Millisecond},
			Status{Kind: StatusHeartbeatTooLarge, Stream: "P", Consumer: "C"}},
		{c, PullRequest{Batch: 6}, Status{Kind: StatusMaxRequestBatch, Stream: "P", Consumer: "C", Limit: 5}},
		{c, PullRequest{Expires: 2 * time.Second}, Status{Kind: StatusMaxRequestExpires, Stream: "P", Consumer: "C", MaxExpires: time.Second}},
		{c, PullRequest{MaxBytes: 101}, Status{Kind: StatusMaxRequestMaxBytes, Stream: "P", Consumer: "C", Limit: 100}},
	} {
		tc.r.Reply = []byte("in")
		tc.c.Pull(tc.r)
		e.settle(tc.c)
		if to, st := e.rec.nextStatus(t); to != "in" || st != tc.want {
			t.Errorf("%+v: %s %+v, want %+v", tc.r, to, st, tc.want)
		}
	}
}

func TestDeliverPolicies(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "D", Subjects: []string{"d.*"}})
	start := e.clock.Now()
	for _, subject := range []string{"d.a", "d.b", "d.a", "d.c"} {
		e.publish(subject)
		e.clock.advance(time.Second)
	}
	at := start.Add(1500 * time.Millisecond)
	for _, tc := range []struct {
		name string
		cfg  ConsumerConfig
		want []uint64
	}{
		{"all", ConsumerConfig{DeliverPolicy: DeliverAll}, []uint64{1, 2, 3, 4}},
		{"last", ConsumerConfig{DeliverPolicy: DeliverLast}, []uint64{4}},
		{"last filtered", ConsumerConfig{DeliverPolicy: DeliverLast, FilterSubject: "d.b"}, []uint64{2}},
		{"new", ConsumerConfig{DeliverPolicy: DeliverNew}, nil},
		{"by start sequence", ConsumerConfig{DeliverPolicy: DeliverByStartSeq, OptStartSeq: 3}, []uint64{3, 4}},
		{"by start time", ConsumerConfig{DeliverPolicy: DeliverByStartTime, OptStartTime: &at}, []uint64{3, 4}},
		{"last per subject", ConsumerConfig{DeliverPolicy: DeliverLastPerSubject}, []uint64{2, 3, 4}},
		{"last per subject filtered", ConsumerConfig{DeliverPolicy: DeliverLastPerSubject, FilterSubjects: []string{"d.a", "d.c"}}, []uint64{3, 4}},
	} {
		cfg := tc.cfg
		cfg.Durable, cfg.AckPolicy = "C", AckNone
		c := e.consumer(cfg)
		c.Pull(PullRequest{Reply: []byte("in"), Batch: 10, NoWait: true})
		e.settle(c)
		seqs, st := e.untilStatus()
		if st.Kind != StatusNoMessages {
			t.Fatalf("%s: ended with %+v", tc.name, st)
		}
		if len(seqs) != len(tc.want) || len(seqs) > 0 && !equalSeqs(seqs, tc.want) {
			t.Errorf("%s: delivered %v, want %v", tc.name, seqs, tc.want)
		}
		if err := e.st.DeleteConsumer("C"); err != nil {
			t.Fatal(err)
		}
	}
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Pending counts follow publishes, deletes and purges of matching messages
// only, and every delivery says how many are left.
func TestFilteredPendingCounts(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "F", Subjects: []string{"f.>"}})
	e.publish("f.a", "f.b", "f.a", "f.c", "f.a")
	c := e.consumer(ConsumerConfig{Durable: "A", AckPolicy: AckNone, FilterSubject: "f.a"})
	multi := e.consumer(ConsumerConfig{Durable: "BC", AckPolicy: AckNone, FilterSubjects: []string{"f.b", "f.c"}})
	pending := func(c *Consumer, want uint64) {
		t.Helper()
		if got := e.info(c).NumPending; got != want {
			t.Fatalf("%s: %d pending, want %d", c.Name(), got, want)
		}
	}
	pending(c, 3)
	pending(multi, 2)
	e.publish("f.a", "f.b", "f.x.y")
	pending(c, 4)
	pending(multi, 3)
	if err := e.st.DeleteMsg(3); err != nil {
		t.Fatal(err)
	}
	pending(c, 3)
	if _, err := e.st.Purge(PurgeRequest{Filter: "f.a", Keep: 1}); err != nil {
		t.Fatal(err)
	}
	pending(c, 1)
	c.Pull(PullRequest{Reply: []byte("in"), Batch: 10, NoWait: true})
	e.settle(c)
	if d := e.rec.next(t); d.StreamSeq != 6 || d.Pending != 0 || d.Subject != "f.a" || string(d.Data) != "f.a#6" {
		t.Fatalf("filtered delivery %+v", d)
	}
	pending(c, 0)
}

// A push consumer with flow control stalls after two unanswered requests,
// names the oldest in its heartbeats, and resumes once answered.
func TestPushFlowControlStallsAndResumes(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "FC", Subjects: []string{"fc"}})
	payload := bytes.Repeat([]byte("x"), 100<<10)
	for i := 0; i < 7; i++ {
		publish(t, e.s, e.st, "fc", nil, payload)
	}
	c := e.consumer(ConsumerConfig{Durable: "F", DeliverSubject: "d", AckPolicy: AckNone, FlowControl: true, Heartbeat: time.Second})
	var requests []uint64
	delivered := 0
	for len(requests) < 2 {
		ev := e.rec.nextEvent(t)
		switch {
		case ev.delivery != nil:
			delivered++
		case ev.status != nil && ev.status.Kind == StatusFlowControl && ev.target == "d":
			requests = append(requests, ev.status.FlowControl)
		default:
			t.Fatalf("unexpected %v", ev)
		}
	}
	if delivered != 6 || requests[0] != 1 || requests[1] != 2 {
		t.Fatalf("%d delivered, requests %v", delivered, requests)
	}
	e.step(c, time.Second)
	if _, st := e.rec.nextStatus(t); st.Kind != StatusIdleHeartbeat || st.FlowControl != 1 || st.LastConsumerSeq != 6 {
		t.Fatalf("stalled heartbeat: %+v", st)
	}
	e.rec.none(t)
	c.FlowControlReply(2) // answers every request up to the second
	e.settle(c)
	e.wantSeqs(e.deliveries(1), 7)
	e.step(c, time.Second)
	if _, st := e.rec.nextStatus(t); st.Kind != StatusIdleHeartbeat || st.FlowControl != 0 || st.LastStreamSeq != 7 {
		t.Fatalf("heartbeat after resuming: %+v", st)
	}
}

func TestHeadersOnlyDelivery(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "H", Subjects: []string{"h"}})
	publish(t, e.s, e.st, "h", []byte("opaque header"), []byte("12345"))
	e.consumer(ConsumerConfig{Durable: "H", DeliverSubject: "d", AckPolicy: AckNone, HeadersOnly: true})
	d := e.rec.next(t)
	if !d.HeadersOnly || string(d.Header) != "opaque header" || len(d.Data) != 5 {
		t.Fatalf("headers only delivery %+v", d)
	}
}

// An ephemeral consumer nobody listens to goes after its inactive
// threshold; one with listeners stays.
func TestInactiveEphemeralGoes(t *testing.T) {
	removed := make(chan string, 1)
	e := newEngine(t, StreamConfig{Name: "E", Subjects: []string{"e"}}, func(o *Options) {
		o.ConsumerRemoved = func(_ *Stream, c *Consumer) { removed <- c.Name() }
	})
	c := e.consumer(ConsumerConfig{DeliverSubject: "d", AckPolicy: AckNone, InactiveThreshold: 2 * time.Second})
	e.step(c, 3*time.Second)
	if _, err := e.st.Consumer(c.Name()); err != nil {
		t.Fatalf("removed although listened to: %v", err)
	}
	e.rec.setDeaf("d", true)
	e.step(c, time.Second)
	e.clock.advance(3 * time.Second)
	c.settle() // the pass that finds it inactive; the consumer then stops
	select {
	case name := <-removed:
		if name != c.Name() {
			t.Fatalf("removed %s", name)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("inactive consumer not removed")
	}
	if _, err := e.st.Consumer(c.Name()); !errors.Is(err, ErrConsumerNotFound) {
		t.Fatalf("lookup after removal: %v", err)
	}
}

// TestDeleteConsumerWhileStoreCloses races a client deleting consumers
// against the store stopping them all, as an MQTT session torn down during
// shutdown does; each consumer must be stopped exactly once, without panic.
func TestDeleteConsumerWhileStoreCloses(t *testing.T) {
	for round := 0; round < 20; round++ {
		s := openTestStore(t, t.TempDir())
		st := mustAdd(t, s, StreamConfig{Name: "S", Subjects: []string{"s"}})
		var names []string
		for i := 0; i < 16; i++ {
			c, _, err := st.AddConsumer(ConsumerConfig{Durable: "d" + itoa(i), AckPolicy: AckExplicit}, "")
			if err != nil {
				t.Fatalf("AddConsumer: %v", err)
			}
			names = append(names, c.Name())
		}
		var wg sync.WaitGroup
		for _, name := range names {
			wg.Add(1)
			go func(name string) {
				defer wg.Done()
				_ = st.DeleteConsumer(name)
			}(name)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wg.Wait()
	}
}
