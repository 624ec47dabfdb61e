package jetstore

// What happens to a consumer's messages besides delivery, reported as typed
// events to a Sender that implements EventSender (the JetStream layer
// publishes them as advisories): a pending message negatively
// acknowledged, a message terminated, a message that reached max_deliver
// and will not be delivered again. Events are collected during a pass under
// the consumer's lock and handed over after it, on the consumer's own
// goroutine, like everything a Sender receives.

// EventSender is implemented by a Sender that wants the consumer's events.
type EventSender interface {
	ConsumerEvent(e ConsumerEvent)
}

// ConsumerEventKind names a consumer event.
type ConsumerEventKind uint8

const (
	// EventNak: a pending message was negatively acknowledged.
	EventNak ConsumerEventKind = iota + 1
	// EventTerm: a message was terminated (+TERM); Reason is the
	// client's, if it gave one.
	EventTerm
	// EventMaxDeliveries: a message was delivered max_deliver times
	// without an acknowledgement and will not be delivered again.
	EventMaxDeliveries
)

// ConsumerEvent is one event of a consumer.
type ConsumerEvent struct {
	Kind        ConsumerEventKind
	StreamSeq   uint64
	ConsumerSeq uint64 // the delivery's, from the acknowledgement (0 for EventMaxDeliveries)
	Deliveries  int
	Reason      string
}

// consumerEvents are the events of the current pass; guarded by
// Consumer.mu.
type consumerEvents []ConsumerEvent

// noteLocked records an event for the end of the pass, when the Sender
// takes events.
func (c *Consumer) noteLocked(e ConsumerEvent) {
	if _, ok := c.send.(EventSender); ok {
		c.events = append(c.events, e)
	}
}

// emitEvents hands the pass's events to the Sender; called without the
// lock on the consumer's goroutine.
func (c *Consumer) emitEvents() {
	c.mu.Lock()
	events := c.events
	c.events = nil
	c.mu.Unlock()
	if len(events) == 0 {
		return
	}
	es := c.send.(EventSender)
	for _, e := range events {
		es.ConsumerEvent(e)
	}
}

// TermWithReason is Term with the reason the client gave (+TERM <reason>),
// which the terminated event carries.
func (c *Consumer) TermWithReason(sseq, cseq uint64, reason string, reply []byte) {
	c.queueAck(ackReq{kind: ackTerm, sseq: sseq, cseq: cseq, reason: reason}, reply)
}

// maxDeliveriesLocked notes a message given up after dc deliveries.
func (c *Consumer) maxDeliveriesLocked(seq uint64, dc int) {
	c.noteLocked(ConsumerEvent{Kind: EventMaxDeliveries, StreamSeq: seq, Deliveries: dc})
}
