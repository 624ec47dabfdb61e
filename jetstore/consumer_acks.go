package jetstore

import (
	"container/heap"
	"time"
)

// ackTracker holds the messages a consumer delivered that await their
// acknowledgement: per message its consumer sequence, delivery count, last
// delivery and redelivery deadline; a heap of the deadlines; a heap giving
// the lowest pending sequence, for the ack floor; the ack floor itself; and
// how many pending messages were delivered more than once. It applies
// acks, naks, progress and terms, and picks the due redeliveries.
//
// Guarded by Consumer.mu.
type ackTracker struct {
	pending     map[uint64]*pendingMsg // by stream sequence
	deadlines   deadlineHeap
	floorHeap   seqHeap
	floorS      uint64 // ack floor: stream sequence
	floorC      uint64 // ack floor: consumer sequence
	redelivered int    // pending messages delivered more than once

	// While recording, forget keeps what it drops in undo, so that acks
	// whose record could not be saved are taken back (rollback).
	recording bool
	undo      []undoEntry
}

// undoEntry is a pending message an ack dropped, as it was.
type undoEntry struct {
	seq uint64
	msg pendingMsg
}

// pendingMsg is a delivered message awaiting its acknowledgement.
type pendingMsg struct {
	cseq     uint64
	dc       int   // deliveries so far
	sent     int64 // last delivery, unix ns
	deadline int64 // redelivery due, unix ns
}

func newAckTracker() ackTracker { return ackTracker{pending: make(map[uint64]*pendingMsg)} }

func (t *ackTracker) count() int                 { return len(t.pending) }
func (t *ackTracker) has(seq uint64) bool        { _, ok := t.pending[seq]; return ok }
func (t *ackTracker) get(seq uint64) *pendingMsg { return t.pending[seq] }

// track records a delivery of seq (the first or a redelivery) and arms its
// redelivery at due.
func (t *ackTracker) track(seq, cseq uint64, dc int, sent, due time.Time) {
	p := t.pending[seq]
	if p == nil {
		p = &pendingMsg{}
		t.pending[seq] = p
		heap.Push(&t.floorHeap, seq)
	}
	p.cseq, p.dc, p.sent = cseq, dc, sent.UnixNano()
	t.setDeadline(seq, p, due.UnixNano())
}

// redelivering counts one more delivery of a pending message and returns
// its delivery count.
func (t *ackTracker) redelivering(seq uint64) int {
	p := t.pending[seq]
	if p == nil {
		return 1
	}
	p.dc++
	if p.dc == 2 {
		t.redelivered++
	}
	return p.dc
}

// restore puts back a pending message read from a durable's log.
func (t *ackTracker) restore(seq, cseq uint64, dc int, sent int64) {
	p := t.pending[seq]
	if p == nil {
		p = &pendingMsg{}
		t.pending[seq] = p
	}
	if dc > 1 && p.dc <= 1 {
		t.redelivered++
	}
	p.cseq, p.dc, p.sent = max(p.cseq, cseq), max(p.dc, dc), max(p.sent, sent)
}

// forget drops a pending message (acknowledged, or gone from the stream);
// it reports whether it was pending.
func (t *ackTracker) forget(seq uint64) bool {
	p, ok := t.pending[seq]
	if !ok {
		return false
	}
	if p.dc > 1 {
		t.redelivered--
	}
	if t.recording {
		t.undo = append(t.undo, undoEntry{seq, *p})
	}
	delete(t.pending, seq)
	return true
}

// record starts keeping what forget drops; stopRecording ends it, the
// kept entries stay for a rollback until the next record.
func (t *ackTracker) record() {
	t.recording = true
	t.undo = t.undo[:0]
}

func (t *ackTracker) stopRecording() { t.recording = false }

