package broker

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/parser"
)

// client is one NATS-protocol connection (TCP or WebSocket): the
// connection core plus the protocol's handler. Two goroutines serve it:
// the read loop (parsing, publishing to others) and the core's writer
// (flushing what others and the read loop queued for it).
type client struct {
	Conn
	rw        net.Conn // what the read loop reads: conn, or its TLS session
	transport Transport

	parser *parser.Parser
	// splitBuf is the buffer lent to the parser for a large payload split
	// across reads (splitbuf.go); read loop only.
	splitBuf *readBuf

	acc *Account // set under mu at the first CONNECT, before any subscription exists

	// stageHint is where a producer staging for this client keeps its run
	// (staging.go); any producer writes it, each validates what it reads.
	stageHint atomic.Uint64
	sec       clientSecurity

	// Touched only by the read loop.
	opts     clientOptions
	prod     producer
	trace    bool
	gotHello bool // CONNECT received

	// headers is read by every publisher delivering to this client.
	headers atomic.Bool

	mon clientMon // what monitoring shows beyond the counters

	mu        sync.Mutex
	subs      map[string]*subscription // by sid
	pingTimer *time.Timer

	pingsOut atomic.Int32
}

// account is the client's account, for goroutines other than the read
// loop.
func (c *client) account() *Account {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acc
}

func newClient(b *Broker, conn net.Conn, t Transport) *client {
	o := b.Options()
	c := &client{
		rw:        conn,
		transport: t,
		opts:      defaultClientOptions(),
		subs:      make(map[string]*subscription),
		acc:       b.gacc,
		trace:     o.Trace,
	}
	b.initConn(&c.Conn, conn, t.Kind, ConnHooks{
		Closing: c.closing,
		Flushed: func(int64) { c.mon.afterWrite(c) },
		Trace:   c.traceOut,
	})
	c.nats = c
	c.sec.tlsState = t.TLS
	// Pinned again, under the broker's lock, when the client is admitted.
	c.pinAuth(b.authn())
	c.mon.last.Store(c.start.UnixNano())
	c.prod = producer{acc: c.acc, self: c, echo: true, staged: newStaging()}
	c.parser = parser.New(c, parser.Limits{
		MaxControlLine: o.MaxControlLine,
		MaxPayload:     o.MaxPayload,
	})
	return c
}

// run serves the connection until it closes. It sends INFO first, as the
// protocol requires, completes TLS when configured, then reads.
func (c *client) run() {
	if c.sec.auth.nonce {
		c.sec.nonce = newNonce()
	}
	c.sendProtoNow(c.infoLine())
	if c.broker.tlsConfig != nil && c.kind == KindNATS {
		if err := c.startTLS(); err != nil {
			c.tlsFailed(err)
			c.WriteLoop() // returns at once: it only retires the client
			return
		}
	}
	c.startAuthTimer()
	c.schedulePing(c.broker.Options().PingInterval)
	go c.WriteLoop()
	c.readLoop()
}

func (c *client) readLoop() {
	rb := getReadBuf(minReadBuf)
	defer func() { rb.release(); c.dropSplitBuf() }()
	for {
		if space := c.parser.SplitSpace(); space != nil {
			// The rest of a large payload goes straight into the buffer
			// it is gathered in (splitbuf.go).
			n, err := c.rw.Read(space)
			if n > 0 && !c.afterParse(c.parser.SplitFilled(n), c.beginParse()) {
				return
			}
			if err != nil {
				c.readFailed(err)
				return
			}
			continue
		}
		n, err := c.rw.Read(rb.b)
		if n > 0 {
			inBefore := c.beginParse()
			c.prod.rb = rb
			perr := c.parser.Parse(rb.b[:n])
			c.prod.rb = nil
			if !c.afterParse(perr, inBefore) {
				return
			}
			// A buffer that receivers still reference is theirs until
			// written; the next read gets another.
			if size := nextReadBufSize(len(rb.b), n); size != len(rb.b) || rb.refs.Load() > 1 {
				rb.release()
				rb = getReadBuf(size)
			}
		}
		if err != nil {
			c.readFailed(err)
			return
		}
	}
}

// beginParse prepares the handling of what one read brought and returns
// the count of messages in before it.
func (c *client) beginParse() int64 {
	c.prod.stallLeft = stallBudget
	c.trace = c.broker.Options().Trace // a reload may turn tracing on or off
	return c.stats.inMsgs.Load()
}

