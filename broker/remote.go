package broker

import (
	"bytes"
	"errors"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/parser"
)

// This file is what a cluster's routes need from the broker, without any
// of their wire protocol: a route connection is a Conn of KindRoute wrapped
// in a Remote; the remote server's interest is inserted into the accounts'
// subscription indexes as remote subscriptions, whose delivery queues one
// message per route (formatted by the route's RemoteEncoder) instead of a
// MSG per subscription; messages a route brings in reach local subscribers
// only; and an InterestObserver learns of every change of local interest,
// which is what a route announces to its peer.

// RemoteEncoder formats messages for a route: AppendMsg appends the control
// line (CRLF included) that precedes the header and payload bytes of one
// message to dst. hdrLen is -1 for a message without headers; size is the
// header and payload length together. queues names the queue groups the
// remote server is to deliver to, reply is empty when there is none. The
// arguments are borrowed for the call.
type RemoteEncoder interface {
	AppendMsg(dst []byte, account string, subject, reply []byte, queues []string, hdrLen, size int) []byte
}

// Remote is the broker's side of a route connection: its remote
// subscriptions and the producer of the messages it brings in. Deliver and
// Flush belong to the route's read loop; the rest may be called from any
// goroutine.
type Remote struct {
	conn    *Conn
	enc     RemoteEncoder
	headers atomic.Bool
	name    atomic.Pointer[string] // the remote server's name, once known
	prod    producer               // inbound messages; owned by the read loop
}

// NewRemote wraps a route connection created by NewConn with KindRoute.
func (b *Broker) NewRemote(c *Conn, enc RemoteEncoder) *Remote {
	r := &Remote{conn: c, enc: enc}
	r.prod = producer{acc: b.gacc, echo: true, rt: &routeScratch{fromRemote: true}}
	return r
}

// Conn is the route's connection core.
func (r *Remote) Conn() *Conn { return r.conn }

// SetHeaders records whether the remote server takes messages with headers;
// without, they cross with their payload alone.
func (r *Remote) SetHeaders(ok bool) { r.headers.Store(ok) }

// SetName records the remote server's name, which message traces show.
func (r *Remote) SetName(name string) { r.name.Store(&name) }

// RemoteSub is a remote server's interest in one subject (and queue group)
// of one account.
type RemoteSub struct {
	acc *Account
	sub *subscription
}

// Subscribe records the remote server's interest in subject in acc; a queue
// subscription carries the number of members the remote server has in the
// group (its weight in the choice of a member; at least 1).
func (r *Remote) Subscribe(acc *Account, subject, queue string, weight int) (*RemoteSub, error) {
	sub := &subscription{remote: r, subject: subject, queue: queue}
	sub.weight.Store(int32(max(weight, 1)))
	if err := acc.subs.Insert(subject, queue, sub); err != nil {
		return nil, err
	}
	if queue != "" {
		acc.remoteQueueSubs.Add(1)
	}
	return &RemoteSub{acc: acc, sub: sub}, nil
}

// SetWeight updates a remote queue subscription's number of members.
func (s *RemoteSub) SetWeight(n int) { s.sub.weight.Store(int32(max(n, 1))) }

// Unsubscribe removes the remote interest; later calls do nothing.
func (s *RemoteSub) Unsubscribe() {
	if s.acc.subs.Remove(s.sub.subject, s.sub.queue, s.sub) == nil && s.sub.queue != "" {
		s.acc.remoteQueueSubs.Add(-1)
	}
}

// Deliver hands a message the remote server sent to this server's local
// subscribers in acc — never to another route, so a message crosses one
// hop only. Plain subscribers all get it; a queue group only when queues
// names it (the sender chose this server for that group). It reports
// whether any local subscriber got it. Receivers are woken by Flush.
func (r *Remote) Deliver(acc *Account, subject, reply, header, data []byte, queues [][]byte) bool {
	p := &r.prod
	if p.acc != acc {
		// The match cache is per account: a generation of another
		// account's index says nothing about this one.
		p.acc = acc
		clear(p.cache.m)
		p.cache.gen = 0
	}
	if p.stallLeft <= 0 {
		p.stallLeft = stallBudget
	}
	p.rt.queues = queues
	var shown []byte
	reply, shown = splitShownSubject(reply)
	p.shown = shown
	pa := pubArg(subject, reply, header, data)
	var delivered bool
	if header != nil && hasTraceHeader(header) {
		delivered = r.deliverTraced(&pa)
	} else {
		delivered = p.publish(&pa)
	}
	p.shown, p.rt.queues = nil, nil
	return delivered
}

// deliverTraced is Deliver for a traced message: this server's part of the
// trace, whose ingress is the route.
func (r *Remote) deliverTraced(pa *parser.PubArg) bool {
	p := &r.prod
	t, skip := newMsgTrace(r.conn.broker, p.acc, pa)
	if skip {
		return false
	}
	if t != nil {
		in := &traceIngress{Type: "in", TS: time.Now().UTC(), Kind: traceKindRouter, CID: r.conn.cid,
			Account: p.acc.name, Subject: string(pa.Subject)}
		if name := r.name.Load(); name != nil {
			in.Name = *name
		}
		t.add(in)
	}
	p.trace = t
	delivered := p.publish(pa)
	p.trace = nil
	if t != nil {
		t.finish()
	}
	return delivered
}

