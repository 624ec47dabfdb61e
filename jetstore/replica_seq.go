package jetstore

import (
	"sync"
	"time"

	"github.com/midgemq/midge/sublist"
)

// Sequencer orders the publishes of a replicated stream on the leader of
// its group. It runs the publisher's checks — expectations, deduplication,
// the limits that refuse (discard new) — against the stream as applied
// plus the messages it ordered that are not applied yet, then gives the
// message the next sequence and the leader's timestamp. Every replica then
// stores exactly that (ApplyReplicated), so the checks run once, on the
// leader, and replicas never disagree about them.
//
// The leader proposes ordered messages in order; if the group drops one
// (a leader change, a refused entry), every later one is void too, and the
// leader calls Reset once all its proposals have settled, which restarts
// from the stream as applied.
//
// Apply must be used on the leader instead of Stream.ApplyReplicated so
// that a message moves from "pending" to "in the stream" in one step under
// the sequencer's lock: Order never counts a message twice or not at all.
// Lock order: Sequencer.mu, then the stream's locks.
type Sequencer struct {
	st *Stream

	mu      sync.Mutex
	next    uint64
	pending []orderedMsg
	ids     map[string]uint64 // message ids of pending messages
	msgs    uint64
	bytes   uint64
	perSubj map[string]int64
}

type orderedMsg struct {
	seq     uint64
	subject string
	id      string
	size    uint64
}

// NewSequencer returns a sequencer starting from the stream as applied.
func (st *Stream) NewSequencer() *Sequencer {
	q := &Sequencer{st: st}
	q.Reset()
	return q
}

// Reset forgets the messages ordered and not applied and restarts from the
// stream as applied.
func (q *Sequencer) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.resetLocked()
}

func (q *Sequencer) resetLocked() {
	q.next = q.st.LastSeq() + 1
	q.pending = q.pending[:0]
	q.ids = make(map[string]uint64)
	q.perSubj = make(map[string]int64)
	q.msgs, q.bytes = 0, 0
}

// Next is the sequence the next ordered message gets.
func (q *Sequencer) Next() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.next
}

// Order checks m and, when the stream takes it, gives it the next
// sequence. The result says what the publisher is told: a duplicate's
// original sequence, a refusal, or (with a message to propose) the new
// sequence.
func (q *Sequencer) Order(m *InMsg, now time.Time) (ReplicatedMsg, PublishResult, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	st := q.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	if st.cfg.Sealed {
		return ReplicatedMsg{}, PublishResult{Err: ErrStreamSealed}, false
	}
	var rollup RollupKind
	var id string
	if o := m.Options; o != nil {
		dup, err := q.checkOptionsLocked(m, now)
		if err != nil {
			return ReplicatedMsg{}, PublishResult{Err: err}, false
		}
		if dup != 0 {
			return ReplicatedMsg{}, PublishResult{Seq: dup, Duplicate: true}, false
		}
		rollup, id = o.Rollup, o.MsgID
	}
	if err := q.checkLimitsLocked(m); err != nil {
		return ReplicatedMsg{}, PublishResult{Err: err}, false
	}
	seq := q.next
	q.next++
	size := msgSize([]byte(m.Subject), m.Header, m.Data)
	q.pending = append(q.pending, orderedMsg{seq: seq, subject: m.Subject, id: id, size: size})
	if id != "" {
		q.ids[id] = seq
	}
	q.msgs++
	q.bytes += size
	q.perSubj[m.Subject]++
	rm := ReplicatedMsg{
		Seq: seq, Time: now.UnixNano(), Subject: m.Subject, Header: m.Header, Data: m.Data,
		Rollup: rollup,
		Drop:   st.cfg.Retention == RetentionInterest && !st.hasInterest(m.Subject),
	}
	return rm, PublishResult{Seq: seq}, true
}

