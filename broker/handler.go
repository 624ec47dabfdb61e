package broker

import (
	"errors"

	"github.com/midgemq/midge/parser"
	"github.com/midgemq/midge/sublist"
)

// This file is the client's side of parser.Handler: what each operation a
// client sends does. Errors returned here close the connection (after the
// -ERR of a parser.WireError); non-fatal problems are answered with an -ERR
// and a nil error.

var (
	errHeadersNotSupported = errors.New("HPUB from a client that did not negotiate headers")
	errClientErr           = errors.New("client sent -ERR")
)

func (c *client) ProcessConnect(arg []byte) error {
	if c.trace {
		c.traceIn("CONNECT", arg)
	}
	f, opts, err := parseConnect(arg)
	if err != nil {
		return err
	}
	if err := c.authenticateConnect(&f); err != nil {
		return err
	}
	c.opts = opts
	c.prod.echo = opts.echo
	c.headers.Store(opts.headers)
	c.mon.connected(c, opts)
	if !c.gotHello {
		c.gotHello = true
		c.schedulePing(c.broker.Options().FirstPingDelay)
	}
	if c.opts.verbose {
		c.sendProto(parser.OKLine)
	}
	return nil
}

func (c *client) ProcessPub(pa *parser.PubArg) error {
	if c.trace {
		c.tracePub(pa)
	}
	if c.sec.awaitingAuth {
		return c.requireAuth()
	}
	c.countIn(pa.Size)
	if pa.Header != nil && !c.opts.headers {
		return errHeadersNotSupported
	}
	if ps := c.sec.perms.Load(); ps != nil && ps.hasPub && !c.checkPublish(ps, pa.Subject) {
		// No +OK: the reference server answers a refused publish with
		// the -ERR alone, and the connection stays open.
		c.broker.viol.publishDenied.Add(1)
		c.sendErr(pubViolationText(pa.Subject))
		return nil
	}
	if c.opts.pedantic && !sublist.ValidLiteralSubjectBytes(pa.Subject) {
		// Only a warning: the reference server still delivers the message
		// (a wildcard subject matches literally) and acknowledges it.
		c.sendErr("Invalid Publish Subject")
	}
	// The reference server acknowledges before delivering, so a verbose
	// client subscribed to its own subject sees +OK before the MSG.
	if c.opts.verbose {
		c.sendProto(parser.OKLine)
	}
	if c.splitBuf != nil && c.splitBuf.contains(pa.Data) {
		// Gathered in the buffer lent to the parser: receivers may refer
		// to it as to a read buffer.
		rb := c.prod.rb
		c.prod.rb = c.splitBuf
		defer func() { c.prod.rb = rb }()
	}
	if pa.Header != nil && hasTraceHeader(pa.Header) {
		c.publishTraced(pa)
		return nil
	}
	if !c.prod.publish(pa) && len(pa.Reply) > 0 && c.opts.noResponders {
		c.sendNoResponders(pa)
	}
	return nil
}

