package jetstore

import "slices"

// Push flow control: after every flowWindow bytes a push consumer with
// flow_control sends a StatusFlowControl request; the client answers it
// (FlowControlReply) once it processed what came before. With flowMaxOut
// requests unanswered the consumer stalls, and its heartbeats name the
// oldest request it waits for.
const (
	flowWindow = 256 << 10
	flowMaxOut = 2
)

func (c *Consumer) stalledLocked() bool { return len(c.fcOut) >= flowMaxOut }

// flowControlLocked accounts a delivery and sends a request when due.
func (c *Consumer) flowControlLocked(to []byte, size int) {
	c.fcBytes += size
	if c.fcBytes < flowWindow {
		return
	}
	c.fcBytes = 0
	c.fcNext++
	c.fcOut = append(c.fcOut, c.fcNext)
	s := c.newStatus(StatusFlowControl)
	s.FlowControl = c.fcNext
	c.send.Status(to, s)
}

// flowControlAnsweredLocked drops answered requests and every older one.
func (c *Consumer) flowControlAnsweredLocked(answers []uint64) {
	for _, a := range answers {
		if i := slices.Index(c.fcOut, a); i >= 0 {
			c.fcOut = c.fcOut[i+1:]
		}
	}
}
