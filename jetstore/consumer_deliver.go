package jetstore

import (
	"container/heap"
	"time"

	"github.com/midgemq/midge/sublist"
)

// The consumer's goroutine. Every wake-up (new messages, acks, pull
// requests, a due timer) runs one pass: catch up with the stream, apply
// acks, admit pull requests, expire old ones, deliver as much as the
// targets and max_ack_pending allow, persist the state (fsynced when acks
// were applied), answer acks that asked for it, and re-arm the timer.

// pushInterestPoll is how often a push consumer without interest on its
// deliver subject looks again.
const pushInterestPoll = 50 * time.Millisecond

func (c *Consumer) run(streamWake <-chan struct{}) {
	defer close(c.done)
	for {
		select {
		case <-c.quit:
			return
		case <-streamWake:
		case <-c.wake:
		case <-c.timer.C:
		}
		if c.process() {
			c.st.removeInactive(c)
			return
		}
	}
}

// process runs one pass; it reports whether the consumer became inactive
// and must go.
func (c *Consumer) process() (inactive bool) {
	now := c.st.store.now()
	acks, pulls, fc, settled := c.inbox.take()
	c.mu.Lock()
	c.flowControlAnsweredLocked(fc)
	c.catchUpLocked()
	acked := c.applyAcksLocked(acks, now)
	c.admitPullsLocked(pulls, now)
	next := c.expirePullsLocked(now)
	next = earliest(next, c.deliverLocked(now))
	if c.cfg.isPull() {
		c.finishNoWaitLocked()
	} else {
		next = earliest(next, c.pushHeartbeatLocked(now))
	}
	c.updateAckFloorLocked()
	if err := c.persistLocked(len(acks) > 0); err != nil {
		c.st.store.log.Error("consumer state not saved", "stream", c.st.Name(), "consumer", c.name, "error", err)
	}
	next = earliest(next, c.nextRedeliveryLocked())
	inactive = c.inactiveLocked(now)
	if !inactive && c.cfg.InactiveThreshold > 0 {
		next = earliest(next, c.lastActive.Add(c.cfg.InactiveThreshold))
	}
	c.armTimerLocked(next, now)
	c.mu.Unlock()
	if len(acked) > 0 {
		// Before answering the acks: a confirmed ack on a work queue means
		// the message is gone.
		c.st.retain(c, acked)
	}
	for _, a := range acks {
		if len(a.reply) > 0 {
			c.send.AckDone(a.reply)
		}
	}
	c.send.Flush()
	for _, ch := range settled {
		close(ch)
	}
	return inactive
}

func (c *Consumer) armTimerLocked(next, now time.Time) {
	if next.IsZero() {
		return
	}
	c.timer.Reset(max(next.Sub(now), time.Millisecond))
}

// inactiveLocked reports whether an ephemeral (or a durable with an
// inactive threshold) has had no interest for longer than its threshold.
func (c *Consumer) inactiveLocked(now time.Time) bool {
	if c.cfg.InactiveThreshold <= 0 {
		return false
	}
	if c.cfg.isPull() {
		if len(c.waiting) > 0 {
			c.lastActive = now
		}
	} else if c.send.HasInterest(c.deliverTo) {
		c.lastActive = now
	}
	return now.Sub(c.lastActive) > c.cfg.InactiveThreshold
}

// target returns where the next message goes (and, for pull consumers, the
// request it counts against), or nil when nobody is asking.
func (c *Consumer) targetLocked() ([]byte, *pullRequest) {
	if !c.cfg.isPull() {
		if !c.stalledLocked() && c.send.HasInterest(c.deliverTo) {
			return c.deliverTo, nil
		}
		return nil, nil
	}
	for len(c.waiting) > 0 {
		r := c.waiting[0]
		if r.batch > 0 {
			return r.reply, r
		}
		c.popRequestLocked()
	}
	return nil, nil
}

func (c *Consumer) popRequestLocked() {
	c.waiting[0] = nil
	c.waiting = c.waiting[1:]
}

