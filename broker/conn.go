package broker

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// Conn is the core every connection is built around, whatever protocol it
// speaks: the socket, the pooled outbound queue, the one writer goroutine
// that empties it, the counters, and a close that happens once. A protocol
// handler (the NATS client in this package, the MQTT gateway's session
// connection) embeds or holds a Conn, runs its own read loop, and plugs its
// protocol-specific steps in through ConnHooks.
//
// Goroutines: the handler's read loop and the writer (WriteLoop). Any
// goroutine may queue bytes (Send, or a publisher's delivery) and close the
// connection; only the writer writes to the socket, and it tears the
// connection down as its last act.
type Conn struct {
	broker *Broker
	cid    uint64
	kind   Kind
	conn   net.Conn // the socket; closing it ends both loops
	host   string
	start  time.Time
	hooks  ConnHooks

	out outbound
	w   writer

	closed       atomic.Bool
	flushOnClose atomic.Bool
	reason       atomic.Uint32 // CloseReason of the first close
	done         chan struct{}

	stats connStats

	// nats is the NATS protocol handler around this core; nil for the
	// connections of other protocols.
	nats *client
}

// ConnHooks are a protocol handler's steps in the connection's life. Every
// field may be nil.
type ConnHooks struct {
	// Closing runs once, on the goroutine that closes the connection,
	// before the writer learns of the close.
	Closing func(reason CloseReason)
	// Teardown runs on the writer once the connection is closed, before
	// its last flush (an MQTT will is published here).
	Teardown func()
	// Flushed runs on the writer after each write of n bytes.
	Flushed func(n int64)
	// Trace, when protocol tracing is on, sees each batch of outbound
	// bytes before it is written.
	Trace func(iov [][]byte)
}

// connStats are cumulative counters; they outlive the connection in the
// broker's totals. For NATS clients bytes are message sizes (headers plus
// payload) as in the reference server, not protocol bytes on the wire.
// Writers: the out counters change only under the connection's outbound
// lock (outbound.countOut); a NATS client's in counters only on its read
// loop (client.countIn), other protocols add theirs with CountIn. Readers
// load them from any goroutine.
type connStats struct {
	inMsgs, inBytes, outMsgs, outBytes atomic.Int64
}

func (cs *connStats) add(o *connStats) {
	cs.inMsgs.Add(o.inMsgs.Load())
	cs.inBytes.Add(o.inBytes.Load())
	cs.outMsgs.Add(o.outMsgs.Load())
	cs.outBytes.Add(o.outBytes.Load())
}

// closeFlushDeadline bounds the last write to a closing connection, so that
// an error reaches a live peer but a dead one cannot hold shutdown up.
const closeFlushDeadline = 2 * time.Second

func (b *Broker) initConn(c *Conn, conn net.Conn, kind Kind, hooks ConnHooks) {
	o := b.Options()
	c.broker, c.cid, c.kind, c.conn, c.hooks = b, b.nextCID.Add(1), kind, conn, hooks
	c.start = time.Now()
	c.out = newOutbound(o.MaxPending, &b.outBudget, &c.stats)
	c.w = writer{conn: conn, deadline: o.WriteDeadline}
	c.done = make(chan struct{})
	if addr, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		c.host = addr.IP.String()
	}
}

// NewConn returns the core of a connection of another protocol than NATS
// (the MQTT gateway's), not yet registered: see Register.
func (b *Broker) NewConn(conn net.Conn, kind Kind, hooks ConnHooks) *Conn {
	c := &Conn{}
	b.initConn(c, conn, kind, hooks)
	return c
}

// CID is the connection's id, unique among all connections of the broker.
func (c *Conn) CID() uint64 { return c.cid }

// Host is the peer's IP address.
func (c *Conn) Host() string { return c.host }

// NetConn is the connection's socket.
func (c *Conn) NetConn() net.Conn { return c.conn }

// IsClosed reports whether the connection was closed.
func (c *Conn) IsClosed() bool { return c.closed.Load() }

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// CloseReason is why the connection was closed; meaningful once closed.
func (c *Conn) CloseReason() CloseReason { return CloseReason(c.reason.Load()) }

// CountIn counts a message of size bytes received from the peer.
func (c *Conn) CountIn(size int) {
	c.stats.inMsgs.Add(1)
	c.stats.inBytes.Add(int64(size))
}

// CountOut counts a message delivered to the peer, without its bytes (a
// protocol whose bytes are counted on the wire adds them in Flushed).
func (c *Conn) CountOut() {
	c.out.mu.Lock()
	c.out.countOut(1, 0)
	c.out.mu.Unlock()
}

// CountOutMsg counts one message of size bytes sent to the peer by a
// writer of its own (a route's server-to-server traffic).
func (c *Conn) CountOutMsg(size int) {
	c.out.mu.Lock()
	c.out.countOut(1, int64(size))
	c.out.mu.Unlock()
}

