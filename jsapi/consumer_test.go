package jsapi_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

func publishN(t testing.TB, js jetstream.JetStream, subject string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := js.Publish(testutil.Ctx(t), subject, []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

func TestPullFetchAndAck(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "O", Subjects: []string{"o.>"}})
	publishN(t, js, "o.a", 5)
	cons, err := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "D", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	info := cons.CachedInfo()
	if info.NumPending != 5 || info.Delivered.Stream != 0 || info.Config.AckWait != 30*time.Second || info.Config.MaxAckPending != 1000 {
		t.Fatalf("create info %+v", info)
	}
	batch, err := cons.Fetch(3, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, string(m.Data()))
		md, _ := m.Metadata()
		if md.Sequence.Stream != uint64(len(got)) || md.NumPending != uint64(5-len(got)) || m.Subject() != "o.a" {
			t.Fatalf("metadata %+v subject %q", md, m.Subject())
		}
		if err := m.DoubleAck(testutil.Ctx(t)); err != nil {
			t.Fatalf("ack: %v", err)
		}
	}
	if batch.Error() != nil || len(got) != 3 || got[0] != "0" {
		t.Fatalf("fetch got %v, err %v", got, batch.Error())
	}
	info, _ = cons.Info(testutil.Ctx(t))
	if info.NumPending != 2 || info.NumAckPending != 0 || info.AckFloor.Stream != 3 || info.Delivered.Consumer != 3 {
		t.Fatalf("after acks %+v", info)
	}
	// No wait with fewer messages than asked: 2 then the end.
	batch, err = cons.FetchNoWait(5)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		m.Ack()
		n++
	}
	if n != 2 {
		t.Fatalf("no-wait fetch got %d", n)
	}
	// Empty: the fetch ends at its expiry with nothing.
	start := time.Now()
	batch, _ = cons.Fetch(1, jetstream.FetchMaxWait(300*time.Millisecond))
	for range batch.Messages() {
		t.Fatal("unexpected message")
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Fatalf("empty fetch returned after %v", time.Since(start))
	}
	if _, err := js.Consumer(testutil.Ctx(t), "O", "missing"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("missing consumer: %v", err)
	}
}