// deliverLocked sends messages while someone wants them. It returns when it
// needs to run again on its own (replay original pacing, push interest).
func (c *Consumer) deliverLocked(now time.Time) (next time.Time) {
	st := c.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	for n := 1; ; n++ {
		if n%128 == 0 {
			// Let the committer in now and then during a long burst.
			st.mu.RUnlock()
			st.mu.RLock()
		}
		to, req := c.targetLocked()
		if to == nil {
			if !c.cfg.isPull() && c.hasWorkLocked(now) {
				return now.Add(pushInterestPoll)
			}
			return time.Time{}
		}
		seq, redelivery := c.nextSeqLocked(now)
		if seq == 0 {
			return time.Time{}
		}
		// Redeliveries are pending already; only new messages wait for room.
		if !redelivery && c.cfg.AckPolicy != AckNone && c.cfg.MaxAckPending > 0 && len(c.pending) >= c.cfg.MaxAckPending {
			return time.Time{}
		}
		m, err := st.getLocked(seq)
		if err != nil {
			if redelivery {
				c.forgetPendingLocked(seq)
			} else {
				c.consumeNewLocked(seq)
			}
			continue
		}
		if !redelivery && c.cfg.ReplayPolicy == ReplayOriginal {
			if wait := c.replayWaitLocked(&m, now); wait > 0 {
				return now.Add(wait)
			}
		}
		size := len(m.Subject) + len(m.Header) + len(m.Data)
		if req != nil && req.maxBytes > 0 && size > req.maxBytes {
			c.send.Status(req.reply, c.pendingStatus(StatusMaxBytesExceeded, req))
			c.popRequestLocked()
			if redelivery {
				c.setDeadlineLocked(seq, c.pending[seq], now.UnixNano())
			}
			continue
		}
		c.sendMsgLocked(to, &m, redelivery, now)
		if c.cfg.FlowControl {
			c.flowControlLocked(to, size)
		}
		if req != nil {
			req.batch--
			if req.maxBytes > 0 {
				req.maxBytes -= size
			}
			req.lastSent = now
			if req.batch == 0 {
				c.popRequestLocked() // filled: ends silently
			}
		}
	}
}

// hasWorkLocked reports whether something is ready to deliver.
func (c *Consumer) hasWorkLocked(now time.Time) bool {
	if len(c.lps) > 0 || c.npending > 0 {
		return true
	}
	return c.deadlines.Len() > 0 && c.deadlines[0].at <= now.UnixNano()
}

// nextSeqLocked picks the next message: a due redelivery first, then the
// last-per-subject backlog, then the next new message.
func (c *Consumer) nextSeqLocked(now time.Time) (seq uint64, redelivery bool) {
	for c.deadlines.Len() > 0 {
		top := c.deadlines[0]
		p, ok := c.pending[top.seq]
		if !ok || p.deadline != top.at {
			heap.Pop(&c.deadlines) // stale
			continue
		}
		if top.at > now.UnixNano() {
			break
		}
		heap.Pop(&c.deadlines)
		if c.cfg.MaxDeliver > 0 && p.dc >= c.cfg.MaxDeliver {
			c.forgetPendingLocked(top.seq) // delivered often enough; no more
			continue
		}
		return top.seq, true
	}
	if len(c.lps) > 0 {
		return c.lps[0], false
	}
	return c.nextNewLocked(), false
}

// nextNewLocked finds the first matching live message at or after sseq.
func (c *Consumer) nextNewLocked() uint64 {
	st := c.st
	if c.sseq > st.committed {
		return 0
	}
	if len(c.filters) > 0 && allLiteral(c.filters) {
		var best uint64
		for _, f := range c.filters {
			if s := st.subj.nextMatching(f, c.sseq); s != 0 && (best == 0 || s < best) {
				best = s
			}
		}
		if best > st.committed {
			return 0
		}
		return best
	}
	for seq := max(c.sseq, st.state.first); seq <= st.committed; {
		b := st.blockFor(seq)
		if b == nil {
			return 0
		}
		for ; seq <= b.last() && seq <= st.committed; seq++ {
			e := b.entries[seq-b.first]
			if e.off != deletedOff && c.matches(st.subj.name(e.subj)) {
				return seq
			}
		}
	}
	return 0
}

func allLiteral(filters []string) bool {
	for _, f := range filters {
		if !sublist.IsLiteral(f) {
			return false
		}
	}
	return true
}

// consumeNewLocked moves past a new message that vanished before delivery.
func (c *Consumer) consumeNewLocked(seq uint64) {
	if len(c.lps) > 0 && c.lps[0] == seq {
		c.lps = c.lps[1:]
		return
	}
	c.sseq = seq + 1
}

// replayWaitLocked paces replay-original delivery by the stored times.
func (c *Consumer) replayWaitLocked(m *StoredMsg, now time.Time) time.Duration {
	if c.replayBase.IsZero() {
		c.replayBase, c.replayFrom = now, m.Time.UnixNano()
		return 0
	}
	due := c.replayBase.Add(time.Duration(m.Time.UnixNano() - c.replayFrom))
	return due.Sub(now)
}

