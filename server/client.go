package server

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/parser"
)

// Read buffer sizes: a connection starts small (idle connections are cheap)
// and grows while reads fill the buffer, up to the size that amortises a
// read syscall well.
const (
	minReadBuf = 512
	maxReadBuf = 64 << 10
)

// client is one client connection. Two goroutines serve it: the read loop
// (parsing, publishing to others) and the writer (flushing what others and
// the read loop queued for it).
type client struct {
	srv   *Server
	cid   uint64
	conn  net.Conn // the socket; closing it ends both loops
	rw    net.Conn // what the read loop reads: conn, or its TLS session
	host  string
	start time.Time
	kind  connKind // the transport: TCP or WebSocket

	parser *parser.Parser
	out    outbound
	w      writer

	acc *Account // set under mu at the first CONNECT, before any subscription exists
	sec clientSecurity

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

	pingsOut     atomic.Int32
	closed       atomic.Bool
	flushOnClose atomic.Bool
	done         chan struct{}

	stats clientStats
}

// clientStats are cumulative counters; they outlive the connection in the
// server's totals. Bytes are message sizes (headers plus payload) as in
// the reference server, not protocol bytes on the wire.
type clientStats struct {
	inMsgs, inBytes, outMsgs, outBytes atomic.Int64
}

// account is the client's account, for goroutines other than the read
// loop.
func (c *client) account() *Account {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acc
}

func newClient(s *Server, conn net.Conn, cid uint64) *client {
	o := s.getOpts()
	c := &client{
		srv:   s,
		cid:   cid,
		conn:  conn,
		rw:    conn,
		start: time.Now(),
		opts:  defaultClientOptions(),
		subs:  make(map[string]*subscription),
		acc:   s.gacc,
		trace: o.Trace,
		done:  make(chan struct{}),
		out:   newOutbound(o.MaxPending),
		w:     writer{conn: conn, deadline: o.WriteDeadline},
	}
	c.mon.last.Store(c.start.UnixNano())
	c.prod = producer{acc: c.acc, self: c, echo: true}
	c.pinAuth(s.authn())
	if addr, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		c.host = addr.IP.String()
	}
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
	if c.srv.tlsConfig != nil && c.kind == kindNATS {
		if err := c.startTLS(); err != nil {
			c.tlsFailed(err)
			c.writeLoop() // returns at once: it only retires the client
			return
		}
	}
	c.startAuthTimer()
	c.schedulePing(c.srv.opts.PingInterval)
	go c.writeLoop()
	c.readLoop()
}

func (c *client) readLoop() {
	buf := make([]byte, minReadBuf)
	for {
		n, err := c.rw.Read(buf)
		if n > 0 {
			c.prod.stallLeft = stallBudget
			c.trace = c.srv.getOpts().Trace // Reload may turn tracing on or off
			inBefore := c.stats.inMsgs.Load()
			perr := c.parser.Parse(buf[:n])
			c.prod.flushes.kickAll()
			c.mon.afterRead(c, inBefore)
			if perr != nil {
				c.protocolError(perr)
				return
			}
			buf = resizeReadBuf(buf, n)
		}
		if err != nil {
			// A peer that half-closed (`printf ... | nc`) still gets the
			// replies to what it sent, hence the flush on EOF.
			if errors.Is(err, io.EOF) {
				c.closeConnection(closeClientClosed, true)
			} else {
				c.closeConnection(closeReadError, false)
			}
			return
		}
	}
}

// resizeReadBuf doubles a buffer that a read filled and halves one that a
// read used less than a quarter of; allocation happens only on a change.
func resizeReadBuf(buf []byte, n int) []byte {
	switch {
	case n == len(buf) && len(buf) < maxReadBuf:
		return make([]byte, 2*len(buf))
	case n < len(buf)/4 && len(buf) > minReadBuf:
		return make([]byte, len(buf)/2)
	}
	return buf
}

