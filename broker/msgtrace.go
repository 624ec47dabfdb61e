package broker

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/parser"
	"github.com/midgemq/midge/sublist"
)

// Message tracing: a message published with a Nats-Trace-Dest header is
// delivered as usual (or, with Nats-Trace-Only, not at all), and one JSON
// event describing its way through this server is published to the trace
// destination, in the reference server's shape: the request's headers and
// size, then an ingress event (who published it), an egress event per
// subscription it went to (or would have, with the reason it did not), an
// event per stream that took it (added by the JetStream layer through
// MsgTrace.JetStream), and an egress per route it crossed, which adds a
// Nats-Trace-Hop header so the next server traces its part too.
//
// The publish path pays for this with one search of the header block of
// messages that have headers (hasTraceHeader); a traced message takes a
// separate, allocating path.

// The tracing headers, spelled as clients send them.
const (
	traceDestHeader = "Nats-Trace-Dest"
	traceOnlyHeader = "Nats-Trace-Only"
	traceHopHeader  = "Nats-Trace-Hop"
	// traceDestDisabled is a destination that turns tracing off (an
	// invalid subject on purpose); a stream stores it in place of the
	// destination so that re-published copies are not traced again.
	traceDestDisabled = "trace disabled"
)

// traceDestKey finds the destination header in a header block: every header
// line follows a CRLF (the status line's, or the previous line's).
var traceDestKey = []byte("\r\n" + traceDestHeader + ":")

// hasTraceHeader is the one check a published message with headers pays.
func hasTraceHeader(hdr []byte) bool { return bytes.Contains(hdr, traceDestKey) }

// Connection kinds as trace events number them.
const (
	traceKindClient = 0
	traceKindRouter = 1
)

// The texts of egress events that were not delivered, as the reference
// server words them.
const (
	traceErrNoEcho       = "Not delivered because of no echo"
	traceErrSubDeny      = "Not delivered because subscription denies this subject"
	traceErrClientClosed = "Not delivered because client is closed"
	traceErrAutoUnsub    = "Not delivered because auto-unsubscribe exceeded"
)

// traceEvent is the JSON published to the trace destination.
type traceEvent struct {
	Server  traceServer  `json:"server"`
	Request traceRequest `json:"request"`
	Hops    int          `json:"hops,omitempty"`
	Events  []any        `json:"events"`
}

type traceServer struct {
	Name      string    `json:"name"`
	Host      string    `json:"host"`
	ID        string    `json:"id"`
	Cluster   string    `json:"cluster,omitempty"`
	Version   string    `json:"ver"`
	JetStream bool      `json:"jetstream"`
	Flags     uint64    `json:"flags"`
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
}

type traceRequest struct {
	Header  map[string][]string `json:"header,omitempty"`
	MsgSize int                 `json:"msgsize,omitempty"`
}

type traceIngress struct {
	Type    string    `json:"type"`
	TS      time.Time `json:"ts"`
	Kind    int       `json:"kind"`
	CID     uint64    `json:"cid"`
	Name    string    `json:"name,omitempty"`
	Account string    `json:"acc"`
	Subject string    `json:"subj"`
	Error   string    `json:"error,omitempty"`
}

type traceEgress struct {
	Type    string    `json:"type"`
	TS      time.Time `json:"ts"`
	Kind    int       `json:"kind"`
	CID     uint64    `json:"cid"`
	Name    string    `json:"name,omitempty"`
	Hop     string    `json:"hop,omitempty"`
	Account string    `json:"acc,omitempty"`
	Sub     string    `json:"sub,omitempty"`
	Queue   string    `json:"queue,omitempty"`
	Error   string    `json:"error,omitempty"`
}

