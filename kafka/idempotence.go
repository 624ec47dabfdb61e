package kafka

import (
	"math"
	"sync"
)

// Idempotent producers: Kafka numbers each producer's records per
// partition, and a broker appends a batch only if its first sequence
// follows the last one it appended; a batch it already has (a retry whose
// response was lost) is answered with its original offset instead of
// being stored twice. The table below keeps, per producer and partition,
// the epoch, the next expected sequence and the last five batches (the
// most a producer has in flight). The last record of each batch carries
// the producer's id, epoch and the batch's sequences in a header, so after
// a restart (or any failed batch) the position, and the answer to a retry
// of the last batch, are recovered from the stream itself before the next
// batch is checked. A batch that was only partly durable
// when the process died can therefore be stored twice from its first
// record to the last durable one; nothing acknowledged is ever lost.

const recentBatches = 5

type producerKey struct {
	id        int64
	topic     string
	partition int32
}

type producerTable struct {
	mu     sync.Mutex
	states map[producerKey]*producerState
}

// producerState is one producer's position on one partition; mu is held
// from check to accepted or failed, so batches are checked and queued in
// one order.
type producerState struct {
	mu      sync.Mutex
	known   bool
	epoch   int16
	nextSeq int32
	recent  []*batchResult
}

// batchResult is the outcome of an accepted batch, awaited by retries.
type batchResult struct {
	epoch             int16
	firstSeq, lastSeq int32
	done              chan struct{}
	base              int64
	code              int16
}

func newProducerTable() *producerTable {
	return &producerTable{states: make(map[producerKey]*producerState)}
}

// maxProducerStates bounds the table; past it the oldest-looking entries
// are forgotten (their producers recover their position from the stream).
const maxProducerStates = 100000

func (t *producerTable) get(k producerKey) *producerState {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.states[k]
	if st == nil {
		if len(t.states) >= maxProducerStates {
			for old := range t.states {
				delete(t.states, old)
				if len(t.states) < maxProducerStates*9/10 {
					break
				}
			}
		}
		st = &producerState{}
		t.states[k] = st
	}
	return st
}

// lastSequence is the sequence of a batch's last record (sequences wrap
// after MaxInt32).
func lastSequence(first int32, n int) int32 {
	return int32((int64(first) + int64(n) - 1) % (math.MaxInt32 + 1))
}

func nextSequence(last int32) int32 {
	if last == math.MaxInt32 {
		return 0
	}
	return last + 1
}

// check decides a batch's fate. On errNone without dup the state is
// returned locked, and the caller must call accepted or failed.
func (t *producerTable) check(b Backend, topic string, partition int32, pb *ProduceBatch) (*producerState, int16, *batchResult) {
	st := t.get(producerKey{pb.ProducerID, topic, partition})
	st.mu.Lock()
	if !st.known {
		pos, found, err := b.LastProducerBatch(topic, partition, pb.ProducerID)
		if err != nil {
			st.mu.Unlock()
			return nil, errorCode(err), nil
		}
		if found {
			st.known, st.epoch, st.nextSeq = true, pos.Epoch, nextSequence(pos.LastSequence)
			// The recovered batch answers its own retry. Its records were
			// queued next to each other, so its first offset is counted
			// back from the last (exact unless another protocol published
			// into the stream in between).
			r := &batchResult{epoch: pos.Epoch, firstSeq: pos.FirstSequence, lastSeq: pos.LastSequence,
				done: make(chan struct{}), base: pos.LastOffset - int64(pos.LastSequence-pos.FirstSequence)}
			close(r.done)
			st.recent = []*batchResult{r}
		}
	}
	last := lastSequence(pb.FirstSequence, len(pb.Records))
	if !st.known {
		return st, errNone, nil // a producer we know nothing of: its first batch sets the position
	}
	switch {
	case pb.ProducerEpoch < st.epoch:
		st.mu.Unlock()
		return nil, errInvalidProducerEpoch, nil
	case pb.ProducerEpoch > st.epoch:
		if pb.FirstSequence != 0 {
			st.mu.Unlock()
			return nil, errOutOfOrderSequence, nil
		}
		return st, errNone, nil
	}
	for _, r := range st.recent {
		if r.firstSeq == pb.FirstSequence && r.lastSeq == last {
			st.mu.Unlock()
			return nil, errNone, r
		}
	}
	if pb.FirstSequence != st.nextSeq {
		st.mu.Unlock()
		return nil, errOutOfOrderSequence, nil
	}
	return st, errNone, nil
}

// accepted records a queued batch and unlocks the state.
func (st *producerState) accepted(pb *ProduceBatch) *batchResult {
	defer st.mu.Unlock()
	if !st.known || pb.ProducerEpoch != st.epoch {
		st.recent = nil
	}
	last := lastSequence(pb.FirstSequence, len(pb.Records))
	r := &batchResult{epoch: pb.ProducerEpoch, firstSeq: pb.FirstSequence, lastSeq: last, done: make(chan struct{})}
	st.known, st.epoch, st.nextSeq = true, pb.ProducerEpoch, nextSequence(last)
	st.recent = append(st.recent, r)
	if len(st.recent) > recentBatches {
		st.recent = st.recent[1:]
	}
	return r
}

// failed unlocks the state after a batch could not be queued; the next
// batch recovers the position from the stream.
func (st *producerState) failed(*ProduceBatch) {
	st.known = false
	st.mu.Unlock()
}

// settle records a batch's outcome for retries that wait on it.
func (st *producerState) settle(r *batchResult, _ *ProduceBatch, base int64, err error) {
	st.mu.Lock()
	r.base, r.code = base, errorCode(err)
	if err != nil {
		st.known = false
		st.recent = nil
	}
	st.mu.Unlock()
	close(r.done)
}
