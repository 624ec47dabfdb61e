package jetstore

import "errors"

// Replicated streams. In a cluster a stream's messages are ordered by the
// leader of its raft group (Sequencer, replica_seq.go) and every replica,
// the leader included, stores them once the group has committed them,
// with the sequences and timestamps the leader gave them. The calls here
// are that apply path; they bypass the ingest queue, the publisher checks
// (the leader made them) and the sync policy:
//
//   - Durability comes from the raft log, which a majority fsynced before
//     the entry was committed. ApplyReplicated only hands the records to
//     the files; Sync, which the replication layer calls before it lets
//     the raft log be compacted past what was applied, fsyncs them. After a
//     crash the stream holds a prefix of what was applied (plus, at most,
//     more than the raft log's snapshot), and the raft log replays the rest.
//   - Replay is idempotent: a message at or below the stream's last
//     sequence was stored before and is skipped; deletions of sequences
//     that are gone do nothing.
//   - A stream's blocks never have a hole a crash could make: before
//     records go into a new block, the blocks before it are fsynced.
//   - Readers and consumers see a batch once the apply returns (the
//     committed watermark), never a message the group did not commit.

// ReplicatedMsg is one message of a replicated stream as its leader
// ordered it.
type ReplicatedMsg struct {
	Seq     uint64
	Time    int64 // unix nanoseconds, the leader's clock
	Subject string
	Header  []byte
	Data    []byte
	Rollup  RollupKind // RollupSubject or RollupAll: remove older messages once stored
	// Drop: stored and removed at once (interest retention with no
	// consumer interested when the leader ordered it).
	Drop bool
}

// ErrSequenceGap is returned for replicated messages that would leave
// sequences unaccounted for without AllowGaps.
var ErrSequenceGap = errors.New("replicated message leaves a sequence gap")

// ApplyReplicated stores msgs, in sequence order, as replica of a
// replicated stream. Messages at or below the stream's last sequence are
// skipped. With allowGaps (a replica catching up from a peer, which sends
// only the messages it still holds), a message past last+1 leaves the
// sequences before it as deleted; without, such a batch is refused whole.
// It returns how many messages were stored.
func (st *Stream) ApplyReplicated(msgs []ReplicatedMsg, allowGaps bool) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	if err := st.syncBeforeRoll(msgs); err != nil {
		return 0, err
	}
	st.mu.Lock()
	if !st.usableLocked() {
		st.mu.Unlock()
		return 0, ErrStreamUnavailable
	}
	if !allowGaps {
		next := st.state.last + 1
		for _, m := range msgs {
			if m.Seq < next {
				continue
			}
			if m.Seq != next {
				st.mu.Unlock()
				return 0, ErrSequenceGap
			}
			next++
		}
	}
	stored := 0
	for i := range msgs {
		m := &msgs[i]
		if m.Seq <= st.state.last {
			continue
		}
		if err := st.storeReplicatedLocked(m); err != nil {
			st.failLocked(err)
			st.mu.Unlock()
			return stored, errStorage(err)
		}
		stored++
	}
	st.mu.Unlock()
	return stored, st.finishReplicated()
}

func (st *Stream) storeReplicatedLocked(m *ReplicatedMsg) error {
	rlen := msgRecordLen(m.Subject, m.Header, m.Data)
	tail, err := st.tailLocked(rlen)
	if err != nil {
		return err
	}
	off := tail.size
	tail.commitBuf(appendMsgRecord(tail.room(rlen, st.store.opts.BlockSize), m.Seq, m.Time, m.Subject, m.Header, m.Data))
	st.addEntryLocked(tail, off, m.Seq, []byte(m.Subject), m.Header, m.Data)
	if idOf := st.store.opts.MessageID; idOf != nil && len(m.Header) > 0 {
		if id := idOf(m.Header); len(id) > 0 {
			st.lastID = string(id)
			st.dedup.add(st.lastID, m.Seq, m.Time)
		}
	}
	st.dedup.expire(m.Time - int64(st.cfg.Duplicates))
	switch m.Rollup {
	case RollupSubject:
		st.rollupSubjectLocked(m.Subject, m.Seq)
	case RollupAll:
		st.rollupAllLocked(m.Seq)
	}
	st.enforceLimitsLocked(m.Subject)
	if m.Drop {
		st.deleteLocked(m.Seq)
	}
	return nil
}