func (c *client) writeLoop() {
	for {
		select {
		case <-c.out.signal:
			if c.closed.Load() {
				continue // the done case follows and decides about flushing
			}
			c.w.trace = nil
			if c.srv.getOpts().Trace { // Reload may turn tracing on or off
				c.w.trace = c.traceOut
			}
			_, err := c.w.flush(&c.out)
			c.mon.afterWrite(c)
			if err != nil {
				c.writeFailed(err)
			}
		case <-c.done:
			if c.flushOnClose.Load() {
				c.w.deadline = min(c.w.deadline, closeFlushDeadline)
				_, _ = c.w.flush(&c.out)
			}
			_ = c.conn.Close()
			c.out.close()
			c.srv.clientGone(c)
			return
		}
	}
}

// closeFlushDeadline bounds the last write to a closing client, so that an
// -ERR reaches a live peer but a dead one cannot hold shutdown up.
const closeFlushDeadline = 2 * time.Second

func (c *client) writeFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// The peer did not take bytes for a whole write deadline: it is a
		// slow consumer, just one detected by time rather than by volume.
		c.slowConsumer(closeWriteDeadline)
		return
	}
	c.closeConnection(closeWriteError, false)
}

// slowConsumer closes a client that cannot keep up. It never blocks the
// caller, which is usually another client's read loop.
func (c *client) slowConsumer(reason closeReason) {
	if c.closed.Load() {
		return
	}
	c.srv.slowConsumers.Add(1)
	c.srv.log.Warn("slow consumer detected, closing connection",
		"cid", c.cid, "remote", c.host,
		"pending_bytes", c.out.pendingBytes(), "reason", reason)
	c.closeConnection(reason, false)
}

// closeConnection tears the connection down once; later calls do nothing.
// With flush the writer first sends what is queued (an -ERR, say).
func (c *client) closeConnection(reason closeReason, flush bool) {
	if c.closed.Swap(true) {
		return
	}
	c.mu.Lock()
	subs, acc := c.subs, c.acc
	c.subs = nil
	if c.pingTimer != nil {
		c.pingTimer.Stop()
	}
	c.mon.closing(reason, subs)
	c.mu.Unlock()
	for _, sub := range subs {
		_ = acc.subs.Remove(sub.subject, sub.queue, sub)
	}
	c.flushOnClose.Store(flush)
	if !flush {
		_ = c.conn.Close() // unblock both loops now
	}
	close(c.done)
	if c.srv.getOpts().Debug {
		c.srv.log.Debug("client closed", "cid", c.cid,
			"remote", c.host, "reason", reason)
	}
}

// protocolError answers a parse or handler error: the spec's -ERR text when
// it has one, then close.
func (c *client) protocolError(err error) {
	c.srv.viol.countProtocolError(err)
	var we *parser.WireError
	if errors.As(err, &we) {
		c.sendErrNow(we.Text)
	}
	if c.srv.getOpts().Debug {
		c.srv.log.Debug("protocol error", "cid", c.cid, "error", err)
	}
	c.closeConnection(closeProtocolError, true)
}

// sendProto queues protocol bytes from the read loop; the read loop's flush
// after each read wakes the writer.
func (c *client) sendProto(b []byte) {
	if !c.out.enqueue(b) {
		c.slowConsumer(closeSlowConsumer)
		return
	}
	c.prod.flushes.add(c)
}

// sendProtoNow queues protocol bytes from any goroutine and wakes the writer.
func (c *client) sendProtoNow(b []byte) {
	if !c.out.enqueue(b) {
		c.slowConsumer(closeSlowConsumer)
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
	opts := c.srv.getOpts()
	if int(c.pingsOut.Load()) >= opts.MaxPingsOut {
		c.srv.viol.staleConnections.Add(1)
		c.sendErrNow("Stale Connection")
		c.closeConnection(closeStale, true)
		return
	}
	c.pingsOut.Add(1)
	c.mon.pingSent.CompareAndSwap(0, time.Now().UnixNano())
	c.sendProtoNow(parser.PingLine)
	c.schedulePing(opts.PingInterval)
}

// flushSet collects the clients a read loop queued data for, so each is woken
// once per read however many messages it got.
type flushSet struct {
	list  []*client
	index map[*client]struct{} // used once the list is too long to scan
}

const flushSetScanLimit = 32

func (f *flushSet) add(c *client) {
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
		f.index = make(map[*client]struct{}, 2*len(f.list))
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
