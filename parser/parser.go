// Package parser owns the NATS client-protocol wire format as a server sees
// it: a zero-allocation state machine that turns the bytes a client sends
// into operations (CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG, ...), and
// append-style encoders for the lines a server sends back (INFO, MSG, HMSG,
// -ERR, ...). It knows nothing about connections, subscriptions or auth.
//
// The parser works on whole control lines: it finds the line end with one
// vectorised search, slices the arguments in place and jumps over payloads
// without scanning them. Every slice handed to a Handler is borrowed from the
// read buffer (or from the parser's scratch when a line or payload arrived
// split across reads) and is only valid during the callback.
package parser

import "bytes"

// Handler receives the operations decoded by a Parser. A non-nil error stops
// parsing and is returned from Parse, which tells the caller to close the
// connection.
type Handler interface {
	ProcessConnect(arg []byte) error
	ProcessPub(pa *PubArg) error
	ProcessSub(subject, queue, sid []byte) error
	// ProcessUnsub gets max < 0 when no maximum was given.
	ProcessUnsub(sid []byte, max int64) error
	ProcessPing() error
	ProcessPong() error
	// ProcessInfo gets INFO sent by the peer; clients normally never do.
	ProcessInfo(arg []byte) error
	// ProcessErr gets an -ERR line sent by the peer.
	ProcessErr(arg []byte) error
}

// SplitBuffers is an optional extension of Handler. A handler that
// implements it supplies the buffer in which a payload split across reads
// is gathered (n bytes: the payload and its CRLF) and owns it: the parser
// fills it, hands the payload to ProcessPub and never touches it again, so
// the handler may keep referring to the payload after ProcessPub returns.
// It may return nil; the parser then uses a buffer of its own.
type SplitBuffers interface {
	SplitBuffer(n int) []byte
}

// PubArg describes one PUB or HPUB. All slices are borrowed.
type PubArg struct {
	Subject []byte
	Reply   []byte // nil when the publisher gave no reply subject
	Header  []byte // the header block of an HPUB (with its blank line); nil for PUB
	Data    []byte // the message body
	Size    int    // len(Header) + len(Data), as declared on the wire
}

// Limits bound what a client may send.
type Limits struct {
	MaxControlLine int // bytes of arguments after the operation name
	MaxPayload     int // bytes of header block plus body
}

// DefaultLimits are the reference server's defaults.
var DefaultLimits = Limits{MaxControlLine: 4096, MaxPayload: 1 << 20}

type state uint8

const (
	stateControlLine state = iota // expecting (the rest of) a control line
	statePayload                  // expecting a PUB/HPUB payload and its CRLF
)

// maxArgs is the largest argument count of any operation (HPUB with reply).
const maxArgs = 4

// keepSplitBuffer is the largest split-payload buffer kept for reuse; bigger
// ones go back to the garbage collector so idle connections stay small.
const keepSplitBuffer = 64 << 10

// Parser is the per-connection protocol state machine. It is not safe for
// concurrent use; each connection owns one.
type Parser struct {
	h        Handler
	splitter SplitBuffers // h, when it supplies split-payload buffers
	limits   Limits
	state    state

	pa     PubArg
	hdrLen int // header length of the pending HPUB, 0 for PUB

	line    []byte // accumulates a control line split across reads
	partial bool   // line holds the start of an unfinished control line

	msg      []byte // accumulates a payload split across reads (plus CRLF)
	split    bool   // msg is in use for the pending payload
	lent     bool   // msg is the handler's (SplitBuffers); own is ours
	own      []byte
	argsCopy []byte // subject+reply of a pending split payload

	args [maxArgs + 1][]byte
}

// New returns a parser that reports operations to h.
func New(h Handler, limits Limits) *Parser {
	p := &Parser{h: h, limits: limits}
	p.splitter, _ = h.(SplitBuffers)
	return p
}

// InSplitPayload reports whether the parser is gathering a payload that a
// read cut off: the buffer it gathers in is still being written.
func (p *Parser) InSplitPayload() bool { return p.split }

// SetLimits changes the limits for the following operations.
func (p *Parser) SetLimits(l Limits) { p.limits = l }

// Limits returns the limits in force.
func (p *Parser) Limits() Limits { return p.limits }

// Parse consumes buf entirely, invoking the handler for each complete
// operation and keeping any incomplete tail for the next call. After an
// error the parser must not be used again.
func (p *Parser) Parse(buf []byte) error {
	i := 0
	for i < len(buf) {
		if p.state == statePayload {
			n, err := p.payload(buf[i:])
			if err != nil {
				return err
			}
			i += n
			continue
		}
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return p.holdPartial(buf[i:])
		}
		line := buf[i : i+j]
		if p.partial {
			if err := p.appendPartial(line); err != nil {
				return err
			}
			line = p.line
			p.partial = false
		}
		i += j + 1
		if err := p.controlLine(line); err != nil {
			return err
		}
	}
	if p.state == statePayload && !p.split {
		// The read ended right after a PUB/HPUB line: its subject and reply
		// point into buf, which the caller is about to reuse.
		p.beginSplit()
	}
	return nil
}