// syncBeforeRoll fsyncs what is written when the batch will start a new
// block, so that a crash cannot keep the new block's records and lose
// older ones: the blocks of a replica never have a hole in the middle.
func (st *Stream) syncBeforeRoll(msgs []ReplicatedMsg) error {
	if !st.storage.persistent() {
		return nil
	}
	n := 0
	for i := range msgs {
		n += msgRecordLen(msgs[i].Subject, msgs[i].Header, msgs[i].Data)
	}
	st.mu.RLock()
	tail := st.blocks[len(st.blocks)-1]
	roll := tail.size > 0 && tail.size+int64(n) > st.store.opts.BlockSize
	st.mu.RUnlock()
	if !roll {
		return nil
	}
	return st.syncWritten()
}

// finishReplicated writes what was applied, one block after the other
// (fsyncing each finished block before the next one is written), then
// makes it visible and wakes the consumers.
func (st *Stream) finishReplicated() error {
	st.writeMu.Lock()
	st.mu.Lock()
	if st.failed != nil {
		err := st.failed
		st.mu.Unlock()
		st.writeMu.Unlock()
		return errStorage(err)
	}
	st.flushDeletesLocked()
	st.dropEmptyFrontBlocksLocked()
	type region struct {
		b    *block
		data []byte
		tail bool
	}
	var regions []region
	for i, b := range st.blocks {
		if data := b.unwritten(); len(data) > 0 {
			regions = append(regions, region{b, data, i == len(st.blocks)-1})
		}
	}
	st.writeGen++
	w := written{target: st.state.last, doomed: st.doomed, view: stateView{st.state, st.writeGen}}
	st.doomed = nil
	st.mu.Unlock()
	var err error
	for i, r := range regions {
		if _, err = r.b.file.Write(r.data); err != nil {
			break
		}
		st.mu.Lock()
		r.b.written += int64(len(r.data))
		st.mu.Unlock()
		if !r.tail && i < len(regions)-1 {
			if err = r.b.file.Sync(); err != nil {
				break
			}
			st.mu.Lock()
			r.b.synced = r.b.written
			st.mu.Unlock()
		}
	}
	st.writeMu.Unlock()
	if err != nil {
		st.mu.Lock()
		st.failLocked(err)
		st.doomed = append(st.doomed, w.doomed...)
		st.mu.Unlock()
		return errStorage(err)
	}
	st.commitWritten(w)
	st.listeners.notify()
	return nil
}

// SeqRange is an inclusive range of sequences.
type SeqRange struct{ First, Last uint64 }

// DeleteReplicated removes the live messages among ranges (a replicated
// delete, purge or retention) and returns how many it removed. Sequences
// above the stream's last sequence advance it (the replica learns that
// they were assigned and are gone).
func (st *Stream) DeleteReplicated(ranges []SeqRange) (uint64, error) {
	st.mu.Lock()
	if !st.usableLocked() {
		st.mu.Unlock()
		return 0, ErrStreamUnavailable
	}
	var removed uint64
	for _, r := range ranges {
		if r.Last > st.state.last {
			st.advanceLastLocked(r.Last)
		}
		from := max(r.First, st.state.first)
		for seq := from; seq <= r.Last && st.state.msgs > 0; seq++ {
			if st.deleteLocked(seq) {
				removed++
			}
		}
	}
	st.mu.Unlock()
	return removed, st.finishReplicated()
}

// advanceLastLocked records that every sequence up to last was assigned,
// durably (a delete record of the range carries it through a restart).
func (st *Stream) advanceLastLocked(last uint64) {
	if last <= st.state.last {
		return
	}
	from := st.state.last + 1
	st.state.last = last
	if st.state.msgs == 0 {
		st.state.first = last + 1
	}
	for seq := from; seq <= last; seq++ {
		st.pendingDel = append(st.pendingDel, seq)
	}
}

