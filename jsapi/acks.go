package jsapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// What clients send back to consumers, read from the wire into typed calls:
// acknowledgements (the ack reply subject and its payload), pull requests
// and answers to flow control requests. These handlers run in the sending
// client's read loop, so they only parse and queue.

// acker is what an acknowledgement drives: a *jetstore.Consumer.
type acker interface {
	Ack(sseq, cseq uint64, reply []byte)
	Nak(sseq, cseq uint64, delay time.Duration, reply []byte)
	Progress(sseq, cseq uint64, reply []byte)
	TermWithReason(sseq, cseq uint64, reason string, reply []byte)
	AckNext(sseq, cseq uint64, next jetstore.PullRequest)
}

// parseAckSubject reads $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<cseq>.<tm>.<pending>
// and the v2 form with domain and account hash before the stream.
func parseAckSubject(subject []byte) (consumer []byte, sseq, cseq uint64, ok bool) {
	if !bytes.HasPrefix(subject, []byte(jsAckPrefix)) {
		return nil, 0, 0, false
	}
	var tokens [12][]byte
	n := 0
	for rest := subject[len(jsAckPrefix):]; n < len(tokens); n++ {
		i := bytes.IndexByte(rest, '.')
		if i < 0 {
			tokens[n] = rest
			n++
			break
		}
		tokens[n], rest = rest[:i], rest[i+1:]
	}
	var t [][]byte
	switch {
	case n == 7:
		t = tokens[:7]
	case n >= 9:
		t = tokens[2:9]
	default:
		return nil, 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(t[3]), 10, 64)
	c, err2 := strconv.ParseUint(string(t[4]), 10, 64)
	if err1 != nil || err2 != nil {
		return nil, 0, 0, false
	}
	return t[1], s, c, true
}

// applyAck reads an ack payload and makes the matching call: +ACK (or
// nothing, or +OK), -NAK with an optional delay, +WPI, +NXT with an
// optional pull request, +TERM. Unknown payloads ack, as the reference
// server treats them. A reply is answered once the ack is applied, except
// for +NXT, whose reply is where the next messages go.
func applyAck(c acker, sseq, cseq uint64, payload, reply []byte) {
	p := bytes.TrimSpace(payload)
	switch {
	case bytes.HasPrefix(p, []byte("-NAK")):
		c.Nak(sseq, cseq, parseNakDelay(bytes.TrimSpace(p[4:])), reply)
	case bytes.HasPrefix(p, []byte("+WPI")):
		c.Progress(sseq, cseq, reply)
	case bytes.HasPrefix(p, []byte("+NXT")):
		c.AckNext(sseq, cseq, parsePullRequest(reply, p[4:]))
	case bytes.HasPrefix(p, []byte("+TERM")):
		c.TermWithReason(sseq, cseq, string(bytes.TrimSpace(p[5:])), reply)
	default:
		c.Ack(sseq, cseq, reply)
	}
}

// parseNakDelay reads `{"delay": ns}` (nats.go) or a Go duration or a
// number of nanoseconds; anything else means no delay.
func parseNakDelay(b []byte) time.Duration {
	if len(b) == 0 {
		return 0
	}
	if b[0] == '{' {
		var v struct {
			Delay time.Duration `json:"delay"`
		}
		if json.Unmarshal(b, &v) == nil && v.Delay > 0 {
			return v.Delay
		}
		return 0
	}
	if d, err := time.ParseDuration(string(b)); err == nil && d > 0 {
		return d
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil && n > 0 {
		return time.Duration(n)
	}
	return 0
}

// pullBody is a pull request's JSON.
type pullBody struct {
	Batch     int           `json:"batch"`
	Expires   time.Duration `json:"expires"`
	NoWait    bool          `json:"no_wait"`
	MaxBytes  int           `json:"max_bytes"`
	Heartbeat time.Duration `json:"idle_heartbeat"`
	// Priority groups.
	Group         string `json:"group"`
	PinID         string `json:"id"`
	MinPending    int64  `json:"min_pending"`
	MinAckPending int64  `json:"min_ack_pending"`
	Priority      int    `json:"priority"`
}

// parsePullRequest reads a pull request's body: JSON, a bare batch size
// (the legacy form), or nothing (one message). One that cannot be read is
// marked Invalid for the consumer to refuse.
func parsePullRequest(reply, body []byte) jetstore.PullRequest {
	r := jetstore.PullRequest{Reply: reply, Batch: 1}
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
	case body[0] == '{':
		b := pullBody{Batch: 1}
		if json.Unmarshal(body, &b) != nil {
			r.Invalid = true
			break
		}
		r.Batch, r.Expires, r.NoWait, r.MaxBytes, r.Heartbeat = b.Batch, b.Expires, b.NoWait, b.MaxBytes, b.Heartbeat
		r.Group, r.PinID, r.MinPending, r.MinAckPending, r.Priority = b.Group, b.PinID, b.MinPending, b.MinAckPending, b.Priority
	default:
		n, err := strconv.Atoi(string(body))
		r.Batch, r.Invalid = n, err != nil
	}
	return r
}

// flowControlHandler routes answers to flow control requests,
// $JS.FC.<stream>.<consumer>.<id>, to the consumer.
func (ja *jsAccount) flowControlHandler(js *jsStream) broker.MsgHandler {
	return func(subject, _, _, _ []byte) {
		consumer, id, ok := parseFlowControlSubject(subject)
		if !ok {
			return
		}
		if c, err := js.stream.Consumer(string(consumer)); err == nil {
			c.FlowControlReply(id)
		}
	}
}

// parseFlowControlSubject reads the consumer and the request id of a flow
// control reply subject.
func parseFlowControlSubject(subject []byte) (consumer []byte, id uint64, ok bool) {
	rest, found := bytes.CutPrefix(subject, []byte(jsFlowControlPrefix))
	if !found {
		return nil, 0, false
	}
	t := bytes.Split(rest, []byte("."))
	if len(t) != 3 || len(t[1]) == 0 {
		return nil, 0, false
	}
	id, err := strconv.ParseUint(string(t[2]), 36, 64)
	if err != nil || id == 0 {
		return nil, 0, false
	}
	return t[1], id, true
}
