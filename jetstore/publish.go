package jetstore

import (
	"math/big"
	"time"
)

// What a publisher hands a stream and what it gets back. The store never
// reads a message's header (it keeps it as opaque bytes): the caller reads
// whatever the publisher asks for from its own protocol and passes it as
// PublishOptions.

// InMsg is a message published into a stream, copied out of the
// publisher's buffers.
type InMsg struct {
	Subject string
	Reply   []byte // nil without a reply subject
	Header  []byte
	Data    []byte
	// Options are the publisher's requests and expectations; nil for none.
	Options *PublishOptions
	// Done, when set, receives the message's outcome on the stream's
	// committer, in sequence order with every other outcome, once the
	// message is durable under the stream's sync policy or was refused. It
	// must be quick. A message Publish refuses at once gets no call.
	Done func(PublishResult)
	// Origin is set on a message a stream copies from another one (as a
	// mirror or from a source); nil for published messages.
	Origin *Origin
	// batch, on the first message of an atomic batch, is how many queued
	// messages (this one included) are stored all together or not at all.
	batch int
	// internal marks a message the store writes itself (a subject delete
	// marker): stored as it is, under the subject given.
	internal bool
}

// PublishOptions are what a publisher asks of a stream for one message.
// The checks run in this order: expected stream, TTL, expected last
// subject sequence, expected last sequence, deduplication, expected last
// message id, rollup.
type PublishOptions struct {
	// MsgID identifies the message for deduplication within the stream's
	// duplicate window; "" for none.
	MsgID string
	// ExpectedStream, when HasExpectedStream, must be the stream's name.
	ExpectedStream    string
	HasExpectedStream bool
	// HasTTL: the publisher asked for a per-message time to live, TTL:
	// the message is removed that long after it was stored (a negative TTL
	// keeps it even past the stream's max age). Refused on streams that do
	// not allow TTLs, and with ErrMsgTTLInvalid when TTLInvalid (what was
	// sent is not a TTL of at least a second).
	HasTTL     bool
	TTL        time.Duration
	TTLInvalid bool
	// ExpectedLastSubjectSeq must be the sequence of the newest message on
	// ExpectedLastSubjectSeqSubject (the message's own subject when that
	// is ""); 0 expects none.
	ExpectedLastSubjectSeq        SeqExpectation
	ExpectedLastSubjectSeqSubject string
	// ExpectedLastSeq must be the stream's last sequence.
	ExpectedLastSeq SeqExpectation
	// ExpectedLastMsgID, when HasExpectedLastMsgID, must be the MsgID of
	// the stream's newest message that had one.
	ExpectedLastMsgID    string
	HasExpectedLastMsgID bool
	// Rollup asks to remove older messages once this one is stored;
	// RollupValue is what was asked for when Rollup is RollupInvalid.
	Rollup      RollupKind
	RollupValue string
	// HasSourceHeader: the publisher sent the header that marks messages
	// copied from a source, which only copies may carry.
	HasSourceHeader bool
	// Incr, on a counter stream, adds to the subject's total; IncrInvalid:
	// what was sent is not an integer. HasIncr: the publisher sent one.
	HasIncr     bool
	Incr        *big.Int
	IncrInvalid bool
}

// SeqExpectation is an expected sequence. Set: the publisher sent one.
// Malformed: what it sent was not a sequence; the message is refused with
// ErrMalformedExpectation when this check's turn comes.
type SeqExpectation struct {
	Set, Malformed bool
	Seq            uint64
}

// RollupKind is a publisher's request to replace older messages.
type RollupKind uint8

const (
	RollupNone    RollupKind = iota
	RollupSubject            // remove the older messages on the message's subject
	RollupAll                // remove every older message
	RollupInvalid            // an unknown request, refused with InvalidRollupError
)

// NewInMsg copies borrowed slices into one allocation owned by the message.
func NewInMsg(subject, reply, header, data []byte) *InMsg {
	buf := make([]byte, 0, len(subject)+len(reply)+len(header)+len(data))
	buf = append(buf, subject...)
	buf = append(buf, reply...)
	buf = append(buf, header...)
	buf = append(buf, data...)
	ls, lr, lh := len(subject), len(reply), len(header)
	m := &InMsg{Subject: string(buf[:ls])}
	if lr > 0 {
		m.Reply = buf[ls : ls+lr : ls+lr]
	}
	if lh > 0 {
		m.Header = buf[ls+lr : ls+lr+lh : ls+lr+lh]
	}
	m.Data = buf[ls+lr+lh:]
	return m
}

