package kafka

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce: each partition's batch is decoded, checked against the
// idempotent producer's sequence, and queued to the backend by the
// connection's reader, in request order. The response waits (in the
// connection's writer) until every partition's records are durable: with
// acks=1 and acks=-1 alike, since one copy is all there is and it counts
// only once it is durable under the stream's sync policy. With acks=0
// nothing is answered.

// produceWaitMax bounds the wait for durability when the request's own
// timeout is larger or unset.
const produceWaitMax = 2 * time.Minute

// partitionProduce is one partition's part of a produce request.
type partitionProduce struct {
	topic     string
	partition int32
	code      int16
	msg       *string
	wait      func(context.Context) (int64, error)
	dup       *batchResult // a retried batch: answer with the first attempt's outcome
	onDone    func(base int64, err error)
	baseOff   int64
	logStart  int64
	recs, siz int
}

func (c *conn) handleProduce(req *kmsg.ProduceRequest) pending {
	s := c.srv
	if req.TransactionID != nil {
		return pending{resp: produceError(req, errTransactionalIDAuthFailed, "transactions are not supported")}
	}
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		return pending{resp: produceError(req, errInvalidRequiredAcks, "acks must be 0, 1 or -1")}
	}
	var parts []*partitionProduce
	// Decompressed records of the whole request are bounded like the
	// request itself, so a small request cannot expand without end.
	budget := int(s.cfg.MaxRequestSize)
	for _, rt := range req.Topics {
		info, terr := c.topicOrCreate(rt.Topic, s.cfg.AutoCreateTopics)
		for _, rp := range rt.Partitions {
			pp := &partitionProduce{topic: rt.Topic, partition: rp.Partition}
			parts = append(parts, pp)
			switch {
			case terr != nil:
				pp.code, pp.msg = errorCode(terr), errorMessage(terr)
			case rp.Partition < 0 || rp.Partition >= info.Partitions:
				pp.code = errUnknownTopicOrPartition
			default:
				c.producePartition(pp, rp.Records, &budget)
			}
			if pp.code != errNone {
				s.stats.produceErrors.Add(1)
			}
		}
	}
	if req.Acks == 0 {
		// The client reads no response; durability still happens, and
		// the producer state still learns each outcome.
		for _, pp := range parts {
			if pp.wait != nil {
				go func() { pp.finish(c.ctx, time.Minute) }()
			}
		}
		return pending{}
	}
	timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > produceWaitMax {
		timeout = produceWaitMax
	}
	return pending{wait: func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.ProduceResponse)
		for _, pp := range parts {
			pp.finish(c.ctx, timeout)
			addProduceResult(resp, pp)
		}
		return resp
	}}
}

// finish waits for the partition's outcome.
func (pp *partitionProduce) finish(ctx context.Context, timeout time.Duration) {
	if pp.dup != nil {
		select {
		case <-pp.dup.done:
			pp.baseOff, pp.code = pp.dup.base, pp.dup.code
		case <-ctx.Done():
			pp.code = errRequestTimedOut
		}
		return
	}
	if pp.wait == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	base, err := pp.wait(ctx)
	cancel()
	pp.baseOff = base
	if err != nil {
		pp.code, pp.msg = errorCode(err), errorMessage(err)
	}
	if pp.onDone != nil {
		pp.onDone(base, err)
	}
}

func addProduceResult(resp *kmsg.ProduceResponse, pp *partitionProduce) {
	var t *kmsg.ProduceResponseTopic
	if n := len(resp.Topics); n > 0 && resp.Topics[n-1].Topic == pp.topic {
		t = &resp.Topics[n-1]
	} else {
		resp.Topics = append(resp.Topics, kmsg.NewProduceResponseTopic())
		t = &resp.Topics[len(resp.Topics)-1]
		t.Topic = pp.topic
	}
	p := kmsg.NewProduceResponseTopicPartition()
	p.Partition = pp.partition
	p.ErrorCode = pp.code
	p.BaseOffset = -1
	if pp.code == errNone {
		p.BaseOffset = pp.baseOff
	}
	p.LogAppendTime = -1
	p.LogStartOffset = -1
	if resp.Version >= 8 {
		p.ErrorMessage = pp.msg
	}
	t.Partitions = append(t.Partitions, p)
}

// producePartition decodes, checks and queues one partition's records.
func (c *conn) producePartition(pp *partitionProduce, data []byte, budget *int) {
	s := c.srv
	batch, err := decodeProduced(data, *budget)
	*budget -= batch.bytes
	if err != nil {
		var be *batchError
		if errors.As(err, &be) {
			pp.code = be.code
		} else {
			pp.code = errCorruptMessage
		}
		pp.msg = errorMessage(err)
		return
	}
	pb := ProduceBatch{Records: batch.records, ProducerID: batch.producerID,
		ProducerEpoch: batch.producerEpoch, FirstSequence: batch.firstSequence}
	var state *producerState
	if batch.producerID >= 0 {
		var code int16
		var dup *batchResult
		state, code, dup = c.acct.producers.check(c.backend(), pp.topic, pp.partition, &pb)
		if code != errNone {
			pp.code = code
			return
		}
		if dup != nil {
			pp.dup = dup
			return
		}
	}
	wait, err := c.backend().Produce(pp.topic, pp.partition, pb)
	if err != nil {
		pp.code, pp.msg = errorCode(err), errorMessage(err)
		if state != nil {
			state.failed(&pb)
		}
		return
	}
	s.stats.recordsIn.Add(uint64(len(pb.Records)))
	s.stats.recordBytesIn.Add(uint64(batch.bytes))
	pp.wait = wait
	if state != nil {
		result := state.accepted(&pb)
		pp.onDone = func(base int64, err error) { state.settle(result, &pb, base, err) }
	}
}

func produceError(req *kmsg.ProduceRequest, code int16, msg string) kmsg.Response {
	if req.Acks == 0 {
		return nil
	}
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			addProduceResult(resp, &partitionProduce{topic: rt.Topic, partition: rp.Partition, code: code, msg: &msg})
		}
	}
	return resp
}

func (c *conn) handleInitProducerID(req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = errTransactionalIDAuthFailed // no transactions here
		return resp
	}
	if req.Version >= 3 && req.ProducerID >= 0 {
		// A producer bumping its epoch after a failure keeps its id.
		if req.ProducerEpoch == 32767 {
			resp.ProducerID, resp.ProducerEpoch = newProducerID(), 0
		} else {
			resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
		}
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = newProducerID(), 0
	return resp
}

// newProducerID draws a random positive id: unique across restarts
// without storing a counter (63 random bits).
func newProducerID() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return time.Now().UnixNano() & (1<<62 - 1)
	}
	return int64(binary.BigEndian.Uint64(b[:]) & (1<<62 - 1))
}
