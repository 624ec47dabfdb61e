package kafka

import (
	"bytes"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceKeyed produces n records with keys and two headers each and
// waits for every ack.
func produceKeyed(t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	ctx := ctxTimeout(t, 2*time.Minute)
	var failed atomic.Int64
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: topic, Key: []byte(keyOf(i)), Value: []byte("value-" + strconv.Itoa(i)),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}, {Key: "bin", Value: []byte{0, 1, 2}}}}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil && failed.Add(1) == 1 {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if failed.Load() > 0 {
		t.Fatalf("%d records failed", failed.Load())
	}
}

// checkKeyed verifies that records are exactly produceKeyed's n records,
// each once, with key, value and headers intact and offsets ascending
// within each partition.
func checkKeyed(t *testing.T, recs []*kgo.Record, n int) {
	t.Helper()
	seen := make([]bool, n)
	last := make(map[int32]int64)
	for _, r := range recs {
		i, err := strconv.Atoi(string(r.Headers[0].Value))
		if err != nil || i < 0 || i >= n {
			t.Fatalf("bad seq header %q", r.Headers[0].Value)
		}
		if seen[i] {
			t.Fatalf("record %d delivered twice", i)
		}
		seen[i] = true
		if string(r.Key) != keyOf(i) || string(r.Value) != "value-"+strconv.Itoa(i) {
			t.Fatalf("record %d: key %q value %q", i, r.Key, r.Value)
		}
		if len(r.Headers) != 2 || r.Headers[1].Key != "bin" || !bytes.Equal(r.Headers[1].Value, []byte{0, 1, 2}) {
			t.Fatalf("record %d: headers %v", i, r.Headers)
		}
		if prev, ok := last[r.Partition]; ok && r.Offset <= prev {
			t.Fatalf("partition %d: offset %d after %d", r.Partition, r.Offset, prev)
		}
		last[r.Partition] = r.Offset
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("record %d missing", i)
		}
	}
}

func TestProduceAndConsume100kRecordsWithKeysAndHeaders(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 10000
	}
	b := startBroker(t, Config{})
	admin := b.client()
	b.createTopic(admin, "bulk", 4)
	start := time.Now()
	produceKeyed(t, b.client(kgo.ProducerLinger(5*time.Millisecond)), "bulk", n)
	t.Logf("produced %d records in %v", n, time.Since(start))

	start = time.Now()
	cons := b.client(kgo.ConsumeTopics("bulk"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	recs := consumeN(t, ctxTimeout(t, 2*time.Minute), cons, n)
	t.Logf("consumed %d records in %v", len(recs), time.Since(start))
	checkKeyed(t, recs, n)
	st := b.srv.Stats()
	if st.RecordsIn != uint64(n) || st.RecordsOut < uint64(n) {
		t.Fatalf("stats: %+v", st)
	}
}

func TestProduceAcks(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic(b.client(), "acks", 1)
	cases := []struct {
		name string
		opts []kgo.Opt
	}{
		{"acks=0", []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}},
		{"acks=1", []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}},
		{"acks=all", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}},
	}
	total := 0
	for _, tc := range cases {
		cl := b.client(append(tc.opts, kgo.DefaultProduceTopic("acks"))...)
		ctx := ctxTimeout(t, 30*time.Second)
		for i := 0; i < 50; i++ {
			res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("%s %d", tc.name, i))})
			if err := res.FirstErr(); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			// With acks the offset is the stored one; acks=0 learns none.
			if tc.name != "acks=0" && res[0].Record.Offset != int64(total+i) {
				t.Fatalf("%s: record %d got offset %d, want %d", tc.name, i, res[0].Record.Offset, total+i)
			}
		}
		total += 50
		cl.Close()
	}
	// acks=0 gives no confirmation: wait until the store has them all.
	deadline := time.Now().Add(10 * time.Second)
	for {
		offs, err := b.backend.Offsets("acks", 0)
		if err != nil {
			t.Fatal(err)
		}
		if offs.HighWatermark == int64(total) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("high watermark %d, want %d", offs.HighWatermark, total)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cons := b.client(kgo.ConsumeTopics("acks"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	recs := consumeN(t, ctxTimeout(t, 30*time.Second), cons, total)
	for i, r := range recs {
		want := fmt.Sprintf("%s %d", cases[i/50].name, i%50)
		if string(r.Value) != want || r.Offset != int64(i) {
			t.Fatalf("record %d: %q at offset %d, want %q", i, r.Value, r.Offset, want)
		}
	}
}
