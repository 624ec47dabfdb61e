package jetstore

import (
	"slices"
	"time"

	"github.com/midgemq/midge/sublist"
)

// cursor is a consumer's position in its stream: the stream sequence from
// which the next first delivery is looked for, the last-per-subject backlog
// still to deliver before that, the consumer and stream sequences of the
// last delivery, and how many matching messages are left. It stays exact
// by replaying the stream's change log (changelog.go) before it is used.
// Replay-original pacing, which depends on where delivery stands, is kept
// here too.
//
// Guarded by Consumer.mu. The methods that read the stream's indexes are
// called with the stream lock held as well (read).
type cursor struct {
	next  uint64   // next stream sequence to consider for a first delivery
	lps   []uint64 // last-per-subject sequences still to deliver, ascending
	dseq  uint64   // consumer sequence of the last delivery
	dsseq uint64   // stream sequence of the last first delivery

	npending    int64  // matching messages at or after next (lps not included)
	changePos   uint64 // position in the stream's change log
	changeEpoch uint64 // the change log's epoch at changePos

	replayBase time.Time // replay original: when the first message was sent
	replayFrom int64     // ... and its stored time
}

// pending is how many matching messages are still to be delivered.
func (cur *cursor) pending() uint64 {
	return uint64(max(cur.npending, 0)) + uint64(len(cur.lps))
}

// owes reports whether seq is still to be delivered for the first time.
func (cur *cursor) owes(seq uint64) bool {
	if seq >= cur.next {
		return true
	}
	_, found := slices.BinarySearch(cur.lps, seq)
	return found
}

// delivered moves the cursor past a delivery of seq; a redelivery only
// takes a consumer sequence.
func (cur *cursor) delivered(seq uint64, redelivery bool) {
	cur.dseq++
	if redelivery {
		return
	}
	if len(cur.lps) > 0 && cur.lps[0] == seq {
		cur.lps = cur.lps[1:]
	} else {
		cur.next = seq + 1
		cur.npending--
	}
	cur.dsseq = max(cur.dsseq, seq)
}

// skip moves past a new message that vanished before its delivery.
func (cur *cursor) skip(seq uint64) {
	if len(cur.lps) > 0 && cur.lps[0] == seq {
		cur.lps = cur.lps[1:]
		return
	}
	cur.next = seq + 1
}

// replayed applies a delivery read back from a durable's log.
func (cur *cursor) replayed(sseq, cseq uint64) {
	cur.dseq = max(cur.dseq, cseq)
	cur.dsseq = max(cur.dsseq, sseq)
	if i, found := slices.BinarySearch(cur.lps, sseq); found {
		cur.lps = slices.Delete(cur.lps, i, i+1)
	} else if sseq >= cur.next {
		cur.next = sseq + 1
	}
}

// replayWait paces replay-original delivery by the stored times.
func (cur *cursor) replayWait(m *StoredMsg, now time.Time) time.Duration {
	if cur.replayBase.IsZero() {
		cur.replayBase, cur.replayFrom = now, m.Time.UnixNano()
		return 0
	}
	due := cur.replayBase.Add(time.Duration(m.Time.UnixNano() - cur.replayFrom))
	return due.Sub(now)
}

// startPositionLocked sets where delivery starts from the deliver policy
// (stream lock held, read).
func (c *Consumer) startPositionLocked() {
	st, cur := c.st, &c.cur
	first, last := max(st.state.first, 1), st.state.last
	switch c.cfg.DeliverPolicy {
	case DeliverAll:
		cur.next = first
	case DeliverLast:
		cur.next = last + 1
		if seq := c.lastMatchingLocked(); seq > 0 {
			cur.next = seq
		}
	case DeliverNew:
		cur.next = last + 1
	case DeliverByStartSeq:
		cur.next = max(c.cfg.OptStartSeq, first)
	case DeliverByStartTime:
		cur.next = st.firstAtOrAfterLocked(c.cfg.OptStartTime.UnixNano())
	case DeliverLastPerSubject:
		cur.lps = c.lastPerSubjectLocked()
		cur.next = last + 1
	}
	cur.dsseq = cur.next - 1
	if len(cur.lps) > 0 {
		cur.dsseq = cur.lps[0] - 1
	}
	c.acks.floorS = cur.dsseq
}

func (c *Consumer) lastMatchingLocked() uint64 {
	if c.filter.all() {
		return c.st.lastLiveLocked(^uint64(0))
	}
	var last uint64
	for _, f := range c.filter.subjects {
		last = max(last, c.st.lastMatchingLocked(f))
	}
	return last
}

