package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func fetchRequest(topic string, offset int64, minBytes, maxWaitMs, maxBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MinBytes, req.MaxWaitMillis, req.MaxBytes = minBytes, maxWaitMs, maxBytes
	req.SessionEpoch = -1
	p := kmsg.NewFetchRequestTopicPartition()
	p.FetchOffset, p.PartitionMaxBytes = offset, maxBytes
	req.Topics = []kmsg.FetchRequestTopic{{Topic: topic, Partitions: []kmsg.FetchRequestTopicPartition{p}}}
	return req
}

func TestFetchLongPollsUntilRecordsArriveOrMaxWait(t *testing.T) {
	b := startBroker(t, Config{})
	cl := b.client(kgo.DefaultProduceTopic("poll"))
	b.createTopic(cl, "poll", 1)
	ctx := ctxTimeout(t, 30*time.Second)

	// Nothing to read: the fetch waits its max wait, then answers empty.
	start := time.Now()
	resp, err := fetchRequest("poll", 0, 1, 300, 1<<20).RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 300*time.Millisecond || len(resp.Topics[0].Partitions[0].RecordBatches) != 0 {
		t.Fatalf("empty fetch answered after %v with %d bytes", waited, len(resp.Topics[0].Partitions[0].RecordBatches))
	}

	// A record produced while the fetch waits ends the wait early.
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		r, err := fetchRequest("poll", 0, 1, 20000, 1<<20).RequestWith(ctx, b.client())
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	time.Sleep(100 * time.Millisecond) // let the fetch start waiting; it is correct either way
	start = time.Now()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		p := r.Topics[0].Partitions[0]
		if len(p.RecordBatches) == 0 || p.HighWatermark != 1 {
			t.Fatalf("woken fetch: %d bytes, high watermark %d", len(p.RecordBatches), p.HighWatermark)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fetch still waiting 10 s after a record arrived")
	}
	t.Logf("woken %v after the produce", time.Since(start))

	// Max bytes: two records of 600 bytes, a budget of 700 gets the first
	// only (the first record always goes out, even over the budget).
	for i := 0; i < 2; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 600)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		max  int32
		want int
	}{{700, 1}, {100, 1}, {1 << 20, 2}} {
		r, err := fetchRequest("poll", 1, 0, 0, tc.max).RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(r.Topics[0].Partitions[0].RecordBatches); err != nil {
			t.Fatal(err)
		}
		if int(batch.NumRecords) != tc.want {
			t.Fatalf("max bytes %d: %d records, want %d", tc.max, batch.NumRecords, tc.want)
		}
	}

	// Out of range offsets are refused with the bounds.
	r, err := fetchRequest("poll", 99, 0, 0, 1<<20).RequestWith(ctx, cl)
	if err != nil || r.Topics[0].Partitions[0].ErrorCode != errOffsetOutOfRange || r.Topics[0].Partitions[0].HighWatermark != 3 {
		t.Fatalf("offset past the end: %v %+v", err, r)
	}
}
