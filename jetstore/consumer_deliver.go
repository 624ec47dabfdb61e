package jetstore

import "time"

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
	acks = c.retriedAcksLocked(acks, now)
	c.push.answered(fc)
	c.catchUpLocked()
	c.acks.record()
	acked := c.applyAcksLocked(acks, now)
	c.acks.stopRecording()
	c.admitPullsLocked(pulls, now)
	next := c.expirePullsLocked(now)
	next = earliest(next, c.deliverLocked(now))
	if c.cfg.isPull() {
		c.finishNoWaitLocked()
	} else {
		next = earliest(next, c.pushHeartbeatLocked(now))
	}
	saved := c.saveLocked(acks, now)
	if !saved {
		acked = nil
	}
	c.acks.updateFloor(c.cur.dseq, c.cur.dsseq)
	next = earliest(next, c.acks.nextDeadline())
	if len(c.retry) > 0 {
		next = earliest(next, c.retryAt)
	}
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
	for i := range acks {
		a := &acks[i]
		switch {
		case len(a.reply) == 0:
		case !saved && a.needsSave():
			c.send.AckFailed(a.reply)
		default:
			c.send.AckDone(a.reply)
		}
	}
	c.emitEvents()
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
		if c.pulls.len() > 0 {
			c.lastActive = now
		}
	} else if c.send.HasInterest(c.deliverTo) {
		c.lastActive = now
	}
	return now.Sub(c.lastActive) > c.cfg.InactiveThreshold
}

// targetLocked returns where the next message goes (and, for pull
// consumers, the request it counts against), or nil when nobody is asking.
func (c *Consumer) targetLocked(now time.Time) ([]byte, *pullRequest) {
	if !c.cfg.isPull() {
		if !c.push.stalled() && c.send.HasInterest(c.deliverTo) {
			return c.deliverTo, nil
		}
		return nil, nil
	}
	if r := c.selectPullLocked(now); r != nil {
		return r.reply, r
	}
	return nil, nil
}

// deliverLocked sends messages while someone wants them. It returns when it
// needs to run again on its own (replay original pacing, push interest).
func (c *Consumer) deliverLocked(now time.Time) (next time.Time) {
	if until := c.pausedUntil(now); !until.IsZero() {
		return until // nothing goes out before then
	}
	st := c.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	for n := 1; ; n++ {
		if n%128 == 0 {
			// Let the committer in now and then during a long burst.
			st.mu.RUnlock()
			st.mu.RLock()
		}
		to, req := c.targetLocked(now)
		if to == nil {
			if !c.cfg.isPull() && c.hasWorkLocked(now) {
				return now.Add(pushInterestPoll)
			}
			return c.pinDeadlineLocked()
		}
		seq, redelivery := c.nextSeqLocked(now)
		if seq == 0 {
			return time.Time{}
		}
		// Redeliveries are pending already; only new messages wait for room.
		if !redelivery && c.cfg.AckPolicy != AckNone && c.cfg.MaxAckPending > 0 && c.acks.count() >= c.cfg.MaxAckPending {
			return time.Time{}
		}
		m, err := st.getLocked(seq)
		if err != nil {
			if redelivery {
				c.acks.forget(seq)
			} else {
				c.cur.skip(seq)
			}
			continue
		}
		if !redelivery && c.cfg.ReplayPolicy == ReplayOriginal {
			if wait := c.cur.replayWait(&m, now); wait > 0 {
				return now.Add(wait)
			}
		}
		size := len(m.Subject) + len(m.Header) + len(m.Data)
		if req != nil && req.maxBytes > 0 {
			size = c.pullSizeLocked(&m, redelivery)
		}
		if req != nil && req.maxBytes > 0 && size > req.maxBytes {
			c.send.Status(req.reply, c.pendingStatus(StatusMaxBytesExceeded, req))
			c.pulls.pop()
			if redelivery {
				c.acks.postpone(seq, now)
			}
			continue
		}
		if wait := c.rateWaitLocked(size, now); wait > 0 {
			if redelivery {
				c.acks.postpone(seq, now)
			}
			return now.Add(wait)
		}
		c.sendMsgLocked(to, &m, redelivery, c.pinFor(req), now)
		if c.cfg.FlowControl {
			c.flowControlLocked(to, size)
		}
		if req != nil {
			c.pulls.filled(req, size, now)
		}
	}
}

// hasWorkLocked reports whether something is ready to deliver.
func (c *Consumer) hasWorkLocked(now time.Time) bool {
	return c.cur.pending() > 0 || c.acks.anyDue(now)
}

// nextSeqLocked picks the next message: a due redelivery first, then the
// last-per-subject backlog, then the next new message.
func (c *Consumer) nextSeqLocked(now time.Time) (seq uint64, redelivery bool) {
	if seq := c.acks.nextDue(now, c.cfg.MaxDeliver, c.maxDeliveriesLocked); seq != 0 {
		return seq, true
	}
	if len(c.cur.lps) > 0 {
		return c.cur.lps[0], false
	}
	return c.nextNewLocked(), false
}

// sendMsgLocked delivers one message and records it.
func (c *Consumer) sendMsgLocked(to []byte, m *StoredMsg, redelivery bool, pin string, now time.Time) {
	dc := 1
	if redelivery {
		dc = c.acks.redelivering(m.Seq)
	}
	c.cur.delivered(m.Seq, redelivery)
	c.logDelivered(m.Seq, c.cur.dseq, dc, now)
	if c.cfg.RecordBeforeSend {
		if err := c.persistLocked(false); err != nil {
			c.st.store.log.Error("consumer state not saved", "stream", c.st.Name(), "consumer", c.name, "error", err)
		}
	}
	c.send.Deliver(to, Delivery{
		Stream:      c.st.Name(),
		Consumer:    c.name,
		Subject:     m.Subject,
		Header:      m.Header,
		Data:        m.Data,
		StreamSeq:   m.Seq,
		ConsumerSeq: c.cur.dseq,
		Deliveries:  dc,
		Time:        m.Time,
		Pending:     c.cur.pending(),
		HeadersOnly: c.cfg.HeadersOnly,
		PinID:       pin,
	})
	c.push.lastSend = now
	if c.cfg.AckPolicy != AckNone {
		c.acks.track(m.Seq, c.cur.dseq, dc, now, now.Add(c.ackWaitFor(dc)))
	}
}
