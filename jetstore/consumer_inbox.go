package jetstore

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"time"
)

// What reaches a consumer from clients (acks and pull requests) is copied
// into its inbox by the publisher's goroutine and handled by the consumer's
// own goroutine.

// maxInbox bounds a consumer's queued acks and pulls; past it new ones are
// dropped (an ack is then redelivered, a pull times out on the client).
const maxInbox = 1 << 16

type inbox struct {
	mu    sync.Mutex
	acks  []ackReq
	pulls []pullReq
	fc    []string // answered flow control subjects
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
	kind  ackKind
	sseq  uint64
	cseq  uint64
	delay time.Duration // -NAK with delay
	reply []byte        // answered (empty message) once processed
	next  []byte        // +NXT: the pull request body
}

// pullReq is one raw pull request.
type pullReq struct {
	reply []byte
	body  []byte
}

// Ack hands an acknowledgement to the consumer. sseq and cseq come from the
// ack subject; payload is what the client published.
func (c *Consumer) Ack(sseq, cseq uint64, payload, reply []byte) {
	a := parseAck(payload)
	a.sseq, a.cseq = sseq, cseq
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

// Pull hands a pull request to the consumer.
func (c *Consumer) Pull(body, reply []byte) {
	r := pullReq{reply: append([]byte(nil), reply...), body: append([]byte(nil), body...)}
	c.inbox.mu.Lock()
	if len(c.inbox.pulls) < maxInbox {
		c.inbox.pulls = append(c.inbox.pulls, r)
	}
	c.inbox.mu.Unlock()
	c.kick()
}

// FlowControlReply hands the consumer a client's answer to a flow control
// request (an empty message on the request's reply subject).
func (c *Consumer) FlowControlReply(subject []byte) {
	c.inbox.mu.Lock()
	if len(c.inbox.fc) < maxInbox {
		c.inbox.fc = append(c.inbox.fc, string(subject))
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

func (in *inbox) take() ([]ackReq, []pullReq, []string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	acks, pulls, fc := in.acks, in.pulls, in.fc
	in.acks, in.pulls, in.fc = nil, nil, nil
	return acks, pulls, fc
}

// parseAck reads an ack payload (JETSTREAM.md §9.3).
func parseAck(p []byte) ackReq {
	p = bytes.TrimSpace(p)
	switch {
	case len(p) == 0, bytes.Equal(p, []byte("+ACK")), bytes.Equal(p, []byte("+OK")):
		return ackReq{kind: ackAck}
	case bytes.HasPrefix(p, []byte("-NAK")):
		return ackReq{kind: ackNak, delay: parseNakDelay(bytes.TrimSpace(p[4:]))}
	case bytes.HasPrefix(p, []byte("+WPI")):
		return ackReq{kind: ackProgress}
	case bytes.HasPrefix(p, []byte("+NXT")):
		return ackReq{kind: ackNext, next: append([]byte(nil), bytes.TrimSpace(p[4:])...)}
	case bytes.HasPrefix(p, []byte("+TERM")):
		return ackReq{kind: ackTerm}
	}
	return ackReq{kind: ackAck} // unknown payloads ack, as the reference server
}

// parseNakDelay reads `{"delay": ns}` (nats.go) or a Go duration.
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
