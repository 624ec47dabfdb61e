package route

import (
	"bytes"
	"errors"
	"fmt"
)

// The route protocol parser: bytes from a peer in, one call per operation
// out. Operations are lines; RMSG and HMSG are followed by their payload
// and a CRLF. An operation split across reads is carried over in a buffer
// of the parser's own; everything else is handed out as slices of the read
// buffer, valid during the call only.

// handler receives the parsed operations.
type handler interface {
	processInfo(arg []byte) error
	processConnect(arg []byte) error
	processPing() error
	processPong() error
	processSub(account, subject, queue []byte, weight int) error
	processUnsub(account, subject, queue []byte) error
	processMsg(m *routedMsg) error
	processErr(arg []byte) error
}

// routedMsg is one RMSG or HMSG with its payload.
type routedMsg struct {
	account, subject, reply []byte
	queues                  [][]byte
	header, data            []byte // header nil for RMSG
}

// Limits on what a peer may send before the connection is refused as
// broken: a control line, and a message (headers and payload).
const (
	maxControlLine = 64 << 10
	maxMessage     = 64 << 20
)

var (
	errControlLine = errors.New("route: control line too long")
	errMsgTooLarge = errors.New("route: message too large")
)

// protoError is a malformed operation: the connection is closed.
type protoError struct{ msg string }

func (e *protoError) Error() string { return "route: " + e.msg }

func protoErrorf(format string, args ...any) error {
	return &protoError{msg: fmt.Sprintf(format, args...)}
}

type parser struct {
	h       handler
	pending []byte // an incomplete operation carried over from the last read
	// need is the length pending must reach before the operation it holds
	// can be complete (a message whose payload is still arriving), so that
	// a large message is not parsed again on every read.
	need   int
	want   int       // set by message: payload bytes (and CRLF) still to come
	args   [][]byte  // scratch for splitting arguments
	msg    routedMsg // scratch for the message being delivered
	queues [][]byte  // scratch for its queue names
}

func newParser(h handler) *parser {
	return &parser{h: h, args: make([][]byte, 0, 16)}
}

// parse consumes one read's bytes.
func (p *parser) parse(buf []byte) error {
	data := buf
	if len(p.pending) > 0 {
		p.pending = append(p.pending, buf...)
		if len(p.pending) < p.need {
			return nil
		}
		data = p.pending
	}
	p.need = 0
	n, err := p.parseOps(data)
	if err != nil {
		return err
	}
	rest := data[n:]
	if len(rest) == 0 {
		p.pending = p.pending[:0]
		return nil
	}
	if n == 0 && len(p.pending) > 0 {
		return nil // nothing consumed: pending stays as it is
	}
	if len(p.pending) > 0 {
		// rest is a suffix of pending: move it to the front.
		p.pending = p.pending[:copy(p.pending, rest)]
	} else {
		p.pending = append(p.pending[:0], rest...)
	}
	return nil
}

// parseOps handles every complete operation at the start of data and
// returns how many bytes they took.
func (p *parser) parseOps(data []byte) (int, error) {
	done := 0
	for done < len(data) {
		nl := bytes.IndexByte(data[done:], '\n')
		if nl < 0 {
			if len(data)-done > maxControlLine {
				return done, errControlLine
			}
			return done, nil
		}
		if nl > maxControlLine {
			return done, errControlLine
		}
		line := data[done : done+nl]
		line = bytes.TrimRight(line, "\r")
		next := done + nl + 1
		used, err := p.op(line, data[next:])
		if err != nil {
			return done, err
		}
		if used < 0 { // a message whose payload has not all arrived
			p.need = next - done + p.want
			return done, nil
		}
		done = next + used
	}
	return done, nil
}

// op handles one control line; rest is what follows it. It returns how
// many bytes of rest the operation used, or -1 when it needs more.
func (p *parser) op(line, rest []byte) (int, error) {
	verb, arg := splitVerb(line)
	switch {
	case len(verb) == 0:
		return 0, nil // an empty line: tolerated, as a keep-alive
	case equalFold(verb, "RMSG"):
		return p.message(arg, rest, false)
	case equalFold(verb, "HMSG"), equalFold(verb, "HRMSG"):
		return p.message(arg, rest, true)
	case equalFold(verb, "RS+"):
		return 0, p.sub(arg)
	case equalFold(verb, "RS-"):
		return 0, p.unsub(arg)
	case equalFold(verb, "PING"):
		return 0, p.h.processPing()
	case equalFold(verb, "PONG"):
		return 0, p.h.processPong()
	case equalFold(verb, "INFO"):
		return 0, p.h.processInfo(arg)
	case equalFold(verb, "CONNECT"):
		return 0, p.h.processConnect(arg)
	case equalFold(verb, "+OK"):
		return 0, nil
	case equalFold(verb, "-ERR"):
		return 0, p.h.processErr(arg)
	}
	return 0, protoErrorf("unknown operation %q", truncate(verb))
}