func (m *InMsg) size() int { return len(m.Subject) + len(m.Reply) + len(m.Header) + len(m.Data) }

// PublishResult is the outcome of one publish.
type PublishResult struct {
	Seq       uint64 // the message's sequence; for a duplicate, the original's
	Duplicate bool   // an earlier message with the same id is stored
	Err       error  // why the message was refused or not stored (Seq is 0)
	// NoInterest: an interest-retention stream had no consumer for the
	// message, so it was acknowledged and not kept.
	NoInterest bool

	// For a message stored by a stream that republishes: the subject it
	// was stored under (after the stream's transform), when, and the
	// sequence of the previous message on that subject (0 for none).
	Subject        string
	Time           int64
	PrevSubjectSeq uint64
	// Counter, on a counter stream, is the subject's total after this
	// message, in decimal.
	Counter string
	// BatchSize, on the last message of an atomic batch, is how many
	// messages the batch stored.
	BatchSize int
}

// AckFunc receives the outcome of a batch of published messages, in
// sequence order, once they are durable (or have failed); results[i]
// belongs to msgs[i].
type AckFunc func(st *Stream, msgs []*InMsg, results []PublishResult)

// Publish queues a message for the stream. It never blocks; a full queue
// or a closed stream is an error the caller reports to the publisher.
func (st *Stream) Publish(m *InMsg) error {
	select {
	case <-st.quit:
		return ErrStreamNotFound
	default:
	}
	if !st.ingest.push(m) {
		return ErrIngestQueueFull
	}
	return nil
}

// checkOptionsLocked runs the publisher's checks in the reference server's
// order: counter increments first, an invalid TTL last. It returns the original sequence of a duplicate, or an error.
func (st *Stream) checkOptionsLocked(m *InMsg, now time.Time) (dup uint64, err error) {
	o := m.Options
	if err := st.checkIncr(m); err != nil {
		return 0, err
	}
	if o.HasExpectedStream && o.ExpectedStream != st.cfg.Name {
		return 0, ErrExpectedStream
	}
	if o.HasTTL && !st.cfg.AllowMsgTTL && m.Origin == nil {
		return 0, ErrMsgTTLDisabled
	}
	if e := o.ExpectedLastSubjectSeq; e.Set {
		if e.Malformed {
			return 0, ErrMalformedExpectation
		}
		subject := m.Subject
		if o.ExpectedLastSubjectSeqSubject != "" {
			subject = o.ExpectedLastSubjectSeqSubject
		}
		if last := st.lastMatchingLocked(subject); last != e.Seq {
			return 0, &WrongLastSeqError{Last: last}
		}
	}
	if e := o.ExpectedLastSeq; e.Set {
		if e.Malformed {
			return 0, ErrMalformedExpectation
		}
		if st.state.last != e.Seq {
			return 0, &WrongLastSeqError{Last: st.state.last}
		}
	}
	if o.HasSourceHeader && m.Origin == nil {
		return 0, ErrSourceHeaderNotAllowed
	}
	if o.MsgID != "" {
		window := int64(st.cfg.Duplicates)
		if seq, ok := st.dedup.find(o.MsgID, now.UnixNano()-window); ok {
			return seq, nil
		}
	}
	if o.HasExpectedLastMsgID && o.ExpectedLastMsgID != st.lastID {
		return 0, &WrongLastMsgIDError{Last: st.lastID}
	}
	switch o.Rollup {
	case RollupNone:
	case RollupSubject, RollupAll, RollupInvalid:
		if !st.cfg.AllowRollup || st.cfg.DenyPurge {
			return 0, ErrRollupNotPermitted
		}
		if o.Rollup == RollupInvalid {
			return 0, &InvalidRollupError{Value: o.RollupValue}
		}
	}
	if o.TTLInvalid {
		return 0, ErrMsgTTLInvalid
	}
	return 0, nil
}