// controlLine dispatches one complete control line (without its '\n').
func (p *Parser) controlLine(line []byte) error {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) == 0 {
		// An empty line carries no operation. Tolerated so that a person at
		// a telnet prompt who presses enter twice is not disconnected.
		return nil
	}
	opEnd := opLength(line)
	op := classify(line[:opEnd])
	if op == opUnknown {
		return wireError(ErrUnknownOp, "op", snippet(line))
	}
	rest := line[opEnd:]
	arg := trimLeadingSpace(rest)
	if len(arg) > p.limits.MaxControlLine {
		// Checked for every operation, even those that ignore their
		// arguments, so a line is judged the same however it was split
		// (checkPartial cannot buffer a long PING line either).
		return wireError(ErrMaxControlLine, op.String(), "arguments too long")
	}
	if op.needsArgs() {
		if len(rest) == 0 {
			// "PUB\r\n": the reference server rejects the missing separator
			// as an unknown operation rather than as bad arguments.
			return wireError(ErrUnknownOp, op.String(), "missing arguments")
		}
		return p.dispatchWithArgs(op, arg)
	}
	switch op {
	case opPing:
		return p.h.ProcessPing()
	case opPong:
		return p.h.ProcessPong()
	}
	return nil // +OK from a client carries nothing to act on
}

func (p *Parser) dispatchWithArgs(op opcode, arg []byte) error {
	switch op {
	case opPub:
		return p.pub(arg)
	case opHPub:
		return p.hpub(arg)
	case opSub:
		return p.sub(arg)
	case opUnsub:
		return p.unsub(arg)
	case opConnect:
		return p.h.ProcessConnect(trimTrailingSpace(arg))
	case opInfo:
		return p.h.ProcessInfo(trimTrailingSpace(arg))
	case opErr:
		return p.h.ProcessErr(trimTrailingSpace(arg))
	}
	return wireError(ErrUnknownOp, op.String(), "unexpected")
}

func (p *Parser) pub(arg []byte) error {
	n := splitArgs(arg, &p.args)
	var size []byte
	switch n {
	case 2:
		p.pa.Subject, p.pa.Reply, size = p.args[0], nil, p.args[1]
	case 3:
		p.pa.Subject, p.pa.Reply, size = p.args[0], p.args[1], p.args[2]
	default:
		return argsError("PUB", arg)
	}
	total := parseSize(size)
	if total < 0 {
		return argsError("PUB", arg)
	}
	if total > p.limits.MaxPayload {
		return wireError(ErrMaxPayload, "PUB", string(size))
	}
	p.pa.Size, p.hdrLen = total, 0
	p.state = statePayload
	return nil
}

func (p *Parser) hpub(arg []byte) error {
	n := splitArgs(arg, &p.args)
	var hdr, size []byte
	switch n {
	case 3:
		p.pa.Subject, p.pa.Reply, hdr, size = p.args[0], nil, p.args[1], p.args[2]
	case 4:
		p.pa.Subject, p.pa.Reply, hdr, size = p.args[0], p.args[1], p.args[2], p.args[3]
	default:
		return argsError("HPUB", arg)
	}
	hdrLen, total := parseSize(hdr), parseSize(size)
	if hdrLen < 0 || total < 0 || hdrLen > total {
		return argsError("HPUB", arg)
	}
	if total > p.limits.MaxPayload {
		return wireError(ErrMaxPayload, "HPUB", string(size))
	}
	p.pa.Size, p.hdrLen = total, hdrLen
	p.state = statePayload
	return nil
}

func (p *Parser) sub(arg []byte) error {
	switch splitArgs(arg, &p.args) {
	case 2:
		return p.h.ProcessSub(p.args[0], nil, p.args[1])
	case 3:
		return p.h.ProcessSub(p.args[0], p.args[1], p.args[2])
	}
	return argsError("SUB", arg)
}

func (p *Parser) unsub(arg []byte) error {
	switch splitArgs(arg, &p.args) {
	case 1:
		return p.h.ProcessUnsub(p.args[0], -1)
	case 2:
		max := parseSize(p.args[1])
		if max < 0 {
			return argsError("UNSUB", arg)
		}
		return p.h.ProcessUnsub(p.args[0], int64(max))
	}
	return argsError("UNSUB", arg)
}

// payload consumes as much of the pending payload (and its CRLF) as buf
// holds and returns how many bytes it used.
func (p *Parser) payload(buf []byte) (int, error) {
	need := p.pa.Size + 2
	if !p.split {
		if len(buf) >= need {
			if buf[need-2] != '\r' || buf[need-1] != '\n' {
				return 0, wireError(ErrUnknownOp, "payload", "not followed by CRLF")
			}
			return need, p.deliver(buf[:p.pa.Size])
		}
		p.beginSplit()
	}
	take := min(need-len(p.msg), len(buf))
	p.msg = append(p.msg, buf[:take]...)
	return take, p.gathered()
}

