package jsapi

import (
	"strconv"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// The delivery side of the JetStream wire: a consumer's typed output
// (jetstore.Delivery, jetstore.Status) becomes messages with ack reply
// subjects and status header blocks. Everything is appended into scratch
// buffers the sender reuses, so a delivery allocates nothing.

const (
	// jsAckPrefix starts the reply subject of every delivered message:
	// $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<stored ns>.<pending>.
	jsAckPrefix = "$JS.ACK."
	// jsFlowControlPrefix starts the reply subject of a flow control
	// request: $JS.FC.<stream>.<consumer>.<request id in base 36>.
	jsFlowControlPrefix = "$JS.FC."
)

// consumerSender delivers one consumer's output through the account. The
// consumer calls it from one goroutine at a time, so the scratch buffers
// need no lock.
type consumerSender struct {
	ja               *jsAccount
	acc              *broker.Account
	pub              *broker.Publisher
	stream, consumer string

	subject []byte // the delivered message's subject
	reply   []byte // ack or flow control reply subject
	hdr     []byte // status and headers-only header blocks
	pinHdr  []byte // header blocks with a pinned client's pin
}

func (ja *jsAccount) newSender(stream, consumer string) jetstore.Sender {
	return &consumerSender{ja: ja, acc: ja.acc, pub: ja.acc.NewPublisher(), stream: stream, consumer: consumer}
}

// Deliver sends a message to target, showing the stored subject, with its
// ack reply subject.
func (s *consumerSender) Deliver(target []byte, d jetstore.Delivery) {
	s.subject = append(s.subject[:0], d.Subject...)
	s.reply = appendAckSubject(s.reply[:0], &d)
	hdr, data := d.Header, d.Data
	if d.HeadersOnly {
		s.hdr = appendHeadersOnly(s.hdr[:0], d.Header, len(d.Data))
		hdr, data = s.hdr, nil
	}
	if d.PinID != "" {
		s.pinHdr = appendHeader(s.pinHdr[:0], hdr, hdrPinID, d.PinID)
		hdr = s.pinHdr
	}
	s.pub.StageAs(target, s.subject, s.reply, hdr, data)
}

// DeliverySize is what Deliver would send for d: subject, ack reply
// subject, header and data (jetstore.DeliverySizer, for pull requests'
// max_bytes).
func (s *consumerSender) DeliverySize(d *jetstore.Delivery) int {
	s.reply = appendAckSubject(s.reply[:0], d)
	if d.HeadersOnly {
		s.hdr = appendHeadersOnly(s.hdr[:0], d.Header, len(d.Data))
		return len(d.Subject) + len(s.reply) + len(s.hdr)
	}
	return len(d.Subject) + len(s.reply) + len(d.Header) + len(d.Data)
}

// Status sends a status header block (no payload) to target; a flow
// control request carries the subject its answer goes to.
func (s *consumerSender) Status(target []byte, st jetstore.Status) {
	var reply []byte
	if st.Kind == jetstore.StatusFlowControl {
		s.reply = appendFlowControlSubject(s.reply[:0], st.Stream, st.Consumer, st.FlowControl)
		reply = s.reply
	}
	s.hdr = appendStatus(s.hdr[:0], &st)
	if s.hdr == nil {
		return
	}
	s.pub.StageAs(target, target, reply, s.hdr, nil)
}

// AckDone answers an acknowledgement with an empty message.
func (s *consumerSender) AckDone(reply []byte) { s.pub.StageAs(reply, reply, nil, nil, nil) }

func (s *consumerSender) Flush() { s.pub.Flush() }

func (s *consumerSender) HasInterest(target []byte) bool { return s.acc.HasInterestBytes(target) }

// appendAckSubject renders a delivery's ack reply subject.
func appendAckSubject(b []byte, d *jetstore.Delivery) []byte {
	b = append(b, jsAckPrefix...)
	b = append(b, d.Stream...)
	b = append(b, '.')
	b = append(b, d.Consumer...)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(d.Deliveries), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, d.StreamSeq, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, d.ConsumerSeq, 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, d.Time.UnixNano(), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, d.Pending, 10)
}

func appendFlowControlSubject(b []byte, stream, consumer string, id uint64) []byte {
	b = append(b, jsFlowControlPrefix...)
	b = append(b, stream...)
	b = append(b, '.')
	b = append(b, consumer...)
	b = append(b, '.')
	return strconv.AppendUint(b, id, 36)
}

// hdrPinID carries a pinned client's pin with each message it gets.
const hdrPinID = "Nats-Pin-Id"

