package jetstore

import (
	"time"
)

// applyLocked checks one message against the stream's rules and, when it
// passes, stores it in the tail block and the indexes. The checks run in
// the reference server's order.
func (st *Stream) applyLocked(m *InMsg, now time.Time) PublishResult {
	if st.cfg.Sealed {
		return PublishResult{Err: ErrStreamSealed}
	}
	if err := st.checkOriginLocked(m); err != nil {
		return PublishResult{Err: err}
	}
	if dup, ok := st.copiedBeforeLocked(m); ok {
		return PublishResult{Seq: dup, Duplicate: true}
	}
	if !m.internal && (m.Origin == nil || !m.Origin.Mirror) {
		m.Subject = st.features.storedSubject(m.Subject)
	}
	if m.Options != nil {
		dup, err := st.checkOptionsLocked(m, now)
		if err != nil {
			return PublishResult{Err: err}
		}
		if dup != 0 {
			return PublishResult{Seq: dup, Duplicate: true}
		}
	}
	if err := st.checkLimitsLocked(m); err != nil {
		return PublishResult{Err: err}
	}
	if err := st.admitLocked(m); err != nil {
		return PublishResult{Err: err}
	}
	return st.storeLocked(m, now)
}

// storeLocked stores a message that passed the checks: the counter total,
// the sequence, the record in the tail block, the indexes, then what the
// message does to older ones (rollup, limits, retention).
func (st *Stream) storeLocked(m *InMsg, now time.Time) PublishResult {
	var total string
	if st.cfg.AllowMsgCounter && m.Origin == nil {
		var err error
		if total, err = st.countLocked(m); err != nil {
			return PublishResult{Err: err}
		}
	}

	seq := st.state.last + 1
	ts := now.UnixNano()
	if o := m.Origin; o != nil && o.Mirror {
		seq, ts = o.Seq, o.Time
	}
	var prev uint64
	if st.features.republish {
		prev = st.lastMatchingLocked(m.Subject)
	}
	kind, stored := st.compressLocked(m.Data)
	rlen := msgRecordLen(m.Subject, m.Header, stored)
	tail, err := st.tailForLocked(rlen, seq)
	if err != nil {
		st.failLocked(err)
		return PublishResult{Err: errStorage(err)}
	}
	off := tail.size
	tail.commitBuf(appendMsgRecordOf(tail.room(rlen, st.store.opts.BlockSize), kind, seq, ts, m.Subject, m.Header, stored))
	st.addEntryLocked(tail, off, seq, []byte(m.Subject), m.Header, m.Data)
	st.noteStoredLocked(m, seq, ts)
	o := m.Options
	if o != nil && o.MsgID != "" {
		st.lastID = o.MsgID
		st.dedup.add(st.lastID, seq, ts)
	}
	st.dedup.expire(ts - int64(st.cfg.Duplicates))
	if o != nil {
		switch o.Rollup {
		case RollupSubject:
			st.rollupSubjectLocked(m.Subject, seq)
		case RollupAll:
			st.rollupAllLocked(seq)
		}
	}
	st.enforceLimitsLocked(m.Subject)
	res := PublishResult{Seq: seq, Counter: total}
	if st.features.republish {
		res.Subject, res.Time, res.PrevSubjectSeq = m.Subject, ts, prev
	}
	if st.cfg.Retention == RetentionInterest && !st.hasInterest(m.Subject) {
		// Nobody will ever acknowledge it: stored, acknowledged, gone.
		st.deleteLocked(seq)
		res.NoInterest = true
	}
	return res
}

// checkLimitsLocked refuses a message that a limit with discard new, or the
// maximum message size, does not let in.
func (st *Stream) checkLimitsLocked(m *InMsg) error {
	c := &st.cfg
	if c.MaxMsgSize > 0 && len(m.Header)+len(m.Data) > int(c.MaxMsgSize) {
		return ErrMessageTooLarge
	}
	if c.Discard != DiscardNew {
		return nil
	}
	if c.MaxMsgs > 0 && st.state.msgs+1 > uint64(c.MaxMsgs) {
		return ErrMaxMsgsExceeded
	}
	size := msgSize([]byte(m.Subject), m.Header, m.Data)
	if c.MaxBytes > 0 && st.state.bytes+size > uint64(c.MaxBytes) {
		return ErrMaxBytesExceeded
	}
	if c.DiscardNewPerSubject && c.MaxMsgsPerSubject > 0 {
		if info := st.subj.lookup(m.Subject); info != nil && int64(info.msgs()) >= c.MaxMsgsPerSubject {
			return ErrMaxMsgsPerSubject
		}
	}
	return nil
}

// enforceLimitsLocked discards the oldest messages past the limits after a
// store. The per-subject limit discards old messages even under discard
// new: KV history relies on it.
func (st *Stream) enforceLimitsLocked(subject string) {
	c := &st.cfg
	if c.MaxMsgsPerSubject > 0 {
		if info := st.subj.lookup(subject); info != nil {
			for int64(info.msgs()) > c.MaxMsgsPerSubject {
				st.deleteLocked(st.settleSubjectFirstLocked(info))
				if info = st.subj.lookup(subject); info == nil {
					break
				}
			}
		}
	}
	if c.Discard != DiscardOld {
		return
	}
	for c.MaxMsgs > 0 && st.state.msgs > uint64(c.MaxMsgs) {
		st.deleteLocked(st.state.first)
	}
	for c.MaxBytes > 0 && st.state.bytes > uint64(c.MaxBytes) && st.state.msgs > 0 {
		st.deleteLocked(st.state.first)
	}
}

// rollupSubjectLocked deletes every message on subject older than keep.
func (st *Stream) rollupSubjectLocked(subject string, keep uint64) {
	info := st.subj.lookup(subject)
	if info == nil || keep == 0 {
		return
	}
	for _, seq := range st.subjectSeqs(nil, info, keep-1) {
		st.deleteLocked(seq)
	}
}

// rollupAllLocked deletes every message older than keep.
func (st *Stream) rollupAllLocked(keep uint64) {
	for st.state.msgs > 0 && st.state.first < keep {
		st.deleteLocked(st.state.first)
	}
}

// tailLocked returns the block a record of n bytes goes to, starting a new
// block when the current one is full.
func (st *Stream) tailLocked(n int) (*block, error) {
	return st.tailForLocked(n, st.state.last+1)
}

// tailForLocked is tailLocked for a record of sequence seq, which a mirror
// may place past a gap: a wide gap starts a new block, so that the block's
// entries do not fill it one by one.
func (st *Stream) tailForLocked(n int, seq uint64) (*block, error) {
	tail := st.blocks[len(st.blocks)-1]
	wide := tail.hasMsgs() && seq > tail.last()+maxGapInBlock
	if !wide && (tail.size == 0 || tail.size+int64(n) <= st.store.opts.BlockSize) {
		return tail, nil
	}
	return st.newBlockLocked()
}

// maxGapInBlock is the widest run of unused sequences a block indexes.
const maxGapInBlock = 4096

// newBlockLocked appends an empty block (and its file) to the log.
func (st *Stream) newBlockLocked() (*block, error) {
	b := &block{id: st.nextID, first: st.state.last + 1}
	f, path, err := st.storage.newBlockFile(b.id)
	if err != nil {
		return nil, err
	}
	b.file, b.path = f, path
	empty := make([]byte, 0, 4096)
	b.cache.Store(&empty)
	st.nextID++
	st.appendBlockLocked(b)
	st.startBlockLocked(b)
	return b, nil
}
