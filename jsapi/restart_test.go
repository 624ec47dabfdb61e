package jsapi_test

import (
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// Consumer state survives a clean restart: delivered, ack floor, pending,
// redelivered, and what is left to deliver.
func TestConsumerStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "R", Subjects: []string{"r"}})
	publishN(t, js, "r", 10)
	cons, _ := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "D", AckPolicy: jetstream.AckExplicitPolicy})
	batch, _ := cons.Fetch(6)
	i := 0
	for m := range batch.Messages() {
		i++
		switch {
		case i <= 3:
			m.DoubleAck(testutil.Ctx(t)) // 1..3 acked
		case i == 4:
			m.Nak() // 4 redelivered below
		}
	}
	fetchOne(t, cons, time.Second) // the redelivery of 4
	before, _ := cons.Info(testutil.Ctx(t))
	if before.NumAckPending != 3 || before.NumRedelivered != 1 || before.AckFloor.Stream != 3 || before.NumPending != 4 {
		t.Fatalf("before restart %+v", before)
	}
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	cons2, err := js2.Consumer(testutil.Ctx(t), "R", "D")
	if err != nil {
		t.Fatal(err)
	}
	after := cons2.CachedInfo()
	if after.Delivered != before.Delivered || after.AckFloor != before.AckFloor || after.NumAckPending != before.NumAckPending ||
		after.NumRedelivered != before.NumRedelivered || after.NumPending != before.NumPending {
		t.Fatalf("consumer state changed:\nbefore %+v\nafter  %+v", before, after)
	}
	// Remaining new messages come next, then nothing acked comes back.
	m := fetchOne(t, cons2, time.Second)
	if md := meta(t, m); md.Sequence.Stream != 7 || md.Sequence.Consumer != before.Delivered.Consumer+1 {
		t.Fatalf("first after restart %+v", md.Sequence)
	}
}
