package jetstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"time"

	"github.com/midgemq/midge/sublist"
)

// Atomic batches (allow_atomic): a publisher's batch of messages is stored
// all together or not at all. The protocol layer collects the batch and
// hands it over whole (PublishBatch); the committer checks every message
// first, against the stream as the batch's earlier messages would leave
// it, and only when all pass stores them, in one commit: one write, one
// fsync, one raise of the committed watermark, so readers and consumers
// see all of the batch or none of it.
//
// On disk, a kindBatch record ahead of the batch's message records says
// which sequences belong together; recovery drops the batch's messages
// when any of them is missing (a write torn by a crash), so a batch is
// never half there after a restart either. Only streams that allow
// atomic batches write such records.

const kindBatch byte = 5 // u64 first sequence, u32 count

// Batch errors.
var (
	// ErrBatchDuplicateMsgID: a message of the batch repeats the id of an
	// earlier message of the batch, or of a stored one.
	ErrBatchDuplicateMsgID = errors.New("atomic publish batch contains duplicate message id")
	// ErrBatchUnsupportedHeader: a batch message asked for something only
	// single publishes can ask for (BatchUnsupportedError says what).
	ErrBatchUnsupportedHeader = errors.New("atomic publish unsupported header used")
)

// BatchUnsupportedError names what a batch message asked for that batches
// do not support.
type BatchUnsupportedError struct{ Option string }

func (e *BatchUnsupportedError) Error() string {
	return ErrBatchUnsupportedHeader.Error() + ": " + e.Option
}
func (e *BatchUnsupportedError) Unwrap() error { return ErrBatchUnsupportedHeader }

// PublishBatch queues an atomic batch. Every message gets its outcome
// (Done, AckFunc) like a single publish; on a refusal, all get the error.
func (st *Stream) PublishBatch(msgs []*InMsg) error {
	if len(msgs) == 0 {
		return nil
	}
	select {
	case <-st.quit:
		return ErrStreamNotFound
	default:
	}
	msgs[0].batch = len(msgs)
	if !st.ingest.pushAll(msgs) {
		return ErrIngestQueueFull
	}
	return nil
}