// sendMsgLocked delivers one message and records it.
func (c *Consumer) sendMsgLocked(to []byte, m *StoredMsg, redelivery bool, now time.Time) {
	dc := 1
	p := c.pending[m.Seq]
	if redelivery && p != nil {
		p.dc++
		dc = p.dc
		if dc == 2 {
			c.redelivers++
		}
	}
	c.dseq++
	if !redelivery {
		if len(c.lps) > 0 && c.lps[0] == m.Seq {
			c.lps = c.lps[1:]
		} else {
			c.sseq = m.Seq + 1
			c.npending--
		}
		c.dsseq = max(c.dsseq, m.Seq)
	}
	c.send.Deliver(to, Delivery{
		Stream:      c.st.Name(),
		Consumer:    c.name,
		Subject:     m.Subject,
		Header:      m.Header,
		Data:        m.Data,
		StreamSeq:   m.Seq,
		ConsumerSeq: c.dseq,
		Deliveries:  dc,
		Time:        m.Time,
		Pending:     c.numPendingLocked(),
		HeadersOnly: c.cfg.HeadersOnly,
	})
	c.lastSend = now
	c.logDelivered(m.Seq, c.dseq, dc, now)
	if c.cfg.AckPolicy == AckNone {
		return
	}
	if p == nil {
		p = &pendingMsg{}
		c.pending[m.Seq] = p
		heap.Push(&c.floorHeap, m.Seq)
	}
	p.cseq, p.dc, p.sent = c.dseq, dc, now.UnixNano()
	c.setDeadlineLocked(m.Seq, p, now.Add(c.ackWaitFor(dc)).UnixNano())
}

// pushHeartbeatLocked sends an idle heartbeat to a push consumer's deliver
// subject when nothing was sent for a heartbeat interval.
func (c *Consumer) pushHeartbeatLocked(now time.Time) time.Time {
	hb := c.cfg.Heartbeat
	if hb <= 0 {
		return time.Time{}
	}
	due := c.lastSend.Add(hb)
	if now.Before(due) {
		return due
	}
	if c.send.HasInterest(c.deliverTo) {
		s := c.heartbeat()
		if c.stalledLocked() {
			s.FlowControl = c.fcOut[0] // the request the client still owes
		}
		c.send.Status(c.deliverTo, s)
	}
	c.lastSend = now
	return now.Add(hb)
}

// nextRedeliveryLocked is when the earliest pending message is due again.
func (c *Consumer) nextRedeliveryLocked() time.Time {
	for c.deadlines.Len() > 0 {
		top := c.deadlines[0]
		if p, ok := c.pending[top.seq]; ok && p.deadline == top.at {
			return time.Unix(0, top.at)
		}
		heap.Pop(&c.deadlines)
	}
	return time.Time{}
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
			acked = c.ackLocked(a, acked)
			if a.kind == ackNext && len(a.next.Reply) > 0 {
				c.admitPullsLocked([]PullRequest{a.next}, now)
			}
		case ackNak:
			if p := c.pending[a.sseq]; p != nil {
				c.setDeadlineLocked(a.sseq, p, now.Add(a.delay).UnixNano())
			}
		case ackProgress:
			if p := c.pending[a.sseq]; p != nil {
				c.setDeadlineLocked(a.sseq, p, now.Add(c.ackWaitFor(p.dc)).UnixNano())
			}
		}
	}
	return acked
}

func (c *Consumer) ackLocked(a *ackReq, acked []uint64) []uint64 {
	switch c.cfg.AckPolicy {
	case AckNone:
		return acked
	case AckAll:
		for seq, p := range c.pending {
			if p.cseq <= a.cseq {
				c.forgetPendingLocked(seq)
				c.logAcked(seq)
				acked = append(acked, seq)
			}
		}
		return acked
	}
	if _, ok := c.pending[a.sseq]; ok {
		c.forgetPendingLocked(a.sseq)
		c.logAcked(a.sseq)
		acked = append(acked, a.sseq)
	}
	return acked
}

// hasAcked reports whether this consumer is done with seq (for interest
// retention): acknowledged, or never going to see it.
func (c *Consumer) hasAcked(seq uint64, subject string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.matches(subject) {
		return true
	}
	if seq >= c.sseq {
		return false
	}
	if i, found := binarySearch(c.lps, seq); found || i < len(c.lps) && c.lps[i] == seq {
		return false
	}
	_, pending := c.pending[seq]
	return !pending
}

func binarySearch(s []uint64, v uint64) (int, bool) {
	lo, hi := 0, len(s)
	for lo < hi {
		m := (lo + hi) / 2
		if s[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(s) && s[lo] == v
}