// checkOptionsLocked is checkOptionsLocked of the single-server path, with
// the pending messages counted as stored.
func (q *Sequencer) checkOptionsLocked(m *InMsg, now time.Time) (dup uint64, err error) {
	st, o := q.st, m.Options
	if o.HasExpectedStream && o.ExpectedStream != st.cfg.Name {
		return 0, ErrExpectedStream
	}
	if o.HasTTL && !st.cfg.AllowMsgTTL {
		return 0, ErrMsgTTLDisabled
	}
	if e := o.ExpectedLastSubjectSeq; e.Set {
		if e.Malformed {
			return 0, ErrMalformedExpectation
		}
		subject := m.Subject
		if o.ExpectedLastSubjectSeqSubject != "" {
			subject = o.ExpectedLastSubjectSeqSubject
		}
		last := q.lastPendingMatching(subject)
		if last == 0 {
			last = st.lastMatchingLocked(subject)
		}
		if last != e.Seq {
			return 0, &WrongLastSeqError{Last: last}
		}
	}
	if e := o.ExpectedLastSeq; e.Set {
		if e.Malformed {
			return 0, ErrMalformedExpectation
		}
		if last := q.next - 1; last != e.Seq {
			return 0, &WrongLastSeqError{Last: last}
		}
	}
	if o.MsgID != "" {
		if seq, ok := q.ids[o.MsgID]; ok {
			return seq, nil
		}
		if seq, ok := st.dedup.find(o.MsgID, now.UnixNano()-int64(st.cfg.Duplicates)); ok {
			return seq, nil
		}
	}
	if o.HasExpectedLastMsgID {
		lastID := st.lastID
		for i := len(q.pending) - 1; i >= 0; i-- {
			if q.pending[i].id != "" {
				lastID = q.pending[i].id
				break
			}
		}
		if o.ExpectedLastMsgID != lastID {
			return 0, &WrongLastMsgIDError{Last: lastID}
		}
	}
	switch o.Rollup {
	case RollupNone:
	case RollupSubject, RollupAll, RollupInvalid:
		if !st.cfg.AllowRollup || st.cfg.DenyPurge {
			return 0, ErrRollupNotPermitted
		}
		if o.Rollup == RollupInvalid {
			return 0, &InvalidRollupError{Value: o.RollupValue}
		}
	}
	return 0, nil
}

// lastPendingMatching is the newest pending sequence on a subject matching
// filter, 0 for none.
func (q *Sequencer) lastPendingMatching(filter string) uint64 {
	for i := len(q.pending) - 1; i >= 0; i-- {
		p := &q.pending[i]
		if p.subject == filter || sublist.MatchLiteral(p.subject, filter) {
			return p.seq
		}
	}
	return 0
}

// checkLimitsLocked is checkLimitsLocked with the pending messages counted.
// Messages the pending ones will push out under discard old are still
// counted, which can only refuse early, never store past a limit.
func (q *Sequencer) checkLimitsLocked(m *InMsg) error {
	st := q.st
	c := &st.cfg
	if c.MaxMsgSize > 0 && len(m.Header)+len(m.Data) > int(c.MaxMsgSize) {
		return ErrMessageTooLarge
	}
	if c.Discard != DiscardNew {
		return nil
	}
	if c.MaxMsgs > 0 && st.state.msgs+q.msgs+1 > uint64(c.MaxMsgs) {
		return ErrMaxMsgsExceeded
	}
	size := msgSize([]byte(m.Subject), m.Header, m.Data)
	if c.MaxBytes > 0 && st.state.bytes+q.bytes+size > uint64(c.MaxBytes) {
		return ErrMaxBytesExceeded
	}
	if c.DiscardNewPerSubject && c.MaxMsgsPerSubject > 0 {
		n := q.perSubj[m.Subject]
		if info := st.subj.lookup(m.Subject); info != nil {
			n += int64(info.msgs())
		}
		if n >= c.MaxMsgsPerSubject {
			return ErrMaxMsgsPerSubject
		}
	}
	return nil
}

// Apply stores committed messages on the leader (ApplyReplicated) and, in
// the same step, stops counting them as pending.
func (q *Sequencer) Apply(msgs []ReplicatedMsg) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, err := q.st.ApplyReplicated(msgs, false)
	if len(msgs) > 0 {
		q.settleLocked(msgs[len(msgs)-1].Seq)
	}
	if err != nil || q.next <= q.st.LastSeq() {
		// The stream moved past what was ordered here (another leader's
		// entries): what is pending is void.
		q.resetLocked()
	}
	return n, err
}

// Locked runs fn with the sequencer's lock held, for other changes of the
// stream that must not interleave with Order (deletes and purges applied
// on the leader).
func (q *Sequencer) Locked(fn func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	fn()
}

func (q *Sequencer) settleLocked(upTo uint64) {
	n := 0
	for n < len(q.pending) && q.pending[n].seq <= upTo {
		p := &q.pending[n]
		if p.id != "" && q.ids[p.id] == p.seq {
			delete(q.ids, p.id)
		}
		q.msgs--
		q.bytes -= p.size
		if q.perSubj[p.subject]--; q.perSubj[p.subject] <= 0 {
			delete(q.perSubj, p.subject)
		}
		n++
	}
	q.pending = append(q.pending[:0], q.pending[n:]...)
}