// afterParse wakes the receivers of what one read delivered; false when
// the read held a protocol error (the connection is closed).
func (c *client) afterParse(perr error, inBefore int64) bool {
	c.prod.endRead()
	if c.splitBuf != nil && !c.parser.InSplitPayload() {
		c.dropSplitBuf() // delivered: only receivers hold it now
	}
	c.mon.afterRead(c, inBefore)
	if perr != nil {
		c.protocolError(perr)
		return false
	}
	return true
}

// readFailed closes the connection after a failed read. A peer that
// half-closed (`printf ... | nc`) still gets the replies to what it sent,
// hence the flush on EOF.
func (c *client) readFailed(err error) {
	if errors.Is(err, io.EOF) {
		c.closeConnection(CloseClientClosed, true)
	} else {
		c.closeConnection(CloseReadError, false)
	}
}

// closeConnection tears the connection down once; later calls do nothing.
// With flush the writer first sends what is queued (an -ERR, say).
func (c *client) closeConnection(reason CloseReason, flush bool) { c.Close(reason, flush) }

// closing is the core's Closing hook: the subscriptions go before the
// writer can retire the client, so monitoring sees them in its final state.
func (c *client) closing(reason CloseReason) {
	c.mu.Lock()
	subs, acc := c.subs, c.acc
	c.subs = nil
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	c.mon.closing(reason, subs)
	c.mu.Unlock()
	for _, sub := range subs {
		if acc.subs.Remove(sub.subject, sub.queue, sub) == nil {
			c.broker.interestChanged(acc, sub, -1)
		}
	}
}

// protocolError answers a parse or handler error: the spec's -ERR text when
// it has one, then close.
func (c *client) protocolError(err error) {
	c.broker.viol.countProtocolError(err)
	var we *parser.WireError
	if errors.As(err, &we) {
		c.sendErrNow(we.Text)
	}
	if c.broker.Options().Debug {
		c.broker.log.Debug("protocol error", "cid", c.cid, "error", err)
	}
	c.closeConnection(CloseProtocolError, true)
}

// sendProto queues protocol bytes from the read loop; the read loop's flush
// after each read wakes the writer.
func (c *client) sendProto(b []byte) {
	if !c.out.enqueue(b) {
		c.SlowConsumer(CloseSlowConsumer)
		return
	}
	c.prod.flushes.add(&c.Conn)
}

// sendProtoNow queues protocol bytes from any goroutine and wakes the writer.
func (c *client) sendProtoNow(b []byte) {
	if !c.out.enqueue(b) {
		c.SlowConsumer(CloseSlowConsumer)
		return
	}
	c.out.kick()
}

func (c *client) sendErr(text string) {
	c.sendProto(parser.AppendErr(nil, text))
}

func (c *client) sendErrNow(text string) {
	c.sendProtoNow(parser.AppendErr(nil, text))
}

func (c *client) schedulePing(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	if c.pingTimer == nil {
		c.pingTimer = time.AfterFunc(d, c.pingDue)
		return
	}
	c.pingTimer.Reset(d)
}

// pingDue runs on the ping timer: a client that left MaxPingsOut PINGs
// unanswered is stale; otherwise it gets another PING.
func (c *client) pingDue() {
	if c.closed.Load() {
		return
	}
	opts := c.broker.Options()
	if int(c.pingsOut.Load()) >= opts.MaxPingsOut {
		c.broker.viol.staleConnections.Add(1)
		c.sendErrNow("Stale Connection")
		c.closeConnection(CloseStale, true)
		return
	}
	c.pingsOut.Add(1)
	c.mon.pingSent.CompareAndSwap(0, time.Now().UnixNano())
	c.sendProtoNow(parser.PingLine)
	c.schedulePing(opts.PingInterval)
}

// flushSet collects the connections a read loop queued data for, so each is
// woken once per read however many messages it got.
type flushSet struct {
	list  []*Conn
	index map[*Conn]struct{} // used once the list is too long to scan
}

const flushSetScanLimit = 32

func (f *flushSet) add(c *Conn) {
	if n := len(f.list); n > 0 && f.list[n-1] == c {
		return
	}
	if f.index != nil {
		if _, ok := f.index[c]; ok {
			return
		}
		f.index[c] = struct{}{}
		f.list = append(f.list, c)
		return
	}
	for _, x := range f.list {
		if x == c {
			return
		}
	}
	f.list = append(f.list, c)
	if len(f.list) > flushSetScanLimit {
		f.index = make(map[*Conn]struct{}, 2*len(f.list))
		for _, x := range f.list {
			f.index[x] = struct{}{}
		}
	}
}

func (f *flushSet) kickAll() {
	for i, c := range f.list {
		c.out.kick()
		f.list[i] = nil
	}
	f.list = f.list[:0]
	if f.index != nil {
		clear(f.index)
	}
}