func (c *client) ProcessSub(subject, queue, sid []byte) error {
	if c.trace {
		c.traceIn("SUB", subject, queue, sid)
	}
	if c.sec.awaitingAuth {
		return c.requireAuth()
	}
	if !sublist.ValidSubjectBytes(subject) {
		c.sendErr("Invalid Subject")
		return nil
	}
	c.mon.interest = true
	c.mu.Lock()
	if c.subs == nil { // closing
		c.mu.Unlock()
		return nil
	}
	// Checked, filed and inserted in one critical section: a reload swaps
	// the permissions and re-checks the subscriptions in another, so this
	// one is either decided under the new set or re-checked by the reload.
	ps := c.sec.perms.Load()
	if ps != nil && ps.hasSub && !ps.subAllowed(string(subject), string(queue)) {
		c.mu.Unlock()
		c.broker.viol.subscribeDenied.Add(1)
		c.sendErr(subViolationText(string(subject), string(queue)))
		return nil
	}
	if max := c.broker.Options().MaxSubscriptions; max > 0 && len(c.subs) >= max {
		c.mu.Unlock()
		c.broker.viol.maxSubscriptions.Add(1)
		c.sendErr("maximum subscriptions exceeded")
		return nil
	}
	if _, dup := c.subs[string(sid)]; dup {
		// The first subscription with a sid wins, as in the reference server.
		c.mu.Unlock()
		c.ackVerbose()
		return nil
	}
	sub := &subscription{
		client:  c,
		subject: string(subject),
		queue:   string(queue),
		sid:     append([]byte(nil), sid...),
	}
	sub.deny.Store(ps.subDenyFilter(sub.subject, sub.queue))
	if err := c.acc.subs.Insert(sub.subject, sub.queue, sub); err != nil {
		c.mu.Unlock()
		c.sendErr("Invalid Subject")
		return nil
	}
	c.subs[string(sid)] = sub
	acc := c.acc
	c.mu.Unlock()
	c.broker.interestChanged(acc, sub, 1)
	c.ackVerbose()
	return nil
}

func (c *client) ProcessUnsub(sid []byte, max int64) error {
	if c.trace {
		c.traceIn("UNSUB", sid)
	}
	if c.sec.awaitingAuth {
		return c.requireAuth()
	}
	c.mon.interest = true
	c.mu.Lock()
	sub := c.subs[string(sid)]
	c.mu.Unlock()
	if sub != nil {
		if max > 0 {
			sub.max.Store(max)
		}
		// With a limit the subscription stays until it delivered max
		// messages in total; the re-check after storing max closes the race
		// with a delivery that counted before the limit was visible.
		if max <= 0 || sub.delivered.Load() >= max {
			c.removeSub(sub)
		}
	}
	c.ackVerbose()
	return nil
}

// removeSub drops a subscription from the client and the sublist; it may be
// called by any goroutine (auto-unsubscribe runs in the publisher's).
func (c *client) removeSub(sub *subscription) {
	c.mu.Lock()
	if c.subs == nil || c.subs[string(sub.sid)] != sub {
		c.mu.Unlock()
		return
	}
	delete(c.subs, string(sub.sid))
	acc := c.acc
	c.mu.Unlock()
	if acc.subs.Remove(sub.subject, sub.queue, sub) == nil {
		c.broker.interestChanged(acc, sub, -1)
	}
}

func (c *client) ProcessPing() error {
	if c.trace {
		c.traceIn("PING")
	}
	if c.sec.awaitingAuth {
		return c.requireAuth()
	}
	c.prod.handOverAll() // the PONG follows the delivery of everything before the PING
	c.sendProto(parser.PongLine)
	return nil
}

func (c *client) ProcessPong() error {
	if c.trace {
		c.traceIn("PONG")
	}
	if c.sec.awaitingAuth {
		return c.requireAuth()
	}
	c.pingsOut.Store(0)
	c.mon.pong()
	return nil
}

// ProcessInfo ignores INFO: only servers send it, and a client's is harmless.
func (c *client) ProcessInfo(arg []byte) error {
	if c.trace {
		c.traceIn("INFO", arg)
	}
	if c.sec.awaitingAuth {
		return c.requireAuth()
	}
	return nil
}

// ProcessErr closes the connection, as the reference server does for a
// client that reports an error.
func (c *client) ProcessErr(arg []byte) error {
	c.broker.log.Info("client reported an error", "cid", c.cid, "error", string(arg))
	return errClientErr
}

func (c *client) ackVerbose() {
	if c.opts.verbose {
		c.sendProto(parser.OKLine)
	}
}

// countIn counts a message of size bytes received. Only the read loop
// counts a NATS client's in messages, so a load and a store do (no atomic
// read-modify-write per message); monitoring loads them from anywhere.
func (c *client) countIn(size int) {
	c.stats.inMsgs.Store(c.stats.inMsgs.Load() + 1)
	c.stats.inBytes.Store(c.stats.inBytes.Load() + int64(size))
}