// message parses an RMSG/HMSG line and, once its payload is there,
// delivers it.
func (p *parser) message(arg, rest []byte, withHeader bool) (int, error) {
	args := splitArgs(p.args[:0], arg)
	p.args = args[:0]
	m := &p.msg
	*m = routedMsg{queues: p.queues[:0]}
	min := 3
	if withHeader {
		min = 4
	}
	if len(args) < min {
		return 0, protoErrorf("malformed message line %q", truncate(arg))
	}
	m.account, m.subject = args[0], args[1]
	hdr, size := -1, parseSize(args[len(args)-1])
	middle := args[2 : len(args)-1]
	if withHeader {
		hdr = parseSize(args[len(args)-2])
		middle = args[2 : len(args)-2]
	}
	switch {
	case len(middle) == 0:
	case len(middle) == 1:
		m.reply = middle[0]
	case len(middle[0]) == 1 && middle[0][0] == '+':
		m.reply = middle[1]
		m.queues = append(m.queues, middle[2:]...)
	case len(middle[0]) == 1 && middle[0][0] == '|':
		m.queues = append(m.queues, middle[1:]...)
	default:
		return 0, protoErrorf("malformed message line %q", truncate(arg))
	}
	p.queues = m.queues[:0]
	if size < 0 || (withHeader && (hdr < 0 || hdr > size)) {
		return 0, protoErrorf("bad message size in %q", truncate(arg))
	}
	if size > maxMessage {
		return 0, errMsgTooLarge
	}
	if len(rest) < size+2 {
		p.want = size + 2
		return -1, nil
	}
	if rest[size] != '\r' || rest[size+1] != '\n' {
		return 0, protoErrorf("message payload not followed by CRLF")
	}
	payload := rest[:size]
	if withHeader {
		m.header, m.data = payload[:hdr], payload[hdr:]
	} else {
		m.data = payload
	}
	return size + 2, p.h.processMsg(m)
}

func (p *parser) sub(arg []byte) error {
	args := splitArgs(p.args[:0], arg)
	p.args = args[:0]
	switch len(args) {
	case 2:
		return p.h.processSub(args[0], args[1], nil, 0)
	case 4:
		w := parseSize(args[3])
		if w < 1 {
			w = 1 // a missing or malformed weight counts as one member
		}
		return p.h.processSub(args[0], args[1], args[2], w)
	}
	return protoErrorf("malformed RS+ %q", truncate(arg))
}

func (p *parser) unsub(arg []byte) error {
	args := splitArgs(p.args[:0], arg)
	p.args = args[:0]
	switch len(args) {
	case 2:
		return p.h.processUnsub(args[0], args[1], nil)
	case 3:
		return p.h.processUnsub(args[0], args[1], args[2])
	}
	return protoErrorf("malformed RS- %q", truncate(arg))
}

// splitVerb separates the operation name from its arguments.
func splitVerb(line []byte) (verb, arg []byte) {
	line = bytes.TrimLeft(line, " \t")
	i := bytes.IndexAny(line, " \t")
	if i < 0 {
		return line, nil
	}
	return line[:i], bytes.TrimLeft(line[i+1:], " \t")
}

// splitArgs appends the space- or tab-separated fields of arg to dst.
func splitArgs(dst [][]byte, arg []byte) [][]byte {
	start := -1
	for i, c := range arg {
		if c == ' ' || c == '\t' {
			if start >= 0 {
				dst = append(dst, arg[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, arg[start:])
	}
	return dst
}

// parseSize reads a decimal size; -1 when it is not one or overflows.
func parseSize(b []byte) int {
	if len(b) == 0 || len(b) > 10 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// equalFold compares an operation name, case-insensitively as the
// reference server does.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// truncate keeps error messages about hostile input short.
func truncate(b []byte) string {
	const max = 64
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