// rollback puts back every pending message dropped while recording, with
// its deliveries and redelivery deadline.
func (t *ackTracker) rollback() {
	for _, u := range t.undo {
		if _, ok := t.pending[u.seq]; ok {
			continue
		}
		p := u.msg
		t.pending[u.seq] = &p
		if p.dc > 1 {
			t.redelivered++
		}
		heap.Push(&t.floorHeap, u.seq)
		t.setDeadline(u.seq, &p, p.deadline)
	}
	t.undo = t.undo[:0]
}

// forgetIf drops the pending messages for which gone is true.
func (t *ackTracker) forgetIf(gone func(seq uint64) bool) {
	for seq := range t.pending {
		if gone(seq) {
			t.forget(seq)
		}
	}
}

// ackUpTo drops every pending message with a consumer sequence up to cseq
// (ack policy all) and returns their stream sequences.
func (t *ackTracker) ackUpTo(cseq uint64, acked []uint64) []uint64 {
	for seq, p := range t.pending {
		if p.cseq <= cseq {
			t.forget(seq)
			acked = append(acked, seq)
		}
	}
	return acked
}

// setDeadline (re)arms the redelivery of a pending message.
func (t *ackTracker) setDeadline(seq uint64, p *pendingMsg, at int64) {
	p.deadline = at
	heap.Push(&t.deadlines, deadlineItem{at: at, seq: seq})
}

// postpone re-arms the redelivery of seq, if pending, at at.
func (t *ackTracker) postpone(seq uint64, at time.Time) {
	if p := t.pending[seq]; p != nil {
		t.setDeadline(seq, p, at.UnixNano())
	}
}

// dueAll makes every pending message due at once. The deadline is the
// epoch rather than now, so that a pass that began a moment ago (with an
// earlier now) sees them due too; equal deadlines go in stream order.
func (t *ackTracker) dueAll() {
	for seq, p := range t.pending {
		t.setDeadline(seq, p, 0)
	}
}

// nextDue returns the earliest pending message due by now, skipping (and
// forgetting, after telling exceeded) those delivered maxDeliver times
// already, or 0.
func (t *ackTracker) nextDue(now time.Time, maxDeliver int, exceeded func(seq uint64, dc int)) uint64 {
	for t.deadlines.Len() > 0 {
		top := t.deadlines[0]
		p, ok := t.pending[top.seq]
		if !ok || p.deadline != top.at {
			heap.Pop(&t.deadlines) // stale
			continue
		}
		if top.at > now.UnixNano() {
			return 0
		}
		heap.Pop(&t.deadlines)
		if maxDeliver > 0 && p.dc >= maxDeliver {
			exceeded(top.seq, p.dc)
			t.forget(top.seq) // delivered often enough; no more
			continue
		}
		return top.seq
	}
	return 0
}

// anyDue reports whether a redelivery is due by now.
func (t *ackTracker) anyDue(now time.Time) bool {
	return t.deadlines.Len() > 0 && t.deadlines[0].at <= now.UnixNano()
}

// nextDeadline is when the earliest pending message is due again.
func (t *ackTracker) nextDeadline() time.Time {
	for t.deadlines.Len() > 0 {
		top := t.deadlines[0]
		if p, ok := t.pending[top.seq]; ok && p.deadline == top.at {
			return time.Unix(0, top.at)
		}
		heap.Pop(&t.deadlines)
	}
	return time.Time{}
}

// updateFloor moves the ack floor up to just below the lowest pending
// message, or to the last delivery (dseq, dsseq) when nothing is pending.
func (t *ackTracker) updateFloor(dseq, dsseq uint64) {
	for t.floorHeap.Len() > 0 {
		if _, ok := t.pending[t.floorHeap[0]]; ok {
			break
		}
		heap.Pop(&t.floorHeap)
	}
	if t.floorHeap.Len() == 0 {
		t.floorS, t.floorC = dsseq, dseq
		return
	}
	low := t.floorHeap[0]
	t.floorS = low - 1
	t.floorC = t.pending[low].cseq - 1
}

