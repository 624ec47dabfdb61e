package kafka

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// idempotentBatch renders n records as one batch of producer pid.
func idempotentBatch(pid int64, epoch int16, firstSeq int32, n int, tag string) []byte {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{Offset: int64(i), Timestamp: time.Now().UnixMilli(), Value: []byte(tag)}
	}
	var scratch []byte
	b := appendFetchBatch(nil, recs, &scratch)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(firstSeq))
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[batchCRCStart:], crc32c))
	return b
}

// produceRaw sends one batch to partition 0 and returns the partition's
// result.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxTimeout(t, 20*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func TestIdempotentProducerRetriesAreStoredOnce(t *testing.T) {
	b := startBroker(t, Config{})
	cl := b.client()
	b.createTopic(cl, "idem", 1)
	init := kmsg.NewPtrInitProducerIDRequest()
	ir, err := init.RequestWith(ctxTimeout(t, 10*time.Second), cl)
	if err != nil || ir.ErrorCode != 0 || ir.ProducerID < 0 {
		t.Fatalf("InitProducerID: %v %+v", err, ir)
	}
	pid := ir.ProducerID

	steps := []struct {
		first  int32
		n      int
		code   int16
		base   int64
		stored int64 // high watermark afterwards
	}{
		{0, 3, 0, 0, 3},                      // new
		{0, 3, 0, 0, 3},                      // retry: original offset, nothing stored
		{5, 1, errOutOfOrderSequence, -1, 3}, // gap
		{3, 2, 0, 3, 5},                      // next
		{0, 3, 0, 0, 5},                      // an older retry still in the window
	}
	for i, s := range steps {
		p := produceRaw(t, cl, "idem", idempotentBatch(pid, 0, s.first, s.n, "x"))
		if p.ErrorCode != s.code || (s.code == 0 && p.BaseOffset != s.base) {
			t.Fatalf("step %d: error %d base %d, want %d and %d", i, p.ErrorCode, p.BaseOffset, s.code, s.base)
		}
		if offs, _ := b.backend.Offsets("idem", 0); offs.HighWatermark != s.stored {
			t.Fatalf("step %d: high watermark %d, want %d", i, offs.HighWatermark, s.stored)
		}
	}

	// After a restart the position comes back from the stream: the last
	// batch's retry is answered with its offset, a gap is refused, and
	// the next batch is stored.
	b.restart()
	cl = b.client()
	if p := produceRaw(t, cl, "idem", idempotentBatch(pid, 0, 3, 2, "x")); p.ErrorCode != 0 || p.BaseOffset != 3 {
		t.Fatalf("retry after restart: error %d base %d", p.ErrorCode, p.BaseOffset)
	}
	if p := produceRaw(t, cl, "idem", idempotentBatch(pid, 0, 9, 1, "x")); p.ErrorCode != errOutOfOrderSequence {
		t.Fatalf("gap after restart: error %d", p.ErrorCode)
	}
	if p := produceRaw(t, cl, "idem", idempotentBatch(pid, 0, 5, 1, "x")); p.ErrorCode != 0 || p.BaseOffset != 5 {
		t.Fatalf("next after restart: error %d base %d", p.ErrorCode, p.BaseOffset)
	}
	// A new epoch starts again at sequence 0; the old epoch is fenced.
	if p := produceRaw(t, cl, "idem", idempotentBatch(pid, 1, 0, 1, "x")); p.ErrorCode != 0 || p.BaseOffset != 6 {
		t.Fatalf("new epoch: error %d base %d", p.ErrorCode, p.BaseOffset)
	}
	if p := produceRaw(t, cl, "idem", idempotentBatch(pid, 0, 6, 1, "x")); p.ErrorCode != errInvalidProducerEpoch {
		t.Fatalf("old epoch: error %d", p.ErrorCode)
	}
}
