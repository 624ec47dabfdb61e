package jetstore

import "time"

// pullQueue holds a pull consumer's waiting requests, oldest first. They
// are served in order; a request ends when it is filled (silently), when
// its time runs out, when the next message exceeds its byte budget, when a
// no-wait request finds nothing more, when its requester goes away, or when
// the consumer is deleted (each but the silent ones with a Status). A
// request's idle heartbeats are sent from here too.
//
// Guarded by Consumer.mu.
type pullQueue struct {
	waiting []*pullRequest
}

func (q *pullQueue) len() int { return len(q.waiting) }

// front returns the oldest request that still wants messages, or nil.
func (q *pullQueue) front() *pullRequest {
	for len(q.waiting) > 0 {
		if r := q.waiting[0]; r.batch > 0 {
			return r
		}
		q.pop()
	}
	return nil
}

// pop ends the oldest request.
func (q *pullQueue) pop() {
	q.waiting[0] = nil
	q.waiting = q.waiting[1:]
}

// keep retains the requests for which keep is true, in order.
func (q *pullQueue) keep(keep func(r *pullRequest) bool) {
	kept := q.waiting[:0]
	for _, r := range q.waiting {
		if keep(r) {
			kept = append(kept, r)
		}
	}
	clear(q.waiting[len(kept):])
	q.waiting = kept
}

// filled accounts a message of size bytes sent to r, the front request,
// ending r when it wants no more.
func (q *pullQueue) filled(r *pullRequest, size int, now time.Time) {
	r.batch--
	if r.maxBytes > 0 {
		r.maxBytes -= size
	}
	r.lastSent = now
	if r.batch == 0 {
		q.pop() // filled: ends silently
	}
}

// pullRequest is a waiting pull request.
type pullRequest struct {
	reply     []byte
	batch     int           // messages still wanted
	maxBytes  int           // byte budget left; 0 means no limit
	noWait    bool          // answer now, with StatusNoMessages when nothing (more) is there
	expires   time.Time     // zero: until filled or interest is gone
	heartbeat time.Duration // idle heartbeat interval
	lastSent  time.Time     // last message or heartbeat sent to it
	// Priority groups: the pin id it holds (or was given), its overflow
	// thresholds and its priority.
	pinID                     string
	minPending, minAckPending int64
	priority                  int
}

// admit turns a request into a waiting one, or returns the status kind that
// refuses it (with the limit it exceeded filled in).
func (c *Consumer) admit(r PullRequest, now time.Time) (*pullRequest, Status) {
	refuse := func(kind StatusKind) (*pullRequest, Status) { return nil, c.newStatus(kind) }
	if !c.cfg.isPull() {
		return refuse(StatusPushBased)
	}
	if r.Invalid {
		return refuse(StatusBadRequest)
	}
	batch := max(r.Batch, 1)
	if r.Heartbeat > 0 && r.Expires > 0 && 2*r.Heartbeat > r.Expires {
		return refuse(StatusHeartbeatTooLarge)
	}
	if m := c.cfg.MaxRequestBatch; m > 0 && batch > m {
		s := c.newStatus(StatusMaxRequestBatch)
		s.Limit = m
		return nil, s
	}
	if m := c.cfg.MaxRequestExpires; m > 0 && r.Expires > m {
		s := c.newStatus(StatusMaxRequestExpires)
		s.MaxExpires = m
		return nil, s
	}
	if m := c.cfg.MaxRequestMaxBytes; m > 0 && r.MaxBytes > m {
		s := c.newStatus(StatusMaxRequestMaxBytes)
		s.Limit = m
		return nil, s
	}
	if s, ok := c.admitPriority(&r, now); !ok {
		return nil, s
	}
	if c.pulls.len() >= c.cfg.MaxWaiting {
		return refuse(StatusMaxWaiting)
	}
	pr := &pullRequest{reply: r.Reply, batch: batch, maxBytes: r.MaxBytes, noWait: r.NoWait,
		heartbeat: r.Heartbeat, lastSent: now, pinID: r.PinID, minPending: r.MinPending,
		minAckPending: r.MinAckPending, priority: r.Priority}
	if r.Expires > 0 {
		pr.expires = now.Add(r.Expires)
	}
	return pr, Status{}
}

// newStatus starts a status of this consumer.
func (c *Consumer) newStatus(kind StatusKind) Status {
	return Status{Kind: kind, Stream: c.st.Name(), Consumer: c.name}
}

// pendingStatus is a status ending request r, with its unfilled budget.
func (c *Consumer) pendingStatus(kind StatusKind, r *pullRequest) Status {
	s := c.newStatus(kind)
	s.PendingMsgs, s.PendingBytes = r.batch, r.maxBytes
	return s
}

// heartbeat is the idle heartbeat status.
func (c *Consumer) heartbeat() Status {
	s := c.newStatus(StatusIdleHeartbeat)
	s.LastConsumerSeq, s.LastStreamSeq = c.cur.dseq, c.cur.dsseq
	return s
}

// admitPullsLocked queues new pull requests (or refuses them).
func (c *Consumer) admitPullsLocked(pulls []PullRequest, now time.Time) {
	for _, r := range pulls {
		pr, refusal := c.admit(r, now)
		if pr == nil {
			c.send.Status(r.Reply, refusal)
			continue
		}
		c.queuePullLocked(pr)
		c.lastActive = now
	}
}

// expirePullsLocked ends requests whose time is up, sends heartbeats to
// those still waiting and drops those nobody listens to any more. It
// returns the next time it needs to run.
func (c *Consumer) expirePullsLocked(now time.Time) time.Time {
	var next time.Time
	c.pulls.keep(func(r *pullRequest) bool {
		switch {
		case !r.expires.IsZero() && !now.Before(r.expires):
			c.send.Status(r.reply, c.pendingStatus(StatusRequestTimeout, r))
			return false
		case !c.send.HasInterest(r.reply):
			return false // the requester went away
		}
		if r.heartbeat > 0 {
			due := r.lastSent.Add(r.heartbeat)
			if !now.Before(due) {
				c.send.Status(r.reply, c.heartbeat())
				r.lastSent = now
				due = now.Add(r.heartbeat)
			}
			next = earliest(next, due)
		}
		if !r.expires.IsZero() {
			next = earliest(next, r.expires)
		}
		return true
	})
	if c.pulls.len() > 0 {
		c.lastActive = now
	}
	return next
}

// finishNoWaitLocked answers no_wait requests that are still unfilled
// after delivery: nothing more is available for them.
func (c *Consumer) finishNoWaitLocked() {
	c.pulls.keep(func(r *pullRequest) bool {
		if r.noWait {
			c.send.Status(r.reply, c.newStatus(StatusNoMessages))
			return false
		}
		return true
	})
}

// failWaitingLocked ends every waiting request with a status of kind
// (consumer deleted).
func (c *Consumer) failWaitingLocked(kind StatusKind) {
	for _, r := range c.pulls.waiting {
		c.send.Status(r.reply, c.newStatus(kind))
	}
	c.pulls.waiting = nil
	c.send.Flush()
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