// rebuild re-arms redeliveries and the floor heap after a load; waitFor
// gives the ack wait after a message's delivery count.
func (t *ackTracker) rebuild(waitFor func(dc int) time.Duration) {
	t.deadlines, t.floorHeap = nil, nil
	for seq, p := range t.pending {
		at := time.Unix(0, p.sent).Add(waitFor(max(p.dc, 1))).UnixNano()
		p.deadline = at
		t.deadlines = append(t.deadlines, deadlineItem{at: at, seq: seq})
		t.floorHeap = append(t.floorHeap, seq)
	}
	heap.Init(&t.deadlines)
	heap.Init(&t.floorHeap)
}

// deadlineHeap orders pending redeliveries; entries whose deadline no
// longer matches the pending message are stale and skipped.
type deadlineHeap []deadlineItem

type deadlineItem struct {
	at  int64
	seq uint64
}

func (h deadlineHeap) Len() int { return len(h) }
func (h deadlineHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h deadlineHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)   { *h = append(*h, x.(deadlineItem)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// seqHeap finds the lowest pending sequence for the ack floor.
type seqHeap []uint64

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h seqHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *seqHeap) Push(x any)        { *h = append(*h, x.(uint64)) }
func (h *seqHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// applyAcksLocked applies acknowledgements and returns the stream
// sequences that are now acknowledged by this consumer.
func (c *Consumer) applyAcksLocked(acks []ackReq, now time.Time) []uint64 {
	var acked []uint64
	for i := range acks {
		a := &acks[i]
		c.lastActive = now
		switch a.kind {
		case ackAck, ackTerm, ackNext:
			if a.kind == ackTerm {
				dc := 1
				if p := c.acks.get(a.sseq); p != nil {
					dc = p.dc
				}
				c.noteLocked(ConsumerEvent{Kind: EventTerm, StreamSeq: a.sseq, ConsumerSeq: a.cseq, Deliveries: dc, Reason: a.reason})
			}
			acked = c.ackLocked(a, acked)
			if a.kind == ackNext && len(a.next.Reply) > 0 {
				c.admitPullsLocked([]PullRequest{a.next}, now)
			}
		case ackNak:
			if p := c.acks.get(a.sseq); p != nil {
				c.noteLocked(ConsumerEvent{Kind: EventNak, StreamSeq: a.sseq, ConsumerSeq: a.cseq, Deliveries: p.dc})
			}
			c.acks.postpone(a.sseq, now.Add(a.delay))
		case ackProgress:
			if p := c.acks.get(a.sseq); p != nil {
				c.acks.postpone(a.sseq, now.Add(c.ackWaitFor(p.dc)))
			}
		}
	}
	return acked
}

// needsSave reports whether an acknowledgement counts only once saved:
// acks and terms change what is delivered again; naks and progress only
// move a deadline.
func (a *ackReq) needsSave() bool {
	return a.kind == ackAck || a.kind == ackTerm || a.kind == ackNext
}

func (c *Consumer) ackLocked(a *ackReq, acked []uint64) []uint64 {
	switch c.cfg.AckPolicy {
	case AckNone:
		return acked
	case AckAll:
		n := len(acked)
		acked = c.acks.ackUpTo(a.cseq, acked)
		for _, seq := range acked[n:] {
			c.logAcked(seq)
		}
		return acked
	}
	if c.acks.forget(a.sseq) {
		c.logAcked(a.sseq)
		acked = append(acked, a.sseq)
	}
	return acked
}

// RedeliverPending makes every delivered but unacknowledged message due for
// redelivery now instead of after its ack wait. A protocol bridge calls it
// when the client that owns the consumer comes back (an MQTT session
// resuming must resend unacknowledged messages at once).
func (c *Consumer) RedeliverPending() {
	c.mu.Lock()
	c.acks.dueAll()
	c.mu.Unlock()
	c.kick()
}