// pushAll queues msgs next to each other, or none of them.
func (q *ingestQueue) pushAll(msgs []*InMsg) bool {
	size := 0
	for _, m := range msgs {
		size += m.size()
	}
	q.mu.Lock()
	if len(q.msgs)+len(msgs) > maxIngestMsgs || q.bytes+size > maxIngestBytes {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, msgs...)
	q.bytes += size
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// applyAllLocked applies a committer's batch of queued messages, atomic
// batches as units.
func (st *Stream) applyAllLocked(batch []*InMsg, acks []PublishResult, now time.Time) {
	for i := 0; i < len(batch); {
		if n := batch[i].batch; n > 0 && i+n <= len(batch) {
			st.applyBatchLocked(batch[i:i+n], acks[i:i+n], now)
			i += n
			continue
		}
		acks[i] = st.applyLocked(batch[i], now)
		i++
	}
}

// applyBatchLocked checks an atomic batch as a whole and stores it, or
// refuses every message of it with the first refusal.
func (st *Stream) applyBatchLocked(msgs []*InMsg, acks []PublishResult, now time.Time) {
	refuse := func(err error) {
		for i := range acks {
			acks[i] = PublishResult{Err: err}
		}
	}
	view := batchView{last: st.state.last, bySubject: map[string]uint64{}, ids: map[string]bool{}}
	for _, m := range msgs {
		if err := st.checkBatchMsgLocked(m, &view, now); err != nil {
			refuse(err)
			return
		}
	}
	if tail, err := st.tailLocked(batchRecordLen); err == nil {
		tail.appendRecords(appendBatchRecord(nil, st.state.last+1, len(msgs)), st.store.opts.BlockSize)
	} else {
		st.failLocked(err)
		refuse(errStorage(err))
		return
	}
	for i, m := range msgs {
		acks[i] = st.storeLocked(m, now)
		if err := acks[i].Err; err != nil {
			// Only storage fails here, and it poisons the stream: nothing
			// of the batch is written, nothing of it is acknowledged.
			refuse(err)
			return
		}
	}
	acks[len(acks)-1].BatchSize = len(msgs)
}

// batchView is the stream as the batch's checked messages would leave it.
type batchView struct {
	added     int
	bytes     uint64
	last      uint64            // the stream's last sequence after them
	bySubject map[string]uint64 // their sequences, last per subject
	perSubj   map[string]int    // how many per subject
	ids       map[string]bool   // their message ids
}

// checkBatchMsgLocked runs a batch message's checks against the view and
// adds it to the view.
func (st *Stream) checkBatchMsgLocked(m *InMsg, v *batchView, now time.Time) error {
	if st.cfg.Sealed {
		return ErrStreamSealed
	}
	if err := st.checkOriginLocked(m); err != nil {
		return err
	}
	m.Subject = st.features.storedSubject(m.Subject)
	if o := m.Options; o != nil {
		if err := st.checkBatchOptionsLocked(m, v, now); err != nil {
			return err
		}
	}
	if st.cfg.AllowMsgCounter {
		if err := st.checkBatchCounterLocked(m, v); err != nil {
			return err
		}
	}
	if err := st.checkBatchLimitsLocked(m, v); err != nil {
		return err
	}
	v.added++
	v.last++
	v.bytes += msgSize([]byte(m.Subject), m.Header, m.Data)
	v.bySubject[m.Subject] = v.last
	if v.perSubj == nil {
		v.perSubj = map[string]int{}
	}
	v.perSubj[m.Subject]++
	if o := m.Options; o != nil && o.MsgID != "" {
		v.ids[o.MsgID] = true
	}
	return nil
}

// checkBatchOptionsLocked is checkOptionsLocked against the view.
func (st *Stream) checkBatchOptionsLocked(m *InMsg, v *batchView, now time.Time) error {
	o := m.Options
	if o.HasExpectedLastMsgID {
		return &BatchUnsupportedError{Option: "Nats-Expected-Last-Msg-Id"}
	}
	if err := st.checkIncr(m); err != nil {
		return err
	}
	if o.HasExpectedStream && o.ExpectedStream != st.cfg.Name {
		return ErrExpectedStream
	}
	if o.HasTTL && !st.cfg.AllowMsgTTL {
		return ErrMsgTTLDisabled
	}
	if o.TTLInvalid {
		return ErrMsgTTLInvalid
	}
	if e := o.ExpectedLastSubjectSeq; e.Set {
		if e.Malformed {
			return ErrMalformedExpectation
		}
		subject := m.Subject
		if o.ExpectedLastSubjectSeqSubject != "" {
			subject = o.ExpectedLastSubjectSeqSubject
		}
		if last := v.lastMatching(st, subject); last != e.Seq {
			return &WrongLastSeqError{Last: last}
		}
	}
	if e := o.ExpectedLastSeq; e.Set {
		if e.Malformed {
			return ErrMalformedExpectation
		}
		if v.last != e.Seq {
			return &WrongLastSeqError{Last: v.last}
		}
	}
	if o.MsgID != "" {
		if v.ids[o.MsgID] {
			return ErrBatchDuplicateMsgID
		}
		if _, ok := st.dedup.find(o.MsgID, now.UnixNano()-int64(st.cfg.Duplicates)); ok {
			return ErrBatchDuplicateMsgID
		}
	}
	if o.HasSourceHeader {
		return ErrSourceHeaderNotAllowed
	}
	switch o.Rollup {
	case RollupNone:
	case RollupSubject, RollupAll, RollupInvalid:
		if !st.cfg.AllowRollup || st.cfg.DenyPurge {
			return ErrRollupNotPermitted
		}
		if o.Rollup == RollupInvalid {
			return &InvalidRollupError{Value: o.RollupValue}
		}
	}
	return nil
}

// lastMatching is the newest sequence on a subject matching filter, the
// batch's own messages included.
func (v *batchView) lastMatching(st *Stream, filter string) uint64 {
	last := st.lastMatchingLocked(filter)
	for subj, seq := range v.bySubject {
		if seq > last && sublist.MatchLiteral(subj, filter) {
			last = seq
		}
	}
	return last
}

// checkBatchCounterLocked refuses a counter message whose total cannot be
// computed.
func (st *Stream) checkBatchCounterLocked(m *InMsg, v *batchView) error {
	if m.Options == nil || !m.Options.HasIncr {
		return ErrIncrMissing
	}
	if _, ok := v.bySubject[m.Subject]; ok {
		return nil // its total is the batch's own, checked already
	}
	if seq := st.lastMatchingLocked(m.Subject); seq != 0 {
		prev, err := st.readLocked(seq)
		if err != nil || !validCounter(prev.Data) {
			return ErrCounterBroken
		}
	}
	return nil
}

// checkBatchLimitsLocked is checkLimitsLocked against the view.
func (st *Stream) checkBatchLimitsLocked(m *InMsg, v *batchView) error {
	c := &st.cfg
	if c.MaxMsgSize > 0 && len(m.Header)+len(m.Data) > int(c.MaxMsgSize) {
		return ErrMessageTooLarge
	}
	if c.Discard != DiscardNew {
		return nil
	}
	if c.MaxMsgs > 0 && st.state.msgs+uint64(v.added)+1 > uint64(c.MaxMsgs) {
		return ErrMaxMsgsExceeded
	}
	size := msgSize([]byte(m.Subject), m.Header, m.Data)
	if c.MaxBytes > 0 && st.state.bytes+v.bytes+size > uint64(c.MaxBytes) {
		return ErrMaxBytesExceeded
	}
	if c.DiscardNewPerSubject && c.MaxMsgsPerSubject > 0 {
		n := v.perSubj[m.Subject]
		if info := st.subj.lookup(m.Subject); info != nil {
			n += info.msgs()
		}
		if int64(n) >= c.MaxMsgsPerSubject {
			return ErrMaxMsgsPerSubject
		}
	}
	return nil
}

// batchRecordLen is the encoded size of a kindBatch record.
const batchRecordLen = recordHeaderLen + 8 + 4 + recordCRCLen

// appendBatchRecord encodes the record announcing a batch of n messages
// from sequence first.
func appendBatchRecord(dst []byte, first uint64, n int) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+8+4+recordCRCLen))
	dst = append(dst, kindBatch)
	dst = binary.LittleEndian.AppendUint64(dst, first)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start+4:], crcTable))
}

