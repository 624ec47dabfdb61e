package jetstore

import (
	"slices"
	"strconv"
)

// Push flow control (JETSTREAM.md §11): after every flowWindow bytes a push
// consumer with flow_control sends a "100 FlowControl Request" with a reply
// subject under $JS.FC; the client answers once it processed what came
// before. With flowMaxOut requests unanswered the consumer stalls, and its
// heartbeats name the request it waits for.
const (
	flowWindow = 256 << 10
	flowMaxOut = 2
)

var statusFlowControl = []byte("NATS/1.0 100 FlowControl Request\r\n\r\n")

// FlowControlPrefix starts the reply subjects of flow control requests.
const FlowControlPrefix = "$JS.FC."

func (c *Consumer) stalledLocked() bool { return len(c.fcOut) >= flowMaxOut }

// flowControlLocked accounts a delivery and sends a request when due.
func (c *Consumer) flowControlLocked(to []byte, size int) {
	c.fcBytes += size
	if c.fcBytes < flowWindow {
		return
	}
	c.fcBytes = 0
	c.fcNext++
	reply := FlowControlPrefix + c.st.Name() + "." + c.name + "." + strconv.FormatUint(c.fcNext, 36)
	c.fcOut = append(c.fcOut, reply)
	c.send.Send(to, to, []byte(reply), statusFlowControl, nil)
}

// flowControlAnsweredLocked drops answered requests and every older one.
func (c *Consumer) flowControlAnsweredLocked(answers []string) {
	for _, a := range answers {
		if i := slices.Index(c.fcOut, a); i >= 0 {
			c.fcOut = c.fcOut[i+1:]
		}
	}
}