func (c *Consumer) lastPerSubjectLocked() []uint64 {
	var seqs []uint64
	collect := func(info *subjectInfo) { seqs = append(seqs, c.st.subjectLast(info)) }
	if c.filter.all() {
		c.st.subj.matching(">", collect)
	}
	for _, f := range c.filter.subjects {
		c.st.subj.matching(f, collect)
	}
	slices.Sort(seqs)
	return slices.Compact(seqs)
}

// firstAtOrAfterLocked finds the first live message stored at or after ts.
func (st *Stream) firstAtOrAfterLocked(ts int64) uint64 {
	for seq := st.state.first; seq <= st.state.last; seq++ {
		if m, err := st.getLocked(seq); err == nil && m.Time.UnixNano() >= ts {
			return seq
		}
	}
	return st.state.last + 1
}

// countFromLocked counts the live messages passing the filter at or after
// from. Used at creation and when the change log cannot be replayed.
func (c *Consumer) countFromLocked(from uint64) int64 {
	st := c.st
	if c.filter.all() {
		if from <= st.state.first {
			return int64(st.state.msgs)
		}
		var n int64
		for _, b := range st.blocks {
			if !b.hasMsgs() || b.last() < from {
				continue
			}
			if b.first >= from {
				n += int64(b.live)
				continue
			}
			for seq := from; seq <= b.last(); seq++ {
				if b.isLive(seq) {
					n++
				}
			}
		}
		return n
	}
	var n int64
	for k, f := range c.filter.subjects {
		earlier := c.filter.subjects[:k]
		st.subj.matching(f, func(info *subjectInfo) {
			// Filters may intersect ("*.x" and "a.*"): a subject
			// counts under the first filter it matches.
			if slices.ContainsFunc(earlier, func(p string) bool { return sublist.MatchLiteral(info.name, p) }) {
				return
			}
			n += int64(st.subjectCountFrom(info, from))
		})
	}
	return n
}

// catchUpLocked replays the stream's changes since the last look, keeping
// the counts, the last-per-subject backlog and the pending messages exact.
func (c *Consumer) catchUpLocked() {
	st, cur := c.st, &c.cur
	st.mu.RLock()
	defer st.mu.RUnlock()
	log := st.changes
	if log == nil {
		return
	}
	if log.epoch != cur.changeEpoch {
		c.recountLocked()
		return
	}
	end, ok := log.since(cur.changePos, func(ch change) {
		if !c.filter.matches(ch.subject) {
			return
		}
		if ch.add {
			if ch.seq >= cur.next {
				cur.npending++
			}
			return
		}
		if ch.seq >= cur.next {
			cur.npending--
		}
		if i, found := slices.BinarySearch(cur.lps, ch.seq); found {
			cur.lps = slices.Delete(cur.lps, i, i+1)
		}
		c.acks.forget(ch.seq)
	})
	if !ok {
		c.recountLocked()
		return
	}
	cur.changePos = end
}

// recountLocked rebuilds the counts from the stream (stream lock held).
func (c *Consumer) recountLocked() {
	st, cur := c.st, &c.cur
	cur.npending = c.countFromLocked(cur.next)
	cur.lps = slices.DeleteFunc(cur.lps, func(seq uint64) bool { return !st.liveLocked(seq) })
	c.acks.forgetIf(func(seq uint64) bool { return !st.liveLocked(seq) })
	cur.changePos, cur.changeEpoch = st.changes.next, st.changes.epoch
}

func (st *Stream) liveLocked(seq uint64) bool {
	b := st.blockFor(seq)
	return b != nil && b.isLive(seq)
}

// nextNewLocked finds the first matching live message at or after the
// cursor that is committed, or 0 (stream lock held).
func (c *Consumer) nextNewLocked() uint64 {
	st, from := c.st, c.cur.next
	if from > st.committed {
		return 0
	}
	if c.filter.literal() {
		var best uint64
		for _, f := range c.filter.subjects {
			if s := st.nextMatchingLocked(f, from); s != 0 && (best == 0 || s < best) {
				best = s
			}
		}
		if best > st.committed {
			return 0
		}
		return best
	}
	for seq := max(from, st.state.first); seq <= st.committed; {
		b, at := st.blockFrom(seq)
		if b == nil {
			return 0
		}
		ents, err := st.entries(b)
		if err != nil {
			return 0
		}
		for seq = at; seq <= b.last() && seq <= st.committed; seq++ {
			e := ents[seq-b.first]
			if e.off != deletedOff && e.off != unreadableOff && c.filter.matches(st.subj.name(e.subj)) {
				return seq
			}
		}
	}
	return 0
}
