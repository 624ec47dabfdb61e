package jetstore

import (
	"slices"
	"time"
)

// pushFlow paces a push consumer. Idle heartbeats go to the deliver
// subject when nothing was sent for a heartbeat interval. With flow
// control, every flowWindow bytes delivered bring a StatusFlowControl
// request, which the client answers (Consumer.FlowControlReply) once it
// processed what came before; with flowMaxOut requests unanswered the
// consumer stalls, and its heartbeats name the oldest one it waits for.
//
// Guarded by Consumer.mu.
type pushFlow struct {
	lastSend time.Time // last message or heartbeat sent
	fcBytes  int       // bytes delivered since the last request
	fcOut    []uint64  // requests not answered yet, oldest first
	fcNext   uint64    // id of the last request
}

const (
	flowWindow = 256 << 10
	flowMaxOut = 2
)

func (p *pushFlow) stalled() bool { return len(p.fcOut) >= flowMaxOut }

// owed is the oldest unanswered request of a stalled consumer, or 0.
func (p *pushFlow) owed() uint64 {
	if !p.stalled() {
		return 0
	}
	return p.fcOut[0]
}

// account counts size delivered bytes and returns the id of a new request
// when one is due, or 0.
func (p *pushFlow) account(size int) uint64 {
	p.fcBytes += size
	if p.fcBytes < flowWindow {
		return 0
	}
	p.fcBytes = 0
	p.fcNext++
	p.fcOut = append(p.fcOut, p.fcNext)
	return p.fcNext
}

// answered drops answered requests and every older one.
func (p *pushFlow) answered(ids []uint64) {
	for _, id := range ids {
		if i := slices.Index(p.fcOut, id); i >= 0 {
			p.fcOut = p.fcOut[i+1:]
		}
	}
}

// flowControlLocked accounts a delivery to to and sends a request when due.
func (c *Consumer) flowControlLocked(to []byte, size int) {
	if id := c.push.account(size); id != 0 {
		s := c.newStatus(StatusFlowControl)
		s.FlowControl = id
		c.send.Status(to, s)
	}
}

// pushHeartbeatLocked sends an idle heartbeat to a push consumer's deliver
// subject when nothing was sent for a heartbeat interval, and returns when
// the next one is due.
func (c *Consumer) pushHeartbeatLocked(now time.Time) time.Time {
	hb := c.cfg.Heartbeat
	if hb <= 0 {
		return time.Time{}
	}
	due := c.push.lastSend.Add(hb)
	if now.Before(due) {
		return due
	}
	if c.send.HasInterest(c.deliverTo) {
		s := c.heartbeat()
		s.FlowControl = c.push.owed() // the request the client still owes
		c.send.Status(c.deliverTo, s)
	}
	c.push.lastSend = now
	return now.Add(hb)
}