// CountOutBytes adds bytes written to the peer.
func (c *Conn) CountOutBytes(n int64) {
	c.out.mu.Lock()
	c.out.countOut(0, n)
	c.out.mu.Unlock()
}

// Send queues bytes from any goroutine and wakes the writer. A connection
// that cannot take them is closed as a slow consumer.
func (c *Conn) Send(b []byte) {
	if !c.out.enqueue(b) {
		c.SlowConsumer(CloseSlowConsumer)
		return
	}
	c.out.kick()
}

// Enqueue queues bytes without waking the writer (Kick does), so that what
// follows can be queued first; false when the connection cannot take them
// (it is then closed as a slow consumer).
func (c *Conn) Enqueue(b []byte) bool {
	if !c.out.enqueue(b) {
		c.SlowConsumer(CloseSlowConsumer)
		return false
	}
	return true
}

// Kick wakes the writer.
func (c *Conn) Kick() { c.out.kick() }

// SendParts queues two pieces as one unit (all or nothing) and wakes the
// writer; the MQTT gateway sends a packet header and its payload so.
func (c *Conn) SendParts(a, b []byte) bool {
	if !c.out.enqueueParts(a, b) {
		c.SlowConsumer(CloseSlowConsumer)
		return false
	}
	c.out.kick()
	return true
}

// PendingBytes is what is queued for the peer and not yet written.
func (c *Conn) PendingBytes() int64 { return c.out.pendingBytes() }

// WriteLoop is the connection's writer: it flushes what is queued whenever
// woken, and once the connection is closed it runs the teardown, writes
// what is left when the close asked for it, closes the socket and retires
// the connection from the broker. Run it on its own goroutine.
func (c *Conn) WriteLoop() {
	for {
		select {
		case <-c.out.signal:
			if c.closed.Load() {
				continue // the done case follows and decides about flushing
			}
			c.w.trace = nil
			if c.hooks.Trace != nil && c.broker.Options().Trace { // a reload may turn tracing on or off
				c.w.trace = c.hooks.Trace
			}
			n, err := c.w.flush(&c.out)
			if c.hooks.Flushed != nil {
				c.hooks.Flushed(n)
			}
			if err != nil {
				c.writeFailed(err)
			}
		case <-c.done:
			if c.hooks.Teardown != nil {
				c.hooks.Teardown()
			}
			if c.flushOnClose.Load() {
				c.w.deadline = min(c.w.deadline, closeFlushDeadline)
				n, _ := c.w.flush(&c.out)
				if c.hooks.Flushed != nil {
					c.hooks.Flushed(n)
				}
			}
			_ = c.conn.Close()
			c.out.close()
			c.broker.connGone(c)
			return
		}
	}
}

func (c *Conn) writeFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// The peer did not take bytes for a whole write deadline: it is a
		// slow consumer, just one detected by time rather than by volume.
		c.SlowConsumer(CloseWriteDeadline)
		return
	}
	c.Close(CloseWriteError, false)
}

// SlowConsumer closes a connection that cannot keep up. It never blocks the
// caller, which is usually another connection's read loop.
func (c *Conn) SlowConsumer(reason CloseReason) {
	if c.closed.Load() {
		return
	}
	c.broker.slowConsumers.Add(1)
	fields := []any{"cid", c.cid, "kind", c.kind, "remote", c.host,
		"pending_bytes", c.out.pendingBytes(), "reason", reason}
	if max := c.broker.outBudget.limit(); max > 0 {
		fields = append(fields, "server_outbound_bytes", c.broker.outBudget.used.Load(), "max_outbound_memory", max)
	}
	c.broker.log.Warn("slow consumer detected, closing connection", fields...)
	c.Close(reason, false)
}

// Close tears the connection down once; later calls do nothing. With flush
// the writer first sends what is queued (an error message, say).
func (c *Conn) Close(reason CloseReason, flush bool) {
	if c.closed.Swap(true) {
		return
	}
	c.reason.Store(uint32(reason))
	if c.hooks.Closing != nil {
		c.hooks.Closing(reason)
	}
	c.flushOnClose.Store(flush)
	if !flush {
		_ = c.conn.Close() // unblock both loops now
	}
	close(c.done)
	if c.broker.Options().Debug {
		c.broker.log.Debug("connection closed", "cid", c.cid, "kind", c.kind,
			"remote", c.host, "reason", reason)
	}
}

// ConnStats are a connection's cumulative counters.
type ConnStats struct {
	InMsgs, InBytes, OutMsgs, OutBytes int64
}

// Stats returns the connection's counters so far.
func (c *Conn) Stats() ConnStats {
	return ConnStats{
		InMsgs:   c.stats.inMsgs.Load(),
		InBytes:  c.stats.inBytes.Load(),
		OutMsgs:  c.stats.outMsgs.Load(),
		OutBytes: c.stats.outBytes.Load(),
	}
}

// Start is when the connection was accepted or made.
func (c *Conn) Start() time.Time { return c.start }