func (r *record) decodeBatch(body []byte) error {
	if len(body) != 12 {
		return errCorruptRecord
	}
	r.seq = binary.LittleEndian.Uint64(body)
	r.count = int(binary.LittleEndian.Uint32(body[8:]))
	if r.count == 0 {
		return errCorruptRecord
	}
	return nil
}

// recoveringBatch is a batch whose records recovery is reading.
type recoveringBatch struct {
	first uint64
	n     int
	seen  []uint64 // sequences of its messages found so far
}

// recoverBatchRecordLocked starts tracking an announced batch.
func (st *Stream) recoverBatchRecordLocked(r record) {
	st.endRecoveredBatchLocked()
	st.features.batch = &recoveringBatch{first: r.seq, n: r.count}
}

// recoverBatchMsgLocked notes a recovered message; one past the batch
// being read ends it.
func (st *Stream) recoverBatchMsgLocked(seq uint64) {
	b := st.features.batch
	if b == nil {
		return
	}
	if seq >= b.first && seq < b.first+uint64(b.n) {
		b.seen = append(b.seen, seq)
		if len(b.seen) == b.n {
			st.features.batch = nil // complete
		}
		return
	}
	st.endRecoveredBatchLocked()
}

// endRecoveredBatchLocked drops the messages of an incomplete batch. Its
// whole range of sequences is deleted with the next write (a delete record
// that also carries the stream's last sequence past it), so that no later
// message is ever taken for part of it.
func (st *Stream) endRecoveredBatchLocked() {
	b := st.features.batch
	st.features.batch = nil
	if b == nil || len(b.seen) == b.n {
		return
	}
	for _, seq := range b.seen {
		st.removeLocked(seq)
	}
	for seq := b.first; seq < b.first+uint64(b.n); seq++ {
		st.pendingDel = append(st.pendingDel, seq)
	}
	st.state.last = max(st.state.last, b.first+uint64(b.n)-1)
	if st.state.msgs == 0 {
		st.state.first = st.state.last + 1
	}
	st.store.log.Warn("dropped an incomplete atomic batch", "stream", st.name,
		"first", b.first, "messages", b.n, "found", len(b.seen))
}
