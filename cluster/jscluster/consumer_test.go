package jscluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A durable pull consumer of an R3 stream continues on the new leader
// after the old one shuts down: every message not acknowledged before is
// delivered and none that was (a leader that stops on purpose hands its
// consumers' state over; after a crash the acks of its last quarter
// second may be delivered again, at least once).
func TestR3DurableConsumerContinuesAfterLeaderShutdown(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	createStream(t, js, jetstream.StreamConfig{Name: "WORK", Subjects: []string{"work.>"}, Replicas: 3})
	p := &publisher{t: t, js: js, acked: map[uint64]string{}}
	for range 100 {
		if err := p.publish("work.a", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := js.CreateOrUpdateConsumer(ctx(t, 10*time.Second), "WORK",
		jetstream.ConsumerConfig{Durable: "W", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]int{}
	fetch := func(cons jetstream.Consumer, n int) {
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				t.Fatal(err)
			}
			got[md.Sequence.Stream]++
			if err := m.DoubleAck(ctx(t, 5*time.Second)); err != nil {
				t.Logf("ack of %d: %v", md.Sequence.Stream, err)
			}
		}
	}
	for len(got) < 50 {
		fetch(cons, 50-len(got))
	}
	leader := leaderOf(t, js, "WORK")
	via := c.nodes[0]
	if via.name == leader {
		via = c.nodes[1]
	}
	_, vjs := c.client(via)
	c.byName(leader).stop()
	var cons2 jetstream.Consumer
	waitFor(t, 15*time.Second, "consumer on the new leader", func() bool {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		cons2, err = vjs.Consumer(cctx, "WORK", "W")
		return err == nil
	})
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < 100 && time.Now().Before(deadline) {
		fetch(cons2, 100)
	}
	var missing []uint64
	redelivered := 0
	for seq := uint64(1); seq <= 100; seq++ {
		switch n := got[seq]; {
		case n == 0:
			missing = append(missing, seq)
		case n > 1:
			redelivered++
		}
	}
	if len(missing) > 0 {
		t.Fatalf("never delivered: %v", missing)
	}
	if redelivered > 0 {
		t.Fatalf("%d acknowledged messages delivered again after the leader change", redelivered)
	}
}