// AdvanceReplicated moves the stream's last sequence up to last when the
// sequences after it were assigned and are all gone (a replica catching up
// to a peer whose newest messages were deleted).
func (st *Stream) AdvanceReplicated(last uint64) error {
	st.mu.Lock()
	if last <= st.state.last {
		st.mu.Unlock()
		return nil
	}
	st.advanceLastLocked(last)
	st.mu.Unlock()
	return st.finishReplicated()
}

// PurgeReplicated is Purge restricted to the sequences up to upTo (the
// last sequence when the purge was ordered), so that replaying it after
// newer messages were applied removes nothing more. Permissions are the
// leader's to check.
func (st *Stream) PurgeReplicated(req PurgeRequest, upTo uint64) (uint64, error) {
	st.mu.Lock()
	if !st.usableLocked() {
		st.mu.Unlock()
		return 0, ErrStreamUnavailable
	}
	var seqs []uint64
	if req.Filter == "" || req.Filter == ">" {
		for _, b := range st.blocks {
			for seq := b.first; seq <= b.last() && seq <= upTo; seq++ {
				if b.isLive(seq) {
					seqs = append(seqs, seq)
				}
			}
		}
	} else {
		st.subj.matching(req.Filter, func(info *subjectInfo) { seqs = st.subjectSeqs(seqs, info, upTo) })
		sortSeqs(seqs)
	}
	switch {
	case req.Seq > 0:
		n := 0
		for n < len(seqs) && seqs[n] < req.Seq {
			n++
		}
		seqs = seqs[:n]
	case req.Keep > 0:
		if uint64(len(seqs)) <= req.Keep {
			seqs = nil
		} else {
			seqs = seqs[:uint64(len(seqs))-req.Keep]
		}
	}
	var purged uint64
	for _, seq := range seqs {
		if st.deleteLocked(seq) {
			purged++
		}
	}
	st.mu.Unlock()
	return purged, st.finishReplicated()
}

// Sync makes everything applied so far durable.
func (st *Stream) Sync() error {
	if !st.storage.persistent() {
		return nil
	}
	return st.syncWritten()
}

// LastSeq is the highest sequence the stream assigned or stored.
func (st *Stream) LastSeq() uint64 {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return st.state.last
}

// Deleted returns, as ranges, the sequences from first to last that the
// stream does not hold (deleted, or never stored on this replica).
func (st *Stream) Deleted(first, last uint64) []SeqRange {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []SeqRange
	add := func(lo, hi uint64) {
		if n := len(out); n > 0 && out[n-1].Last+1 == lo {
			out[n-1].Last = hi
			return
		}
		out = append(out, SeqRange{lo, hi})
	}
	last = min(last, st.state.last)
	for seq := first; seq <= last; seq++ {
		if seq < st.state.first {
			hi := min(last, st.state.first-1)
			add(seq, hi)
			seq = hi
			continue
		}
		if b := st.blockFor(seq); b == nil || !b.isLive(seq) {
			add(seq, seq)
		}
	}
	return out
}

// ReadFrom returns the stored messages from sequence from on, in order, up
// to max bytes of payload (at least one message) and not past to.
func (st *Stream) ReadFrom(from, to uint64, maxBytes int) []ReplicatedMsg {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var out []ReplicatedMsg
	size := 0
	for seq := max(from, st.state.first); seq <= to && seq <= st.committed; seq++ {
		b := st.blockFor(seq)
		if b == nil {
			next, err := st.nextLocked(seq, "")
			if err != nil || next > to {
				break
			}
			seq = next - 1
			continue
		}
		if !b.isLive(seq) {
			continue
		}
		m, err := st.getLocked(seq)
		if err != nil {
			continue
		}
		out = append(out, ReplicatedMsg{Seq: seq, Time: m.Time.UnixNano(), Subject: m.Subject, Header: m.Header, Data: m.Data})
		size += len(m.Header) + len(m.Data) + len(m.Subject)
		if size >= maxBytes {
			break
		}
	}
	return out
}
