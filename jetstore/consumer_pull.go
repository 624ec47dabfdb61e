package jetstore

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
)

// Pull requests (JETSTREAM.md §10): queued FIFO per consumer, served in
// order, ended by a filled batch (silently) or by a status message.

// pullRequest is a waiting pull request.
type pullRequest struct {
	reply     []byte
	batch     int           // messages still wanted
	maxBytes  int           // byte budget left; 0 means no limit
	noWait    bool          // answer now, with 404 when nothing (more) is there
	expires   time.Time     // zero: until filled or interest is gone
	heartbeat time.Duration // idle heartbeat interval
	lastSent  time.Time     // last message or heartbeat sent to it
}

// pullBody is a pull request's JSON.
type pullBody struct {
	Batch     int           `json:"batch"`
	Expires   time.Duration `json:"expires"`
	NoWait    bool          `json:"no_wait"`
	MaxBytes  int           `json:"max_bytes"`
	Heartbeat time.Duration `json:"idle_heartbeat"`
}

// Status header blocks sent to pull requesters.
var (
	statusNoMessages     = []byte("NATS/1.0 404 No Messages\r\n\r\n")
	statusDeleted        = []byte("NATS/1.0 409 Consumer Deleted\r\n\r\n")
	statusMaxWaiting     = []byte("NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n")
	statusPushBased      = []byte("NATS/1.0 409 Consumer is push based\r\n\r\n")
	statusHBTooLarge     = []byte("NATS/1.0 400 Bad Request - heartbeat value too large\r\n\r\n")
	statusBadRequest     = []byte("NATS/1.0 400 Bad Request\r\n\r\n")
	statusServerShutdown = []byte("NATS/1.0 409 Server Shutdown\r\n\r\n")
)

// parsePull turns a raw request into a waiting request, or returns the
// status that refuses it.
func (c *Consumer) parsePull(r pullReq, now time.Time) (*pullRequest, []byte) {
	if !c.cfg.isPull() {
		return nil, statusPushBased
	}
	body := bytes.TrimSpace(r.body)
	b := pullBody{Batch: 1}
	switch {
	case len(body) == 0:
	case body[0] == '{':
		if json.Unmarshal(body, &b) != nil {
			return nil, statusBadRequest
		}
	default: // legacy: a bare batch size
		n, err := strconv.Atoi(string(body))
		if err != nil {
			return nil, statusBadRequest
		}
		b.Batch = n
	}
	if b.Batch <= 0 {
		b.Batch = 1
	}
	if b.Heartbeat > 0 && b.Expires > 0 && 2*b.Heartbeat > b.Expires {
		return nil, statusHBTooLarge
	}
	if m := c.cfg.MaxRequestBatch; m > 0 && b.Batch > m {
		return nil, []byte("NATS/1.0 409 Exceeded MaxRequestBatch of " + strconv.Itoa(m) + "\r\n\r\n")
	}
	if m := c.cfg.MaxRequestExpires; m > 0 && b.Expires > m {
		return nil, []byte("NATS/1.0 409 Exceeded MaxRequestExpires of " + m.String() + "\r\n\r\n")
	}
	if m := c.cfg.MaxRequestMaxBytes; m > 0 && b.MaxBytes > m {
		return nil, []byte("NATS/1.0 409 Exceeded MaxRequestMaxBytes of " + strconv.Itoa(m) + "\r\n\r\n")
	}
	if len(c.waiting) >= c.cfg.MaxWaiting {
		return nil, statusMaxWaiting
	}
	pr := &pullRequest{reply: r.reply, batch: b.Batch, maxBytes: b.MaxBytes, noWait: b.NoWait,
		heartbeat: b.Heartbeat, lastSent: now}
	if b.Expires > 0 {
		pr.expires = now.Add(b.Expires)
	}
	return pr, nil
}

// pendingStatus builds a status with the request's unfilled budget.
func pendingStatus(code string, r *pullRequest) []byte {
	h := []byte("NATS/1.0 " + code + "\r\nNats-Pending-Messages: ")
	h = strconv.AppendInt(h, int64(r.batch), 10)
	h = append(h, "\r\nNats-Pending-Bytes: "...)
	h = strconv.AppendInt(h, int64(r.maxBytes), 10)
	return append(h, "\r\n\r\n"...)
}

// heartbeatHeader is the idle heartbeat status.
func (c *Consumer) heartbeatHeader() []byte {
	h := append(c.hdrBuf[:0], "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: "...)
	h = strconv.AppendUint(h, c.dseq, 10)
	h = append(h, "\r\nNats-Last-Stream: "...)
	h = strconv.AppendUint(h, c.dsseq, 10)
	h = append(h, "\r\n\r\n"...)
	c.hdrBuf = h
	return h
}

func (c *Consumer) status(to, hdr []byte) {
	c.send.Send(to, to, nil, hdr, nil)
}

// admitPullsLocked queues new pull requests (or refuses them).
func (c *Consumer) admitPullsLocked(pulls []pullReq, now time.Time) {
	for _, r := range pulls {
		pr, refusal := c.parsePull(r, now)
		if refusal != nil {
			c.status(r.reply, refusal)
			continue
		}
		c.waiting = append(c.waiting, pr)
		c.lastActive = now
	}
}

// expirePullsLocked ends requests whose time is up, sends heartbeats to
// those still waiting and drops those nobody listens to any more. It
// returns the next time it needs to run.
func (c *Consumer) expirePullsLocked(now time.Time) time.Time {
	var next time.Time
	keep := c.waiting[:0]
	for _, r := range c.waiting {
		switch {
		case !r.expires.IsZero() && !now.Before(r.expires):
			c.status(r.reply, pendingStatus("408 Request Timeout", r))
			continue
		case !c.send.HasInterest(r.reply):
			continue // the requester went away
		}
		if r.heartbeat > 0 {
			due := r.lastSent.Add(r.heartbeat)
			if !now.Before(due) {
				c.status(r.reply, c.heartbeatHeader())
				r.lastSent = now
				due = now.Add(r.heartbeat)
			}
			next = earliest(next, due)
		}
		if !r.expires.IsZero() {
			next = earliest(next, r.expires)
		}
		keep = append(keep, r)
	}
	clear(c.waiting[len(keep):])
	c.waiting = keep
	if len(c.waiting) > 0 {
		c.lastActive = now
	}
	return next
}

// finishNoWaitLocked answers no_wait requests that are still unfilled
// after delivery: nothing more is available for them.
func (c *Consumer) finishNoWaitLocked() {
	keep := c.waiting[:0]
	for _, r := range c.waiting {
		if r.noWait {
			c.status(r.reply, statusNoMessages)
			continue
		}
		keep = append(keep, r)
	}
	clear(c.waiting[len(keep):])
	c.waiting = keep
}

// failWaitingLocked answers every waiting request with hdr (consumer
// deleted, server shutting down).
func (c *Consumer) failWaitingLocked(hdr []byte) {
	for _, r := range c.waiting {
		c.status(r.reply, hdr)
	}
	c.waiting = nil
	c.send.Flush()
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