// gathered delivers a split payload once all of it (and its CRLF) is in.
func (p *Parser) gathered() error {
	need := p.pa.Size + 2
	if len(p.msg) < need {
		return nil
	}
	if p.msg[need-2] != '\r' || p.msg[need-1] != '\n' {
		return wireError(ErrUnknownOp, "payload", "not followed by CRLF")
	}
	err := p.deliver(p.msg[:p.pa.Size])
	p.split = false
	switch {
	case p.lent: // the handler's now; take ours back
		p.msg, p.own, p.lent = p.own, nil, false
	case cap(p.msg) > keepSplitBuffer:
		p.msg = nil
	default:
		p.msg = p.msg[:0]
	}
	return err
}

// SplitSpace returns the unfilled rest of a payload being gathered in a
// buffer the handler lent (SplitBuffers), so that the caller can read the
// rest of the payload straight into it instead of passing it to Parse;
// nil when there is none. After reading n bytes into it the caller calls
// SplitFilled(n).
func (p *Parser) SplitSpace() []byte {
	if !p.split || !p.lent {
		return nil
	}
	return p.msg[len(p.msg) : p.pa.Size+2]
}

// SplitFilled records n bytes read into SplitSpace and delivers the
// payload once it is complete.
func (p *Parser) SplitFilled(n int) error {
	p.msg = p.msg[:len(p.msg)+n]
	return p.gathered()
}

// beginSplit starts accumulating a payload that did not fit in this read.
// The subject and reply still point into the read buffer, which the caller
// reuses, so they are copied first.
func (p *Parser) beginSplit() {
	p.argsCopy = append(p.argsCopy[:0], p.pa.Subject...)
	p.argsCopy = append(p.argsCopy, p.pa.Reply...)
	ls := len(p.pa.Subject)
	p.pa.Subject = p.argsCopy[:ls:ls]
	if p.pa.Reply != nil {
		p.pa.Reply = p.argsCopy[ls:]
	}
	if p.lent { // an earlier lent buffer abandoned by an error
		p.msg, p.own, p.lent = p.own, nil, false
	}
	p.msg = p.msg[:0]
	if p.splitter != nil {
		if b := p.splitter.SplitBuffer(p.pa.Size + 2); b != nil {
			p.own, p.msg, p.lent = p.msg, b[:0], true
		}
	}
	p.split = true
}

func (p *Parser) deliver(payload []byte) error {
	p.state = stateControlLine
	if p.hdrLen > 0 {
		p.pa.Header, p.pa.Data = payload[:p.hdrLen], payload[p.hdrLen:]
	} else {
		p.pa.Header, p.pa.Data = nil, payload
	}
	return p.h.ProcessPub(&p.pa)
}

// holdPartial keeps the unfinished control line at the end of a read. It
// rejects a line that can already be seen to be invalid or too long, so a
// client cannot make the server buffer without bound.
func (p *Parser) holdPartial(tail []byte) error {
	if !p.partial {
		p.line = p.line[:0]
		p.partial = true
	}
	return p.appendPartial(tail)
}

// appendPartial buffers b, the next bytes of an unfinished control line. It
// keeps at most one separator between the operation name and the first
// argument: the others are not arguments (controlLine trims them), so they
// must neither count against the limit nor be buffered without bound.
func (p *Parser) appendPartial(b []byte) error {
	if opEnd := opLength(p.line); opEnd == len(p.line) {
		// The name may still be growing; b may end it and start the args.
		e := opLength(b)
		if e == len(b) {
			return p.bufferPartial(b)
		}
		if err := p.bufferPartial(b[:e+1]); err != nil {
			return err
		}
		b = trimLeadingSpace(b[e+1:])
	} else if len(p.line) == opEnd+1 {
		b = trimLeadingSpace(b) // name and one separator so far
	}
	return p.bufferPartial(b)
}

func (p *Parser) bufferPartial(b []byte) error {
	if err := p.checkPartial(len(p.line)+len(b), b); err != nil {
		return err
	}
	p.line = append(p.line, b...)
	return nil
}

// checkPartial validates an unfinished control line of total length n whose
// newest bytes are b, before they are buffered.
func (p *Parser) checkPartial(n int, b []byte) error {
	// Judge the operation name from the first bytes of the line.
	var start [maxOpLen + 1]byte
	k := copy(start[:], p.line)
	k += copy(start[k:], b)
	head := start[:k]
	opEnd := opLength(head)
	if opEnd == len(head) {
		if n == len(head) && n > 0 && head[n-1] == '\r' {
			head = head[:n-1] // the CR of "PING\r\n" split before its LF
		}
		if !isOpPrefix(head) {
			return wireError(ErrUnknownOp, "op", snippet(head))
		}
		return nil
	}
	if classify(head[:opEnd]) == opUnknown {
		return wireError(ErrUnknownOp, "op", snippet(head))
	}
	// Trailing '\r' and separators are not arguments, but allowing one
	// byte of each keeps the check simple and never rejects a valid line.
	if n-opEnd-1 > p.limits.MaxControlLine+1 {
		return wireError(ErrMaxControlLine, "split", "arguments too long")
	}
	return nil
}

func snippet(b []byte) string {
	if len(b) > snippetLen {
		b = b[:snippetLen]
	}
	return string(b)
}