type traceJetStream struct {
	Type       string    `json:"type"`
	TS         time.Time `json:"ts"`
	Stream     string    `json:"stream"`
	Subject    string    `json:"subject,omitempty"`
	NoInterest bool      `json:"nointerest,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// MsgTrace is one traced message on its way through the server. The
// JetStream layer adds its part with JetStream; the event is published
// once every part is done.
type MsgTrace struct {
	b    *Broker
	acc  *Account
	dest string
	only bool
	hop  string // the Nats-Trace-Hop this server received, "" at the origin

	mu    sync.Mutex // events grow on the publisher and on stream committers
	event traceEvent
	parts atomic.Int32 // the publish itself, plus each stream still working
}

// TraceOnly reports whether the message is only traced: nobody receives
// it and no stream stores it.
func (t *MsgTrace) TraceOnly() bool { return t.only }

// JetStream records that stream took the message and returns the function
// to call once the stream handled it: with the subject it was stored
// under, whether it was dropped for lack of interest, and the reason it was
// refused ("" when it was not). The trace event waits for that call.
func (t *MsgTrace) JetStream(stream string) func(subject string, noInterest bool, refusal string) {
	e := &traceJetStream{Type: "js", TS: time.Now().UTC(), Stream: stream}
	t.parts.Add(1)
	t.add(e)
	var once sync.Once
	return func(subject string, noInterest bool, refusal string) {
		once.Do(func() {
			t.mu.Lock()
			e.TS = time.Now().UTC()
			if refusal == "" {
				e.Subject, e.NoInterest = subject, noInterest
			}
			e.Error = refusal
			t.mu.Unlock()
			t.finish()
		})
	}
}

func (t *MsgTrace) add(e any) {
	t.mu.Lock()
	t.event.Events = append(t.event.Events, e)
	t.mu.Unlock()
}

func (t *MsgTrace) egress(kind int, cid uint64, name string, sub *subscription, errText string) {
	e := &traceEgress{Type: "eg", TS: time.Now().UTC(), Kind: kind, CID: cid, Name: name, Error: errText}
	if sub != nil {
		e.Sub, e.Queue = sub.subject, sub.queue
	}
	t.add(e)
}

// finish ends one part; the last one publishes the event.
func (t *MsgTrace) finish() {
	if t.parts.Add(-1) != 0 {
		return
	}
	b := t.b
	o := b.Options()
	t.mu.Lock()
	t.event.Server = traceServer{
		Name: b.name, Host: o.Host, ID: b.id, Version: ProtocolVersion,
		JetStream: o.JetStream, Seq: b.traceSeq.Add(1), Time: time.Now().UTC(),
	}
	if o.JetStream {
		t.event.Server.Flags = 1 // the reference's "JetStream enabled" capability
	}
	if name := b.clusterName.Load(); name != nil {
		t.event.Server.Cluster = *name
	}
	body, err := json.Marshal(&t.event)
	t.mu.Unlock()
	if err != nil {
		b.log.Error("encoding a message trace event", "error", err)
		return
	}
	t.acc.NewPublisher().Publish([]byte(t.dest), nil, nil, body)
}

// newMsgTrace reads the tracing headers of a message that has one. It
// returns the trace (nil when the message is not traced) and whether the
// message must not be processed: a trace-only message whose trace cannot
// be sent, or one whose publisher may not publish to the destination.
func newMsgTrace(b *Broker, acc *Account, pa *parser.PubArg) (t *MsgTrace, skip bool) {
	headers := traceHeaderMap(pa.Header)
	dest := firstHeader(headers, traceDestHeader)
	only := false
	switch strings.ToLower(firstHeader(headers, traceOnlyHeader)) {
	case "1", "true", "on":
		only = true
	}
	if dest == "" || dest == traceDestDisabled {
		return nil, only && dest == ""
	}
	if !sublist.ValidLiteralSubject(dest) {
		b.log.Warn("message trace destination is not a valid subject; not tracing", "destination", dest)
		return nil, only
	}
	t = &MsgTrace{b: b, acc: acc, dest: dest, only: only, hop: firstHeader(headers, traceHopHeader)}
	t.parts.Store(1)
	t.event.Request = traceRequest{Header: headers, MsgSize: pa.Size}
	return t, false
}

// firstHeader is the first value of key (exact case), "" without.
func firstHeader(h map[string][]string, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// traceHeaderMap is a header block as a map, keys in the case they were
// sent (the event shows them so), empty keys and values left out.
func traceHeaderMap(hdr []byte) map[string][]string {
	m := make(map[string][]string)
	i := bytes.Index(hdr, []byte("\r\n"))
	if i < 0 {
		return m
	}
	for rest := hdr[i+2:]; len(rest) > 0; {
		end := bytes.Index(rest, []byte("\r\n"))
		if end < 0 {
			end = len(rest)
		}
		line := rest[:end]
		rest = rest[min(end+2, len(rest)):]
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		key := string(line[:colon])
		val := strings.TrimSpace(string(line[colon+1:]))
		if val != "" {
			m[key] = append(m[key], val)
		}
	}
	return m
}

// withHop returns hdr with Nats-Trace-Hop set to hop (replacing one that
// is there), for the copy of a traced message that crosses a route.
func withHop(hdr []byte, hop string) []byte {
	out := make([]byte, 0, len(hdr)+len(traceHopHeader)+len(hop)+4)
	lines := bytes.Split(bytes.TrimSuffix(hdr, []byte("\r\n\r\n")), []byte("\r\n"))
	for i, line := range lines {
		if i > 0 && bytes.HasPrefix(line, []byte(traceHopHeader+":")) {
			continue
		}
		out = append(append(out, line...), "\r\n"...)
	}
	out = append(out, traceHopHeader+": "...)
	out = append(out, hop...)
	return append(out, "\r\n\r\n"...)
}

// publishTraced is ProcessPub's publish for a message with a trace header.
func (c *client) publishTraced(pa *parser.PubArg) {
	t, skip := newMsgTrace(c.broker, c.acc, pa)
	if skip {
		return
	}
	if t != nil {
		if ps := c.sec.perms.Load(); ps != nil && ps.hasPub && !c.checkPublish(ps, []byte(t.dest)) {
			// The reference server refuses the message with the violation.
			c.broker.viol.publishDenied.Add(1)
			c.sendErr(pubViolationText([]byte(t.dest)))
			return
		}
		t.add(&traceIngress{Type: "in", TS: time.Now().UTC(), Kind: traceKindClient, CID: c.cid,
			Name: c.opts.name, Account: c.acc.name, Subject: string(pa.Subject)})
	}
	c.prod.trace = t
	delivered := c.prod.publish(pa)
	c.prod.trace = nil
	if !delivered && len(pa.Reply) > 0 && c.opts.noResponders {
		c.sendNoResponders(pa)
	}
	if t != nil {
		t.finish()
	}
}

// deliverTraced is deliver for a traced message: it records an egress
// event for each client subscription, delivers unless the message is only
// traced, and lets internal subscriptions that trace (streams) add their
// part.
func (p *producer) deliverTraced(sub *subscription, pa *parser.PubArg) bool {
	t := p.trace
	switch {
	case sub.remote != nil:
		return p.deliverUntraced(sub, pa) // traced when the message leaves (sendToRemotes)
	case sub.client == nil:
		if sub.traced != nil {
			subject := pa.Subject
			if p.shown != nil {
				subject = p.shown
			}
			sub.traced(t, subject, pa.Reply, pa.Header, pa.Data)
			return true
		}
		// Other internal receivers only take real deliveries; a trace-only
		// message counts as taken, so that a requester is not told that
		// nobody listens.
		return t.only || p.deliverUntraced(sub, pa)
	}
	dst := sub.client
	name := dst.connName()
	var why string
	switch {
	case dst == p.self && !p.echo:
		why = traceErrNoEcho
	case dst.closed.Load():
		why = traceErrClientClosed
	case sub.deny.Load() != nil && deliveryDenied(pa.Subject, *sub.deny.Load()):
		why = traceErrSubDeny
	case sub.max.Load() > 0 && sub.delivered.Load() >= sub.max.Load():
		why = traceErrAutoUnsub
	}
	if why != "" {
		t.egress(traceKindClient, dst.cid, name, sub, why)
		return false
	}
	if !t.only && !p.deliverUntraced(sub, pa) {
		why = traceErrAutoUnsub
		if dst.closed.Load() {
			why = traceErrClientClosed
		}
		t.egress(traceKindClient, dst.cid, name, sub, why)
		return false
	}
	t.egress(traceKindClient, dst.cid, name, sub, "")
	return true
}

// traceRoute records the copy of a traced message sent to route r and
// returns the header it carries, with the hop that names it.
func (t *MsgTrace) traceRoute(r *Remote, hdr []byte) []byte {
	t.mu.Lock()
	t.event.Hops++
	hop := strconv.Itoa(t.event.Hops)
	t.mu.Unlock()
	if t.hop != "" {
		hop = t.hop + "." + hop
	}
	e := &traceEgress{Type: "eg", TS: time.Now().UTC(), Kind: traceKindRouter, CID: r.conn.cid, Hop: hop}
	if name := r.name.Load(); name != nil {
		e.Name = *name
	}
	t.add(e)
	return withHop(hdr, hop)
}

// deliverUntraced is deliver for one subscription of a traced message, as
// if it were not traced.
func (p *producer) deliverUntraced(sub *subscription, pa *parser.PubArg) bool {
	t := p.trace
	p.trace = nil
	ok := p.deliver(sub, pa)
	p.trace = t
	return ok
}

// connName is the name the client gave in CONNECT.
func (c *client) connName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mon.name
}

// WithTraceDisabled returns a copy of hdr whose trace destination is
// replaced by one that turns tracing off, as a stream stores a traced
// message: a copy delivered or re-published later is not traced again.
func WithTraceDisabled(hdr []byte) []byte {
	i := bytes.Index(hdr, traceDestKey)
	if i < 0 {
		return hdr
	}
	start := i + len(traceDestKey)
	end := bytes.Index(hdr[start:], []byte("\r\n"))
	if end < 0 {
		return hdr
	}
	out := make([]byte, 0, len(hdr)+len(traceDestDisabled))
	out = append(out, hdr[:start]...)
	out = append(out, ' ')
	out = append(out, traceDestDisabled...)
	return append(out, hdr[start+end:]...)
}
