package jetstore

import (
	"sync"
	"time"
)

// What reaches a consumer from clients (acknowledgements, pull requests,
// answers to flow control) arrives as typed calls, is copied into its inbox
// by the caller's goroutine and handled by the consumer's own goroutine.

// maxInbox bounds a consumer's queued acks and pulls; past it new ones are
// dropped (an ack is then redelivered, a pull times out on the client).
const maxInbox = 1 << 16

type inbox struct {
	mu    sync.Mutex
	acks  []ackReq
	pulls []PullRequest
	fc    []uint64 // answered flow control requests
	// settled are closed at the end of the pass that takes them.
	settled []chan struct{}
}

type ackKind uint8

const (
	ackAck ackKind = iota
	ackNak
	ackProgress
	ackNext
	ackTerm
)

// ackReq is one acknowledgement from a client.
type ackReq struct {
	kind   ackKind
	sseq   uint64
	cseq   uint64
	delay  time.Duration // ackNak: redeliver after this (0: at once)
	reason string        // ackTerm: the client's reason, for the event
	reply  []byte        // answered (Sender.AckDone) once processed
	next   PullRequest   // ackNext: the pull request that comes with it
}

// PullRequest asks a pull consumer for messages.
type PullRequest struct {
	Reply     []byte        // where the messages and statuses go
	Batch     int           // messages wanted; less than 1 means 1
	MaxBytes  int           // byte budget over all messages; 0 for none
	Expires   time.Duration // 0: until filled, or until nobody listens on Reply
	NoWait    bool          // end with StatusNoMessages once nothing (more) is there
	Heartbeat time.Duration // idle heartbeat interval; 0 for none
	// Invalid: the request could not be read; it is refused with
	// StatusBadRequest (after the refusal of a push consumer).
	Invalid bool
	// Priority groups (consumer_priority.go): the group asked for, the pin
	// id held, the overflow thresholds and the priority (0 first).
	Group         string
	PinID         string
	MinPending    int64
	MinAckPending int64
	Priority      int
}

// Ack acknowledges the delivery of stream sequence sseq (consumer sequence
// cseq, which AckAll consumers acknowledge up to). A non-empty reply is
// answered once the ack is applied. Slices are copied.
func (c *Consumer) Ack(sseq, cseq uint64, reply []byte) {
	c.queueAck(ackReq{kind: ackAck, sseq: sseq, cseq: cseq}, reply)
}

// Nak asks for sseq to be delivered again after delay (0: at once).
func (c *Consumer) Nak(sseq, cseq uint64, delay time.Duration, reply []byte) {
	c.queueAck(ackReq{kind: ackNak, sseq: sseq, cseq: cseq, delay: max(delay, 0)}, reply)
}

// Progress restarts the ack wait of sseq: the client is still working on it.
func (c *Consumer) Progress(sseq, cseq uint64, reply []byte) {
	c.queueAck(ackReq{kind: ackProgress, sseq: sseq, cseq: cseq}, reply)
}

// Term acknowledges sseq as never to be delivered again, whatever the
// client's outcome.
func (c *Consumer) Term(sseq, cseq uint64, reply []byte) {
	c.queueAck(ackReq{kind: ackTerm, sseq: sseq, cseq: cseq}, reply)
}

// AckNext acknowledges sseq and queues next, a pull request (when its
// Reply is set), in one step. It is not answered as an ack.
func (c *Consumer) AckNext(sseq, cseq uint64, next PullRequest) {
	next.Reply = append([]byte(nil), next.Reply...)
	c.queueAck(ackReq{kind: ackNext, sseq: sseq, cseq: cseq, next: next}, nil)
}

func (c *Consumer) queueAck(a ackReq, reply []byte) {
	if len(reply) > 0 {
		a.reply = append([]byte(nil), reply...)
	}
	c.inbox.mu.Lock()
	if len(c.inbox.acks) < maxInbox {
		c.inbox.acks = append(c.inbox.acks, a)
	}
	c.inbox.mu.Unlock()
	c.kick()
}

// Pull hands a pull request to the consumer. r.Reply is copied.
func (c *Consumer) Pull(r PullRequest) {
	r.Reply = append([]byte(nil), r.Reply...)
	c.inbox.mu.Lock()
	if len(c.inbox.pulls) < maxInbox {
		c.inbox.pulls = append(c.inbox.pulls, r)
	}
	c.inbox.mu.Unlock()
	c.kick()
}

// FlowControlReply hands the consumer a client's answer to flow control
// request id (see StatusFlowControl).
func (c *Consumer) FlowControlReply(id uint64) {
	c.inbox.mu.Lock()
	if len(c.inbox.fc) < maxInbox {
		c.inbox.fc = append(c.inbox.fc, id)
	}
	c.inbox.mu.Unlock()
	c.kick()
}

func (c *Consumer) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (in *inbox) take() ([]ackReq, []PullRequest, []uint64, []chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	acks, pulls, fc, settled := in.acks, in.pulls, in.fc, in.settled
	in.acks, in.pulls, in.fc, in.settled = nil, nil, nil, nil
	return acks, pulls, fc, settled
}

// settle waits until the consumer's goroutine ran a whole pass that began
// after the call, so that everything handed to the consumer before, and
// everything due by the store's clock, has been applied and sent. It
// reports false when the consumer stopped first. Tests use it to step a
// consumer deterministically.
func (c *Consumer) settle() bool {
	done := make(chan struct{})
	c.inbox.mu.Lock()
	c.inbox.settled = append(c.inbox.settled, done)
	c.inbox.mu.Unlock()
	c.kick()
	select {
	case <-done:
		return true
	case <-c.done:
		return false
	}
}