// Flush wakes the writers of the subscribers Deliver queued messages for,
// once per read of the route's socket.
func (r *Remote) Flush() {
	r.prod.flushes.kickAll()
	r.prod.stallLeft = stallBudget
}

// routeScratch is a producer's state for cluster traffic.
type routeScratch struct {
	// fromRemote is set for the producer of a route's inbound messages:
	// they reach local subscribers only (one hop), and queue groups only
	// when queues names them.
	fromRemote bool
	queues     [][]byte
	// remotes are the routes the message being published goes to;
	// emptied once it went to them.
	remotes []remoteTarget
	reply   []byte // scratch for a reply that carries a shown subject
}

// remoteTarget is one route a message goes to, with the queue groups the
// remote server is to deliver it to.
type remoteTarget struct {
	r      *Remote
	queues []string
}

// targetRemote adds the route to the message's destinations (once, however
// many of its subscriptions matched), for a queue group when queue is set.
// Messages from a route never go to another route.
func (p *producer) targetRemote(r *Remote, queue string) bool {
	if p.rt == nil {
		p.rt = &routeScratch{}
	}
	rt := p.rt
	if rt.fromRemote || r.conn.closed.Load() {
		return false
	}
	var t *remoteTarget
	for i := range rt.remotes {
		if rt.remotes[i].r == r {
			t = &rt.remotes[i]
			break
		}
	}
	if t == nil {
		if n := len(rt.remotes); n < cap(rt.remotes) {
			rt.remotes = rt.remotes[:n+1] // reuse the queue list's storage
			t = &rt.remotes[n]
			t.r, t.queues = r, t.queues[:0]
		} else {
			rt.remotes = append(rt.remotes, remoteTarget{r: r})
			t = &rt.remotes[n]
		}
	}
	if queue != "" {
		t.queues = append(t.queues, queue)
	}
	return true
}

// sendToRemotes queues the message once for each route it goes to.
func (p *producer) sendToRemotes(pa *parser.PubArg) bool {
	sent := false
	rt := p.rt
	reply := pa.Reply
	if p.shown != nil && len(reply) > 0 {
		// The remote server routes by the delivery subject but must show
		// receivers the stream's subject: it travels after the reply.
		rt.reply = append(append(append(rt.reply[:0], reply...), '@'), p.shown...)
		reply = rt.reply
	}
	for i := range rt.remotes {
		t := &rt.remotes[i]
		dst := t.r.conn
		header, hdrLen, size := pa.Header, len(pa.Header), pa.Size
		if p.trace != nil && header != nil && t.r.headers.Load() {
			header = p.trace.traceRoute(t.r, header)
			hdrLen, size = len(header), len(header)+len(pa.Data)
		}
		if header == nil {
			hdrLen = -1
		} else if !t.r.headers.Load() {
			header, hdrLen, size = nil, -1, len(pa.Data)
		}
		p.line = t.r.enc.AppendMsg(p.line[:0], p.acc.name, pa.Subject, reply, t.queues, hdrLen, size)
		queued, stall := dst.out.enqueueMsg(p.line, header, pa.Data, p.rb, size)
		if !queued {
			dst.SlowConsumer(CloseSlowConsumer)
			continue
		}
		p.flushes.add(dst)
		if stall != nil {
			p.stallFor(dst, stall)
		}
		sent = true
	}
	rt.remotes = rt.remotes[:0]
	return sent
}

// jsAckPrefix starts the reply subjects of JetStream deliveries, the only
// ones that carry a shown subject across a route.
var jsAckPrefix = []byte("$JS.ACK.")

// splitShownSubject separates "reply@subject" as sendToRemotes (and the
// reference server) encode a JetStream delivery: an acknowledgement
// subject of at least eight dots, then '@' and the subject to show.
func splitShownSubject(reply []byte) (rest, shown []byte) {
	if !bytes.HasPrefix(reply, jsAckPrefix) {
		return reply, nil
	}
	dots := 0
	for i, c := range reply {
		switch c {
		case '.':
			dots++
		case '@':
			if dots >= 8 && i < len(reply)-1 {
				return reply[:i], reply[i+1:]
			}
		}
	}
	return reply, nil
}

// InterestObserver learns of each change in local interest: a client's or
// an internal subscription (not a SubscribeLocal one, not a route's) added
// (delta 1) or removed (delta -1). It runs synchronously on the goroutine
// that changed the subscription, after the change, so it must be quick and
// must not subscribe or unsubscribe itself. Calls for one subject may
// arrive out of order from different goroutines (a removal before its
// addition, briefly leaving a count below zero); their sum is always right.
type InterestObserver func(acc *Account, subject, queue string, delta int)

// ErrObserverTooLate is returned by ObserveInterest once subscriptions exist:
// the observer would not have seen them.
var ErrObserverTooLate = errors.New("broker: interest observer installed after subscriptions exist")

// ObserveInterest installs the observer of local interest (one at most).
// It must be installed before anything subscribes.
func (b *Broker) ObserveInterest(fn InterestObserver) error {
	if b.NumSubscriptions() > 0 {
		return ErrObserverTooLate
	}
	b.observer.Store(&fn)
	return nil
}

func (b *Broker) interestChanged(acc *Account, sub *subscription, delta int) {
	if sub.local || sub.remote != nil {
		return
	}
	if fn := b.observer.Load(); fn != nil {
		(*fn)(acc, sub.subject, sub.queue, delta)
	}
}
