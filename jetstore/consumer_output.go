package jetstore

import "time"

// What a consumer sends, as typed values: the protocol layer above turns
// them into messages, reply subjects and status headers.

// Sender carries a consumer's output to clients; the server implements it,
// one per consumer (Options.NewSender). Every call except HasInterest comes
// from one goroutine at a time (the consumer's own, or the one stopping
// it), so an implementation may reuse scratch buffers across calls. Slices
// and strings passed in are only valid during the call.
type Sender interface {
	// Deliver sends one message to target: the consumer's deliver subject,
	// or the reply subject of the pull request the message fills.
	Deliver(target []byte, d Delivery)
	// Status tells target about an event that is not a message.
	Status(target []byte, s Status)
	// AckDone answers an acknowledgement that asked to be answered, once it
	// was applied; reply is what the acknowledgement call passed.
	AckDone(reply []byte)
	// AckFailed answers an acknowledgement that asked to be answered but
	// could not be applied because the consumer's state could not be saved;
	// the message stays pending.
	AckFailed(reply []byte)
	// Flush wakes the receivers of everything sent since the last Flush.
	Flush()
	// HasInterest reports whether anyone receives what is sent to target.
	HasInterest(target []byte) bool
}

// Delivery is one message a consumer sends, with what the receiver needs
// to acknowledge it.
type Delivery struct {
	Stream, Consumer string
	Subject          string
	Header, Data     []byte
	StreamSeq        uint64
	ConsumerSeq      uint64
	Deliveries       int       // deliveries of this message so far, this one included
	Time             time.Time // when the message was stored
	Pending          uint64    // messages the consumer has yet to deliver after this one
	// HeadersOnly: send the header and the size of Data, not Data itself
	// (the consumer's headers_only setting).
	HeadersOnly bool
	// PinID, for a pinned client's message, is the pin to hand back.
	PinID string
}

// StatusKind names a status event.
type StatusKind uint8

const (
	// StatusIdleHeartbeat: nothing was sent for a heartbeat interval.
	// LastConsumerSeq and LastStreamSeq are the last delivery; for a push
	// consumer stalled by flow control, FlowControl is the oldest request
	// still unanswered.
	StatusIdleHeartbeat StatusKind = iota + 1
	// StatusFlowControl asks a push subscriber to answer request
	// FlowControl (Consumer.FlowControlReply) once it processed what came
	// before.
	StatusFlowControl
	// StatusNoMessages ends a no-wait pull request that found nothing (more).
	StatusNoMessages
	// StatusRequestTimeout ends a pull request whose time ran out;
	// PendingMsgs and PendingBytes are what it still wanted.
	StatusRequestTimeout
	// StatusMaxBytesExceeded ends a pull request whose byte budget is
	// smaller than the next message; Pending* are what it still wanted.
	StatusMaxBytesExceeded
	// Refusals of a pull request.
	StatusMaxWaiting         // the consumer already has max_waiting requests
	StatusMaxRequestBatch    // Limit: the consumer's max_batch
	StatusMaxRequestExpires  // MaxExpires: the consumer's max_expires
	StatusMaxRequestMaxBytes // Limit: the consumer's max_bytes
	StatusPushBased          // the consumer is a push consumer
	StatusHeartbeatTooLarge  // the heartbeat is over half the expiry
	StatusBadRequest         // the request could not be read
	// StatusConsumerDeleted ends every waiting pull request of a consumer
	// that was deleted.
	StatusConsumerDeleted
	// StatusBadPriorityRequest refuses a pull request whose priority group
	// settings do not fit the consumer; Reason says why.
	StatusBadPriorityRequest
	// StatusPinMismatch refuses a pull request holding another pin than
	// the current one.
	StatusPinMismatch
	// StatusWrongPinID ends a waiting pull request holding a pin that is no
	// longer current; Pending* are what it still wanted.
	StatusWrongPinID
)

// Status is an event a consumer reports to a client instead of a message.
// Which fields are set depends on Kind.
type Status struct {
	Kind             StatusKind
	Stream, Consumer string

	PendingMsgs, PendingBytes      int
	LastConsumerSeq, LastStreamSeq uint64
	FlowControl                    uint64 // a flow control request's id; 0 for none
	Limit                          int
	MaxExpires                     time.Duration
	Reason                         string
}