// appendHeader renders the header block hdr (none: an empty one) with one
// more header; dst must not overlap hdr.
func appendHeader(dst, hdr []byte, key, value string) []byte {
	if len(hdr) >= 4 {
		dst = append(dst, hdr[:len(hdr)-2]...) // without the closing blank line
	} else {
		dst = append(dst, "NATS/1.0\r\n"...)
	}
	dst = append(dst, key...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n\r\n"...)
}

// appendHeadersOnly renders the stored header plus Nats-Msg-Size, the size
// of the data left out.
func appendHeadersOnly(b, stored []byte, size int) []byte {
	if len(stored) >= 2 {
		b = append(b, stored[:len(stored)-2]...) // without the closing blank line
	} else {
		b = append(b, "NATS/1.0\r\n"...)
	}
	b = append(b, "Nats-Msg-Size: "...)
	b = strconv.AppendInt(b, int64(size), 10)
	return append(b, "\r\n\r\n"...)
}

// jsStatusLines are the status code and description of each status kind.
var jsStatusLines = [...]string{
	jetstore.StatusIdleHeartbeat:      "100 Idle Heartbeat",
	jetstore.StatusFlowControl:        "100 FlowControl Request",
	jetstore.StatusNoMessages:         "404 No Messages",
	jetstore.StatusRequestTimeout:     "408 Request Timeout",
	jetstore.StatusMaxBytesExceeded:   "409 Message Size Exceeds MaxBytes",
	jetstore.StatusMaxWaiting:         "409 Exceeded MaxWaiting",
	jetstore.StatusMaxRequestBatch:    "409 Exceeded MaxRequestBatch",
	jetstore.StatusMaxRequestExpires:  "409 Exceeded MaxRequestExpires",
	jetstore.StatusMaxRequestMaxBytes: "409 Exceeded MaxRequestMaxBytes",
	jetstore.StatusPushBased:          "409 Consumer is push based",
	jetstore.StatusHeartbeatTooLarge:  "400 Bad Request - heartbeat value too large",
	jetstore.StatusBadRequest:         "400 Bad Request",
	jetstore.StatusConsumerDeleted:    "409 Consumer Deleted",
	jetstore.StatusBadPriorityRequest: "400 Bad Request - ",
	jetstore.StatusPinMismatch:        "423 Nats-Pin-Id mismatch",
	jetstore.StatusWrongPinID:         "423 Nats-Wrong-Pin-Id",
}

// appendStatus renders a status header block, or returns nil for a kind
// it does not know.
func appendStatus(b []byte, s *jetstore.Status) []byte {
	if int(s.Kind) >= len(jsStatusLines) || jsStatusLines[s.Kind] == "" {
		return nil
	}
	b = append(b, "NATS/1.0 "...)
	b = append(b, jsStatusLines[s.Kind]...)
	switch s.Kind {
	case jetstore.StatusMaxRequestBatch, jetstore.StatusMaxRequestMaxBytes:
		b = append(b, " of "...)
		b = strconv.AppendInt(b, int64(s.Limit), 10)
	case jetstore.StatusMaxRequestExpires:
		b = append(b, " of "...)
		b = append(b, s.MaxExpires.String()...)
	case jetstore.StatusBadPriorityRequest:
		b = append(b, s.Reason...)
	}
	b = append(b, "\r\n"...)
	switch s.Kind {
	case jetstore.StatusRequestTimeout, jetstore.StatusMaxBytesExceeded, jetstore.StatusWrongPinID:
		b = append(b, "Nats-Pending-Messages: "...)
		b = strconv.AppendInt(b, int64(s.PendingMsgs), 10)
		b = append(b, "\r\nNats-Pending-Bytes: "...)
		b = strconv.AppendInt(b, int64(s.PendingBytes), 10)
		b = append(b, "\r\n"...)
	case jetstore.StatusIdleHeartbeat:
		b = append(b, "Nats-Last-Consumer: "...)
		b = strconv.AppendUint(b, s.LastConsumerSeq, 10)
		b = append(b, "\r\nNats-Last-Stream: "...)
		b = strconv.AppendUint(b, s.LastStreamSeq, 10)
		b = append(b, "\r\n"...)
		if s.FlowControl != 0 { // stalled: name the request the client owes
			b = append(b, "Nats-Consumer-Stalled: "...)
			b = appendFlowControlSubject(b, s.Stream, s.Consumer, s.FlowControl)
			b = append(b, "\r\n"...)
		}
	}
	return append(b, "\r\n"...)
}

// ackFailedHeader answers an acknowledgement that could not be saved.
// Clients treat only a missing answer or a 503 status as a failed request
// (nats.go returns ErrNoResponders, nats.js rejects), so the failure is a
// 503 status with a description saying what happened.
var ackFailedHeader = []byte("NATS/1.0 503 Consumer State Not Saved\r\n\r\n")

func (s *consumerSender) AckFailed(reply []byte) {
	s.pub.StageAs(reply, reply, nil, ackFailedHeader, nil)
}
